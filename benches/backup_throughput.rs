//! Backups: throughput on service volume data, and what a running backup does to API
//! write latency.
//!
//! 1. Idle: sequential `PUT /config/{key}` writes; p50/p99.
//! 2. During a backup of a service whose bind-mounted volume holds `MCPD_BENCH_MB`
//!    (default 1024) MB of files (half random, half text): the same writes, p50/p99,
//!    and the backup's throughput in MB/s (volume bytes / time from `started_at` to
//!    `completed_at`).
//!
//! Prints both and the ratio during/idle measured in the same run (goal: ≥ 200 MB/s and
//! p99 within 2× of idle). Absolute numbers depend on the machine and the build profile.
//!
//! Run: `cargo bench --bench backup_throughput` (needs Docker and the test images:
//! `bash tests/setup/all.sh`). Under `cargo test` it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops at its first failure

#[path = "../tests/common/mod.rs"]
mod common;

use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "backup_throughput: skipped (run it with `cargo bench --bench backup_throughput`)"
        );
        return;
    }
    assert!(
        common::docker_available(),
        "the benchmark needs a Docker engine and the test images (bash tests/setup/all.sh)"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run());
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Writes `mb` MB of files into `dir`: 4 MB files, alternately random and text.
fn fill(dir: &std::path::Path, mb: usize) -> u64 {
    use rand::RngCore;
    let mut rng = rand::rng();
    let mut buf = vec![0u8; 4 << 20];
    let text: Vec<u8> = b"mcpd backup benchmark line with some repeated words 0123456789\n"
        .iter()
        .copied()
        .cycle()
        .take(4 << 20)
        .collect();
    let mut total = 0;
    for i in 0..mb.div_ceil(4) {
        let data = if i % 2 == 0 {
            rng.fill_bytes(&mut buf);
            &buf
        } else {
            &text
        };
        let mut f = std::fs::File::create(dir.join(format!("f{i:05}.bin"))).unwrap();
        f.write_all(data).unwrap();
        // On disk before the clock starts: the fill's own writeback is not the backup's.
        f.sync_all().unwrap();
        total += data.len() as u64;
    }
    total
}

async fn write(d: &common::Daemon, token: &str, n: usize) -> Duration {
    let t = Instant::now();
    let s = d
        .client
        .put(d.url(&format!("/config/bench.k{}", n % 100)))
        .bearer_auth(token)
        .json(&json!({"value": n}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(s.is_success(), "write: {s}");
    t.elapsed()
}

async fn run() {
    let mb: usize = std::env::var("MCPD_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let mut d = common::Daemon::start().await;
    let admin = d.admin().await;
    let data = tempfile::tempdir().unwrap();
    let bytes = fill(data.path(), mb);
    let svc = d.name("bench");
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": svc, "image": common::BUSYBOX_IMAGE, "command": ["sleep", "3600"],
                   "volumes": [{"source": data.path().to_str().unwrap(), "target": "/data", "read_only": true}]}),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{b}");

    for i in 0..50 {
        write(&d, &admin, i).await;
    }
    let mut idle = Vec::new();
    for i in 0..500 {
        idle.push(write(&d, &admin, i).await);
    }

    let (s, b) = d.post("/backups", &admin, json!({"services": [svc]})).await;
    assert_eq!(s.as_u16(), 202, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_string();
    let mut during = Vec::new();
    let mut n = 0;
    let done: Value = loop {
        during.push(write(&d, &admin, n).await);
        n += 1;
        if n % 20 == 0 {
            let (_, b) = d.get(&format!("/backups/{id}"), &admin).await;
            let st = b["data"]["status"].as_str().unwrap_or_default().to_string();
            if st == "completed" || st == "failed" {
                break b["data"].clone();
            }
        }
    };
    assert_eq!(done["status"], "completed", "{done}");
    let t0 = mcpd::time::parse_rfc3339(done["started_at"].as_str().unwrap()).unwrap();
    let t1 = mcpd::time::parse_rfc3339(done["completed_at"].as_str().unwrap()).unwrap();
    let secs = (t1 - t0).as_seconds_f64();
    let mbps = bytes as f64 / 1e6 / secs;
    let archive_mb = done["size_bytes"].as_u64().unwrap() as f64 / 1e6;
    let (i50, i99) = (pct(&idle, 0.5), pct(&idle, 0.99));
    let (d50, d99) = (pct(&during, 0.5), pct(&during, 0.99));
    println!(
        "backup of {:.0} MB volume data: {secs:.2} s, {mbps:.0} MB/s (archive {archive_mb:.0} MB, zstd, verified)",
        bytes as f64 / 1e6
    );
    println!(
        "API writes idle:          p50 {i50:?} p99 {i99:?} ({} writes)",
        idle.len()
    );
    println!(
        "API writes during backup: p50 {d50:?} p99 {d99:?} ({} writes)",
        during.len()
    );
    println!(
        "ratios: throughput/goal(200 MB/s) {:.2}, write p99 during/idle {:.2} (goal ≤ 2)",
        mbps / 200.0,
        d99.as_secs_f64() / i99.as_secs_f64()
    );
    // The daemon's own account of where the time went (stage, write, verify).
    if let Some(line) = d
        .log()
        .lines()
        .find(|l| l.contains("backup archive written and verified"))
    {
        println!("daemon: {}", line.trim());
    }
    let (s, _) = d.delete(&format!("/backups/{id}"), &admin).await;
    assert_eq!(s.as_u16(), 204);
    let (s, _) = d.delete(&format!("/services/{svc}"), &admin).await;
    assert!(s.is_success());
}
