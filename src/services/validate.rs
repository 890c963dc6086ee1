//! Validation of a service's desired state, one check per part (name, command, env,
//! ports, volumes, networks, labels, resources, health check, replicas). Pure: no
//! Docker, no SQL. The first problem is a `VALIDATION_ERROR` naming the field.

use super::model::{
    HealthCheck, MAX_REPLICAS, PortSpec, RESERVED_LABEL_PREFIX, Resources, ServiceSpec, VolumeSpec,
};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

/// Longest volume or network name accepted, in bytes.
pub const MAX_ENGINE_NAME_LEN: usize = 128;

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
        check_name(&self.name)?;
        crate::images::reference::validate("image", &self.image)?;
        check_command(self.command.as_deref())?;
        check_env(&self.env)?;
        check_ports(&self.ports, self.replicas)?;
        check_volumes(&self.volumes)?;
        check_networks(&self.networks)?;
        check_labels(&self.labels)?;
        check_resources(&self.resources)?;
        if let Some(h) = &mut self.health_check {
            check_health_check(h)?;
        }
        check_replicas(self.replicas)
    }
}

fn check_name(name: &str) -> Result<()> {
    if !is_valid_name(name) {
        return Err(Error::field(
            "name",
            "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

fn check_command(command: Option<&[String]>) -> Result<()> {
    if let Some(cmd) = command {
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
    Ok(())
}

fn check_env(env: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in env {
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
    Ok(())
}

/// Each port on its own, no port published twice, and a fixed host port only with
/// one replica.
fn check_ports(ports: &[PortSpec], replicas: u32) -> Result<()> {
    let mut published = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
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
        if p.host_port.is_some_and(|h| h != 0) && replicas > 1 {
            return Err(Error::field(
                f("host_port"),
                "a fixed host port cannot be shared by more than one replica",
            ));
        }
    }
    Ok(())
}

fn check_volumes(volumes: &[VolumeSpec]) -> Result<()> {
    for (i, v) in volumes.iter().enumerate() {
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
    Ok(())
}

fn check_networks(networks: &[String]) -> Result<()> {
    for (i, n) in networks.iter().enumerate() {
        if !is_engine_name(n) {
            return Err(Error::field(
                format!("networks[{i}]"),
                format!(
                    "must be a network name ([A-Za-z0-9][A-Za-z0-9_.-]*, at most {MAX_ENGINE_NAME_LEN} characters)"
                ),
            ));
        }
    }
    Ok(())
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    for k in labels.keys() {
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
    Ok(())
}

fn check_resources(resources: &Resources) -> Result<()> {
    if let Some(c) = resources.cpu_millicores
        && !(10..=1_000_000).contains(&c)
    {
        return Err(Error::field(
            "resources.cpu_millicores",
            "must be 10-1000000 (thousandths of a CPU core)",
        ));
    }
    if let Some(m) = resources.memory_mb
        && !(6..=4_194_304).contains(&m)
    {
        return Err(Error::field(
            "resources.memory_mb",
            "must be 6-4194304 MiB (Docker's minimum is 6 MiB)",
        ));
    }
    Ok(())
}

/// Checks the health check and puts its test in Docker's form (a bare command gets
/// `CMD` in front).
fn check_health_check(h: &mut HealthCheck) -> Result<()> {
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
    Ok(())
}

/// `replicas` is 0..=[`MAX_REPLICAS`].
pub(super) fn check_replicas(replicas: u32) -> Result<()> {
    if replicas > MAX_REPLICAS {
        return Err(Error::field(
            "replicas",
            format!("must be 0-{MAX_REPLICAS}"),
        ));
    }
    Ok(())
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
}
