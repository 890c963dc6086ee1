//! The Docker side of services: container configuration from a spec, the managed
//! network, and the per-container calls (create, start, stop, remove, inspect). No SQL.
//!
//! Every container carries `io.mcpd.managed=true`, `io.mcpd.service=<id>`,
//! `io.mcpd.replica=<n>` and `io.mcpd.config=<hash>`, the SHA-256 of the parts of the
//! spec that shape a container: a container whose hash differs from the current spec
//! is out of date and gets recreated.

use super::model::{ContainerInfo, RestartPolicy, ServiceSpec};
use crate::docker::{map_err, path_segment};
use crate::error::{Error, ErrorCode, Result};
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings,
    HealthConfig, HealthStatusEnum, HostConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// `true` on every container and network mcpd manages.
pub const LABEL_MANAGED: &str = "io.mcpd.managed";
/// The owning service's id (`svc_…`).
pub const LABEL_SERVICE: &str = "io.mcpd.service";
/// The replica number, from 1.
pub const LABEL_REPLICA: &str = "io.mcpd.replica";
/// Hash of the container-shaping spec (see [`config_hash`]).
pub const LABEL_CONFIG: &str = "io.mcpd.config";

/// `mcpd-<service name>-<n>`, n from 1.
pub fn container_name(service_name: &str, replica: u32) -> String {
    format!("mcpd-{service_name}-{replica}")
}

/// The container-shaping part of a spec, hashed into `io.mcpd.config`. Replicas are
/// not part of it: scaling never recreates the containers that stay.
#[derive(Serialize)]
struct ContainerShape<'a> {
    image: &'a str,
    command: &'a Option<Vec<String>>,
    env: &'a BTreeMap<String, String>,
    ports: &'a [super::model::PortSpec],
    volumes: &'a [super::model::VolumeSpec],
    networks: &'a [String],
    labels: &'a BTreeMap<String, String>,
    resources: &'a super::model::Resources,
    health_check: &'a Option<super::model::HealthCheck>,
    restart_policy: RestartPolicy,
    stdin_open: bool,
    network: &'a str,
}

/// Hash of the container configuration a spec asks for (hex SHA-256).
pub fn config_hash(spec: &ServiceSpec, network: &str) -> String {
    let shape = ContainerShape {
        image: &spec.image,
        command: &spec.command,
        env: &spec.env,
        ports: &spec.ports,
        volumes: &spec.volumes,
        networks: &spec.networks,
        labels: &spec.labels,
        resources: &spec.resources,
        health_check: &spec.health_check,
        restart_policy: spec.restart_policy,
        stdin_open: spec.stdin_open,
        network,
    };
    let json = serde_json::to_string(&shape).unwrap_or_default();
    crate::ids::sha256_hex(&json)
}

const NS_PER_S: i64 = 1_000_000_000;

/// The environment a container gets: the spec's env with `${secret:…}` references
/// resolved (see `crate::configuration::refs`). Wiped from memory when dropped.
pub type ResolvedEnv = BTreeMap<String, zeroize::Zeroizing<String>>;

