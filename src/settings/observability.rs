//! The observability sections of the settings: `[metrics]` and `[events]`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `[metrics]` section. Defaults: no separate exporter address, a sample of the host
/// and every service's containers every 15 s.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// When set, plain HTTP `GET /metrics` (the Prometheus exposition, no auth) is also
    /// served on this address, as node exporters do. Keep it on loopback or a
    /// monitoring network: anyone who reaches it reads the metrics.
    pub listen: Option<SocketAddr>,
    /// Seconds between samples of the host's CPU and the services' containers (CPU
    /// time, memory).
    pub sample_interval_s: u64,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            listen: None,
            sample_interval_s: 15,
        }
    }
}

impl MetricsSettings {
    /// Refuses a sampling interval outside 1–3600 s and an exporter address equal to
    /// the API's.
    pub fn validate(&self, api: SocketAddr) -> anyhow::Result<()> {
        if !(1..=3600).contains(&self.sample_interval_s) {
            anyhow::bail!("metrics.sample_interval_s must be 1 to 3600");
        }
        if self.listen.is_some_and(|l| l == api && l.port() != 0) {
            anyhow::bail!("metrics.listen must differ from server.listen");
        }
        Ok(())
    }
}
