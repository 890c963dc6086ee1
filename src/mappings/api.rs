//! `/api/v1/mappings…`. Reading needs `workspaces:read` (callers without
//! `workspaces:admin` see only their workspaces' mappings); changes and sync need
//! `workspaces:write`.

use super::model::{Mapping, MappingPatch, NewMapping, SyncReport, SyncRequest};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::Domain;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

/// The routes of this module, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mappings", get(list).post(create))
        .route("/mappings/sync", post(sync))
        .route("/mappings/{id}", get(show).patch(patch).delete(remove))
}

async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    List(q): List,
) -> Result<Reply<Vec<Mapping>>> {
    let member = who.own_rows_unless_admin(Domain::Workspaces);
    super::list(&app, q, member).await.map(Reply::page)
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(new): Json<NewMapping>,
) -> Result<Reply<Mapping>> {
    super::create(&app, &Actor::from(&who), new)
        .await
        .map(Reply::created)
}

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

async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// The body is optional: no body syncs every server that has mappings.
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
