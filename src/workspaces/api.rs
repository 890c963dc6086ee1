//! `/api/v1/organization` and `/api/v1/workspaces…`. Reading needs `workspaces:read`
//! (callers without `workspaces:admin` see only their workspaces); changes need
//! `workspaces:write`.

use super::model::{Access, Member, Organization, Workspace, WorkspacePatch};
use super::model::{AccessPatch, NewGrant, NewMember, NewWorkspace, OrgPatch, ResourceUri};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::auth::rbac::Domain;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

/// The routes of this module, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/organization", get(org).patch(patch_org))
        .route("/workspaces", get(list).post(create))
        .route("/workspaces/{id}", get(show).patch(patch).delete(remove))
        .route("/workspaces/{id}/members", get(members).post(add_member))
        .route(
            "/workspaces/{id}/members/{user}",
            axum::routing::delete(remove_member),
        )
        .route("/workspaces/{id}/access", get(access).post(grant))
        .route(
            "/workspaces/{id}/access/{access}",
            axum::routing::patch(patch_access).delete(revoke),
        )
        .route(
            "/workspaces/{id}/access/{access}/add-resource",
            post(add_resource),
        )
        .route(
            "/workspaces/{id}/access/{access}/remove-resource",
            post(remove_resource),
        )
}

/// `None` for workspace admins (see all), else the caller's user id.
fn member_filter(who: &Principal) -> Option<String> {
    who.own_rows_unless_admin(Domain::Workspaces)
}

async fn org(
    State(app): State<AppState>,
    _: Can<perm::WorkspacesRead>,
) -> Result<Reply<Organization>> {
    super::organization(&app).await.map(Reply::ok)
}

async fn patch_org(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(patch): Json<OrgPatch>,
) -> Result<Reply<Organization>> {
    super::update_organization(&app, &Actor::from(&who), patch)
        .await
        .map(Reply::ok)
}

async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    List(q): List,
) -> Result<Reply<Vec<Workspace>>> {
    super::list(&app, q, member_filter(&who))
        .await
        .map(Reply::page)
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(new): Json<NewWorkspace>,
) -> Result<Reply<Workspace>> {
    super::create(&app, &Actor::from(&who), new)
        .await
        .map(Reply::created)
}

async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Workspace>> {
    super::get(&app, &id, member_filter(&who))
        .await
        .map(Reply::ok)
}

async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(patch): Json<WorkspacePatch>,
) -> Result<Reply<Workspace>> {
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

async fn members(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Vec<Member>>> {
    super::get(&app, &id, member_filter(&who)).await?;
    super::members(&app, &id).await.map(Reply::ok)
}

async fn add_member(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(req): Json<NewMember>,
) -> Result<Reply<Vec<Member>>> {
    super::set_member(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

async fn remove_member(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response> {
    super::remove_member(&app, &Actor::from(&who), &id, &user).await?;
    Ok(no_content())
}

async fn access(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Vec<Access>>> {
    super::get(&app, &id, member_filter(&who)).await?;
    super::access_list(&app, &id).await.map(Reply::ok)
}

async fn grant(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(req): Json<NewGrant>,
) -> Result<Reply<Access>> {
    super::grant(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::created)
}

async fn patch_access(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(patch): Json<AccessPatch>,
) -> Result<Reply<Access>> {
    super::update_access(&app, &Actor::from(&who), &id, &access, patch)
        .await
        .map(Reply::ok)
}

async fn revoke(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
) -> Result<Response> {
    super::revoke(&app, &Actor::from(&who), &id, &access).await?;
    Ok(no_content())
}

async fn add_resource(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(req): Json<ResourceUri>,
) -> Result<Reply<Access>> {
    super::edit_resource(&app, &Actor::from(&who), &id, &access, req, true)
        .await
        .map(Reply::ok)
}

async fn remove_resource(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(req): Json<ResourceUri>,
) -> Result<Reply<Access>> {
    super::edit_resource(&app, &Actor::from(&who), &id, &access, req, false)
        .await
        .map(Reply::ok)
}
