//! A service's container configuration: the containers' names and mcpd's labels,
//! Docker's create body for one replica, and the hash of the spec parts that shape it
//! (`io.mcpd.config`).

use crate::services::model::{
    HealthCheck, PortSpec, Resources, RestartPolicy, ServiceSpec, VolumeSpec,
};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    PortMap, RestartPolicyNameEnum,
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
    ports: &'a [PortSpec],
    volumes: &'a [VolumeSpec],
    networks: &'a [String],
    labels: &'a BTreeMap<String, String>,
    resources: &'a Resources,
    health_check: &'a Option<HealthCheck>,
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
    let (exposed, bindings) = ports(&spec.ports);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        env: Some(
            env.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str()))
                .collect(),
        ),
        labels: Some(labels(id, spec, replica, network)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: spec.health_check.as_ref().map(health_config),
        tty: Some(false),
        open_stdin: Some(spec.stdin_open),
        stdin_once: Some(false),
        attach_stdin: Some(spec.stdin_open),
        attach_stdout: Some(spec.stdin_open),
        attach_stderr: Some(spec.stdin_open),
        host_config: Some(host_config(spec, network, bindings)),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints(spec, network)),
        }),
        ..Default::default()
    }
}

/// The user's labels plus mcpd's own (managed, service, replica, config hash).
fn labels(id: &str, spec: &ServiceSpec, replica: u32, network: &str) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(LABEL_MANAGED.into(), "true".into());
    labels.insert(LABEL_SERVICE.into(), id.into());
    labels.insert(LABEL_REPLICA.into(), replica.to_string());
    labels.insert(LABEL_CONFIG.into(), config_hash(spec, network));
    labels
}

/// The exposed ports (`<port>/<protocol>`) and their host bindings, on 127.0.0.1
/// unless a `host_ip` is given; no host port lets Docker pick one.
fn ports(ports: &[PortSpec]) -> (Vec<String>, PortMap) {
    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    for p in ports {
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
    (exposed, bindings)
}

/// Docker's health check, durations in nanoseconds.
fn health_config(h: &HealthCheck) -> HealthConfig {
    HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(h.interval_s as i64 * NS_PER_S),
        timeout: Some(h.timeout_s as i64 * NS_PER_S),
        retries: Some(h.retries as i64),
        start_period: Some(h.start_period_s as i64 * NS_PER_S),
        start_interval: None,
    }
}

/// The host side: init process, the managed network, port bindings, mounts, limits
/// and restart policy.
fn host_config(spec: &ServiceSpec, network: &str, bindings: PortMap) -> HostConfig {
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
    HostConfig {
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
    }
}

/// The managed network's endpoint, aliased by the service name.
fn endpoints(spec: &ServiceSpec, network: &str) -> HashMap<String, EndpointSettings> {
    let mut endpoints = HashMap::new();
    endpoints.insert(
        network.to_string(),
        EndpointSettings {
            aliases: Some(vec![spec.name.clone()]),
            ..Default::default()
        },
    );
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ports: vec![PortSpec {
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
