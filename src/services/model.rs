//! The service shapes (see docs/api.md, "Services"): the API view, the stored desired
//! state, and the request bodies that set it (`POST`/`PUT` [`ServiceSettings`], `PATCH`
//! [`ServicePatch`]) with how they apply to a spec. Pure: no Docker, no SQL; validation
//! is in `validate.rs`.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Most containers one service may run.
pub const MAX_REPLICAS: u32 = 20;
/// Label prefix reserved for mcpd's own container labels.
pub const RESERVED_LABEL_PREFIX: &str = "io.mcpd.";
/// `desired_state` of a service that should run.
pub const DESIRED_RUNNING: &str = "running";
/// `desired_state` of a service that should not run.
pub const DESIRED_STOPPED: &str = "stopped";

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

/// The settable part of a service, as `POST /services` and `PUT /services/{id}` take
/// it; unknown fields are refused. `start` is the create body's "start the containers
/// at once" (`bool`, default false); the replace body has none ([`NoStart`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings<Start> {
    pub name: String,
    pub image: String,
    #[serde(default)]
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
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub start: Start,
}

/// `POST /services` body.
pub type CreateService = ServiceSettings<bool>;
/// `PUT /services/{id}` body: the create body without `start`.
pub type ReplaceService = ServiceSettings<NoStart>;

fn one() -> u32 {
    1
}

/// The absent `start` of a replace body: sending one is an unknown field.
#[derive(Debug, Default)]
pub struct NoStart;

impl<'de> Deserialize<'de> for NoStart {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::unknown_field("start", &[]))
    }
}

impl<S> ServiceSettings<S> {
    /// The spec these settings describe; `stdin_open` and `managed_by`, which no body
    /// can set, are those of `kept` (the stored spec, or the default for a new one).
    pub fn into_spec(self, kept: &ServiceSpec) -> ServiceSpec {
        ServiceSpec {
            name: self.name,
            image: self.image,
            command: self.command,
            env: self.env,
            ports: self.ports,
            volumes: self.volumes,
            networks: self.networks,
            labels: self.labels,
            resources: self.resources,
            health_check: self.health_check,
            replicas: self.replicas,
            restart_policy: self.restart_policy,
            stdin_open: kept.stdin_open,
            managed_by: kept.managed_by.clone(),
        }
    }
}

/// `PATCH /services/{id}` body: only the fields sent change; `null` clears `command`
/// and `health_check`. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub image: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub command: Option<Option<Vec<String>>>,
    pub env: Option<BTreeMap<String, String>>,
    pub ports: Option<Vec<PortSpec>>,
    pub volumes: Option<Vec<VolumeSpec>>,
    pub networks: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub resources: Option<Resources>,
    #[serde(default, deserialize_with = "present")]
    pub health_check: Option<Option<HealthCheck>>,
    pub replicas: Option<u32>,
    pub restart_policy: Option<RestartPolicy>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl ServiceSpec {
    /// Applies `patch`: every field it carries replaces the stored one, the others
    /// stay. The result is not validated here (see [`ServiceSpec::validate`]).
    pub fn apply(&mut self, patch: ServicePatch) {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        set(&mut self.name, patch.name);
        set(&mut self.image, patch.image);
        set(&mut self.command, patch.command);
        set(&mut self.env, patch.env);
        set(&mut self.ports, patch.ports);
        set(&mut self.volumes, patch.volumes);
        set(&mut self.networks, patch.networks);
        set(&mut self.labels, patch.labels);
        set(&mut self.resources, patch.resources);
        set(&mut self.health_check, patch.health_check);
        set(&mut self.replicas, patch.replicas);
        set(&mut self.restart_policy, patch.restart_policy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policy_uses_docker_names() {
        let p: RestartPolicy = serde_json::from_str("\"unless-stopped\"").unwrap();
        assert_eq!(p, RestartPolicy::UnlessStopped);
        assert_eq!(
            serde_json::to_string(&RestartPolicy::OnFailure).unwrap(),
            "\"on-failure\""
        );
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let p: ServicePatch = crate::http::extract::parse_json(br#"{"command": null}"#).unwrap();
        assert_eq!(p.command, Some(None));
        assert!(p.health_check.is_none());
        let p: ServicePatch = crate::http::extract::parse_json(br#"{}"#).unwrap();
        assert!(p.command.is_none());
    }

    #[test]
    fn a_patch_changes_only_what_it_carries() {
        let mut s = ServiceSpec {
            name: "a".into(),
            image: "i".into(),
            command: Some(vec!["x".into()]),
            stdin_open: true,
            managed_by: Some("mcp_1".into()),
            ..Default::default()
        };
        let p: ServicePatch =
            crate::http::extract::parse_json(br#"{"image": "j", "command": null}"#).unwrap();
        s.apply(p);
        assert_eq!((s.name.as_str(), s.image.as_str()), ("a", "j"));
        assert_eq!(s.command, None);
        assert!(s.stdin_open);
        assert_eq!(s.managed_by.as_deref(), Some("mcp_1"));
    }

    #[test]
    fn only_the_create_body_takes_start() {
        let body = br#"{"name": "a", "image": "i", "start": true}"#;
        let c: CreateService = crate::http::extract::parse_json(body).unwrap();
        assert!(c.start);
        assert_eq!(c.replicas, 1);
        let e = crate::http::extract::parse_json::<ReplaceService>(body).unwrap_err();
        assert_eq!(e.message, "invalid request body: start: unknown field");
        assert_eq!(e.details[0].field, "start");
        assert_eq!(e.details[0].issue, "unknown field");
        let e = crate::http::extract::parse_json::<ReplaceService>(br#"{"x": 1}"#).unwrap_err();
        assert_eq!(e.message, "invalid request body: x: unknown field");
    }

    #[test]
    fn a_replace_keeps_what_no_body_sets() {
        let kept = ServiceSpec {
            stdin_open: true,
            managed_by: Some("mcp_1".into()),
            ..Default::default()
        };
        let r: ReplaceService =
            crate::http::extract::parse_json(br#"{"name": "b", "image": "i"}"#).unwrap();
        let s = r.into_spec(&kept);
        assert_eq!(s.name, "b");
        assert!(s.stdin_open);
        assert_eq!(s.managed_by.as_deref(), Some("mcp_1"));
    }
}
