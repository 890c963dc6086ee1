//! The observability sections of the settings: `[metrics]`, `[events]`,
//! `[monitoring]`, `[resources]` (inventory size templates) and `[billing]`.

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

/// `[monitoring]` section: how long the series of `GET /monitoring/metrics` are kept at
/// each resolution. Defaults: samples for 6 hours, 1-minute points for 24 hours,
/// 1-hour points for 30 days, 1-day points (what billing reads) for 400 days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringSettings {
    /// Hours the samples themselves (every `metrics.sample_interval_s`) are kept.
    pub raw_retention_h: u64,
    /// Hours 1-minute points are kept.
    pub minute_retention_h: u64,
    /// Days 1-hour points are kept.
    pub hour_retention_d: u64,
    /// Days 1-day points are kept (the billing summary of a month reads them).
    pub day_retention_d: u64,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            raw_retention_h: 6,
            minute_retention_h: 24,
            hour_retention_d: 30,
            day_retention_d: 400,
        }
    }
}

impl MonitoringSettings {
    /// Refuses retentions of zero or one resolution kept longer than a coarser one.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.raw_retention_h == 0
            || self.raw_retention_h > self.minute_retention_h
            || self.minute_retention_h > self.hour_retention_d * 24
            || self.hour_retention_d > self.day_retention_d
            || self.day_retention_d > 3660
        {
            anyhow::bail!(
                "monitoring retentions must be positive, with raw_retention_h <= minute_retention_h <= hour_retention_d × 24, hour_retention_d <= day_retention_d <= 3660"
            );
        }
        Ok(())
    }
}

/// CPU and memory limits of one size template (`[resources.sizes.<name>]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// CPU limit, thousandths of a core (10 to 1000000).
    pub cpu_millicores: u32,
    /// Memory limit, MiB (6 to 4194304).
    pub memory_mb: u32,
}

/// `[resources]` section: the size templates `POST /api/v1/resources` creates services
/// from. Defaults: `small` (250 millicores, 256 MiB), `medium` (500, 512), `large`
/// (2000, 2048).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesSettings {
    /// Size used when a request names none.
    pub default_size: String,
    /// Templates by name.
    pub sizes: std::collections::BTreeMap<String, Size>,
}

impl Default for ResourcesSettings {
    fn default() -> Self {
        let size = |cpu_millicores, memory_mb| Size {
            cpu_millicores,
            memory_mb,
        };
        ResourcesSettings {
            default_size: "small".into(),
            sizes: [
                ("small", size(250, 256)),
                ("medium", size(500, 512)),
                ("large", size(2000, 2048)),
            ]
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect(),
        }
    }
}

impl ResourcesSettings {
    /// Refuses limits Docker would refuse and a default that names no template.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, s) in &self.sizes {
            if !(10..=1_000_000).contains(&s.cpu_millicores)
                || !(6..=4_194_304).contains(&s.memory_mb)
            {
                anyhow::bail!(
                    "resources.sizes.{name}: cpu_millicores must be 10 to 1000000 and memory_mb 6 to 4194304"
                );
            }
        }
        if !self.sizes.contains_key(&self.default_size) {
            anyhow::bail!(
                "resources.default_size '{}' names no template in resources.sizes",
                self.default_size
            );
        }
        Ok(())
    }
}

/// `[billing]` section: the rates `GET /api/v1/billing/summary` prices what mcpd
/// measured with, in minor units of `currency` (cents for USD). Every rate defaults to
/// 0 (a summary of quantities).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSettings {
    /// ISO 4217 code shown with the amounts.
    pub currency: String,
    /// Digits after the decimal point of `currency` (2 for USD, 0 for JPY).
    pub minor_unit_digits: u32,
    /// Price of 1000 MCP calls (tools, resources, prompts).
    pub calls_per_1000: u64,
    /// Price of one CPU-hour of containers (one core busy for an hour).
    pub cpu_hour: u64,
    /// Price of one GiB of container memory held for an hour.
    pub memory_gb_hour: u64,
    /// Price of one GiB of backup archives kept for a month.
    pub backup_gb_month: u64,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            currency: "USD".into(),
            minor_unit_digits: 2,
            calls_per_1000: 0,
            cpu_hour: 0,
            memory_gb_hour: 0,
            backup_gb_month: 0,
        }
    }
}

impl BillingSettings {
    /// Refuses a currency that is not three capital letters and more than 6 digits.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            anyhow::bail!("billing.currency must be an ISO 4217 code such as USD");
        }
        if self.minor_unit_digits > 6 {
            anyhow::bail!("billing.minor_unit_digits must be 0 to 6");
        }
        Ok(())
    }
}
