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
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this module, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(org, patch_org))
        .routes(routes!(list, create))
        .routes(routes!(show, patch, remove))
        .routes(routes!(members, add_member))
        .routes(routes!(remove_member))
        .routes(routes!(access, grant))
        .routes(routes!(patch_access, revoke))
        .routes(routes!(add_resource))
        .routes(routes!(remove_resource))
}

crate::list_params!(
    /// Query of `GET /workspaces`.
    WorkspaceFilters,
    super::store::LIST
);

/// `None` for workspace admins (see all), else the caller's user id.
fn member_filter(who: &Principal) -> Option<String> {
    who.own_rows_unless_admin(Domain::Workspaces)
}

/// The organization, with every user in `members`. Permission: `workspaces:read`.
#[utoipa::path(get, path = "/organization", tag = "workspaces",
    responses((status = 200, description = "The organization", body = Envelope<Organization>)))]
async fn org(
    State(app): State<AppState>,
    _: Can<perm::WorkspacesRead>,
) -> Result<Reply<Organization>> {
    super::organization(&app).await.map(Reply::ok)
}

/// Rename the organization and/or replace its settings. Permission: `workspaces:write`.
#[utoipa::path(patch, path = "/organization", tag = "workspaces", request_body = OrgPatch,
    responses((status = 200, description = "The organization", body = Envelope<Organization>)))]
async fn patch_org(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(patch): Json<OrgPatch>,
) -> Result<Reply<Organization>> {
    super::update_organization(&app, &Actor::from(&who), patch)
        .await
        .map(Reply::ok)
}

/// List the workspaces visible to the caller (all with `workspaces:admin`, else those
/// they belong to). Permission: `workspaces:read`.
#[utoipa::path(get, path = "/workspaces", tag = "workspaces", params(WorkspaceFilters),
    responses((status = 200, description = "One page of workspaces", body = Envelope<Vec<Workspace>>)))]
async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    List(q): List,
) -> Result<Reply<Vec<Workspace>>> {
    super::list(&app, q, member_filter(&who))
        .await
        .map(Reply::page)
}

/// Create a workspace (no members, no grants). Permission: `workspaces:write`.
#[utoipa::path(post, path = "/workspaces", tag = "workspaces", request_body = NewWorkspace,
    responses((status = 201, description = "The workspace", body = Envelope<Workspace>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(new): Json<NewWorkspace>,
) -> Result<Reply<Workspace>> {
    super::create(&app, &Actor::from(&who), new)
        .await
        .map(Reply::created)
}

/// One workspace (404 for non-members without `workspaces:admin`). Permission: `workspaces:read`.
#[utoipa::path(get, path = "/workspaces/{id}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")),
    responses((status = 200, description = "The workspace", body = Envelope<Workspace>)))]
async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Workspace>> {
    super::get(&app, &id, member_filter(&who))
        .await
        .map(Reply::ok)
}

/// Change the fields sent of a workspace. Permission: `workspaces:write`.
#[utoipa::path(patch, path = "/workspaces/{id}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")), request_body = WorkspacePatch,
    responses((status = 200, description = "The workspace", body = Envelope<Workspace>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken")))]
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

/// Delete a workspace with its members, grants and mappings. Permission: `workspaces:write`.
#[utoipa::path(delete, path = "/workspaces/{id}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// The explicit members of a workspace, by username (not paged). Permission: `workspaces:read`.
#[utoipa::path(get, path = "/workspaces/{id}/members", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")),
    responses((status = 200, description = "Every explicit member", body = Envelope<Vec<Member>>)))]
async fn members(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Vec<Member>>> {
    super::get(&app, &id, member_filter(&who)).await?;
    super::members(&app, &id).await.map(Reply::ok)
}

/// Add a member or change their role. Permission: `workspaces:write`.
#[utoipa::path(post, path = "/workspaces/{id}/members", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")), request_body = NewMember,
    responses((status = 200, description = "The workspace's members", body = Envelope<Vec<Member>>)))]
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

/// Remove an explicit member. Permission: `workspaces:write`.
#[utoipa::path(delete, path = "/workspaces/{id}/members/{user}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name"), ("user" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 204, description = "Removed")))]
async fn remove_member(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response> {
    super::remove_member(&app, &Actor::from(&who), &id, &user).await?;
    Ok(no_content())
}

/// The grants of a workspace, by server name (not paged). Permission: `workspaces:read`.
#[utoipa::path(get, path = "/workspaces/{id}/access", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")),
    responses((status = 200, description = "Every grant", body = Envelope<Vec<Access>>)))]
async fn access(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Vec<Access>>> {
    super::get(&app, &id, member_filter(&who)).await?;
    super::access_list(&app, &id).await.map(Reply::ok)
}

/// Grant an MCP server to a workspace. Permission: `workspaces:write`.
#[utoipa::path(post, path = "/workspaces/{id}/access", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name")), request_body = NewGrant,
    responses((status = 201, description = "The grant", body = Envelope<Access>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the server is already granted to this workspace")))]
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

/// Change the fields sent of a grant. Permission: `workspaces:write`.
#[utoipa::path(patch, path = "/workspaces/{id}/access/{access}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name"), ("access" = String, Path, description = "Grant id (`wsa_…`), or the granted MCP server's id or name")), request_body = AccessPatch,
    responses((status = 200, description = "The grant", body = Envelope<Access>)))]
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

/// Revoke a grant. Permission: `workspaces:write`.
#[utoipa::path(delete, path = "/workspaces/{id}/access/{access}", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name"), ("access" = String, Path, description = "Grant id (`wsa_…`), or the granted MCP server's id or name")),
    responses((status = 204, description = "Revoked")))]
async fn revoke(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
) -> Result<Response> {
    super::revoke(&app, &Actor::from(&who), &id, &access).await?;
    Ok(no_content())
}

/// Add a resource URI to a grant's allowed resources. Permission: `workspaces:write`.
#[utoipa::path(post, path = "/workspaces/{id}/access/{access}/add-resource", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name"), ("access" = String, Path, description = "Grant id (`wsa_…`), or the granted MCP server's id or name")), request_body = ResourceUri,
    responses((status = 200, description = "The grant", body = Envelope<Access>)))]
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

/// Remove a resource URI from a grant's allowed resources. Permission: `workspaces:write`.
#[utoipa::path(post, path = "/workspaces/{id}/access/{access}/remove-resource", tag = "workspaces", params(("id" = String, Path, description = "Workspace id (`wks_…`) or name"), ("access" = String, Path, description = "Grant id (`wsa_…`), or the granted MCP server's id or name")), request_body = ResourceUri,
    responses((status = 200, description = "The grant", body = Envelope<Access>)))]
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
