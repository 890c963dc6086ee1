//! One-shot resource usage of a service's running containers, computed the way the
//! Docker CLI computes `docker stats` (cli/command/container/stats_helpers.go):
//! CPU % = container CPU delta / system CPU delta × online CPUs × 100 between the
//! engine's two samples; memory used = usage minus inactive file cache.

use super::Target;
use crate::app::App;
use crate::error::Result;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use futures::StreamExt;
use serde::Serialize;

/// `GET /services/{id}/stats`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceStats {
    /// The service's id (`svc_…`).
    pub service_id: String,
    /// The service's name.
    pub service: String,
    /// Sample time, RFC 3339 UTC.
    pub read_at: String,
    /// One entry per running container.
    pub containers: Vec<ContainerStats>,
    /// Sums over `containers` (`memory_percent` is of the summed limits).
    pub total: Usage,
}

/// One container's numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerStats {
    /// Docker's container id.
    pub id: String,
    /// `mcpd-<service>-<replica>`.
    pub name: String,
    /// Its usage, flattened into this object in JSON.
    #[serde(flatten)]
    pub usage: Usage,
}

/// Resource usage; bytes are bytes, percentages are 0–100 per CPU (so up to 100 × CPUs).
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Usage {
    /// CPU used between the engine's two samples; 100 per fully used core, 2 decimals.
    pub cpu_percent: f64,
    /// Memory in use in bytes: cgroup usage minus inactive file cache.
    pub memory_bytes: u64,
    /// Memory limit in bytes (the host's memory when the container has none).
    pub memory_limit_bytes: u64,
    /// `memory_bytes` as a percentage of `memory_limit_bytes`, 2 decimals; 0 when the
    /// limit is reported as 0.
    pub memory_percent: f64,
    /// Bytes received, summed over the container's network interfaces.
    pub network_rx_bytes: u64,
    /// Bytes sent, summed over the container's network interfaces.
    pub network_tx_bytes: u64,
    /// Bytes read from block devices (blkio `io_service_bytes_recursive`, op `read`).
    pub block_read_bytes: u64,
    /// Bytes written to block devices (blkio `io_service_bytes_recursive`, op `write`).
    pub block_write_bytes: u64,
    /// Processes and threads in the container's cgroup (`pids_stats.current`).
    pub pids: u64,
}

/// Samples every running container of `id_or_name` once (concurrently; the engine
/// takes about a second per sample to measure CPU over an interval).
pub async fn stats(app: &App, id_or_name: &str) -> Result<ServiceStats> {
    let target = Target::load(app, id_or_name, None).await?;
    let running: Vec<_> = target.containers.iter().filter(|c| c.running).collect();
    let samples =
        futures::future::join_all(running.iter().map(|c| sample(&target.docker, &c.id, false)))
            .await;
    let mut containers = Vec::new();
    for (c, sample) in running.iter().zip(samples) {
        if let Some(s) = sample? {
            containers.push(ContainerStats {
                id: c.id.clone(),
                name: c.name.clone(),
                usage: usage_of(&s),
            });
        }
    }
    let total = total(containers.iter().map(|c| &c.usage));
    Ok(ServiceStats {
        service_id: target.service.id,
        service: target.service.name,
        read_at: crate::time::now_rfc3339(),
        containers,
        total,
    })
}

/// One stats response of container `id`; `None` when it stopped or was removed since
/// it was listed. `one_shot` skips the engine's second sample (no CPU percentage, no
/// one-second wait).
async fn sample(
    docker: &bollard::Docker,
    id: &str,
    one_shot: bool,
) -> Result<Option<ContainerStatsResponse>> {
    let mut s = docker.stats(
        &crate::docker::path_segment(id),
        Some(StatsOptions {
            stream: false,
            one_shot,
        }),
    );
    match s.next().await.transpose() {
        Ok(s) => Ok(s),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(None),
        Err(e) => Err(crate::docker::map_err(e)),
    }
}

/// Cumulative usage of one service's running containers, for the metrics sampler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cumulative {
    /// The service's name.
    pub name: String,
    /// CPU time its running containers used since each started, seconds.
    pub cpu_seconds: f64,
    /// Memory in use now (usage minus inactive file cache), bytes.
    pub memory_bytes: u64,
    /// Running containers sampled.
    pub containers: u32,
}

/// Every service with running containers, by service id: one listing of the managed
/// containers and one one-shot stats call per running container, concurrently.
pub async fn cumulative(app: &App) -> Result<std::collections::BTreeMap<String, Cumulative>> {
    let docker = app.docker.get().await?;
    let names: std::collections::HashMap<String, String> = app
        .store
        .read(crate::services::store::all)
        .await?
        .into_iter()
        .map(|r| (r.id, r.spec.name))
        .collect();
    let running: Vec<_> = crate::services::runtime::managed_containers(&docker)
        .await?
        .into_iter()
        .filter(|c| c.running)
        .collect();
    let samples =
        futures::future::join_all(running.iter().map(|c| sample(&docker, &c.id, true))).await;
    let mut out = std::collections::BTreeMap::<String, Cumulative>::new();
    for (c, sample) in running.iter().zip(samples) {
        let (Some(s), Some(service)) = (sample?, c.service_id.as_ref()) else {
            continue;
        };
        let Some(name) = names.get(service) else {
            continue;
        };
        let e = out.entry(service.clone()).or_insert_with(|| Cumulative {
            name: name.clone(),
            ..Cumulative::default()
        });
        let cpu_ns = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        e.cpu_seconds += cpu_ns as f64 / 1e9;
        e.memory_bytes += usage_of(&s).memory_bytes;
        e.containers += 1;
    }
    Ok(out)
}

