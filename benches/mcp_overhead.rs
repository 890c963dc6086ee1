//! What mcpd costs on the main path: server-everything's `echo` tool called
//!
//! 1. directly: an rmcp client over the stdio of `docker run -i` (the baseline),
//! 2. through mcpd's REST API: `POST /api/v1/mcp/execute/tool` over TLS, and
//! 3. through mcpd's MCP gateway: an rmcp streamable HTTP client on `/mcp` over TLS,
//!    calling `<server>__echo` (2 and 3 write the request log),
//!
//! at 1, 8 and 64 concurrent callers, in one run on the same machine. Prints p50/p99
//! latency and calls/s for each, and the ratios to the baseline measured in the same
//! run. The daemon logs at its default level (`info`). Absolute numbers depend on the
//! machine; the ratios are the result.
//!
//! Run: `cargo bench --bench mcp_overhead` (needs Docker and the test images:
//! `bash tests/setup/all.sh`). Under `cargo test` it does nothing.
//!
//! Knobs for shorter looks: `MCPD_BENCH_CALLS` (calls per row, default 2000),
//! `MCPD_BENCH_CALLERS` (comma-separated, default `1,8,64`) and `MCPD_BENCH_PATHS`
//! (comma-separated subset of `rest,gateway`; the direct baseline always runs).

#[path = "../tests/common/mod.rs"]
mod common;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: [usize; 3] = [1, 8, 64];
const CALLS: usize = 2000;
const WARMUP: usize = 200;

/// Calls per row (`MCPD_BENCH_CALLS`).
fn calls() -> usize {
    std::env::var("MCPD_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(CALLS)
}

/// Concurrency levels (`MCPD_BENCH_CALLERS`).
fn concurrency() -> Vec<usize> {
    std::env::var("MCPD_BENCH_CALLERS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| CONCURRENCY.to_vec())
}

/// Whether path `name` (`rest`, `gateway`) is measured (`MCPD_BENCH_PATHS`).
fn wanted(name: &str) -> bool {
    std::env::var("MCPD_BENCH_PATHS")
        .map(|v| v.split(',').any(|p| p.trim() == name))
        .unwrap_or(true)
}

/// Latencies of one run and its wall time.
struct Sample {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Sample {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Runs `calls()` calls of `call` split over `callers` tasks.
async fn measure<F, Fut>(callers: usize, call: F) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let total = calls();
    let call = Arc::new(call);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(total / callers);
            for i in 0..total / callers {
                let t = Instant::now();
                call(c * total + i).await;
                out.push(t.elapsed());
            }
            out
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.extend(t.await.expect("caller task"));
    }
    Sample {
        latencies,
        wall: started.elapsed(),
    }
}

/// Removes the baseline container even when the benchmark panics.
struct ContainerGuard(String);
impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("mcp_overhead: skipped (run it with `cargo bench --bench mcp_overhead`)");
        return;
    }
    assert!(
        common::docker_available(),
        "the benchmark needs a Docker engine and the test images (bash tests/setup/all.sh)"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    // Baseline: a direct stdio session with the same image.
    let name = format!("mcpd-bench-direct-{}", std::process::id());
    let _guard = ContainerGuard(name.clone());
    let mut child = tokio::process::Command::new("docker")
        .args([
            "run",
            "-i",
            "--rm",
            "--init",
            "--name",
            &name,
            common::EVERYTHING_IMAGE,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("docker run");
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take().unwrap();
    let direct = Arc::new(().serve((stdout, stdin)).await.expect("initialize"));
    let echo = |i: usize| {
        CallToolRequestParams::new("echo").with_arguments(
            json!({"message": format!("m{i}")})
                .as_object()
                .cloned()
                .unwrap(),
        )
    };
    for i in 0..WARMUP {
        direct.call_tool(echo(i)).await.expect("echo");
    }

    // Through mcpd: the same image as a managed stdio MCP server, the daemon logging at
    // its default level (the test harness's debug level writes a line per request).
    let mut d = common::Daemon::start_with_env(vec![("RUST_LOG".into(), "info".into())]).await;
    let token = d.admin().await;
    let server = d.name("bench");
    let (s, b) = d
        .post(
            "/mcp/servers",
            &token,
            json!({"name": server, "image": common::EVERYTHING_IMAGE, "transport": "stdio"}),
        )
        .await;
    assert!(s.is_success(), "create MCP server: {s} {b}");
    let d = Arc::new(d);
    let via = {
        let d = d.clone();
        let token = token.clone();
        let server = server.clone();
        move |i: usize| {
            let d = d.clone();
            let token = token.clone();
            let server = server.clone();
            async move {
                let (s, b) = d
                    .post(
                        "/mcp/execute/tool",
                        &token,
                        json!({"server": server, "tool": "echo", "arguments": {"message": format!("m{i}")}}),
                    )
                    .await;
                assert!(s.is_success(), "execute: {s} {b}");
            }
        }
    };
    for i in 0..WARMUP {
        via(i).await;
    }
    let config = StreamableHttpClientTransportConfig::with_uri(d.base.replace("/api/v1", "/mcp"))
        .auth_header(token.clone());
    let transport = StreamableHttpClientTransport::with_client(d.client.clone(), config);
    let gateway = Arc::new(().serve(transport).await.expect("initialize through /mcp"));
    let gw_tool = format!("{server}__echo");
    let gw_echo = move |i: usize| {
        CallToolRequestParams::new(gw_tool.clone()).with_arguments(
            json!({"message": format!("m{i}")})
                .as_object()
                .cloned()
                .unwrap(),
        )
    };
    for i in 0..WARMUP {
        gateway.call_tool(gw_echo(i)).await.expect("echo via /mcp");
    }

    println!(
        "\nserver-everything echo, {} calls per row (direct = rmcp over `docker run -i` stdio)\n",
        calls()
    );
    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "path", "callers", "p50 ms", "p99 ms", "calls/s", "p50 ratio", "rate ratio"
    );
    for callers in concurrency() {
        let c = direct.clone();
        let base = measure(callers, move |i| {
            let c = c.clone();
            async move {
                c.call_tool(echo(i)).await.expect("echo");
            }
        })
        .await;
        let mut rows = vec![("direct", base)];
        if wanted("rest") {
            rows.push(("rest", measure(callers, via.clone()).await));
        }
        if wanted("gateway") {
            let g = gateway.clone();
            let ge = gw_echo.clone();
            let gw = measure(callers, move |i| {
                let g = g.clone();
                let params = ge(i);
                async move {
                    g.call_tool(params).await.expect("echo via /mcp");
                }
            })
            .await;
            rows.push(("gateway", gw));
        }
        let base = &rows[0].1;
        for (label, s) in &rows {
            println!(
                "{:<10} {:>8} {:>10.3} {:>10.3} {:>10.0} {:>12.2} {:>12.2}",
                label,
                callers,
                ms(s.pct(0.5)),
                ms(s.pct(0.99)),
                s.rate(),
                ms(s.pct(0.5)) / ms(base.pct(0.5)),
                s.rate() / base.rate(),
            );
        }
    }
    drop(direct);
    drop(gateway);
    let _ = child.kill().await;
}
