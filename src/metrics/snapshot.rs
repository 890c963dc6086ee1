//! `GET /metrics`: one JSON snapshot of the host, the daemon's process, its HTTP
//! traffic over the last minute, open MCP sessions and the Docker engine. Also what the
//! `metrics` WebSocket channel sends every `events.metrics_interval_s` seconds.

use super::host::{self, Disk, Host, Process};
use super::sampler::ServiceSample;
use super::window::GroupSummary;
use crate::app::App;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long the snapshot waits for the engine's version.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(2);

/// The host, with the CPU share from the sampler.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostMetrics {
    /// Load, memory and CPUs.
    #[serde(flatten)]
    pub host: Host,
    /// Busy share of all CPUs between the sampler's last two readings, percent;
    /// `null` until two were taken.
    pub cpu_percent: Option<f64>,
    /// The file systems of the data and backups directories.
    pub disks: Disks,
}

/// The file systems the daemon writes to; `null` when one cannot be read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HostDisks)]
pub struct Disks {
    /// The data directory's.
    pub data: Option<Disk>,
    /// The backups directory's.
    pub backups: Option<Disk>,
}

/// The daemon's own process.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProcessMetrics {
    /// From `/proc/self`.
    #[serde(flatten)]
    pub process: Process,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
}

/// The Docker engine.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DockerEngineState)]
pub struct Engine {
    /// Whether it answered within 2 s.
    pub reachable: bool,
    /// Its version; `null` while unreachable.
    pub version: Option<String>,
    /// Its API version; `null` while unreachable.
    pub api_version: Option<String>,
}

/// The body of `GET /metrics`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MetricsSnapshot)]
pub struct Snapshot {
    /// When it was taken, RFC 3339 UTC.
    pub at: String,
    /// The host.
    pub host: HostMetrics,
    /// The daemon's process.
    pub process: ProcessMetrics,
    /// Open MCP client sessions (one per running MCP server in use).
    pub mcp_sessions: usize,
    /// Open live events WebSocket connections (`GET /ws`).
    pub ws_connections: usize,
    /// HTTP requests over the last minute by route group (`services`, `mcp`, …;
    /// groups without requests are left out): rate per second, 5xx count, latency
    /// p50/p95/p99 in milliseconds.
    pub http: BTreeMap<&'static str, GroupSummary>,
    /// The Docker engine.
    pub docker: Engine,
    /// Services with running containers at the sampler's last reading, by id: CPU
    /// seconds, CPU percent of one core, memory bytes.
    pub services: BTreeMap<String, ServiceSample>,
    /// When the sampler last read the host and containers (RFC 3339); `null` before
    /// its first reading.
    pub sampled_at: Option<String>,
}

/// Takes the snapshot (the engine is asked for its version, bounded by 2 s).
pub async fn snapshot(app: &App) -> Snapshot {
    let data_dir = app.settings.server.data_dir.clone();
    let backups_dir = app.settings.backups.dir(&data_dir);
    let (host, process, disks) = tokio::task::spawn_blocking(move || {
        let disks = Disks {
            data: host::disk(&data_dir),
            backups: host::disk(&backups_dir),
        };
        (host::host(), host::process(), disks)
    })
    .await
    .unwrap_or_else(|_| {
        (
            Host::default(),
            Process::default(),
            Disks {
                data: None,
                backups: None,
            },
        )
    });
    let engine = tokio::time::timeout(ENGINE_TIMEOUT, app.docker.version()).await;
    let (version, api_version) = match engine {
        Ok(Ok((v, a))) => (Some(v), Some(a)),
        _ => (None, None),
    };
    let sample = app.metrics.latest.get();
    Snapshot {
        at: crate::time::now_rfc3339(),
        host: HostMetrics {
            host,
            cpu_percent: sample.as_ref().and_then(|s| s.host_cpu_percent),
            disks,
        },
        process: ProcessMetrics {
            process,
            uptime_s: app.started.elapsed().as_secs(),
        },
        mcp_sessions: app.mcp.live().await.len(),
        ws_connections: app.events.connections(),
        http: app.metrics.window.summary(),
        docker: Engine {
            reachable: version.is_some(),
            version,
            api_version,
        },
        services: sample
            .as_ref()
            .map(|s| s.services.clone())
            .unwrap_or_default(),
        sampled_at: sample.map(|s| s.at.clone()),
    }
}
