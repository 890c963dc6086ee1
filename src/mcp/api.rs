//! `/api/v1/mcp/servers…`: server CRUD, configuration, start/stop/restart (`mcp:write`)
//! and reads (`mcp:read`). Discovery, `test`, the catalogs and execution are in
//! [`super::api_exec`]. Path segments and the `server` body field take an id or a
//! unique name.

use super::model::McpServer;
use super::records;
use super::requests::{CreateServer, PatchServer, Reconfigure};
use super::servers::{self, Lifecycle};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::catalog::model::ServerConfig;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use crate::store::list::{Filter, Op};
use crate::workspaces::access::{self, McpScope};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The MCP routes, relative to `/api/v1`: these and [`super::api_exec::routes`].
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, patch, delete))
        .routes(routes!(show_config, put_config))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .merge(super::api_exec::routes())
}

crate::list_params!(
    /// Query of `GET /mcp/servers`.
    ServerFilters,
    super::store::LIST_SPEC
);

/// The caller's workspace scope.
pub(super) async fn scope(app: &AppState, who: &Principal) -> Result<McpScope> {
    access::scope(app, Some(&who.user_id)).await
}

/// 404 unless the caller's workspaces grant the server ([`records::visible`]).
pub(super) async fn visible(
    app: &AppState,
    who: &Principal,
    id: &str,
) -> Result<(McpScope, access::Grant)> {
    let (_, scope, grant) = records::visible(app, &who.user_id, id).await?;
    Ok((scope, grant))
}

/// The MCP servers the caller's workspaces grant, managed statuses refreshed from Docker.
/// Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers", tag = "mcp", params(ServerFilters),
    responses((status = 200, description = "One page of MCP servers", body = Envelope<Vec<McpServer>>)))]
async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    List(mut q): List,
) -> Result<Reply<Vec<McpServer>>> {
    if let McpScope::Only(granted) = scope(&app, &who).await? {
        let ids: Vec<&str> = granted.keys().map(String::as_str).collect();
        q.filters.push(Filter {
            field: "id".into(),
            op: Op::In,
            value: ids.join(","),
        });
    }
    Ok(Reply::page(records::list(&app, q).await?))
}

/// Create an MCP server: managed (`image`), remote (`url`) or from a catalog entry
/// (`registry`). Permission: `mcp:write`.
///
/// A server from a catalog entry (`registry` set) is made by the catalog, any other by
/// the MCP domain.
#[utoipa::path(post, path = "/mcp/servers", tag = "mcp", request_body = CreateServer,
    responses((status = 201, description = "The MCP server", body = Envelope<McpServer>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken by an MCP server or a service"),
        (status = 502, description = "`MCP_SERVICE_ERROR`: discovery failed; placed on a cluster: `K8S_OPERATION_ERROR`"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`; `MCP_SERVICE_UNAVAILABLE`: the container does not speak MCP or does not complete `initialize` within 30 s; placed on a cluster: `K8S_CONNECTION_ERROR`"),
        (status = 504, description = "`MCP_TIMEOUT`: discovery timed out")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Json(req): Json<CreateServer>,
) -> Result<Reply<McpServer>> {
    let actor = Actor::from(&who);
    let made = match req.registry {
        Some(_) => crate::catalog::servers::create(&app, &actor, req).await?,
        None => servers::create(&app, &actor, req).await?,
    };
    Ok(Reply::created(made))
}

/// One MCP server (managed status refreshed from Docker). Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The MCP server", body = Envelope<McpServer>)))]
async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(records::get(&app, &id).await?.view()))
}

/// Change the connection or container settings sent. Permission: `mcp:write`.
#[utoipa::path(patch, path = "/mcp/servers/{id}", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")), request_body = PatchServer,
    responses((status = 200, description = "The MCP server", body = Envelope<McpServer>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: discovery on the new container failed; placed on a cluster: `K8S_OPERATION_ERROR`"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE`: the new container or pod does not speak MCP (or did not get ready); `DOCKER_UNAVAILABLE`; placed on a cluster: `K8S_CONNECTION_ERROR`"),
        (status = 504, description = "`MCP_TIMEOUT`: discovery on the new container timed out")))]