/// Docker's create body for replica `n` of service `id`, with `env` already resolved.
pub fn container_config(
    id: &str,
    spec: &ServiceSpec,
    env: &ResolvedEnv,
    replica: u32,
    network: &str,
) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(LABEL_MANAGED.into(), "true".into());
    labels.insert(LABEL_SERVICE.into(), id.into());
    labels.insert(LABEL_REPLICA.into(), replica.to_string());
    labels.insert(LABEL_CONFIG.into(), config_hash(spec, network));

    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        exposed.push(key.clone());
        bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: Some(p.host_ip.clone().unwrap_or_else(|| "127.0.0.1".into())),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            }]),
        );
    }
    let binds: Vec<String> = spec
        .volumes
        .iter()
        .map(|v| {
            let ro = if v.read_only { ":ro" } else { "" };
            format!("{}:{}{ro}", v.source, v.target)
        })
        .collect();
    let restart = match spec.restart_policy {
        RestartPolicy::No => RestartPolicyNameEnum::NO,
        RestartPolicy::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
        RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
        RestartPolicy::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
    };
    let healthcheck = spec.health_check.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(h.interval_s as i64 * NS_PER_S),
        timeout: Some(h.timeout_s as i64 * NS_PER_S),
        retries: Some(h.retries as i64),
        start_period: Some(h.start_period_s as i64 * NS_PER_S),
        start_interval: None,
    });
    let mut endpoints = HashMap::new();
    endpoints.insert(
        network.to_string(),
        EndpointSettings {
            aliases: Some(vec![spec.name.clone()]),
            ..Default::default()
        },
    );
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        env: Some(
            env.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str()))
                .collect(),
        ),
        labels: Some(labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        tty: Some(false),
        open_stdin: Some(spec.stdin_open),
        stdin_once: Some(false),
        attach_stdin: Some(spec.stdin_open),
        attach_stdout: Some(spec.stdin_open),
        attach_stderr: Some(spec.stdin_open),
        host_config: Some(HostConfig {
            init: Some(true),
            network_mode: Some(network.to_string()),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: (!binds.is_empty()).then_some(binds),
            nano_cpus: spec.resources.cpu_millicores.map(|m| m as i64 * 1_000_000),
            memory: spec.resources.memory_mb.map(|m| m as i64 * 1024 * 1024),
            restart_policy: Some(bollard::models::RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
        ..Default::default()
    }
}

/// `image` must exist in the local engine (no registry is assumed): otherwise a
/// `VALIDATION_ERROR` on field `image`.
pub async fn check_image(docker: &Docker, image: &str) -> Result<()> {
    match docker.inspect_image(&path_segment(image)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = map_err(e);
            if e.code == ErrorCode::ResourceNotFound {
                Err(Error::field(
                    "image",
                    format!("image '{image}' is not present locally (load it first)"),
                ))
            } else {
                Err(e)
            }
        }
    }
}

/// Every extra network in `networks` must exist: otherwise a `VALIDATION_ERROR`.
pub async fn check_networks(docker: &Docker, networks: &[String]) -> Result<()> {
    for (i, n) in networks.iter().enumerate() {
        if let Err(e) = docker
            .inspect_network(
                &path_segment(n),
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            let e = map_err(e);
            return Err(if e.code == ErrorCode::ResourceNotFound {
                Error::field(format!("networks[{i}]"), format!("network '{n}' not found"))
            } else {
                e
            });
        }
    }
    Ok(())
}

/// Creates the managed bridge network `name` (labelled `io.mcpd.managed=true`) when it
/// does not exist yet. Calls are serialised: the engine (API 1.41 without
/// `CheckDuplicate`) would otherwise create two networks of the same name when two
/// requests race, and a name matching two networks is ambiguous for every later call.
pub async fn ensure_network(docker: &Docker, name: &str) -> Result<()> {
    static ENSURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = ENSURING.lock().await;
    let mut filters = HashMap::new();
    filters.insert("name".to_string(), vec![name.to_string()]);
    let existing = docker
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(map_err)?;
    // The name filter matches substrings; only an exact name counts.
    if existing.iter().any(|n| n.name.as_deref() == Some(name)) {
        return Ok(());
    }
    let mut labels = HashMap::new();
    labels.insert(LABEL_MANAGED.to_string(), "true".to_string());
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .map_err(|e| network_create_failed(name, e))?;
    tracing::info!(network = %name, "created the managed Docker network");
    Ok(())
}

/// A network that cannot be created is the engine being unable to serve, not a missing
/// or conflicting resource: the engine answers "could not find an available,
/// non-overlapping IPv4 address pool" with 404, which [`map_err`] would pass on as
/// `RESOURCE_NOT_FOUND`. → 503 `DOCKER_UNAVAILABLE` with the engine's reason; connection
/// failures keep their usual mapping.
fn network_create_failed(name: &str, e: bollard::errors::Error) -> Error {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => Error::new(
            ErrorCode::DockerUnavailable,
            format!("Docker could not create the managed network '{name}': {message}"),
        ),
        other => map_err(other),
    }
}

