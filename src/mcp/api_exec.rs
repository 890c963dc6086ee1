//! `/api/v1/mcp/…` routes that speak to the servers: `test` (`mcp:execute`) and
//! `discover` (`mcp:write`), the cached discovery lists (`mcp:read`) and the execution
//! of tools, resources and prompts (`mcp:execute`). Registered by
//! [`super::api::routes`].

use super::api::{scope, visible};
use super::discovery::{self, TestResult};
use super::execute::{
    self, PromptGet, PromptResult, ResourceRead, ResourceResult, ToolCall, ToolResult,
};
use super::model::{Catalog, McpServer};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{Json, List, Path};
use crate::store::list::{ListQuery, Page};
use axum::extract::State;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The discovery, test and execution routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test))
        .routes(routes!(discover))
        .routes(routes!(tools))
        .routes(routes!(resources))
        .routes(routes!(resource_templates))
        .routes(routes!(prompts))
        .routes(routes!(all_resources))
        .routes(routes!(execute_tool))
        .routes(routes!(execute_resource))
        .routes(routes!(execute_prompt))
}

/// An object as the MCP server gave it in `tools/list`, `resources/list`,
/// `resources/templates/list` or `prompts/list` (MCP field names), sent unchanged. For
/// the document only: the lists hold `serde_json::Value`s.
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
pub struct McpObject(pub serde_json::Map<String, Value>);

/// 400 naming the first filter: the catalog lists take only `page` and `limit`.
fn no_filters(q: &ListQuery) -> Result<()> {
    match q.filters.first() {
        Some(f) => Err(crate::error::Error::field(
            f.field.as_str(),
            "unknown filter field (this list takes only page and limit)",
        )),
        None => Ok(()),
    }
}

/// The text field `key` of a listed item (empty when absent).
fn text<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Open the session if needed and time one MCP `ping`. Permission: `mcp:execute` (a
/// read-only workspace grant is enough).
#[utoipa::path(post, path = "/mcp/servers/{id}/test", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The test result", body = Envelope<TestResult>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: the server answered the ping with an error"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE`: stopped or unreachable; `MCP_SERVICE_UNCONFIGURED`"),
        (status = 504, description = "`MCP_TIMEOUT`: no answer within `mcp.call_timeout_s`")))]
async fn test(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpExecute>,
    Path(id): Path<String>,
) -> Result<Reply<TestResult>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(discovery::test(&app, &id).await?))
}

/// Refresh and cache the server's tools, resources, resource templates and prompts.
/// Permission: `mcp:write`.
#[utoipa::path(post, path = "/mcp/servers/{id}/discover", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name")),
    responses((status = 200, description = "The MCP server with fresh counts and `discovered_at`", body = Envelope<McpServer>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: a list failed"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `MCP_SERVICE_UNCONFIGURED`"),
        (status = 504, description = "`MCP_TIMEOUT`")))]
async fn discover(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(discovery::discover(&app, &id).await?))
}

async fn catalog(
    app: AppState,
    who: Principal,
    id: String,
    which: Catalog,
    q: ListQuery,
) -> Result<Reply<Vec<Value>>> {
    let (_, grant) = visible(&app, &who, &id).await?;
    no_filters(&q)?;
    let items: Vec<Value> = discovery::catalog(&app, &id, which)
        .await?
        .into_iter()
        .filter(|item| match which {
            Catalog::Tools => grant.allows_tool(text(item, "name")),
            Catalog::Resources => grant.allows_resource(text(item, "uri")),
            _ => true,
        })
        .collect();
    Ok(Reply::page(Page::from_vec(items, &q)))
}

/// The server's cached tools (MCP `tools/list` objects as sent), narrowed to the
/// caller's grant. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}/tools", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of MCP tool objects (`name`, `description`, `inputSchema`, …)", body = Envelope<Vec<McpObject>>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: a first discovery failed"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `MCP_SERVICE_UNCONFIGURED`: a first discovery could not run"),
        (status = 504, description = "`MCP_TIMEOUT`: a first discovery timed out")))]
async fn tools(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Tools, q).await
}

/// The server's cached resources (MCP `resources/list` objects as sent), narrowed to
/// the caller's grant. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}/resources", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of MCP resource objects (`uri`, `name`, `mimeType`, …)", body = Envelope<Vec<McpObject>>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: a first discovery failed"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `MCP_SERVICE_UNCONFIGURED`: a first discovery could not run"),
        (status = 504, description = "`MCP_TIMEOUT`: a first discovery timed out")))]
async fn resources(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Resources, q).await
}

/// The server's cached resource templates (MCP `resources/templates/list` objects as
/// sent). Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}/resource-templates", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of MCP resource template objects (`uriTemplate`, `name`, …)", body = Envelope<Vec<McpObject>>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: a first discovery failed"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `MCP_SERVICE_UNCONFIGURED`: a first discovery could not run"),
        (status = 504, description = "`MCP_TIMEOUT`: a first discovery timed out")))]
async fn resource_templates(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::ResourceTemplates, q).await
}

