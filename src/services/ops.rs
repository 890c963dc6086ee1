//! Operations on a running service's containers: logs (one-shot or followed), exec,
//! health and stats. Each picks the service by id or name through
//! [`super::lifecycle::get`] and talks to the engine for its containers; the engine
//! being down is `DOCKER_UNAVAILABLE`.

pub mod exec;
pub mod health;
pub mod logs;
pub mod stats;

use super::Service;
use super::runtime::{self, Observed};
use crate::app::App;
use crate::error::{Error, Result};
use bollard::Docker;

/// A service with its containers as the engine reports them now.
pub struct Target {
    /// The service as `GET /services/{id}` shows it.
    pub service: Service,
    /// Ordered by replica number; only the asked-for replica when one was given.
    pub containers: Vec<Observed>,
    /// The connected engine client the containers were read with.
    pub docker: Docker,
}

impl Target {
    /// Loads `id_or_name` (`RESOURCE_NOT_FOUND`) and its containers, keeping only
    /// replica `replica` when given (`RESOURCE_NOT_FOUND` when it has no container).
    pub async fn load(app: &App, id_or_name: &str, replica: Option<u32>) -> Result<Target> {
        let service = super::lifecycle::get(app, id_or_name).await?;
        let docker = app.docker.get().await?;
        let mut containers = runtime::service_containers(&docker, &service.id).await?;
        if let Some(n) = replica {
            containers.retain(|c| c.replica == Some(n));
            if containers.is_empty() {
                return Err(Error::not_found(
                    "replica",
                    &format!("{n}' of service '{}", service.name),
                ));
            }
        }
        Ok(Target {
            service,
            containers,
            docker,
        })
    }

    /// The first running container, or `CONFLICT` when none runs.
    pub fn running(&self) -> Result<&Observed> {
        self.containers.iter().find(|c| c.running).ok_or_else(|| {
            Error::conflict(format!(
                "service '{}' has no running container (status {}); start it first",
                self.service.name, self.service.status
            ))
        })
    }
}

/// Parses a replica number from a request (`>= 1`), naming `field` on error.
pub fn parse_replica(field: &str, value: &str) -> Result<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Error::field(field, "must be an integer >= 1"))
}
