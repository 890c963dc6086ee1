//! `/api/v1/mappings…`. Reading needs `workspaces:read` (callers without
//! `workspaces:admin` see only their workspaces' mappings); changes and sync need
//! `workspaces:write`.

use super::model::{Mapping, MappingPatch, NewMapping, SyncReport, SyncRequest};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::Domain;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this module, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(sync_request_schema())
        .routes(routes!(list, create))
        .routes(routes!(sync))
        .routes(routes!(show, patch, remove))
}

/// A document holding only the [`SyncRequest`] schema: `POST /mappings/sync` refers to
/// it by `ref(…)` (a typed body would be marked required, an `Option` one nullable,
/// while the route takes no body or an object), so it is not collected from the route.
fn sync_request_schema() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new()
        .components(Some(
            utoipa::openapi::ComponentsBuilder::new()
                .schema_from::<SyncRequest>()
                .build(),
        ))
        .build()
}

crate::list_params!(
    /// Query of `GET /mappings`.
    MappingFilters,
    super::store::LIST
);

/// List mappings (without `workspaces:admin`: those of the caller's workspaces).
/// Permission: `workspaces:read`.
#[utoipa::path(get, path = "/mappings", tag = "mappings", params(MappingFilters),
    responses((status = 200, description = "One page of mappings", body = Envelope<Vec<Mapping>>)))]
async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    List(q): List,
) -> Result<Reply<Vec<Mapping>>> {
    let member = who.own_rows_unless_admin(Domain::Workspaces);
    super::list(&app, q, member).await.map(Reply::page)
}

/// Publish an MCP resource to a workspace under an alias. Permission: `workspaces:write`.
#[utoipa::path(post, path = "/mappings", tag = "mappings", request_body = NewMapping,
    responses((status = 201, description = "The mapping", body = Envelope<Mapping>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: alias taken in the workspace")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(new): Json<NewMapping>,
) -> Result<Reply<Mapping>> {
    super::create(&app, &Actor::from(&who), new)
        .await
        .map(Reply::created)
}

/// One mapping (404 when in a workspace the caller does not belong to). Permission:
/// `workspaces:read`.
#[utoipa::path(get, path = "/mappings/{id}", tag = "mappings", params(("id" = String, Path, description = "Mapping id (`map_…`)")),
    responses((status = 200, description = "The mapping", body = Envelope<Mapping>)))]
async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Mapping>> {
    let m = super::get(&app, &id).await?;
    if let Some(user) = who.own_rows_unless_admin(Domain::Workspaces) {
        crate::workspaces::get(&app, &m.workspace_id, Some(user))
            .await
            .map_err(|_| Error::not_found("mapping", &id))?;
    }
    Ok(Reply::ok(m))
}

/// Change the fields sent of a mapping. Permission: `workspaces:write`.
#[utoipa::path(patch, path = "/mappings/{id}", tag = "mappings", params(("id" = String, Path, description = "Mapping id (`map_…`)")), request_body = MappingPatch,
    responses((status = 200, description = "The mapping", body = Envelope<Mapping>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: alias taken in the workspace")))]
async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(patch): Json<MappingPatch>,
) -> Result<Reply<Mapping>> {
    super::update(&app, &Actor::from(&who), &id, patch)
        .await
        .map(Reply::ok)
}

/// Delete a mapping. Permission: `workspaces:write`.
#[utoipa::path(delete, path = "/mappings/{id}", tag = "mappings", params(("id" = String, Path, description = "Mapping id (`map_…`)")),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// Re-discover the servers' resources and record whether each mapping still points at
/// something; the body is optional (none syncs every server that has mappings).
/// Permission: `workspaces:write`.
#[utoipa::path(post, path = "/mappings/sync", tag = "mappings",
    request_body(content = ref("#/components/schemas/SyncRequest"), description = "Optional: no body syncs every server that has mappings; `{\"server\": \"<id or name>\"}` that server only (an unknown server syncs nothing)"),
    responses((status = 200, description = "The sync report", body = Envelope<SyncReport>)))]
async fn sync(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    body: Bytes,
) -> Result<Reply<SyncReport>> {
    let req: SyncRequest = if body.is_empty() {
        SyncRequest::default()
    } else {
        crate::http::extract::parse_json(&body)?
    };
    super::sync(&app, &Actor::from(&who), req.server)
        .await
        .map(Reply::ok)
}
