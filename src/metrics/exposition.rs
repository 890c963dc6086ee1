//! The Prometheus text exposition format (version 0.0.4), encoded by the
//! `prometheus-client` crate: the recorded series of [`super::Metrics`], then the values
//! read at scrape time: `process_*` (names from the Prometheus client library
//! guidelines), `mcpd_mcp_sessions`, `mcpd_docker_up`, per-service container CPU and
//! memory from the sampler's last reading, the last successful backup's time and
//! `mcpd_build_info`.

use super::host::Process;
use crate::app::App;
use crate::error::{Internal, Result};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// `Content-Type` of the exposition.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Values read at scrape time.
#[derive(Debug, Default)]
struct Scraped {
    process: Process,
    sessions: usize,
    docker_up: bool,
    /// `(service name, CPU seconds, memory bytes)`.
    containers: Vec<(String, f64, u64)>,
    /// Unix seconds of the last completed backup.
    backup_last_success: Option<f64>,
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Scraped {
    /// The single-valued gauges: name, help, value.
    fn gauges(&self) -> Vec<(&'static str, &'static str, f64)> {
        let p = &self.process;
        let mut out = vec![
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.rss_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                p.virtual_bytes as f64,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                p.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                p.max_fds as f64,
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                p.threads as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                p.start_time_seconds,
            ),
            (
                "mcpd_mcp_sessions",
                "Open MCP client sessions to MCP servers.",
                self.sessions as f64,
            ),
            (
                "mcpd_docker_up",
                "Whether the Docker engine answered the last sample (1) or not (0).",
                f64::from(u8::from(self.docker_up)),
            ),
        ];
        if let Some(t) = self.backup_last_success {
            out.push((
                "mcpd_backup_last_success_timestamp_seconds",
                "When the last backup completed, seconds since the Unix epoch.",
                t,
            ));
        }
        out
    }
}

impl Collector for Scraped {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        counter(
            &mut enc,
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            self.process.cpu_seconds,
        )?;
        for (name, help, v) in self.gauges() {
            gauge(&mut enc, name, help, v)?;
        }
        let mut cpu = enc.encode_descriptor(
            "mcpd_container_cpu_seconds",
            "CPU time used by a service's running containers, seconds (sampled).",
            None,
            MetricType::Counter,
        )?;
        for (service, seconds, _) in &self.containers {
            ConstCounter::new(*seconds)
                .encode(cpu.encode_family(&[("service", service.as_str())])?)?;
        }
        let mut mem = enc.encode_descriptor(
            "mcpd_container_memory_bytes",
            "Memory in use by a service's running containers, bytes (sampled).",
            None,
            MetricType::Gauge,
        )?;
        for (service, _, bytes) in &self.containers {
            ConstGauge::new(*bytes as f64)
                .encode(mem.encode_family(&[("service", service.as_str())])?)?;
        }
        let info = ConstGauge::new(1i64);
        let mut m = enc.encode_descriptor(
            "mcpd_build_info",
            "mcpd's version and commit.",
            None,
            info.metric_type(),
        )?;
        info.encode(m.encode_family(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("commit", env!("MCPD_GIT_COMMIT")),
        ])?)
    }
}

/// The whole exposition as text.
pub async fn render(app: &App) -> Result<String> {
    let (last_success, _) = app.store.read(crate::backups::store::last_outcomes).await?;
    let sample = app.metrics.latest.get();
    let scraped = Scraped {
        process: tokio::task::spawn_blocking(super::host::process)
            .await
            .unwrap_or_default(),
        sessions: app.mcp.live().await.len(),
        docker_up: sample.as_ref().is_some_and(|s| s.docker_reachable),
        containers: sample
            .iter()
            .flat_map(|s| s.services.values())
            .map(|s| (s.name.clone(), s.cpu_seconds, s.memory_bytes))
            .collect(),
        backup_last_success: last_success
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
            .map(|t| t.unix_timestamp_nanos() as f64 / 1e9),
    };
    let mut scrape = Registry::default();
    scrape.register_collector(Box::new(scraped));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, app.metrics.registry())
        .internal("encoding the metrics")?;
    prometheus_client::encoding::prometheus_text::encode(&mut out, &scrape)
        .internal("encoding the metrics")?;
    Ok(out)
}
