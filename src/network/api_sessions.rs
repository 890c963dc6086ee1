//! `/api/v1/network/devices/{id}/…` of a device's session: connecting and
//! disconnecting, the session's status, re-pinning the host key, and CLI commands
//! (`docs/api.md` §23). Registered by [`super::api::routes`].

use super::model::{
    AcceptHostKey, CommandRequest, CommandResult, CommandsRequest, Device, SessionStatus,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{Json, Path};
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The session and command routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(disconnect))
        .routes(routes!(status))
        .routes(routes!(accept_host_key))
        .routes(routes!(command))
        .routes(routes!(commands))
}

/// Open the device's session (or check the pooled one still answers) and read its
/// `system_info`. Permission: `network:execute`.
#[utoipa::path(post, path = "/network/devices/{id}/connect", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    responses((status = 200, description = "The device, connected", body = Envelope<Device>),
        (status = 502, description = "`NETWORK_COMMAND_ERROR`: `show version` printed more than the output cap"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: cannot resolve or connect, SSH handshake, changed host key, login refused, no prompt, `enable` refused, session closed"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the connect timeout")))]
async fn connect(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkExecute>,
    Path(id): Path<String>,
) -> Result<Reply<Device>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::ops::connect(&a, &actor, &id).await })
        .await
        .map(Reply::ok)
}

/// Close the device's session, if it has one. Permission: `network:execute`.
#[utoipa::path(post, path = "/network/devices/{id}/disconnect", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    responses((status = 200, description = "The device, disconnected", body = Envelope<Device>)))]
async fn disconnect(
    State(app): State<AppState>,
    _: Can<perm::NetworkExecute>,
    Path(id): Path<String>,
) -> Result<Reply<Device>> {
    super::ops::disconnect(&app, &id).await.map(Reply::ok)
}

/// The device's session as the pool holds it. Permission: `network:read`.
#[utoipa::path(get, path = "/network/devices/{id}/status", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    responses((status = 200, description = "The session status", body = Envelope<SessionStatus>)))]
async fn status(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
) -> Result<Reply<SessionStatus>> {
    super::ops::status(&app, &id).await.map(Reply::ok)
}

/// Pin the given host key fingerprint, or (with `{}`) the key the device presents now;
/// closes the session. Permission: `network:admin`.
#[utoipa::path(post, path = "/network/devices/{id}/host-key/accept", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = AcceptHostKey,
    responses((status = 200, description = "The device with its new pinned key", body = Envelope<Device>),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: without `fingerprint`, the SSH handshake that reads the key failed")))]
async fn accept_host_key(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkAdmin>,
    Path(id): Path<String>,
    Json(req): Json<AcceptHostKey>,
) -> Result<Reply<Device>> {
    super::ops::accept_host_key(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

/// Run one CLI command in the device's session. Permission: `network:execute`.
#[utoipa::path(post, path = "/network/devices/{id}/command", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = CommandRequest,
    responses((status = 200, description = "The command's output (`status` is `success`)", body = Envelope<CommandResult>),
        (status = 502, description = "`NETWORK_COMMAND_ERROR`: the device refused the command (its text in `details[0].issue`, field `command`), or printed more than the output cap"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: no prompt back within `timeout_s`; the session is closed")))]
async fn command(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkExecute>,
    Path(id): Path<String>,
    Json(req): Json<CommandRequest>,
) -> Result<Reply<CommandResult>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move {
        super::ops::command(&a, &actor, &id, req.command, req.timeout_s).await
    })
    .await
    .map(Reply::ok)
}

/// The answer of `POST …/commands`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandsReply {
    /// One result per command, in order.
    pub results: Vec<CommandResult>,
    /// When the request was taken up, before the first command was sent (RFC 3339).
    pub executed_at: String,
}

/// Run CLI commands in order in the device's session; a refused command is a result
/// with `status: error`. Permission: `network:execute`.
#[utoipa::path(post, path = "/network/devices/{id}/commands", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = CommandsRequest,
    responses((status = 200, description = "One result per command", body = Envelope<CommandsReply>),
        (status = 502, description = "`NETWORK_COMMAND_ERROR`: a command printed more than the output cap"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: no prompt back within `timeout_s`; the session is closed")))]
async fn commands(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkExecute>,
    Path(id): Path<String>,
    Json(req): Json<CommandsRequest>,
) -> Result<Reply<CommandsReply>> {
    let actor = Actor::from(&who);
    let (a, executed_at) = (app.clone(), crate::time::now_rfc3339());
    let results = app
        .to_completion(async move { super::ops::commands(&a, &actor, &id, req).await })
        .await?;
    Ok(Reply::ok(CommandsReply {
        results,
        executed_at,
    }))
}
