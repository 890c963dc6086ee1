//! The service behind a managed MCP server, driven through the services domain: the MCP
//! server and its service share a name, and the service is marked `managed_by` the
//! server's id.

use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, ErrorCode, Result};
use crate::services::manager;
use crate::services::{Service, ServiceSpec, VolumeSpec};
use std::collections::BTreeMap;

/// What a managed server's container runs.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    /// Docker `Cmd` (the image's ENTRYPOINT stays).
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub volumes: Vec<VolumeSpec>,
    /// Keep stdin open for a stdio server.
    pub stdin: bool,
}

/// Creates and starts the service of MCP server `server_id`.
pub async fn create(
    app: &App,
    actor: &Actor,
    server_id: &str,
    plan: ContainerPlan,
) -> Result<Service> {
    let spec = ServiceSpec {
        name: plan.name,
        image: plan.image,
        command: plan.cmd,
        env: plan.env,
        volumes: plan.volumes,
        replicas: 1,
        stdin_open: plan.stdin,
        managed_by: Some(server_id.to_string()),
        ..ServiceSpec::default()
    };
    manager::create(app, actor, spec, true).await
}

/// The backing service (status and containers read from Docker).
pub async fn get(app: &App, service_id: &str) -> Result<Service> {
    manager::get(app, service_id).await
}

/// Starts the backing service's containers.
pub async fn start(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    manager::start(app, actor, service_id).await
}

/// Stops the backing service's containers.
pub async fn stop(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    manager::stop(app, actor, service_id).await
}

/// Restarts the backing service's containers.
pub async fn restart(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    manager::restart(app, actor, service_id).await
}

/// Deletes the backing service and its containers.
pub async fn delete(app: &App, actor: &Actor, service_id: &str) -> Result<()> {
    manager::delete(app, actor, service_id).await
}

/// The one running container of a managed server's service, or 503
/// `MCP_SERVICE_UNAVAILABLE` naming the server.
pub async fn running_container(app: &App, server_name: &str, service_id: &str) -> Result<String> {
    let svc = get(app, service_id).await?;
    svc.containers
        .iter()
        .find(|c| c.status == "running")
        .map(|c| c.id.clone())
        .ok_or_else(|| not_running(server_name, &svc.status))
}

/// 503 for a server whose service is not running.
pub fn not_running(server_name: &str, status: &str) -> Error {
    Error::new(
        ErrorCode::McpServiceUnavailable,
        format!("MCP server '{server_name}' is not running (status {status})"),
    )
}

/// The container's address on the daemon's network (`docker.network`), reachable from
/// the host through the bridge.
pub async fn container_ip(app: &App, container_id: &str) -> Result<String> {
    let docker = app.docker.get().await?;
    let info = docker
        .inspect_container(
            container_id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(crate::docker::map_err)?;
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    networks
        .get(&app.config.docker.network)
        .or_else(|| networks.values().next())
        .and_then(|e| e.ip_address.clone())
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::McpServiceUnavailable,
                "the MCP server's container has no network address",
            )
        })
}