/// Creates replica `n` (not started); connects it to the extra networks. On failure
/// the half-made container is removed again.
pub async fn create_container(
    docker: &Docker,
    id: &str,
    spec: &ServiceSpec,
    env: &ResolvedEnv,
    replica: u32,
    network: &str,
) -> Result<String> {
    let name = container_name(&spec.name, replica);
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            container_config(id, spec, env, replica, network),
        )
        .await
        .map_err(|e| container_error(e, "create"))?;
    for n in &spec.networks {
        if n == network {
            continue;
        }
        let r = docker
            .connect_network(
                &path_segment(n),
                NetworkConnectRequest {
                    container: created.id.clone(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(vec![spec.name.clone()]),
                        ..Default::default()
                    }),
                },
            )
            .await;
        if let Err(e) = r {
            remove_container(docker, &created.id).await.ok();
            return Err(container_error(e, "connect"));
        }
    }
    Ok(created.id)
}

/// Errors of creating or starting a container are mostly caused by the spec (a port
/// already bound, a command that does not exist): Docker's message names the cause and
/// is returned as a `VALIDATION_ERROR`; connection trouble stays `DOCKER_UNAVAILABLE`.
fn container_error(e: bollard::errors::Error, what: &str) -> Error {
    if let bollard::errors::Error::DockerResponseServerError {
        status_code,
        message,
    } = &e
        && *status_code != 404
    {
        let field = if message.contains("port is already allocated")
            || message.contains("address already in use")
        {
            Some("ports")
        } else if message.contains("executable file not found")
            || message.contains("no such file or directory")
        {
            Some("command")
        } else {
            None
        };
        let msg = format!("container failed to {what}: {message}");
        if *status_code == 409 {
            // e.g. a container of that name exists but belongs to no service of ours.
            return Error::conflict(msg);
        }
        return match field {
            Some(f) => Error::validation(msg).with_detail(f, message.clone()),
            None => Error::validation(msg),
        };
    }
    map_err(e)
}

