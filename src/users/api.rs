//! `/api/v1/users…` and `/api/v1/roles`.

use super::model::{
    CreateUser, OwnChanges, PasswordChange, RoleGrant, User, UserChanges, UserReplacement,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::model::SessionInfo;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Permission, Role};
use crate::error::Result;
use crate::http::auth::Can;
use crate::http::auth::perm::{UsersAdmin, UsersRead, UsersWrite};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/users…` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(me, patch_me))
        .routes(routes!(change_password))
        .routes(routes!(get_one, put_one, patch_one, delete_one))
        .routes(routes!(add_role))
        .routes(routes!(reset_mfa))
        .routes(routes!(remove_role))
        .routes(routes!(roles))
        .routes(routes!(sessions, end_sessions))
        .routes(routes!(end_session))
}

crate::list_params!(
    /// Query of `GET /users`.
    UserFilters,
    super::store::LIST
);

/// List users. Permission: `users:read`.
#[utoipa::path(get, path = "/users", tag = "users", params(UserFilters),
    responses((status = 200, description = "One page of users", body = Envelope<Vec<User>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<UsersRead>,
    List(q): List,
) -> Result<Reply<Vec<User>>> {
    super::list(&app, q).await.map(Reply::page)
}

/// Create a user. Permission: `users:write`.
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "The user", body = Envelope<User>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: username or email taken")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Json(req): Json<CreateUser>,
) -> Result<Reply<User>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

/// One user. Permission: `users:read`.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 200, description = "The user", body = Envelope<User>)))]
async fn get_one(
    State(app): State<AppState>,
    _: Can<UsersRead>,
    Path(id): Path<String>,
) -> Result<Reply<User>> {
    super::get(&app, &id).await.map(Reply::ok)
}

/// Replace every writable field of a user. Permission: `users:write`.
#[utoipa::path(put, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")), request_body = UserReplacement,
    responses((status = 200, description = "The user", body = Envelope<User>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: email taken; `CONFLICT`: the last active admin")))]
async fn put_one(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
    Json(req): Json<UserReplacement>,
) -> Result<Reply<User>> {
    super::update(&app, &Actor::from(&who), &id, req.into())
        .await
        .map(Reply::ok)
}

/// Change the fields sent. Permission: `users:write`.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")), request_body = UserChanges,
    responses((status = 200, description = "The user", body = Envelope<User>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: email taken; `CONFLICT`: the last active admin")))]
async fn patch_one(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
    Json(changes): Json<UserChanges>,
) -> Result<Reply<User>> {
    super::update(&app, &Actor::from(&who), &id, changes)
        .await
        .map(Reply::ok)
}

/// Delete a user (their sessions and API keys end). Permission: `users:write`.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "`CONFLICT`: the caller or the last active admin")))]
async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &who, &id).await?;
    Ok(no_content())
}

/// Grant a role. Permission: `users:write`.
#[utoipa::path(post, path = "/users/{id}/roles", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")), request_body = RoleGrant,
    responses((status = 200, description = "The user", body = Envelope<User>)))]
async fn add_role(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
    Json(req): Json<RoleGrant>,
) -> Result<Reply<User>> {
    super::add_role(&app, &Actor::from(&who), &id, &req.role)
        .await
        .map(Reply::ok)
}

/// Take a role away. Permission: `users:write`.
#[utoipa::path(delete, path = "/users/{id}/roles/{role}", tag = "users",
    params(("id" = String, Path, description = "User id (`usr_…`) or username"), ("role" = Role, Path, description = "Role name")),
    responses((status = 204, description = "Removed"),
        (status = 409, description = "`CONFLICT`: the user's last role, or the last active admin")))]
async fn remove_role(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response> {
    super::remove_role(&app, &Actor::from(&who), &id, &role).await?;
    Ok(no_content())
}

/// The caller, with the permissions they hold after API key scopes.
/// The caller's user with `permissions`.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    #[serde(flatten)]
    user: User,
    permissions: Vec<Permission>,
}

/// The caller, with the permissions they hold after API key scopes. Any caller.
#[utoipa::path(get, path = "/users/me", tag = "users",
    responses((status = 200, description = "The caller", body = Envelope<Me>)))]
async fn me(State(app): State<AppState>, who: Principal) -> Result<Reply<Me>> {
    let user = super::get(&app, &who.user_id).await?;
    Ok(Reply::ok(Me {
        user,
        permissions: who.permissions(),
    }))
}

/// Change one's own email or name (roles and status are for admins). Any caller.
#[utoipa::path(patch, path = "/users/me", tag = "users", request_body = OwnChanges,
    responses((status = 200, description = "The caller", body = Envelope<User>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: email taken")))]
async fn patch_me(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<OwnChanges>,
) -> Result<Reply<User>> {
    super::update(&app, &Actor::from(&who), &who.user_id, req.into())
        .await
        .map(Reply::ok)
}

/// Both always true.
#[derive(Serialize, utoipa::ToSchema)]
struct PasswordChanged {
    password_changed: bool,
    /// Every login session was revoked: log in again with the new password.
    sessions_revoked: bool,
}

/// Change one's own password; every login session ends. Any login session (not an API key).
#[utoipa::path(post, path = "/users/me/password", tag = "users", request_body = PasswordChange,
    responses((status = 200, description = "Changed", body = Envelope<PasswordChanged>)))]
async fn change_password(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<PasswordChange>,
) -> Result<Reply<PasswordChanged>> {
    super::change_password(&app, &who, req).await?;
    Ok(Reply::ok(PasswordChanged {
        password_changed: true,
        sessions_revoked: true,
    }))
}

/// `{name, description, permissions: ["services:read", …]}`.
#[derive(Serialize, utoipa::ToSchema)]
struct RoleInfo {
    name: Role,
    description: &'static str,
    permissions: Vec<Permission>,
}

/// The built-in roles and what they grant. Any caller.
#[utoipa::path(get, path = "/roles", tag = "users",
    responses((status = 200, description = "Every role", body = Envelope<Vec<RoleInfo>>)))]
async fn roles(who: Principal) -> Reply<Vec<RoleInfo>> {
    let _ = who;
    Reply::ok(
        Role::ALL
            .iter()
            .map(|r| RoleInfo {
                name: *r,
                description: r.description(),
                permissions: r.grants(),
            })
            .collect(),
    )
}

/// Turn off a user's second factor (lost device). Permission: `users:write`.
#[utoipa::path(delete, path = "/users/{id}/mfa", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 204, description = "Second factor off")))]
async fn reset_mfa(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::reset_mfa(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// A user's live login sessions with client address and user agent. Permission: `users:admin`.
#[utoipa::path(get, path = "/users/{id}/sessions", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 200, description = "Live sessions, newest first", body = Envelope<Vec<SessionInfo>>)))]
async fn sessions(
    State(app): State<AppState>,
    _: Can<UsersAdmin>,
    Path(id): Path<String>,
) -> Result<Reply<Vec<SessionInfo>>> {
    super::sessions(&app, &id).await.map(Reply::ok)
}

/// How many login sessions an admin ended.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionsEnded {
    revoked: usize,
}

/// End every login session of a user (their tokens stop working). Permission: `users:admin`.
#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 200, description = "How many sessions ended", body = Envelope<SessionsEnded>)))]
async fn end_sessions(
    State(app): State<AppState>,
    Can(who, _): Can<UsersAdmin>,
    Path(id): Path<String>,
) -> Result<Reply<SessionsEnded>> {
    let revoked = super::end_sessions(&app, &Actor::from(&who), &id, None).await?;
    Ok(Reply::ok(SessionsEnded { revoked }))
}

/// End one login session of a user. Permission: `users:admin`.
#[utoipa::path(delete, path = "/users/{id}/sessions/{sid}", tag = "users",
    params(("id" = String, Path, description = "User id (`usr_…`) or username"),
        ("sid" = String, Path, description = "Session id (`ses_…`)")),
    responses((status = 204, description = "Ended")))]
async fn end_session(
    State(app): State<AppState>,
    Can(who, _): Can<UsersAdmin>,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Response> {
    super::end_sessions(&app, &Actor::from(&who), &id, Some(sid)).await?;
    Ok(no_content())
}
