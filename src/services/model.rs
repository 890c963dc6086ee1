//! The service shapes (DESIGN.md, "Main shapes" and "Services on Docker") and the
//! validation of a desired state. Pure: no Docker, no SQL.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Most containers one service may run.
pub const MAX_REPLICAS: u32 = 20;
/// Label prefix reserved for mcpd's own container labels.
pub const RESERVED_LABEL_PREFIX: &str = "io.mcpd.";

/// A service as the API shows it: its desired state plus what Docker reports.
///
/// `status` is one of `created, starting, running, unhealthy, stopping, stopped, failed,
/// removing`, derived from the containers. `engine` says whether Docker answered: while
/// it is `unavailable`, `status` is the last status observed and `containers` is empty
/// because the engine cannot be asked for them;
/// `desired_state` is `running` or `stopped`. `managed_by` names the owner (e.g. an MCP
/// server id `mcp_…`) when another domain created the service; such a service cannot
/// be changed or deleted through `/services`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub networks: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub resources: Resources,
    pub health_check: Option<HealthCheck>,
    pub replicas: u32,
    pub restart_policy: RestartPolicy,
    pub status: String,
    pub engine: crate::docker::Engine,
    pub desired_state: String,
    pub managed_by: Option<String>,
    pub containers: Vec<ContainerInfo>,
    pub created_at: String,
    pub updated_at: String,
}

/// One container realising a service: Docker id, name `mcpd-<service>-<n>`, Docker's
/// state (`created, running, restarting, paused, exited, dead, removing`, or
/// `unhealthy`/`starting` while a health check says so) and start time (RFC 3339).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    pub started_at: Option<String>,
}

/// A published port. `host_port` unset lets Docker pick a free one; `host_ip`
/// defaults to 127.0.0.1 so nothing is exposed beyond this host unless asked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct PortSpec {
    pub container_port: u16,
    #[serde(default)]
    pub host_port: Option<u16>,
    #[serde(default)]
    pub host_ip: Option<String>,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
}
crate::json::object_only!(
    PortSpec,
    "a port object {container_port, host_port?, host_ip?, protocol?}",
    serialize
);

fn default_protocol() -> String {
    "tcp".into()
}

/// A mount: `source` is an absolute host path (bind mount) or a named Docker volume
/// (`[A-Za-z0-9][A-Za-z0-9_.-]*`, created by Docker when missing); `target` is an
/// absolute path in the container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}
crate::json::object_only!(
    VolumeSpec,
    "a volume object {source, target, read_only?}",
    serialize
);

/// Limits per container: CPU in thousandths of a core, memory in MiB. Unset = no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Resources {
    #[serde(default)]
    pub cpu_millicores: Option<u32>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
}
crate::json::object_only!(
    Resources,
    "a resources object {cpu_millicores?, memory_mb?}",
    serialize
);

/// A Docker health check. `test` is Docker's form (`["CMD", "prog", "arg"]` or
/// `["CMD-SHELL", "cmd line"]`); a list not starting with `CMD`/`CMD-SHELL` is taken as
/// a command and run as `CMD`. Durations in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct HealthCheck {
    pub test: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval_s: u32,
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub start_period_s: u32,
}
crate::json::object_only!(
    HealthCheck,
    "a health check object {test, interval_s?, timeout_s?, retries?, start_period_s?}",
    serialize
);

fn default_interval() -> u32 {
    30
}
fn default_timeout() -> u32 {
    10
}
fn default_retries() -> u32 {
    3
}

/// Docker's restart policy names.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

/// The desired state of a service: everything needed to (re)create its containers.
/// Stored as JSON; `stdin_open` and `managed_by` are set only by other domains (the
/// HTTP body cannot set them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    pub replicas: u32,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Keep stdin open (Docker OpenStdin, StdinOnce=false, AttachStdin) so a client can attach later: stdio MCP servers.
    #[serde(default)]
    pub stdin_open: bool,
    #[serde(default)]
    pub managed_by: Option<String>,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            image: String::new(),
            command: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            networks: Vec::new(),
            labels: BTreeMap::new(),
            resources: Resources::default(),
            health_check: None,
            replicas: 1,
            restart_policy: RestartPolicy::No,
            stdin_open: false,
            managed_by: None,
        }
    }
}

