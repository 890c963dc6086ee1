//! `/api/v1/users…` and `/api/v1/roles`.

use super::model::{
    CreateUser, OwnChanges, PasswordChange, RoleGrant, User, UserChanges, UserReplacement,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Permission, Role};
use crate::error::Result;
use crate::http::auth::Can;
use crate::http::auth::perm::{UsersRead, UsersWrite};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::Serialize;

/// The `/users…` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/me", get(me).patch(patch_me))
        .route("/users/me/password", post(change_password))
        .route(
            "/users/{id}",
            get(get_one)
                .put(put_one)
                .patch(patch_one)
                .delete(delete_one),
        )
        .route("/users/{id}/roles", post(add_role))
        .route("/users/{id}/mfa", delete(reset_mfa))
        .route("/users/{id}/roles/{role}", delete(remove_role))
        .route("/roles", get(roles))
}

async fn list(
    State(app): State<AppState>,
    _: Can<UsersRead>,
    List(q): List,
) -> Result<Reply<Vec<User>>> {
    super::list(&app, q).await.map(Reply::page)
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Json(req): Json<CreateUser>,
) -> Result<Reply<User>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

async fn get_one(
    State(app): State<AppState>,
    _: Can<UsersRead>,
    Path(id): Path<String>,
) -> Result<Reply<User>> {
    super::get(&app, &id).await.map(Reply::ok)
}

/// PUT replaces every writable field.
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

/// PATCH changes only the fields sent.
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

async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &who, &id).await?;
    Ok(no_content())
}

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

async fn remove_role(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response> {
    super::remove_role(&app, &Actor::from(&who), &id, &role).await?;
    Ok(no_content())
}

/// The caller, with the permissions they hold after API key scopes.
#[derive(Serialize)]
struct Me {
    #[serde(flatten)]
    user: User,
    permissions: Vec<Permission>,
}

async fn me(State(app): State<AppState>, who: Principal) -> Result<Reply<Me>> {
    let user = super::get(&app, &who.user_id).await?;
    Ok(Reply::ok(Me {
        user,
        permissions: who.permissions(),
    }))
}

/// What users may change about themselves (roles and status are for admins).
async fn patch_me(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<OwnChanges>,
) -> Result<Reply<User>> {
    super::update(&app, &Actor::from(&who), &who.user_id, req.into())
        .await
        .map(Reply::ok)
}

#[derive(Serialize)]
struct PasswordChanged {
    password_changed: bool,
    /// Every login session was revoked: log in again with the new password.
    sessions_revoked: bool,
}

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
#[derive(Serialize)]
struct RoleInfo {
    name: Role,
    description: &'static str,
    permissions: Vec<Permission>,
}

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

/// Admin reset of a user's second factor (lost device).
async fn reset_mfa(
    State(app): State<AppState>,
    Can(who, _): Can<UsersWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::reset_mfa(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}
