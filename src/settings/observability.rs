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

/// `[events]` section: the live events WebSocket (`GET /api/v1/ws`). Defaults: 1024
/// queued messages per connection, 32 subscriptions per connection, 256 connections,
/// a metrics event every 5 s, a ping every 20 s, 10 s to authenticate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// Messages waiting to be written to one client; a client that lets more pile up
    /// is disconnected (close code 1013).
    pub queue_messages: usize,
    /// Channels one connection may subscribe to at once.
    pub max_subscriptions: usize,
    /// Open WebSocket connections the daemon accepts; more get 503.
    pub max_connections: usize,
    /// Seconds between `metric.update` events on the `metrics` channel.
    pub metrics_interval_s: u64,
    /// Seconds between pings; a client silent for two intervals is disconnected.
    pub ping_interval_s: u64,
    /// Seconds a client that connected without a credential has to send `auth`.
    pub auth_timeout_s: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            queue_messages: 1024,
            max_subscriptions: 32,
            max_connections: 256,
            metrics_interval_s: 5,
            ping_interval_s: 20,
            auth_timeout_s: 10,
        }
    }
}

impl EventsSettings {
    /// Refuses zero or out-of-range values.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(8..=1_000_000).contains(&self.queue_messages)
            || !(1..=1000).contains(&self.max_subscriptions)
            || self.max_connections == 0
        {
            anyhow::bail!(
                "events.queue_messages must be 8 to 1000000, events.max_subscriptions 1 to 1000 and events.max_connections at least 1"
            );
        }
        for (name, v) in [
            ("metrics_interval_s", self.metrics_interval_s),
            ("ping_interval_s", self.ping_interval_s),
            ("auth_timeout_s", self.auth_timeout_s),
        ] {
            if !(1..=3600).contains(&v) {
                anyhow::bail!("events.{name} must be 1 to 3600");
            }
        }
        Ok(())
    }
}
