//! What recording a request costs: `Metrics::record_http` (the HTTP middleware's work:
//! a counter, a histogram and the last-minute window) plus `Metrics::record_call` (a
//! tool call's counter and histogram), measured as CPU time of this process per
//! request from `/proc/self/stat`, on one thread and on two threads recording at once
//! (the machine's cores). Compare with mcpd's CPU per call in `mcp_overhead`'s table.
//!
//! Run: `cargo bench --bench metrics_recording`. Under `cargo test` it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops at its first failure

use mcpd::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

const CALLS: u64 = 1_000_000;

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn record(m: &Metrics, n: u64) {
    let routes = ["/api/v1/mcp/execute/tool", "/mcp", "/api/v1/services/{id}"];
    for i in 0..n {
        let route = routes[(i % 3) as usize];
        m.record_http(route, "POST", 200, Duration::from_micros(700 + i % 500));
        m.record_call(
            "everything",
            "tool",
            "echo",
            i % 50 != 0,
            Duration::from_millis(2),
        );
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for threads in [1u64, 2] {
        let m = Arc::new(Metrics::default());
        record(&m, 10_000); // warm up: the label sets exist
        let before = cpu_seconds();
        let wall = std::time::Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || record(&m, CALLS / threads))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let cpu = cpu_seconds() - before;
        println!(
            "{threads} thread(s): {CALLS} requests recorded, {:.3} µs CPU per request, {:.3} s wall",
            cpu * 1e6 / CALLS as f64,
            wall.elapsed().as_secs_f64()
        );
    }
}
