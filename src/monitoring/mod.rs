//! Monitoring series of services and MCP servers (`GET /api/v1/monitoring/metrics`):
//! every sample the metrics sampler takes (each `metrics.sample_interval_s`) is stored
//! in SQLite at four resolutions: the samples themselves, 1-minute, 1-hour and 1-day
//! points, each kept as long as `[monitoring]` says. Gauges keep the mean of their samples,
//! counts the sum (a coarser `latency_p95` point is the mean of the samples' 95th
//! percentiles, not a percentile of the calls).
//!
//! Series: a service's `cpu` (percent of one core) and `memory` (bytes); an MCP
//! server's `calls` and `errors` (per point) and `latency_p95` (milliseconds, from its
//! request log), and for a managed server its service's `cpu` and `memory`.

pub mod api;
pub mod query;
pub mod store;

use crate::app::{App, AppState};
use crate::error::Result;
use crate::metrics::sampler::Sample;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One minute, one hour and one day: the coarser resolutions, in seconds.
pub const MINUTE: i64 = 60;
/// See [`MINUTE`].
pub const HOUR: i64 = 3600;
/// See [`MINUTE`].
pub const DAY: i64 = 86400;

/// A series kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// CPU used, percent of one core.
    Cpu,
    /// Memory in use, bytes.
    Memory,
    /// MCP calls made.
    Calls,
    /// MCP calls that failed.
    Errors,
    /// 95th percentile of MCP call durations, milliseconds.
    LatencyP95,
}

impl Metric {
    /// Every metric, in answer order.
    pub const ALL: [Metric; 5] = [
        Metric::Cpu,
        Metric::Memory,
        Metric::Calls,
        Metric::Errors,
        Metric::LatencyP95,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Calls => "calls",
            Metric::Errors => "errors",
            Metric::LatencyP95 => "latency_p95",
        }
    }

    /// The unit of its values.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Cpu => "percent",
            Metric::Memory => "bytes",
            Metric::Calls | Metric::Errors => "count",
            Metric::LatencyP95 => "ms",
        }
    }

    /// Whether points add up (counts) rather than average (gauges).
    pub fn is_count(self) -> bool {
        matches!(self, Metric::Calls | Metric::Errors)
    }

    /// The metric named `s`.
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One reading to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `svc_…` or `mcp_…`.
    pub resource_id: String,
    /// What was read.
    pub metric: Metric,
    /// When, Unix seconds.
    pub at: i64,
    /// The value, in the metric's unit.
    pub value: f64,
}

/// The 95th percentile of `durations` (nearest rank); `None` when empty.
fn p95(durations: &mut [i64]) -> Option<f64> {
    if durations.is_empty() {
        return None;
    }
    durations.sort_unstable();
    let rank = ((durations.len() as f64) * 0.95).ceil() as usize;
    Some(durations[rank.clamp(1, durations.len()) - 1] as f64)
}

