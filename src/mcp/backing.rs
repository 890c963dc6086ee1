//! The service behind a managed MCP server, driven through the services domain: the MCP
//! server and its service share a name, and the service is marked `managed_by` the
//! server's id.

use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, ErrorCode, Result};
use crate::services::lifecycle;
use crate::services::{Service, ServiceSpec, VolumeSpec};
use std::collections::BTreeMap;

/// What a managed server's container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    /// Service name, the server's name (`a-z 0-9 -`, at most 63); the container is `mcpd-<name>-1`.
    pub name: String,
    /// Image reference, present locally.
    pub image: String,
    /// Docker `Cmd` (the image's ENTRYPOINT stays).
    pub cmd: Option<Vec<String>>,
    /// Container environment, variable → value; may hold `${secret:<key>}`, resolved at start.
    pub env: BTreeMap<String, String>,
    /// Mounts, as a service's `volumes`.
    pub volumes: Vec<VolumeSpec>,
    /// Keep stdin open for a stdio server.
    pub stdin: bool,
}

impl ContainerPlan {
    /// The Docker `Cmd` of a server's `command` and `args` (API fields): `command`
    /// followed by `args`; `None` (the image's default CMD) when both are absent or
    /// together empty.
    pub fn cmd_of(command: Option<Vec<String>>, args: Option<Vec<String>>) -> Option<Vec<String>> {
        let cmd = [command.unwrap_or_default(), args.unwrap_or_default()].concat();
        Some(cmd).filter(|c| !c.is_empty())
    }

    /// The plan a service's stored spec describes (the inverse of [`Self::apply`]).
    fn of_spec(spec: &ServiceSpec) -> Self {
        Self {
            name: spec.name.clone(),
            image: spec.image.clone(),
            cmd: spec.command.clone(),
            env: spec.env.clone(),
            volumes: spec.volumes.clone(),
            stdin: spec.stdin_open,
        }
    }

    /// Writes the plan into `spec`, leaving the fields a plan does not cover (ports,
    /// resources, …) as they are.
    fn apply(self, spec: &mut ServiceSpec) {
        spec.name = self.name;
        spec.image = self.image;
        spec.command = self.cmd;
        spec.env = self.env;
        spec.volumes = self.volumes;
        spec.stdin_open = self.stdin;
    }
}

/// Creates and starts the service of MCP server `server_id`.
pub async fn create(
    app: &App,
    actor: &Actor,
    server_id: &str,
    plan: ContainerPlan,
) -> Result<Service> {
    let mut spec = ServiceSpec {
        replicas: 1,
        managed_by: Some(server_id.to_string()),
        ..ServiceSpec::default()
    };
    plan.apply(&mut spec);
    lifecycle::create(app, actor, spec, true).await
}

/// What the backing service's containers run now (from its stored spec).
pub async fn plan(app: &App, service_id: &str) -> Result<ContainerPlan> {
    Ok(ContainerPlan::of_spec(
        &lifecycle::spec(app, service_id).await?,
    ))
}

/// Puts `plan` into the backing service through the services domain's update
/// ([`lifecycle::update`]): validated like create (400 naming the field; an image must
/// exist locally), containers whose configuration changed are recreated (and started
/// when the service runs, a stopped one stays stopped), and on any failure the previous
/// spec and containers are restored and the error returned.
pub async fn update(
    app: &App,
    actor: &Actor,
    service_id: &str,
    plan: ContainerPlan,
) -> Result<Service> {
    let mut spec = lifecycle::spec(app, service_id).await?;
    plan.apply(&mut spec);
    lifecycle::update(app, actor, service_id, spec).await
}

/// The backing service (status and containers read from Docker).
pub async fn get(app: &App, service_id: &str) -> Result<Service> {
    lifecycle::get(app, service_id).await
}

/// Starts the backing service's containers.
pub async fn start(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    lifecycle::start(app, actor, service_id).await
}

/// Stops the backing service's containers.
pub async fn stop(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    lifecycle::stop(app, actor, service_id).await
}

/// Restarts the backing service's containers.
pub async fn restart(app: &App, actor: &Actor, service_id: &str) -> Result<Service> {
    lifecycle::restart(app, actor, service_id).await
}

/// Deletes the backing service and its containers.
pub async fn delete(app: &App, actor: &Actor, service_id: &str) -> Result<()> {
    lifecycle::delete(app, actor, service_id).await
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
            &crate::docker::path_segment(container_id),
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(crate::docker::map_err)?;
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    networks
        .get(&app.settings.docker.network)
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
