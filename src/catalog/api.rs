//! `/api/v1/mcp/registry…`: list, get and config schema (`mcp:read`); add, replace and
//! remove entries (`mcp:admin`).

use super::model::{Entry, EntrySpec};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use crate::mcp::model::Transport;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The catalog routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(schema))
}

/// The filters of `GET /mcp/registry`, plain `field=value` form only; any other filter
/// is a 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryFilters {
    /// Only entries of this transport.
    #[param(inline)]
    pub transport: Option<Transport>,
    /// Only built-in (`true`) or added (`false`) entries.
    pub builtin: Option<bool>,
    /// Only entries of exactly this image reference.
    pub image: Option<String>,
    /// Case-insensitive substring of the name, title or description.
    pub search: Option<String>,
}

/// The catalog entries, built-in first, then added ones, each by name. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/registry", tag = "catalog", params(RegistryFilters, crate::http::openapi::Paging),
    responses((status = 200, description = "One page of catalog entries", body = Envelope<Vec<Entry>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    List(q): List,
) -> Result<Reply<Vec<Entry>>> {
    Ok(Reply::page(super::list(&app, q).await?))
}

/// One catalog entry. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/registry/{name}", tag = "catalog",
    params(("name" = String, Path, description = "Catalog entry name")),
    responses((status = 200, description = "The entry", body = Envelope<Entry>)))]
async fn show(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    Path(name): Path<String>,
) -> Result<Reply<Entry>> {
    Ok(Reply::ok(super::get(&app, &name).await?))
}

/// The entry's configuration JSON Schema (draft 2020-12) as stored. Permission: `mcp:read`.
#[utoipa::path(get, path = "/mcp/registry/{name}/config-schema", tag = "catalog",
    params(("name" = String, Path, description = "Catalog entry name")),
    responses((status = 200, description = "The entry's `config_schema`, a JSON Schema object",
        body = Envelope<Value>)))]
async fn schema(
    State(app): State<AppState>,
    _: Can<perm::McpRead>,
    Path(name): Path<String>,
) -> Result<Reply<Value>> {
    Ok(Reply::ok(super::get(&app, &name).await?.spec.config_schema))
}

/// Add a catalog entry. Permission: `mcp:admin`.
#[utoipa::path(post, path = "/mcp/registry", tag = "catalog", request_body = EntrySpec,
    responses((status = 201, description = "The entry (`builtin: false`)", body = Envelope<Entry>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken by a built-in or added entry")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpAdmin>,
    Json(spec): Json<EntrySpec>,
) -> Result<Reply<Entry>> {
    Ok(Reply::created(
        super::create(&app, &Actor::from(&who), spec).await?,
    ))
}

/// Replace an added catalog entry (`name` must equal the path's). Permission: `mcp:admin`.
#[utoipa::path(put, path = "/mcp/registry/{name}", tag = "catalog",
    params(("name" = String, Path, description = "Catalog entry name")), request_body = EntrySpec,
    responses((status = 200, description = "The entry", body = Envelope<Entry>),
        (status = 409, description = "`CONFLICT`: a built-in entry")))]
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

/// Remove an added catalog entry no server was made from. Permission: `mcp:admin`.
#[utoipa::path(delete, path = "/mcp/registry/{name}", tag = "catalog",
    params(("name" = String, Path, description = "Catalog entry name")),
    responses((status = 204, description = "Removed"),
        (status = 409, description = "`CONFLICT`: a built-in entry, or MCP servers were made from it")))]
async fn delete(
    State(app): State<AppState>,
    Can(who, _): Can<perm::McpAdmin>,
    Path(name): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &name).await?;
    Ok(no_content())
}
