//! `/api/v1/mcp/registry…`: list, get and config schema (`mcp:read`); add, replace and
//! remove entries (`mcp:admin`).

use super::model::{Entry, EntrySpec};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;

/// The catalog routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mcp/registry", get(list).post(create))
        .route("/mcp/registry/{name}", get(show).put(update).delete(delete))
        .route("/mcp/registry/{name}/config-schema", get(schema))
}

async fn list(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    List(q): List,
) -> Result<Reply<Vec<Entry>>> {
    Ok(Reply::page(super::list(&app, q).await?))
}

async fn show(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    Path(name): Path<String>,
) -> Result<Reply<Entry>> {
    Ok(Reply::ok(super::get(&app, &name).await?))
}

/// The entry's JSON Schema (draft 2020-12) as stored.
async fn schema(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    Path(name): Path<String>,
) -> Result<Reply<Value>> {
    Ok(Reply::ok(super::get(&app, &name).await?.spec.config_schema))
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpAdmin>,
    Json(spec): Json<EntrySpec>,
) -> Result<Reply<Entry>> {
    Ok(Reply::created(
        super::create(&app, &Actor::from(&who), spec).await?,
    ))
}

async fn update(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpAdmin>,
    Path(name): Path<String>,
    Json(spec): Json<EntrySpec>,
) -> Result<Reply<Entry>> {
    Ok(Reply::ok(
        super::update(&app, &Actor::from(&who), &name, spec).await?,
    ))
}

async fn delete(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpAdmin>,
    Path(name): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &name).await?;
    Ok(no_content())
}