/// Whether `s` is a valid service name: a DNS-label-like slug of 1..=63 characters,
/// `[a-z0-9]([a-z0-9-]*[a-z0-9])?` (RFC 1123 label, lower case).
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest volume or network name accepted, in bytes.
pub const MAX_ENGINE_NAME_LEN: usize = 128;

/// Whether `s` is a Docker object name as the engine's own grammar has it for volumes
/// and networks: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most [`MAX_ENGINE_NAME_LEN`] bytes.
pub fn is_engine_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_ENGINE_NAME_LEN
        && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl ServiceSpec {
    /// Checks every field that can be checked without Docker; the first problem is a
    /// `VALIDATION_ERROR` naming the field (e.g. `ports[1].host_ip`). Also normalises
    /// the health check test to Docker's form.
    pub fn validate(&mut self) -> Result<()> {
        if !is_valid_name(&self.name) {
            return Err(Error::field(
                "name",
                "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
            ));
        }
        crate::images::reference::validate("image", &self.image)?;
        if let Some(cmd) = &self.command {
            if cmd.is_empty() {
                return Err(Error::field(
                    "command",
                    "must not be empty (omit it to use the image's default)",
                ));
            }
            if cmd.iter().any(|a| a.contains('\0')) {
                return Err(Error::field("command", "must not contain NUL characters"));
            }
        }
        for (k, v) in &self.env {
            if !is_env_key(k) {
                return Err(Error::field(
                    format!("env.{k}"),
                    "environment variable names are [A-Za-z_][A-Za-z0-9_]*",
                ));
            }
            if v.contains('\0') {
                return Err(Error::field(
                    format!("env.{k}"),
                    "must not contain NUL characters",
                ));
            }
        }
        let mut published = std::collections::HashSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            let f = |x: &str| format!("ports[{i}].{x}");
            if p.container_port == 0 {
                return Err(Error::field(f("container_port"), "must be 1-65535"));
            }
            if !matches!(p.protocol.as_str(), "tcp" | "udp" | "sctp") {
                return Err(Error::field(f("protocol"), "must be tcp, udp or sctp"));
            }
            if let Some(ip) = &p.host_ip
                && ip.parse::<IpAddr>().is_err()
            {
                return Err(Error::field(f("host_ip"), "must be an IP address"));
            }
            if !published.insert((p.container_port, p.protocol.clone())) {
                return Err(Error::field(
                    f("container_port"),
                    "published more than once",
                ));
            }
            if p.host_port.is_some_and(|h| h != 0) && self.replicas > 1 {
                return Err(Error::field(
                    f("host_port"),
                    "a fixed host port cannot be shared by more than one replica",
                ));
            }
        }
        for (i, v) in self.volumes.iter().enumerate() {
            let f = |x: &str| format!("volumes[{i}].{x}");
            if !(v.source.starts_with('/') || is_engine_name(&v.source)) {
                return Err(Error::field(
                    f("source"),
                    "must be an absolute host path or a volume name",
                ));
            }
            if !v.target.starts_with('/') || v.target.contains(':') {
                return Err(Error::field(
                    f("target"),
                    "must be an absolute container path",
                ));
            }
            if v.source.contains(':') {
                return Err(Error::field(f("source"), "must not contain ':'"));
            }
        }
        for (i, n) in self.networks.iter().enumerate() {
            if !is_engine_name(n) {
                return Err(Error::field(
                    format!("networks[{i}]"),
                    format!(
                        "must be a network name ([A-Za-z0-9][A-Za-z0-9_.-]*, at most {MAX_ENGINE_NAME_LEN} characters)"
                    ),
                ));
            }
        }
        for k in self.labels.keys() {
            if k.starts_with(RESERVED_LABEL_PREFIX) {
                return Err(Error::field(
                    format!("labels.{k}"),
                    "the io.mcpd. prefix is reserved",
                ));
            }
            if k.is_empty() {
                return Err(Error::field("labels", "label keys must not be empty"));
            }
        }
        if let Some(c) = self.resources.cpu_millicores
            && !(10..=1_000_000).contains(&c)
        {
            return Err(Error::field(
                "resources.cpu_millicores",
                "must be 10-1000000 (thousandths of a CPU core)",
            ));
        }
        if let Some(m) = self.resources.memory_mb
            && !(6..=4_194_304).contains(&m)
        {
            return Err(Error::field(
                "resources.memory_mb",
                "must be 6-4194304 MiB (Docker's minimum is 6 MiB)",
            ));
        }
        if let Some(h) = &mut self.health_check {
            if h.test.is_empty() {
                return Err(Error::field("health_check.test", "required"));
            }
            match h.test[0].as_str() {
                "CMD" | "CMD-SHELL" if h.test.len() >= 2 => {}
                "CMD" | "CMD-SHELL" => {
                    return Err(Error::field("health_check.test", "command missing"));
                }
                "NONE" => {
                    return Err(Error::field(
                        "health_check.test",
                        "omit health_check instead of NONE",
                    ));
                }
                _ => h.test.insert(0, "CMD".into()),
            }
            if h.interval_s == 0 || h.timeout_s == 0 {
                return Err(Error::field(
                    "health_check",
                    "interval_s and timeout_s must be at least 1",
                ));
            }
        }
        if self.replicas > MAX_REPLICAS {
            return Err(Error::field(
                "replicas",
                format!("must be 0-{MAX_REPLICAS}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "web-1".into(),
            image: "busybox:1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_dns_labels() {
        for ok in ["a", "web", "web-1", "0abc", &"a".repeat(63)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Web", "a_b", "a.b", &"a".repeat(64), "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    type Mutation = Box<dyn Fn(&mut ServiceSpec)>;

    #[test]
    fn validation_names_the_field() {
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|s| s.name = "Bad".into()), "name"),
            (Box::new(|s| s.image = " ".into()), "image"),
            (Box::new(|s| s.command = Some(vec![])), "command"),
            (
                Box::new(|s| {
                    s.env.insert("1X".into(), "v".into());
                }),
                "env.1X",
            ),
            (
                Box::new(|s| {
                    s.ports = vec![PortSpec {
                        container_port: 80,
                        host_port: None,
                        host_ip: Some("nope".into()),
                        protocol: "tcp".into(),
                    }]
                }),
                "ports[0].host_ip",
            ),
            (
                Box::new(|s| {
                    s.replicas = 2;
                    s.ports = vec![PortSpec {
                        container_port: 80,
                        host_port: Some(8080),
                        host_ip: None,
                        protocol: "tcp".into(),
                    }]
                }),
                "ports[0].host_port",
            ),
            (
                Box::new(|s| {
                    s.volumes = vec![VolumeSpec {
                        source: "rel/path".into(),
                        target: "/data".into(),
                        read_only: false,
                    }]
                }),
                "volumes[0].source",
            ),
            (
                Box::new(|s| {
                    s.labels.insert("io.mcpd.service".into(), "x".into());
                }),
                "labels.io.mcpd.service",
            ),
            (
                Box::new(|s| s.resources.memory_mb = Some(1)),
                "resources.memory_mb",
            ),
            (Box::new(|s| s.replicas = 21), "replicas"),
        ];
        for (mutate, field) in cases {
            let mut s = spec();
            mutate(&mut s);
            let e = s.validate().expect_err(field);
            assert_eq!(e.details[0].field, field);
        }
        spec().validate().unwrap();
    }

    #[test]
    fn health_check_test_gets_docker_form() {
        let mut s = spec();
        s.health_check = Some(HealthCheck {
            test: vec!["true".into()],
            interval_s: 1,
            timeout_s: 1,
            retries: 1,
            start_period_s: 0,
        });
        s.validate().unwrap();
        assert_eq!(s.health_check.unwrap().test, ["CMD", "true"]);
    }

    #[test]
    fn restart_policy_uses_docker_names() {
        let p: RestartPolicy = serde_json::from_str("\"unless-stopped\"").unwrap();
        assert_eq!(p, RestartPolicy::UnlessStopped);
        assert_eq!(
            serde_json::to_string(&RestartPolicy::OnFailure).unwrap(),
            "\"on-failure\""
        );
    }
}
