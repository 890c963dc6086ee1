//! `/api/v1/network/devices…`: registering devices, their sessions and CLI commands.
//! `{id}` is a device id or name. Reading needs `network:read`; registering, changing
//! and removing need `network:write`; connecting and commands need `network:execute`;
//! re-pinning a host key needs `network:admin`. Every route of the domain counts
//! against the caller's network rate tier as well (`docs/api.md` §1.10).

use super::model::{
    AcceptHostKey, BackupQuery, BackupRequest, CommandRequest, CommandResult, CommandsRequest,
    CommitRequest, ConfigBackup, ConfigPush, ConfigQuery, ConfigText, Device, DevicePatch,
    NewDevice, PushResult, RollbackRequest, RollbackTarget, SessionStatus,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;

/// The routes of the domain, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/network/devices", get(list).post(create))
        .route(
            "/network/devices/{id}",
            get(show).put(replace).patch(patch).delete(remove),
        )
        .route("/network/devices/{id}/connect", post(connect))
        .route("/network/devices/{id}/disconnect", post(disconnect))
        .route("/network/devices/{id}/status", get(status))
        .route(
            "/network/devices/{id}/host-key/accept",
            post(accept_host_key),
        )
        .route("/network/devices/{id}/command", post(command))
        .route("/network/devices/{id}/commands", post(commands))
        .route(
            "/network/devices/{id}/config",
            get(config_read).put(config_push),
        )
        .route("/network/devices/{id}/config/commit", post(config_commit))
        .route(
            "/network/devices/{id}/config/rollback",
            post(config_rollback),
        )
        .route("/network/devices/{id}/config/backup", post(backup))
        .route("/network/devices/{id}/config/backups", get(backups))
        .route("/network/config-backups/{id}", get(backup_show))
        .route("/network/config-backups/{id}/restore", post(restore))
}

async fn list(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    List(q): List,
) -> Result<Reply<Vec<Device>>> {
    super::list(&app, q).await.map(Reply::page)
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Json(req): Json<NewDevice>,
) -> Result<Reply<Device>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

async fn show(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
) -> Result<Reply<Device>> {
    super::get(&app, &id).await.map(Reply::ok)
}

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

async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

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

async fn disconnect(
    State(app): State<AppState>,
    _: Can<perm::NetworkExecute>,
    Path(id): Path<String>,
) -> Result<Reply<Device>> {
    super::ops::disconnect(&app, &id).await.map(Reply::ok)
}

async fn status(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
) -> Result<Reply<SessionStatus>> {
    super::ops::status(&app, &id).await.map(Reply::ok)
}

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
#[derive(Debug, Serialize)]
pub struct CommandsReply {
    /// One result per command, in order.
    pub results: Vec<CommandResult>,
    /// When the first command was sent (RFC 3339).
    pub executed_at: String,
}

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

async fn config_commit(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<CommitRequest>,
) -> Result<Reply<Value>> {
    let actor = Actor::from(&who);
    let a = app.clone();
    app.to_completion(async move { super::changes::commit(&a, &actor, &id, req).await })
        .await
        .map(Reply::ok)
}

async fn config_rollback(
    State(app): State<AppState>,
    Can(who, _): Can<perm::NetworkWrite>,
    Path(id): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> Result<Reply<Value>> {
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

async fn backups(
    State(app): State<AppState>,
    _: Can<perm::NetworkRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<ConfigBackup>>> {
    super::history::list(&app, &id, q).await.map(Reply::page)
}

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