async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
    Json(req): Json<PatchServer>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(
        super::patch::patch(&app, &Actor::from(&who), &id, req).await?,
    ))
}

/// Delete an MCP server, its backing service and container (and a catalog server's
/// secret configuration). Permission: `mcp:write`.
///
/// A server from a catalog entry is deleted by the catalog (its secret configuration
/// goes too), any other by the MCP domain.
#[utoipa::path(delete, path = "/mcp/servers/{id}", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 204, description = "Deleted"),
        (status = 502, description = "`K8S_OPERATION_ERROR`: placed on a cluster, its objects could not be deleted; the record stays"),
        (status = 503, description = "`DOCKER_UNAVAILABLE` or `K8S_CONNECTION_ERROR`: the service or cluster objects could not be deleted; the record stays")))]
async fn delete(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    visible(&app, &who, &id).await?;
    let actor = Actor::from(&who);
    match records::lookup(&app, &id).await?.registry {
        Some(_) => crate::catalog::servers::delete(&app, &actor, &id).await?,
        None => servers::delete(&app, &actor, &id).await?,
    }
    Ok(no_content())
}

/// The configuration of a server made from the catalog (secret values never shown).
/// Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}/config", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The server configuration", body = Envelope<ServerConfig>),
        (status = 409, description = "`CONFLICT`: the server was not made from a catalog entry")))]
async fn show_config(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
) -> Result<Reply<ServerConfig>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(crate::catalog::servers::show(&app, &id).await?))
}

/// Replace the whole configuration of a server made from the catalog and restart it.
/// Permission: `mcp:write`.
#[utoipa::path(put, path = "/mcp/servers/{id}/config", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")), request_body = Reconfigure,
    responses((status = 200, description = "The MCP server, restarted and discovered again", body = Envelope<McpServer>),
        (status = 409, description = "`CONFLICT`: the server was not made from a catalog entry"),
        (status = 502, description = "`MCP_SERVICE_ERROR`: discovery failed; placed on a cluster: `K8S_OPERATION_ERROR`"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `DOCKER_UNAVAILABLE`; placed on a cluster: `K8S_CONNECTION_ERROR`"),
        (status = 504, description = "`MCP_TIMEOUT`: discovery timed out")))]
async fn put_config(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
    Json(req): Json<Reconfigure>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(
        crate::catalog::servers::reconfigure(&app, &Actor::from(&who), &id, req).await?,
    ))
}

async fn lifecycle(
    app: AppState,
    who: crate::auth::principal::Principal,
    id: String,
    op: Lifecycle,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(
        servers::lifecycle(&app, &Actor::from(&who), &id, op).await?,
    ))
}

/// Start the server (its service, Deployment, or a remote server's enabled flag), then
/// open its session (best effort). Permission: `mcp:write`.
#[utoipa::path(post, path = "/mcp/servers/{id}/start", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The MCP server", body = Envelope<McpServer>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: placed on a cluster, the cluster refused the change"),
        (status = 503, description = "`MCP_SERVICE_UNCONFIGURED`: required configuration missing; `DOCKER_UNAVAILABLE`; placed on a cluster: `K8S_CONNECTION_ERROR`")))]
async fn start(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Start).await
}

/// Close the session and stop the server. Permission: `mcp:write`.
#[utoipa::path(post, path = "/mcp/servers/{id}/stop", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The MCP server", body = Envelope<McpServer>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: placed on a cluster, the cluster refused the change"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`; placed on a cluster: `K8S_CONNECTION_ERROR`")))]
async fn stop(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Stop).await
}

/// Close the session, restart the server and open a new session (best effort).
/// Permission: `mcp:write`.
#[utoipa::path(post, path = "/mcp/servers/{id}/restart", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The MCP server", body = Envelope<McpServer>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: placed on a cluster, the cluster refused the change"),
        (status = 503, description = "`MCP_SERVICE_UNCONFIGURED`: required configuration missing; `DOCKER_UNAVAILABLE`; placed on a cluster: `K8S_CONNECTION_ERROR`")))]
async fn restart(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Restart).await
}