/// The Docker CLI's numbers from one stats response.
pub fn usage_of(s: &ContainerStatsResponse) -> Usage {
    let cpu = s.cpu_stats.clone().unwrap_or_default();
    let pre = s.precpu_stats.clone().unwrap_or_default();
    let total_of = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total_of(&cpu) as f64 - total_of(&pre) as f64;
    let system_delta =
        cpu.system_cpu_usage.unwrap_or(0) as f64 - pre.system_cpu_usage.unwrap_or(0) as f64;
    let online = cpu
        .online_cpus
        .filter(|n| *n > 0)
        .map(f64::from)
        .unwrap_or_else(|| {
            cpu.cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|v| v.len() as f64)
                .unwrap_or(1.0)
        });
    // Without a previous sample the deltas would span the container's whole life.
    let has_previous = pre.system_cpu_usage.is_some_and(|v| v > 0);
    let cpu_percent = if has_previous && cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    };
    let mem = s.memory_stats.clone().unwrap_or_default();
    let usage = mem.usage.unwrap_or(0);
    // cgroup v1 reports the cache as total_inactive_file, v2 as inactive_file.
    let inactive = mem.stats.as_ref().and_then(|st| {
        st.get("total_inactive_file")
            .or_else(|| st.get("inactive_file"))
            .copied()
    });
    let memory_bytes = match inactive {
        Some(i) if i < usage => usage - i,
        _ => usage,
    };
    let memory_limit_bytes = mem.limit.unwrap_or(0);
    let (mut rx, mut tx) = (0, 0);
    for n in s.networks.iter().flat_map(|m| m.values()) {
        rx += n.rx_bytes.unwrap_or(0);
        tx += n.tx_bytes.unwrap_or(0);
    }
    let (mut read, mut write) = (0, 0);
    let entries = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref());
    for e in entries.into_iter().flatten() {
        match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += e.value.unwrap_or(0),
            Some("write") => write += e.value.unwrap_or(0),
            _ => {}
        }
    }
    Usage {
        cpu_percent: round2(cpu_percent),
        memory_bytes,
        memory_limit_bytes,
        memory_percent: percent(memory_bytes, memory_limit_bytes),
        network_rx_bytes: rx,
        network_tx_bytes: tx,
        block_read_bytes: read,
        block_write_bytes: write,
        pids: s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
    }
}

fn total<'a>(all: impl Iterator<Item = &'a Usage>) -> Usage {
    let mut t = Usage::default();
    for u in all {
        t.cpu_percent += u.cpu_percent;
        t.memory_bytes += u.memory_bytes;
        t.memory_limit_bytes += u.memory_limit_bytes;
        t.network_rx_bytes += u.network_rx_bytes;
        t.network_tx_bytes += u.network_tx_bytes;
        t.block_read_bytes += u.block_read_bytes;
        t.block_write_bytes += u.block_write_bytes;
        t.pids += u.pids;
    }
    t.cpu_percent = round2(t.cpu_percent);
    t.memory_percent = percent(t.memory_bytes, t.memory_limit_bytes);
    t
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round2(part as f64 / whole as f64 * 100.0)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn computes_like_the_docker_cli() {
        // Shape of a real cgroup v1 answer from engine 20.10, trimmed.
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000u64}, "system_cpu_usage": 10_000_000_000u64, "online_cpus": 2},
            "memory_stats": {"usage": 10_000_000u64, "limit": 100_000_000u64, "stats": {"total_inactive_file": 2_000_000u64}},
            "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 50}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 4096},
                {"major": 8, "minor": 0, "op": "Write", "value": 8192},
                {"major": 8, "minor": 0, "op": "Total", "value": 12288}]},
            "pids_stats": {"current": 3}
        }))
        .unwrap();
        let u = usage_of(&s);
        assert_eq!(u.cpu_percent, 20.0); // 1e9 / 1e10 × 2 × 100
        assert_eq!(u.memory_bytes, 8_000_000);
        assert_eq!(u.memory_percent, 8.0);
        assert_eq!((u.network_rx_bytes, u.network_tx_bytes), (101, 52));
        assert_eq!((u.block_read_bytes, u.block_write_bytes), (4096, 8192));
        assert_eq!(u.pids, 3);
        let t = total([&u, &u].into_iter());
        assert_eq!(t.memory_bytes, 16_000_000);
        assert_eq!(t.memory_percent, 8.0);
        assert_eq!(t.cpu_percent, 40.0);
    }

    #[test]
    fn no_previous_sample_means_zero_cpu() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 5u64}, "system_cpu_usage": 9u64},
            "precpu_stats": {},
            "memory_stats": {}
        }))
        .unwrap();
        let u = usage_of(&s);
        assert_eq!(u.cpu_percent, 0.0);
        assert_eq!(u.memory_percent, 0.0);
    }
}
