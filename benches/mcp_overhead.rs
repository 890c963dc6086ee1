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
//! A second table splits each row's CPU time per call among the processes involved:
//! the benchmark's own client, mcpd, the Docker engine (dockerd, containerd, the shims
//! and, for the baseline, the `docker run -i` CLI relaying stdio) and the MCP server's
//! container (its cgroup). On a machine whose cores are all busy, the calls/s of a path
//! is bounded by cores ÷ its total CPU per call, so the table shows where a path's cost
//! lies and how far the machine lets it go. Process times come from `/proc/<pid>/stat`
//! (clock ticks, usually 10 ms: use a few thousand calls per row).
//!
//! Run: `cargo bench --bench mcp_overhead` (needs Docker and the test images:
//! `bash tests/setup/all.sh`). Under `cargo test` it does nothing.
//!
//! Knobs for shorter looks: `MCPD_BENCH_CALLS` (calls per row, default 2000),
//! `MCPD_BENCH_CALLERS` (comma-separated, default `1,8,64`) and `MCPD_BENCH_PATHS`
//! (comma-separated subset of `rest,gateway`; the direct baseline always runs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops at its first failure

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

/// CPU time used so far, in nanoseconds, by each party of a call.
#[derive(Clone, Copy, Default)]
struct Cpu {
    client: u64,
    mcpd: u64,
    engine: u64,
    server: u64,
}

/// User + system time of process `pid` (all its threads, living or not), in ns.
fn process_cpu(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * 1_000_000_000 / hz.max(1)
}

/// CPU time of the Docker engine's processes (dockerd, containerd, the runtime shims)
/// and of docker CLI processes (the baseline's `docker run -i` relays its stdio).
fn engine_cpu() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.trim();
            matches!(comm, "dockerd" | "containerd" | "docker")
                || comm.starts_with("containerd-shim")
        })
        .map(process_cpu)
        .sum()
}

/// CPU time of a container's cgroup in ns (cgroup v1 cpuacct or v2 cpu.stat), 0 when
/// neither is found.
fn container_cpu(id: &str) -> u64 {
    if let Ok(v) =
        std::fs::read_to_string(format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage"))
    {
        return v.trim().parse().unwrap_or(0);
    }
    let v2 = format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat");
    std::fs::read_to_string(v2)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())
        })
        .map_or(0, |us| us * 1000)
}

/// The full id of the running container whose name contains `name`.
fn container_id(name: &str) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("name={name}"),
        ])
        .output()
        .expect("docker ps");
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "no running container named like {name}");
    id
}

/// Who to account: the daemon's pid and the MCP server container behind each path.
struct Parties {
    mcpd: u32,
    direct_container: String,
    mcpd_container: String,
}

impl Parties {
    fn now(&self, via_mcpd: bool) -> Cpu {
        let container = if via_mcpd {
            &self.mcpd_container
        } else {
            &self.direct_container
        };
        Cpu {
            client: process_cpu(std::process::id()),
            mcpd: process_cpu(self.mcpd),
            engine: engine_cpu(),
            server: container_cpu(container),
        }
    }
}

/// Runs `measure` while accounting CPU time; returns the sample and µs per call.
async fn accounted<Fut>(parties: &Parties, via_mcpd: bool, run: Fut) -> (Sample, Cpu)
where
    Fut: std::future::Future<Output = Sample>,
{
    let before = parties.now(via_mcpd);
    let sample = run.await;
    let after = parties.now(via_mcpd);
    let n = sample.latencies.len() as u64 * 1000;
    let per = |a: u64, b: u64| a.saturating_sub(b) / n.max(1);
    let cpu = Cpu {
        client: per(after.client, before.client),
        mcpd: per(after.mcpd, before.mcpd),
        engine: per(after.engine, before.engine),
        server: per(after.server, before.server),
    };
    (sample, cpu)
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
    let parties = Parties {
        mcpd: d.pid(),
        direct_container: container_id(&name),
        mcpd_container: container_id(&format!("mcpd-{server}")),
    };
    let mut cpu_rows = Vec::new();

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
        let base = accounted(
            &parties,
            false,
            measure(callers, move |i| {
                let c = c.clone();
                async move {
                    c.call_tool(echo(i)).await.expect("echo");
                }
            }),
        )
        .await;
        let mut rows = vec![("direct", base)];
        if wanted("rest") {
            rows.push((
                "rest",
                accounted(&parties, true, measure(callers, via.clone())).await,
            ));
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
            });
            rows.push(("gateway", accounted(&parties, true, gw).await));
        }
        let rows: Vec<(&str, Sample)> = rows
            .into_iter()
            .map(|(label, (sample, cpu))| {
                cpu_rows.push((label, callers, cpu));
                (label, sample)
            })
            .collect();
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
    println!(
        "\nCPU time per call, µs (client = this benchmark's process; engine = dockerd, containerd, shims, docker CLI; server = the MCP server's container)\n"
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "path", "callers", "client", "mcpd", "engine", "server", "total"
    );
    for (label, callers, c) in cpu_rows {
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            label,
            callers,
            c.client,
            c.mcpd,
            c.engine,
            c.server,
            c.client + c.mcpd + c.engine + c.server
        );
    }
    drop(direct);
    drop(gateway);
    let _ = child.kill().await;
}
