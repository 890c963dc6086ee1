//! A service's health as Docker's health checks report it, per container and overall.

use super::Target;
use crate::app::App;
use crate::error::Result;
use bollard::models::HealthStatusEnum;
use bollard::query_parameters::InspectContainerOptions;
use serde::Serialize;

/// Most recent check results returned per container.
pub const MAX_CHECKS: usize = 5;

/// `GET /services/{id}/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceHealth {
    /// The service's id (`svc_…`).
    pub service_id: String,
    /// The service's name.
    pub service: String,
    /// `healthy` (every container running and healthy), `starting` (a check has not
    /// passed yet), `unhealthy` (a check fails or a container that should run does
    /// not), `running` (running, no health check configured), `stopped` (nothing runs).
    #[schema(value_type = String)]
    pub status: &'static str,
    /// One per container that still exists, ordered by replica.
    pub containers: Vec<ContainerHealth>,
}

/// One container's health.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerHealth {
    /// Docker's container id.
    pub id: String,
    /// `mcpd-<service>-<replica>`.
    pub name: String,
    /// Docker's `State.Running`.
    pub running: bool,
    /// Docker's health status: `healthy`, `unhealthy`, `starting`, or `none` when the
    /// container has no health check.
    pub health: String,
    /// Consecutive failed checks.
    pub failing_streak: i64,
    /// The latest checks, newest last.
    pub checks: Vec<Check>,
}

/// One health check run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// When the check started, RFC 3339 UTC; `None` when Docker did not record it.
    pub started_at: Option<String>,
    /// When it ended, RFC 3339 UTC; `None` when Docker did not record it.
    pub finished_at: Option<String>,
    /// The probe's exit code (Docker: 0 healthy, 1 unhealthy, other values an error
    /// running it); `None` when Docker did not record one.
    pub exit_code: Option<i64>,
    /// The check's output as Docker kept it (Docker caps it at 4 KiB).
    pub output: String,
}

/// Reads the health of `id_or_name`'s containers.
pub async fn health(app: &App, id_or_name: &str) -> Result<ServiceHealth> {
    let target = Target::load(app, id_or_name, None).await?;
    let mut containers = Vec::with_capacity(target.containers.len());
    for c in &target.containers {
        let inspected = match target
            .docker
            .inspect_container(
                &crate::docker::path_segment(&c.id),
                None::<InspectContainerOptions>,
            )
            .await
        {
            Ok(i) => i,
            // Removed since it was listed: nothing to report.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => continue,
            Err(e) => return Err(crate::docker::map_err(e)),
        };
        let state = inspected.state.unwrap_or_default();
        let h = state.health.unwrap_or_default();
        let health = match h.status {
            Some(HealthStatusEnum::HEALTHY) => "healthy",
            Some(HealthStatusEnum::UNHEALTHY) => "unhealthy",
            Some(HealthStatusEnum::STARTING) => "starting",
            _ => "none",
        };
        let log = h.log.unwrap_or_default();
        let checks = log
            .iter()
            .skip(log.len().saturating_sub(MAX_CHECKS))
            .map(|r| Check {
                started_at: r.start.as_deref().map(time_of),
                finished_at: r.end.as_deref().map(time_of),
                exit_code: r.exit_code,
                output: r.output.clone().unwrap_or_default(),
            })
            .collect();
        containers.push(ContainerHealth {
            id: c.id.clone(),
            name: c.name.clone(),
            running: state.running.unwrap_or(false),
            health: health.to_string(),
            failing_streak: h.failing_streak.unwrap_or(0),
            checks,
        });
    }
    Ok(ServiceHealth {
        status: overall(&containers),
        service_id: target.service.id,
        service: target.service.name,
        containers,
    })
}

fn time_of(s: &str) -> String {
    crate::time::parse_rfc3339(s)
        .map(crate::time::format_rfc3339)
        .unwrap_or_else(|| s.to_string())
}

fn overall(containers: &[ContainerHealth]) -> &'static str {
    let running: Vec<_> = containers.iter().filter(|c| c.running).collect();
    if running.is_empty() {
        "stopped"
    } else if running.len() < containers.len() || running.iter().any(|c| c.health == "unhealthy") {
        "unhealthy"
    } else if running.iter().any(|c| c.health == "starting") {
        "starting"
    } else if running.iter().all(|c| c.health == "healthy") {
        "healthy"
    } else {
        "running"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(running: bool, health: &str) -> ContainerHealth {
        ContainerHealth {
            id: String::new(),
            name: String::new(),
            running,
            health: health.into(),
            failing_streak: 0,
            checks: vec![],
        }
    }

    #[test]
    fn overall_status() {
        assert_eq!(overall(&[]), "stopped");
        assert_eq!(overall(&[c(false, "none")]), "stopped");
        assert_eq!(
            overall(&[c(true, "healthy"), c(true, "healthy")]),
            "healthy"
        );
        assert_eq!(
            overall(&[c(true, "healthy"), c(false, "none")]),
            "unhealthy"
        );
        assert_eq!(
            overall(&[c(true, "healthy"), c(true, "unhealthy")]),
            "unhealthy"
        );
        assert_eq!(
            overall(&[c(true, "starting"), c(true, "healthy")]),
            "starting"
        );
        assert_eq!(overall(&[c(true, "none")]), "running");
    }
}
