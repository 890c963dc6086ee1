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
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Service {
    /// `svc_` + 16 alphanumerics (see `crate::ids`).
    pub id: String,
    /// Unique DNS-label-like name (see [`ServiceSpec::name`]).
    pub name: String,
    /// Image reference, as stored (see [`ServiceSpec::image`]).
    pub image: String,
    /// Docker `Cmd` override; `None` (JSON `null`) runs the image's default.
    pub command: Option<Vec<String>>,
    /// Variable → value as written: `${secret:<key>}` references are shown, never resolved.
    pub env: BTreeMap<String, String>,
    /// Published ports; `[]` when none.
    pub ports: Vec<PortSpec>,
    /// Bind mounts and named volumes; `[]` when none.
    pub volumes: Vec<VolumeSpec>,
    /// Extra Docker networks joined besides the managed one (`docker.network`).
    pub networks: Vec<String>,
    /// The user's container labels (mcpd's own `io.mcpd.*` labels are not shown).
    pub labels: BTreeMap<String, String>,
    /// Per-container CPU and memory limits.
    pub resources: Resources,
    /// Docker HEALTHCHECK of every container; `None` (JSON `null`) = the image's own.
    pub health_check: Option<HealthCheck>,
    /// Number of containers asked for, 0..=[`MAX_REPLICAS`].
    pub replicas: u32,
    /// Docker `HostConfig.RestartPolicy` of every container.
    pub restart_policy: RestartPolicy,
    /// Derived status (values above); the last stored one while `engine` is `unavailable`.
    pub status: String,
    /// Whether Docker answered for this read (`available` / `unavailable`).
    pub engine: crate::docker::Engine,
    /// [`DESIRED_RUNNING`] or [`DESIRED_STOPPED`].
    pub desired_state: String,
    /// Owning object's id (an MCP server, `mcp_…`); `None` for a service made through
    /// `/services`.
    pub managed_by: Option<String>,
    /// Containers as Docker reports them now, ordered by replica; `[]` while Docker is down.
    pub containers: Vec<ContainerInfo>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change of the spec or desired state (not of `status`), RFC 3339 UTC.
    pub updated_at: String,
}

/// One container realising a service: Docker id, name `mcpd-<service>-<n>`, Docker's
/// state (`created, running, restarting, paused, exited, dead, removing`, or
/// `unhealthy`/`starting` while a health check says so) and start time (RFC 3339).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ContainerInfo {
    /// Docker's full container id (64 hex characters).
    pub id: String,
    /// `mcpd-<service name>-<replica>`, replicas numbered from 1.
    pub name: String,
    /// Docker's `State.Status` (`unknown` when it gives none), or the health status while
    /// running (values above).
    pub status: String,
    /// Docker's `State.StartedAt` as RFC 3339 UTC; `None` unless the container is running.
    pub started_at: Option<String>,
}

/// A published port. `host_port` unset lets Docker pick a free one; `host_ip`
/// defaults to 127.0.0.1 so nothing is exposed beyond this host unless asked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct PortSpec {
    /// Port inside the container, 1-65535; with `protocol` unique within a service.
    #[schema(maximum = 65535)]
    pub container_port: u16,
    /// Host port to bind; `None` or 0 lets Docker pick a free one. A fixed port needs
    /// `replicas` <= 1.
    #[serde(default)]
    #[schema(maximum = 65535)]
    pub host_port: Option<u16>,
    /// Host address to bind (an IPv4 or IPv6 address); `None` = `127.0.0.1`.
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct VolumeSpec {
    /// Absolute host path (bind mount) or named volume; never contains `:`.
    pub source: String,
    /// Absolute mount point in the container; never contains `:`.
    pub target: String,
    /// Mount read-only (Docker bind option `:ro`); default false.
    #[serde(default)]
    pub read_only: bool,
}
crate::json::object_only!(
    VolumeSpec,
    "a volume object {source, target, read_only?}",
    serialize
);

/// Limits per container: CPU in thousandths of a core, memory in MiB. Unset = no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Resources {
    /// CPU limit in thousandths of a core, 10-1000000; sent to Docker as
    /// `HostConfig.NanoCpus` (× 10^6). `None` = unlimited.
    #[serde(default)]
    pub cpu_millicores: Option<u32>,
    /// Memory limit in MiB, 6-4194304 (Docker's minimum is 6 MiB); sent as
    /// `HostConfig.Memory` in bytes. `None` = unlimited.
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct HealthCheck {
    /// Docker's `Healthcheck.Test`: `["CMD", …]` or `["CMD-SHELL", "…"]`; `NONE` is refused.
    pub test: Vec<String>,
    /// Seconds between checks, >= 1; default 30.
    #[serde(default = "default_interval")]
    pub interval_s: u32,
    /// Seconds one check may take before it counts as failed, >= 1; default 10.
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    /// Consecutive failures that make the container `unhealthy`; default 3.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds after start during which failures do not count; default 0.
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

/// Docker's restart policy names (`HostConfig.RestartPolicy.Name` of the Engine API),
/// kebab-case in JSON.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// `no` (default): Docker never restarts the container.
    #[default]
    No,
    /// `on-failure`: restart when it exits with a non-zero code, with no retry limit.
    OnFailure,
    /// `always`: restart whenever it exits; one stopped on purpose comes back when the
    /// Docker daemon restarts.
    Always,
    /// `unless-stopped`: as `always`, but one stopped on purpose stays stopped across
    /// Docker daemon restarts.
    UnlessStopped,
}

