//! `/api/v1/network/devices…`: registering devices, their sessions and CLI commands.
//! `{id}` is a device id or name. Reading needs `network:read`; registering, changing
//! and removing need `network:write`; connecting and commands need `network:execute`;
//! re-pinning a host key needs `network:admin`. Every route of the domain counts
//! against the caller's network rate tier as well (`docs/api.md` §1.10).
//!
//! The devices themselves are here; their sessions and commands are in
//! [`super::api_sessions`], their configuration and its backups in
//! [`super::api_config`]; [`routes`] registers all of them.

use super::model::{Device, DevicePatch, NewDevice};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of the domain, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, patch, remove))
        .merge(super::api_sessions::routes())
        .merge(super::api_config::routes())
}

crate::list_params!(
    /// Query of `GET /network/devices`.
    DeviceFilters,
    super::store::LIST
);

/// List the registered devices (no credentials). Permission: `network:read`.
#[utoipa::path(get, path = "/network/devices", tag = "network", params(DeviceFilters),
    responses((status = 200, description = "One page of devices", body = Envelope<Vec<Device>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    List(q): List,
) -> Result<Reply<Vec<Device>>> {
    super::list(&app, q).await.map(Reply::page)
}

/// Register a device, its credentials sealed in the vault (with
/// `connection_options.auto_connect` it is connected right after). Permission:
/// `network:write`.
#[utoipa::path(post, path = "/network/devices", tag = "network", request_body = NewDevice,
    responses((status = 201, description = "The device", body = Envelope<Device>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the name is taken")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Json(req): Json<NewDevice>,
) -> Result<Reply<Device>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

/// One device. Permission: `network:read`.
#[utoipa::path(get, path = "/network/devices/{id}", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    responses((status = 200, description = "The device", body = Envelope<Device>)))]
async fn show(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
) -> Result<Reply<Device>> {
    super::get(&app, &id).await.map(Reply::ok)
}

/// Replace every writable field of a device, credentials included (`device_type`
/// cannot change); its session is closed. Permission: `network:write`.
#[utoipa::path(put, path = "/network/devices/{id}", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = NewDevice,
    responses((status = 200, description = "The device", body = Envelope<Device>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the new name is taken")))]
async fn replace(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<NewDevice>,
) -> Result<Reply<Device>> {
    super::replace(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

/// Change the fields sent (a new host, port, user, credential or options closes the
/// session). Permission: `network:write`.
#[utoipa::path(patch, path = "/network/devices/{id}", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = DevicePatch,
    responses((status = 200, description = "The device", body = Envelope<Device>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the new name is taken")))]
async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<DevicePatch>,
) -> Result<Reply<Device>> {
    super::update(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

/// Close the device's session and forget it and its config backups (nothing on the
/// device changes). Permission: `network:write`.
#[utoipa::path(delete, path = "/network/devices/{id}", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    responses((status = 204, description = "Removed")))]
async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}
