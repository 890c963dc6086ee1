//! What the engine reports of a service's containers ([`Observed`]): inspecting one,
//! listing them by label, and the service status derived from them.

use super::config::{LABEL_CONFIG, LABEL_MANAGED, LABEL_REPLICA, LABEL_SERVICE};
use crate::docker::{map_err, path_segment};
use crate::error::{ErrorCode, Result};
use crate::services::model::ContainerInfo;
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use std::collections::HashMap;

/// A container as mcpd sees it: its replica number, config hash and state.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Docker's full container id.
    pub id: String,
    /// Container name without Docker's leading `/` (`mcpd-<service>-<replica>`).
    pub name: String,
    /// Owning service (`svc_…`) from the `io.mcpd.service` label; `None` without one.
    pub service_id: Option<String>,
    /// Replica number (from 1) from the `io.mcpd.replica` label; `None` if missing or not
    /// a number.
    pub replica: Option<u32>,
    /// Hex SHA-256 of the spec it was created from (`io.mcpd.config` label, see
    /// [`super::config::config_hash`]); differs from the spec's now when it is out of date.
    pub config_hash: Option<String>,
    /// Docker's state, with `unhealthy`/`starting` from the health check while running.
    pub status: String,
    /// Docker's `State.Running`.
    pub running: bool,
    /// Docker's `State.ExitCode` (of the last run; 0 for one never started).
    pub exit_code: Option<i64>,
    /// Docker's `State.StartedAt` as RFC 3339 UTC; `None` unless running.
    pub started_at: Option<String>,
}

impl Observed {
    /// The API view of this container.
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

/// A service's status from its containers (`created, starting, running, unhealthy,
/// stopping, stopped, failed, removing`; rules in docs/api.md, "3. Shapes", "Service").
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
}
