//! What the daemon measures of itself and of what it runs, and how it is read:
//! `GET /stats` (counts from the database), `GET /metrics` (a JSON snapshot of the host,
//! the process, HTTP traffic over the last minute, MCP sessions and the engine) and
//! `GET /metrics/prometheus` (the Prometheus text exposition format, version 0.0.4,
//! encoded by the `prometheus-client` crate; also served without auth on
//! `metrics.listen` when that is set).
//!
//! [`Metrics`] is the recorder held in [`crate::app::App`]: HTTP requests are counted
//! by the middleware in [`http`] under their route template (never the raw path, so
//! label values are bounded by the router), tool calls by the one execution path
//! ([`Metrics::record_call`]). Values that only exist at scrape time (process, engine,
//! containers, sessions, backups) are read then ([`exposition`]). The [`sampler`]
//! measures the host's CPU and every service's containers every
//! `metrics.sample_interval_s` seconds.

pub mod api;
pub mod exposition;
pub mod host;
pub mod http;
pub mod sampler;
pub mod snapshot;
pub mod stats;
pub mod window;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

/// Labels of `mcpd_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/api/v1/services/{id}`), or `unmatched`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The status code.
    pub status: u16,
}

/// Labels of `mcpd_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
    /// The HTTP method.
    pub method: String,
}

/// Labels of `mcpd_mcp_calls_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The MCP server's name.
    pub server: String,
    /// `tool`, `resource` or `prompt`.
    pub kind: &'static str,
    /// The tool or prompt name; empty for a resource read (URIs are unbounded) and
    /// `_other` once [`MAX_CALL_NAMES`] names have been seen.
    pub tool: String,
    /// `success` or `error`.
    pub status: &'static str,
}

/// Labels of `mcpd_mcp_call_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    /// The MCP server's name.
    pub server: String,
}

/// Most distinct (server, tool) pairs given their own label value; callers choose tool
/// names, so the rest share `_other`.
pub const MAX_CALL_NAMES: usize = 2000;

/// The recorder: counters and histograms that grow with traffic, and the last minute of
/// HTTP latencies by route group.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    mcp_calls: Family<CallLabels, Counter>,
    mcp_duration: Family<ServerLabels, Histogram>,
    call_names: RwLock<HashSet<(String, String)>>,
    /// HTTP requests by route group over the last minute (`GET /metrics`).
    pub window: window::Window,
    /// The sampler's latest readings.
    pub latest: sampler::Latest,
}

fn seconds_histogram() -> Histogram {
    // 1 ms to ~33 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let mcp_calls = Family::<CallLabels, Counter>::default();
        let mcp_duration =
            Family::<ServerLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        registry.register(
            "mcpd_http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "mcpd_http_request_duration",
            "Time to answer an HTTP request (to the response head), by route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        registry.register(
            "mcpd_mcp_calls",
            "MCP tool calls, resource reads and prompt gets, by server, tool and outcome",
            mcp_calls.clone(),
        );
        registry.register_with_unit(
            "mcpd_mcp_call_duration",
            "Time of an MCP call through mcpd, by server",
            Unit::Seconds,
            mcp_duration.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            mcp_calls,
            mcp_duration,
            call_names: RwLock::default(),
            window: window::Window::default(),
            latest: sampler::Latest::default(),
        }
    }
}

impl Metrics {
    /// Counts one HTTP request of route template `route` (its group is the first
    /// segment after `/api/v1`, or the first segment).
    pub fn record_http(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(took.as_secs_f64());
        self.window.record(route_group(route), took, status >= 500);
    }

    /// Counts one MCP execution (`kind` `tool`, `resource` or `prompt`) of `server`.
    pub fn record_call(
        &self,
        server: &str,
        kind: &'static str,
        name: &str,
        ok: bool,
        took: Duration,
    ) {
        let tool = match kind {
            "resource" => String::new(),
            _ => self.bounded_name(server, name),
        };
        self.mcp_calls
            .get_or_create(&CallLabels {
                server: server.to_string(),
                kind,
                tool,
                status: if ok { "success" } else { "error" },
            })
            .inc();
        self.mcp_duration
            .get_or_create(&ServerLabels {
                server: server.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    fn bounded_name(&self, server: &str, name: &str) -> String {
        let key = (server.to_string(), name.to_string());
        let known = self.call_names.read().unwrap_or_else(|p| p.into_inner());
        if known.contains(&key) {
            return key.1;
        }
        drop(known);
        let mut known = self.call_names.write().unwrap_or_else(|p| p.into_inner());
        if known.len() < MAX_CALL_NAMES {
            known.insert(key.clone());
            key.1
        } else if known.contains(&key) {
            key.1
        } else {
            "_other".to_string()
        }
    }

    /// The registry of the recorded series (encoded by [`exposition`]).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The group of a route template: `/api/v1/services/{id}` → `services`, `/mcp` → `mcp`,
/// anything else (`unmatched`) → `other`.
pub fn route_group(route: &str) -> &'static str {
    const GROUPS: &[&str] = &[
        "health",
        "info",
        "auth",
        "users",
        "services",
        "images",
        "mcp",
        "catalog",
        "logs",
        "usage",
        "workspaces",
        "organization",
        "mappings",
        "config",
        "audit",
        "backups",
        "kubernetes",
        "network",
        "stats",
        "metrics",
        "ws",
        "resources",
        "billing",
        "monitoring",
    ];
    let rest = route.strip_prefix("/api/v1").unwrap_or(route);
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    GROUPS
        .iter()
        .find(|g| **g == first)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_bounded_groups() {
        assert_eq!(route_group("/api/v1/services/{id}"), "services");
        assert_eq!(route_group("/mcp"), "mcp");
        assert_eq!(route_group("/api/v1/mcp/execute/tool"), "mcp");
        assert_eq!(route_group("unmatched"), "other");
        assert_eq!(route_group("/api/v1/nonsense"), "other");
    }

    #[test]
    fn tool_names_beyond_the_cap_share_one_label() {
        let m = Metrics::default();
        for i in 0..MAX_CALL_NAMES {
            assert_eq!(m.bounded_name("s", &format!("t{i}")), format!("t{i}"));
        }
        assert_eq!(m.bounded_name("s", "new"), "_other");
        assert_eq!(m.bounded_name("s", "t7"), "t7");
    }
}
