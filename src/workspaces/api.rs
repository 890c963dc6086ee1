//! `/api/v1/organization` and `/api/v1/workspaces…`. Reading needs `workspaces:read`
//! (callers without `workspaces:admin` see only their workspaces); changes need
//! `workspaces:write`.

use super::{Access, AccessChanges, Member, Organization, Workspace, WorkspaceChanges};
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
use serde::Deserialize;
use serde_json::Value;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgPatch {
    name: Option<String>,
    settings: Option<Value>,
}

async fn patch_org(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(req): Json<OrgPatch>,
) -> Result<Reply<Organization>> {
    super::update_organization(&app, &Actor::from(&who), req.name, req.settings)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    description: Option<String>,
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Json(req): Json<CreateRequest>,
) -> Result<Reply<Workspace>> {
    super::create(&app, &Actor::from(&who), req.name, req.description)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRequest {
    name: Option<String>,
    description: Option<String>,
    all_members: Option<bool>,
    all_servers: Option<bool>,
}

async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(req): Json<PatchRequest>,
) -> Result<Reply<Workspace>> {
    let ch = WorkspaceChanges {
        name: req.name,
        description: req.description,
        all_members: req.all_members,
        all_servers: req.all_servers,
    };
    super::update(&app, &Actor::from(&who), &id, ch)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberRequest {
    /// User id or username.
    user: String,
    /// owner, member (default) or viewer.
    role: Option<String>,
}

async fn add_member(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(req): Json<MemberRequest>,
) -> Result<Reply<Vec<Member>>> {
    let role = req.role.unwrap_or_else(|| "member".into());
    super::set_member(&app, &Actor::from(&who), &id, &req.user, &role)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    /// MCP server id or name.
    server: String,
    name: Option<String>,
    description: Option<String>,
    /// read or execute (default).
    permission_level: Option<String>,
    /// Tool names; absent or null = every tool.
    allowed_tools: Option<Vec<String>>,
    /// Resource URIs (a trailing `*` matches a prefix); absent or null = every resource.
    allowed_resources: Option<Vec<String>>,
    is_active: Option<bool>,
}

async fn grant(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path(id): Path<String>,
    Json(req): Json<GrantRequest>,
) -> Result<Reply<Access>> {
    let ch = AccessChanges {
        name: req.name,
        description: req.description,
        permission_level: req.permission_level,
        allowed_tools: Some(req.allowed_tools),
        allowed_resources: Some(req.allowed_resources),
        is_active: req.is_active,
    };
    super::grant(&app, &Actor::from(&who), &id, &req.server, ch)
        .await
        .map(Reply::created)
}

/// PATCH: fields sent change; `allowed_tools: null` means every tool again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessPatch {
    name: Option<String>,
    description: Option<String>,
    permission_level: Option<String>,
    #[serde(default, deserialize_with = "present")]
    allowed_tools: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    allowed_resources: Option<Option<Vec<String>>>,
    is_active: Option<bool>,
}

/// Distinguishes a field sent as `null` (Some(None)) from one not sent (None).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

async fn patch_access(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(req): Json<AccessPatch>,
) -> Result<Reply<Access>> {
    let ch = AccessChanges {
        name: req.name,
        description: req.description,
        permission_level: req.permission_level,
        allowed_tools: req.allowed_tools,
        allowed_resources: req.allowed_resources,
        is_active: req.is_active,
    };
    super::update_access(&app, &Actor::from(&who), &id, &access, ch)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceRequest {
    uri: String,
}

async fn add_resource(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(req): Json<ResourceRequest>,
) -> Result<Reply<Access>> {
    super::edit_resource(&app, &Actor::from(&who), &id, &access, &req.uri, true)
        .await
        .map(Reply::ok)
}

async fn remove_resource(
    State(app): State<AppState>,
    Can(who, _): Can<perm::WorkspacesWrite>,
    Path((id, access)): Path<(String, String)>,
    Json(req): Json<ResourceRequest>,
) -> Result<Reply<Access>> {
    super::edit_resource(&app, &Actor::from(&who), &id, &access, &req.uri, false)
        .await
        .map(Reply::ok)
}