/// The points of one sample: containers from `sample`, MCP calls from the request log
/// rows `(server, duration_ms, failed)` since the previous sample; every MCP server in
/// `servers` gets its counts (zero without calls).
pub fn points(
    sample: &Sample,
    at: i64,
    calls: &[(String, i64, bool)],
    servers: &[String],
) -> Vec<Point> {
    let mut out = Vec::new();
    let mut push = |id: &str, metric, value| {
        out.push(Point {
            resource_id: id.to_string(),
            metric,
            at,
            value,
        });
    };
    for (id, s) in &sample.services {
        if let Some(cpu) = s.cpu_percent {
            push(id, Metric::Cpu, cpu);
        }
        push(id, Metric::Memory, s.memory_bytes as f64);
    }
    let mut by_server: BTreeMap<&str, (u64, u64, Vec<i64>)> = servers
        .iter()
        .map(|s| (s.as_str(), (0, 0, Vec::new())))
        .collect();
    for (server, ms, failed) in calls {
        let e = by_server.entry(server.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(*failed);
        e.2.push(*ms);
    }
    for (server, (calls, errors, mut durations)) in by_server {
        push(server, Metric::Calls, calls as f64);
        push(server, Metric::Errors, errors as f64);
        if let Some(p) = p95(&mut durations) {
            push(server, Metric::LatencyP95, p);
        }
    }
    out
}

/// How long points at each resolution are kept, in seconds: `(resolution, kept)`,
/// finest first.
pub fn retention(app: &App) -> [(i64, i64); 4] {
    let m = &app.settings.monitoring;
    [
        (raw_resolution(app), m.raw_retention_h as i64 * 3600),
        (MINUTE, m.minute_retention_h as i64 * 3600),
        (HOUR, m.hour_retention_d as i64 * DAY),
        (DAY, m.day_retention_d as i64 * DAY),
    ]
}

/// The resolution of the samples themselves (the sampling interval), seconds.
pub fn raw_resolution(app: &App) -> i64 {
    app.settings.metrics.sample_interval_s.max(1) as i64
}

/// Stores one sample's points at every resolution, and every tenth time drops what is
/// past its retention. Untracked: no cache reads these rows.
async fn store(app: &App, sample: Arc<Sample>, since: i64, now: i64, sweep: bool) -> Result<()> {
    let keep = retention(app);
    let (from, to) = (rfc3339(since), rfc3339(now));
    app.store
        .write_untracked(move |tx| {
            let calls = crate::request_log::store::calls_between(tx, &from, &to)?;
            let servers: Vec<String> = crate::mcp::store::statuses(tx)?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            for p in points(&sample, now, &calls, &servers) {
                for (resolution, _) in keep {
                    store::fold(tx, &p, resolution)?;
                }
            }
            if sweep {
                for (resolution, kept) in keep {
                    store::delete_before(tx, resolution, now - kept)?;
                }
            }
            Ok(())
        })
        .await
}

/// The UTC day (`YYYY-MM-DD`) of Unix time `unix`.
pub fn rfc3339_day(unix: i64) -> String {
    rfc3339(unix).get(..10).unwrap_or_default().to_string()
}

/// Unix time `unix` as RFC 3339 UTC.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::time::format_rfc3339)
        .unwrap_or_default()
}

/// Spawns the recorder: it stores each new sample of the metrics sampler until
/// shutdown.
pub fn spawn(app: &AppState) {
    let app = app.clone();
    app.tasks.clone().spawn(async move {
        let mut samples = app.metrics.latest.subscribe();
        let mut since = crate::time::unix_now();
        let mut passes = 0u64;
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                r = samples.changed() => if r.is_err() { return },
            }
            let Some(sample) = samples.borrow_and_update().clone() else {
                continue;
            };
            let now = crate::time::unix_now();
            passes += 1;
            if let Err(e) = store(&app, sample, since, now, passes % 10 == 1).await {
                tracing::warn!(error = %e, "monitoring: a sample was not stored");
            }
            since = now;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        let mut d: Vec<i64> = (1..=100).collect();
        assert_eq!(p95(&mut d), Some(95.0));
        assert_eq!(p95(&mut [7]), Some(7.0));
        assert_eq!(p95(&mut []), None);
    }

    #[test]
    fn servers_without_calls_get_zero_counts_and_no_latency() {
        let calls = vec![
            ("mcp_a".to_string(), 10, false),
            ("mcp_a".to_string(), 30, true),
        ];
        let servers = vec!["mcp_a".to_string(), "mcp_b".to_string()];
        let sample = crate::metrics::sampler::Sample::default();
        let pts = points(&sample, 100, &calls, &servers);
        let get = |id: &str, m: Metric| {
            pts.iter()
                .find(|p| p.resource_id == id && p.metric == m)
                .map(|p| p.value)
        };
        assert_eq!(
            (get("mcp_a", Metric::Calls), get("mcp_a", Metric::Errors)),
            (Some(2.0), Some(1.0))
        );
        assert_eq!(get("mcp_a", Metric::LatencyP95), Some(30.0));
        assert_eq!(
            (
                get("mcp_b", Metric::Calls),
                get("mcp_b", Metric::LatencyP95)
            ),
            (Some(0.0), None)
        );
    }
}