/// The desired state of a service: everything needed to (re)create its containers.
/// Stored as JSON; `stdin_open` and `managed_by` are set only by other domains (the
/// HTTP body cannot set them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceSpec {
    /// 1-63 of `a-z 0-9 -`, not starting or ending with `-` (an RFC 1123 label);
    /// unique; also the containers' network alias.
    pub name: String,
    /// Image reference (grammar in docs/api.md, "10. Images"); must be present locally.
    pub image: String,
    /// Docker `Cmd` (the image's ENTRYPOINT stays); `None` = the image's default, never empty.
    pub command: Option<Vec<String>>,
    /// Variable (`[A-Za-z_][A-Za-z0-9_]*`) → value; values may hold `${secret:<key>}`
    /// references, resolved only when a container is created.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Published ports; a (`container_port`, `protocol`) pair at most once.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Mounts, passed to Docker as `HostConfig.Binds`.
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// Extra existing Docker networks, `[A-Za-z0-9][A-Za-z0-9_.-]*` of at most 128 bytes.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Container labels; keys starting [`RESERVED_LABEL_PREFIX`] are refused.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Per-container limits; default none.
    #[serde(default)]
    pub resources: Resources,
    /// Docker HEALTHCHECK; `None` keeps the image's own.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// Containers to run, 0..=[`MAX_REPLICAS`].
    pub replicas: u32,
    /// Docker restart policy; default `no`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Keep stdin open (Docker OpenStdin, StdinOnce=false, AttachStdin) so a client can attach later: stdio MCP servers.
    #[serde(default)]
    pub stdin_open: bool,
    /// Owning object's id (an MCP server, `mcp_…`); such a service refuses changes
    /// through `/services` (`CONFLICT`). `None` for a plain service.
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings<Start> {
    /// Required; rules of [`ServiceSpec::name`].
    pub name: String,
    /// Required; rules of [`ServiceSpec::image`].
    pub image: String,
    /// Default `null`: the image's CMD.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Default `{}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Default `[]`.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Default `[]`.
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// Default `[]`: only the managed network.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Default `{}`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Default: no limits.
    #[serde(default)]
    pub resources: Resources,
    /// Default `null`: the image's own HEALTHCHECK, if any.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// 0..=[`MAX_REPLICAS`]; default 1.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Default `no`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Create body: start the containers at once (`bool`, default false).
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

/// No value is accepted (`{"not": {}}`): `start` is refused in a replace body.
impl utoipa::PartialSchema for NoStart {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType};
        // utoipa has no builder for `not`; an extension key without the `x-` prefix is
        // written as is.
        let never =
            utoipa::openapi::extensions::Extensions::from_iter([("not", serde_json::json!({}))]);
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Not accepted: the replace body has no `start`."))
            .extensions(Some(never))
            .into()
    }
}

impl utoipa::ToSchema for NoStart {}

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
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    /// New name; renaming recreates the containers under the new name.
    pub name: Option<String>,
    /// New image reference.
    pub image: Option<String>,
    /// `Some(None)` (sent as `null`) returns to the image's CMD; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    pub command: Option<Option<Vec<String>>>,
    /// Replaces the whole map (not merged).
    pub env: Option<BTreeMap<String, String>>,
    /// Replaces the whole list.
    pub ports: Option<Vec<PortSpec>>,
    /// Replaces the whole list.
    pub volumes: Option<Vec<VolumeSpec>>,
    /// Replaces the whole list.
    pub networks: Option<Vec<String>>,
    /// Replaces the whole map (not merged).
    pub labels: Option<BTreeMap<String, String>>,
    /// Replaces both limits; a limit left out becomes unlimited.
    pub resources: Option<Resources>,
    /// `Some(None)` (sent as `null`) removes the health check; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    pub health_check: Option<Option<HealthCheck>>,
    /// 0..=[`MAX_REPLICAS`].
    pub replicas: Option<u32>,
    /// New Docker restart policy.
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