/// The server's cached prompts (MCP `prompts/list` objects as sent). Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/servers/{id}/prompts", tag = "mcp",
    params(("id" = String, Path, description = "MCP server id (`mcp_…`) or name"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of MCP prompt objects (`name`, `description`, `arguments`)", body = Envelope<Vec<McpObject>>),
        (status = 502, description = "`MCP_SERVICE_ERROR`: a first discovery failed"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE` or `MCP_SERVICE_UNCONFIGURED`: a first discovery could not run"),
        (status = 504, description = "`MCP_TIMEOUT`: a first discovery timed out")))]
async fn prompts(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Prompts, q).await
}

/// The cached resources of every server the caller's workspaces grant, each with
/// `server_id` and `server_name` added. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/resources", tag = "mcp", params(crate::http::openapi::Paging),
    responses((status = 200, description = "One page of MCP resource objects, each with `server_id` and `server_name`", body = Envelope<Vec<McpObject>>)))]
async fn all_resources(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    no_filters(&q)?;
    let scope = scope(&app, &who).await?;
    let items: Vec<Value> = discovery::all_resources(&app)
        .await?
        .into_iter()
        .filter(|r| {
            scope
                .grant(text(r, "server_id"))
                .is_some_and(|g| g.allows_resource(text(r, "uri")))
        })
        .collect();
    Ok(Reply::page(Page::from_vec(items, &q)))
}

/// Runs one execution so that a client going away cancels it as a gateway client's
/// cancel does: dropping the handler's future (hyper does when the connection closes)
/// fires the token, the execution (spawned, so it outlives the handler) cancels the
/// call on the server and writes its request log row with `CANCELLED`.
async fn cancellable<T, F, Fut>(app: &AppState, run: F) -> Result<T>
where
    F: FnOnce(AppState, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let gone = CancellationToken::new();
    let _cancel_when_dropped = gone.clone().drop_guard();
    app.to_completion(run(app.clone(), gone)).await
}

/// Call a tool on a server's shared session. Permission: `mcp:execute`.
#[utoipa::path(post, path = "/mcp/execute/tool", tag = "mcp", request_body = ToolCall,
    responses((status = 200, description = "The tool result (`is_error: true` when the tool reported its own failure)", body = Envelope<ToolResult>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: unknown server or tool, or hidden by the caller's workspaces"),
        (status = 502, description = "`MCP_SERVICE_ERROR`: JSON-RPC error from the server (`details`: `jsonrpc_code`)"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE`: stopped, unreachable or session closed; `MCP_SERVICE_UNCONFIGURED`; `DOCKER_UNAVAILABLE`"),
        (status = 504, description = "`MCP_TIMEOUT`: no answer within the timeout; the call is cancelled on the server")))]
async fn execute_tool(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpExecute>,
    Json(req): Json<ToolCall>,
) -> Result<Reply<ToolResult>> {
    let actor = Actor::from(&who);
    let done = cancellable(&app, move |app, gone| async move {
        execute::tool(&app, &actor, req, &[gone]).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Read a resource on a server's shared session. Permission: `mcp:execute`.
#[utoipa::path(post, path = "/mcp/execute/resource", tag = "mcp", request_body = ResourceRead,
    responses((status = 200, description = "The resource result", body = Envelope<ResourceResult>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: unknown server, or server or URI hidden by the caller's workspaces"),
        (status = 502, description = "`MCP_SERVICE_ERROR`: JSON-RPC error from the server, e.g. an unknown URI (`details`: `jsonrpc_code`)"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE`: stopped, unreachable or session closed; `MCP_SERVICE_UNCONFIGURED`; `DOCKER_UNAVAILABLE`"),
        (status = 504, description = "`MCP_TIMEOUT`: no answer within the timeout; the call is cancelled on the server")))]
async fn execute_resource(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpExecute>,
    Json(req): Json<ResourceRead>,
) -> Result<Reply<ResourceResult>> {
    let actor = Actor::from(&who);
    let done = cancellable(&app, move |app, gone| async move {
        execute::resource(&app, &actor, req, &[gone]).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Get a prompt on a server's shared session. Permission: `mcp:execute`.
#[utoipa::path(post, path = "/mcp/execute/prompt", tag = "mcp", request_body = PromptGet,
    responses((status = 200, description = "The prompt result", body = Envelope<PromptResult>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: unknown server or prompt, or hidden by the caller's workspaces"),
        (status = 502, description = "`MCP_SERVICE_ERROR`: JSON-RPC error from the server (`details`: `jsonrpc_code`)"),
        (status = 503, description = "`MCP_SERVICE_UNAVAILABLE`: stopped, unreachable or session closed; `MCP_SERVICE_UNCONFIGURED`; `DOCKER_UNAVAILABLE`"),
        (status = 504, description = "`MCP_TIMEOUT`: no answer within the timeout; the call is cancelled on the server")))]
async fn execute_prompt(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpExecute>,
    Json(req): Json<PromptGet>,
) -> Result<Reply<PromptResult>> {
    let actor = Actor::from(&who);
    let done = cancellable(&app, move |app, gone| async move {
        execute::prompt(&app, &actor, req, &[gone]).await
    })
    .await?;
    Ok(Reply::ok(done))
}
