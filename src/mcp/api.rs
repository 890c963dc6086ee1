//! `/api/v1/mcp/…`: server CRUD, start/stop/restart and discover (`mcp:write`),
//! reads and catalogs (`mcp:read`), `test` and execution (`mcp:execute`). Path segments
//! and the `server` body field take an id or a unique name.

use super::discovery::{self, TestResult};
use super::execute::{
    self, PromptGet, PromptResult, ResourceRead, ResourceResult, ToolCall, ToolResult,
};
use super::model::{Catalog, McpServer};
use super::records;
use super::requests::{CreateServer, PatchServer, Reconfigure};
use super::servers::{self, Lifecycle};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use crate::store::list::{Filter, ListQuery, Op, Page};
use crate::workspaces::access::{self, McpScope};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The MCP routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mcp/servers", get(list).post(create))
        .route("/mcp/servers/{id}", get(show).patch(patch).delete(delete))
        .route("/mcp/servers/{id}/config", get(show_config).put(put_config))
        .route("/mcp/servers/{id}/start", post(start))
        .route("/mcp/servers/{id}/stop", post(stop))
        .route("/mcp/servers/{id}/restart", post(restart))
        .route("/mcp/servers/{id}/test", post(test))
        .route("/mcp/servers/{id}/discover", post(discover))
        .route("/mcp/servers/{id}/tools", get(tools))
        .route("/mcp/servers/{id}/resources", get(resources))
        .route(
            "/mcp/servers/{id}/resource-templates",
            get(resource_templates),
        )
        .route("/mcp/servers/{id}/prompts", get(prompts))
        .route("/mcp/resources", get(all_resources))
        .route("/mcp/execute/tool", post(execute_tool))
        .route("/mcp/execute/resource", post(execute_resource))
        .route("/mcp/execute/prompt", post(execute_prompt))
}

/// The caller's workspace scope.
async fn scope(app: &AppState, who: &Principal) -> Result<McpScope> {
    access::scope(app, Some(&who.user_id)).await
}

/// 404 unless the caller's workspaces grant the server ([`records::visible`]).
async fn visible(app: &AppState, who: &Principal, id: &str) -> Result<(McpScope, access::Grant)> {
    let (_, scope, grant) = records::visible(app, &who.user_id, id).await?;
    Ok((scope, grant))
}

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

/// A server from a catalog entry (`registry` set) is made by the catalog, any other by
/// the MCP domain.
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

async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(records::get(&app, &id).await?.view()))
}

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

/// A server from a catalog entry is deleted by the catalog (its secret configuration
/// goes too), any other by the MCP domain.
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

/// `{registry, config, secret_fields, missing, status}` of a server made from the
/// catalog (secret values never shown).
async fn show_config(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
) -> Result<Reply<Value>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(crate::catalog::servers::show(&app, &id).await?))
}

/// Replaces the configuration of a server made from the catalog and restarts it.
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

async fn start(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Start).await
}

async fn stop(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Stop).await
}

async fn restart(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    lifecycle(app, who, id, Lifecycle::Restart).await
}

async fn test(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpExecute>,
    Path(id): Path<String>,
) -> Result<Reply<TestResult>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(discovery::test(&app, &id).await?))
}

async fn discover(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpWrite>,
    Path(id): Path<String>,
) -> Result<Reply<McpServer>> {
    visible(&app, &who, &id).await?;
    Ok(Reply::ok(discovery::discover(&app, &id).await?))
}

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

async fn tools(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Tools, q).await
}

async fn resources(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Resources, q).await
}

async fn resource_templates(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::ResourceTemplates, q).await
}

async fn prompts(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<Value>>> {
    catalog(app, who, id, Catalog::Prompts, q).await
}

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
