//! `/api/v1/network/devices/{id}/config…` and `/api/v1/network/config-backups…`: a
//! device's configuration (read, push, commit, rollback) and its stored versions, the
//! config backups (`docs/api.md` §23). Every answer is JSON in the success envelope;
//! a configuration travels as a JSON string, CLI text on IOS and NX-OS and XML on Junos
//! (`format` says which). Registered by [`super::api::routes`].

use super::model::{
    BackupQuery, BackupRequest, CommitRequest, Committed, ConfigBackup, ConfigPush, ConfigQuery,
    ConfigText, PushResult, RollbackRequest, RollbackTarget, RolledBack,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{Json, List, Path, Query};
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The configuration and config backup routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config_read, config_push))
        .routes(routes!(config_commit))
        .routes(routes!(config_rollback))
        .routes(routes!(backup))
        .routes(routes!(backups))
        .routes(routes!(backup_show))
        .routes(routes!(restore))
}

crate::list_params!(
    /// Query of `GET /network/devices/{id}/config/backups`.
    BackupFilters,
    super::store::BACKUPS
);

/// Read the device's configuration: CLI text (IOS, NX-OS: `running` or `startup`) or
/// the datastore's XML `<configuration>` (Junos: `running` or `candidate`), as the
/// `config` string of a JSON answer. Permission: `network:read`.
#[utoipa::path(get, path = "/network/devices/{id}/config", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name"), ConfigQuery),
    responses((status = 200, description = "The configuration; `format` is `text` (IOS, NX-OS) or `xml` (Junos)", body = Envelope<ConfigText>),
        (status = 502, description = "`NETWORK_COMMAND_ERROR`: the device refused to show it (Junos: `rpc-error`), or printed more than the output cap"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn config_read(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkRead>,
    Path(id): Path<String>,
    Query(q): Query<ConfigQuery>,
) -> Result<Reply<ConfigText>> {
    super::changes::read(&app, &Actor::from(&who), &id, q)
        .await
        .map(Reply::ok)
}

/// Push configuration: CLI lines merged (or a whole configuration replacing the
/// running one) on IOS and NX-OS, an XML `<configuration>` on Junos; a refusal puts the
/// snapshot back. Permission: `network:write`.
#[utoipa::path(put, path = "/network/devices/{id}/config", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = ConfigPush,
    responses((status = 200, description = "What the push did", body = Envelope<PushResult>),
        (status = 502, description = "`NETWORK_CONFIG_ERROR`: the device refused a line, the snapshot or the replace (the message says whether the device is as it was); `NETWORK_COMMAND_ERROR`: it refused to show its configuration"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn config_push(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<ConfigPush>,
) -> Result<Reply<PushResult>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::changes::push(&a, &actor, &id, req).await })
        .await
        .map(Reply::ok)
}

/// Save the running configuration as the startup one (Junos: commit the candidate,
/// optionally as a confirmed commit). Permission: `network:write`.
#[utoipa::path(post, path = "/network/devices/{id}/config/commit", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = CommitRequest,
    responses((status = 200, description = "Saved", body = Envelope<Committed>),
        (status = 502, description = "`NETWORK_CONFIG_ERROR`: the device refused to save or commit"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn config_commit(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<CommitRequest>,
) -> Result<Reply<Committed>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::changes::commit(&a, &actor, &id, req).await })
        .await
        .map(Reply::ok)
}

/// Roll the configuration back: to the snapshot taken before the last push, to a
/// config backup of the device, or (Junos) to rollback number N. Permission:
/// `network:write`.
#[utoipa::path(post, path = "/network/devices/{id}/config/rollback", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = RollbackRequest,
    responses((status = 200, description = "Rolled back, with the diff of the running configuration", body = Envelope<RolledBack>),
        (status = 502, description = "`NETWORK_CONFIG_ERROR`: no snapshot on the device, or the device refused the rollback; `NETWORK_COMMAND_ERROR`: it refused to show its configuration"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn config_rollback(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> Result<Reply<RolledBack>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move {
        match req.to {
            Some(RollbackTarget::Index(n)) => {
                super::changes::rollback_index(&a, &actor, &id, n).await
            }
            Some(RollbackTarget::Backup(to)) => {
                super::history::rollback_to(&a, &actor, &id, &to).await
            }
            None => super::changes::rollback(&a, &actor, &id).await,
        }
    })
    .await
    .map(Reply::ok)
}

/// Store the device's configuration now as a new config backup (always a new
/// version). Permission: `network:write`.
#[utoipa::path(post, path = "/network/devices/{id}/config/backup", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name")),
    request_body = BackupRequest,
    responses((status = 201, description = "The new version (without its text)", body = Envelope<ConfigBackup>),
        (status = 502, description = "`NETWORK_COMMAND_ERROR`: the device refused to show its configuration"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn backup(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<BackupRequest>,
) -> Result<Reply<ConfigBackup>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::history::backup(&a, &actor, &id, req).await })
        .await
        .map(Reply::created)
}

/// The device's config backups, newest first by default (without their text).
/// Permission: `network:read`.
#[utoipa::path(get, path = "/network/devices/{id}/config/backups", tag = "network",
    params(("id" = String, Path, description = "Device id (`dev_…`) or name"), BackupFilters),
    responses((status = 200, description = "One page of config backups", body = Envelope<Vec<ConfigBackup>>)))]
async fn backups(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<ConfigBackup>>> {
    super::history::list(&app, &id, q).await.map(Reply::page)
}

/// One config backup with its text and, with `diff_to`, the unified diff from that
/// other version of the same device. Permission: `network:read`.
#[utoipa::path(get, path = "/network/config-backups/{id}", tag = "network",
    params(("id" = String, Path, description = "Config backup id (`cfb_…`)"), BackupQuery),
    responses((status = 200, description = "The version with `config` (and `diff` with `diff_to`)", body = Envelope<ConfigBackup>)))]
async fn backup_show(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
    Query(q): Query<BackupQuery>,
) -> Result<Reply<ConfigBackup>> {
    super::history::get(&app, &id, q.diff_to)
        .await
        .map(Reply::ok)
}

/// Replace the device's running configuration with the config backup's text (a
/// `replace` push, with its snapshot and put-back). Permission: `network:write`.
#[utoipa::path(post, path = "/network/config-backups/{id}/restore", tag = "network",
    params(("id" = String, Path, description = "Config backup id (`cfb_…`)")),
    responses((status = 200, description = "What the push did", body = Envelope<PushResult>),
        (status = 502, description = "`NETWORK_CONFIG_ERROR`: the device refused the replace (the message says whether the device is as it was); `NETWORK_COMMAND_ERROR`: it refused to show its configuration"),
        (status = 503, description = "`NETWORK_CONNECTION_ERROR`: the session could not be opened, or broke"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the device did not answer within the command timeout")))]
async fn restore(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
) -> Result<Reply<PushResult>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::history::restore(&a, &actor, &id).await })
        .await
        .map(Reply::ok)
}