/// Starts a container (already running is fine).
pub async fn start_container(docker: &Docker, id: &str) -> Result<()> {
    docker
        .start_container(
            &path_segment(id),
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(|e| container_error(e, "start"))
}

/// Stops a container within `timeout_s` seconds (SIGTERM, then SIGKILL); a container
/// already stopped or gone is fine.
pub async fn stop_container(docker: &Docker, id: &str, timeout_s: u32) -> Result<()> {
    match docker
        .stop_container(
            &path_segment(id),
            Some(StopContainerOptions {
                t: Some(timeout_s as i32),
                signal: None,
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => match map_err(e) {
            e if e.code == ErrorCode::ResourceNotFound => Ok(()),
            e => Err(e),
        },
    }
}

/// Force-removes a container and its anonymous volumes; a container already gone is fine.
pub async fn remove_container(docker: &Docker, id: &str) -> Result<()> {
    match docker
        .remove_container(
            &path_segment(id),
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => match map_err(e) {
            e if e.code == ErrorCode::ResourceNotFound => Ok(()),
            // "removal already in progress"
            e if e.code == ErrorCode::Conflict => Ok(()),
            e => Err(e),
        },
    }
}

/// A container as mcpd sees it: its replica number, config hash and state.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub service_id: Option<String>,
    pub replica: Option<u32>,
    pub config_hash: Option<String>,
    /// Docker's state, with `unhealthy`/`starting` from the health check while running.
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
}

impl Observed {
    pub fn info(&self) -> ContainerInfo {
        ContainerInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            started_at: self.started_at.clone(),
        }
    }
}

fn observe(c: ContainerInspectResponse) -> Observed {
    let labels = c
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let docker_status = state
        .status
        .map(|s| match s {
            ContainerStateStatusEnum::EMPTY => "unknown".to_string(),
            s => s.to_string(),
        })
        .unwrap_or_else(|| "unknown".into());
    let running = state.running.unwrap_or(false);
    let health = state.health.and_then(|h| h.status);
    let status = match (running, health) {
        (true, Some(HealthStatusEnum::UNHEALTHY)) => "unhealthy".to_string(),
        (true, Some(HealthStatusEnum::STARTING)) => "starting".to_string(),
        _ => docker_status,
    };
    let started_at = state
        .started_at
        .filter(|s| !s.starts_with("0001-"))
        .map(|s| {
            crate::time::parse_rfc3339(&s)
                .map(crate::time::format_rfc3339)
                .unwrap_or(s)
        });
    Observed {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service_id: labels.get(LABEL_SERVICE).cloned(),
        replica: labels.get(LABEL_REPLICA).and_then(|r| r.parse().ok()),
        config_hash: labels.get(LABEL_CONFIG).cloned(),
        status,
        running,
        exit_code: state.exit_code,
        started_at: if running { started_at } else { None },
    }
}

/// Inspects one container; `None` when it is gone.
pub async fn inspect(docker: &Docker, id: &str) -> Result<Option<Observed>> {
    match docker
        .inspect_container(&path_segment(id), None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(Some(observe(c))),
        Err(e) => match map_err(e) {
            e if e.code == ErrorCode::ResourceNotFound => Ok(None),
            e => Err(e),
        },
    }
}

/// Containers (any state) carrying `label` (`key=value` or `key`), inspected, ordered
/// by service then replica number.
pub async fn containers_labelled(docker: &Docker, label: &str) -> Result<Vec<Observed>> {
    containers_labelled_where(docker, label, |_| true).await
}

/// Like [`containers_labelled`], inspecting only the containers whose labels pass `keep`.
async fn containers_labelled_where(
    docker: &Docker,
    label: &str,
    keep: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Vec<Observed>> {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![label.to_string()]);
    let summaries = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(map_err)?;
    let mut out = Vec::with_capacity(summaries.len());
    for s in summaries {
        let Some(id) = s.id else { continue };
        if !keep(&s.labels.unwrap_or_default()) {
            continue;
        }
        if let Some(o) = inspect(docker, &id).await? {
            out.push(o);
        }
    }
    out.sort_by(|a, b| {
        (a.service_id.as_deref(), a.replica).cmp(&(b.service_id.as_deref(), b.replica))
    });
    Ok(out)
}

/// The containers of one service.
pub async fn service_containers(docker: &Docker, service_id: &str) -> Result<Vec<Observed>> {
    containers_labelled(docker, &format!("{LABEL_SERVICE}={service_id}")).await
}

/// Every container mcpd manages.
pub async fn managed_containers(docker: &Docker) -> Result<Vec<Observed>> {
    containers_labelled(docker, &format!("{LABEL_MANAGED}=true")).await
}

/// The containers of the services in `ids` (one listing; only theirs are inspected).
pub async fn containers_of(
    docker: &Docker,
    ids: &std::collections::HashSet<String>,
) -> Result<Vec<Observed>> {
    containers_labelled_where(docker, &format!("{LABEL_MANAGED}=true"), |labels| {
        labels.get(LABEL_SERVICE).is_some_and(|s| ids.contains(s))
    })
    .await
}

/// A service's status from its containers (DESIGN.md: `created, starting, running,
/// unhealthy, stopping, stopped, failed, removing`).
pub fn derive_status(desired_state: &str, replicas: u32, containers: &[Observed]) -> String {
    let any = |s: &str| containers.iter().any(|c| c.status == s);
    let status = if any("removing") {
        "removing"
    } else if desired_state == "running" {
        let running = containers.iter().filter(|c| c.running).count();
        if any("unhealthy") {
            "unhealthy"
        } else if any("starting") || any("restarting") {
            "starting"
        } else if replicas == 0 {
            "stopped"
        } else if running < replicas as usize {
            // Containers that finished cleanly (exit 0) are stopped; missing ones or a
            // non-zero exit are a failure.
            let clean = containers.len() >= replicas as usize
                && containers
                    .iter()
                    .all(|c| c.running || c.exit_code == Some(0));
            if clean { "stopped" } else { "failed" }
        } else {
            "running"
        }
    } else if containers.iter().any(|c| c.running) {
        "stopping"
    } else if !containers.is_empty() && containers.iter().all(|c| c.status == "created") {
        "created"
    } else {
        "stopped"
    };
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_the_engine_cannot_create_is_unavailable_not_missing() {
        // What Docker 20.10 answered when its address pools were used up.
        let e = network_create_failed(
            "mcpd",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message: "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
            },
        );
        assert_eq!(e.code, ErrorCode::DockerUnavailable);
        assert!(e.message.contains("address pool") && e.message.contains("'mcpd'"));
    }

    fn obs(status: &str, running: bool, exit: Option<i64>) -> Observed {
        Observed {
            id: "c".into(),
            name: "n".into(),
            service_id: None,
            replica: Some(1),
            config_hash: None,
            status: status.into(),
            running,
            exit_code: exit,
            started_at: None,
        }
    }

    #[test]
    fn status_follows_containers() {
        let run = obs("running", true, None);
        assert_eq!(
            derive_status("running", 1, std::slice::from_ref(&run)),
            "running"
        );
        assert_eq!(
            derive_status("running", 2, std::slice::from_ref(&run)),
            "failed"
        );
        assert_eq!(
            derive_status("running", 1, &[obs("unhealthy", true, None)]),
            "unhealthy"
        );
        assert_eq!(
            derive_status("running", 1, &[obs("exited", false, Some(1))]),
            "failed"
        );
        assert_eq!(
            derive_status("running", 1, &[obs("exited", false, Some(0))]),
            "stopped"
        );
        assert_eq!(derive_status("running", 1, &[]), "failed");
        assert_eq!(derive_status("stopped", 1, &[run]), "stopping");
        assert_eq!(
            derive_status("stopped", 1, &[obs("created", false, Some(0))]),
            "created"
        );
        assert_eq!(
            derive_status("stopped", 1, &[obs("exited", false, Some(137))]),
            "stopped"
        );
        assert_eq!(derive_status("stopped", 1, &[]), "stopped");
    }

    #[test]
    fn config_hash_ignores_replicas_but_not_env() {
        let mut a = ServiceSpec {
            name: "x".into(),
            image: "i".into(),
            ..Default::default()
        };
        let h = config_hash(&a, "net");
        a.replicas = 5;
        assert_eq!(config_hash(&a, "net"), h);
        a.env.insert("A".into(), "1".into());
        assert_ne!(config_hash(&a, "net"), h);
    }

    #[test]
    fn ports_bind_to_loopback_unless_asked() {
        let spec = ServiceSpec {
            name: "x".into(),
            image: "i".into(),
            ports: vec![super::super::model::PortSpec {
                container_port: 80,
                host_port: Some(8080),
                host_ip: None,
                protocol: "tcp".into(),
            }],
            ..Default::default()
        };
        let env = ResolvedEnv::new();
        let c = container_config("svc_1", &spec, &env, 1, "mcpd");
        let b = c.host_config.unwrap().port_bindings.unwrap();
        let pb = b["80/tcp"].as_ref().unwrap()[0].clone();
        assert_eq!(pb.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(pb.host_port.as_deref(), Some("8080"));
        assert_eq!(c.labels.unwrap()[LABEL_SERVICE], "svc_1");
    }
}
