//! `/api/v1/backups…`: create (202), list, get, delete, download, restore.
//! Reading needs `backups:read`; creating, deleting and downloading `backups:write`;
//! restoring and putting the master key into an archive `backups:admin`.

use super::Backup;
use super::model::{BackupRequest, RestoreRequest, ScheduleRequest};
use super::schedule::{self, Schedule, ScheduleSpec};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::Result;
use crate::http::auth::Can;
use crate::http::auth::perm::{BackupsAdmin, BackupsRead, BackupsWrite};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// The backups and backup schedules routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/backups", get(list).post(create))
        .route("/backups/{id}", get(get_one).delete(delete_one))
        .route("/backups/{id}/download", get(download))
        .route("/backups/{id}/restore", post(restore))
        .route(
            "/backups/schedules",
            get(list_schedules).post(create_schedule),
        )
        .route(
            "/backups/schedules/{id}",
            get(get_schedule).put(put_schedule).delete(delete_schedule),
        )
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Json(req): Json<BackupRequest>,
) -> Result<Reply<Backup>> {
    let opts = req.options();
    if opts.include_master_key {
        who.require(Permission(Domain::Backups, Action::Admin))?;
    }
    opts.validate()?;
    let seal = super::choose_seal(&app, opts.encrypt, req.passphrase, req.recipient)?;
    super::create(&app, &Actor::from(&who), opts, seal, None)
        .await
        .map(Reply::accepted)
}

async fn list(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    List(q): List,
) -> Result<Reply<Vec<Backup>>> {
    super::list(&app, q).await.map(Reply::page)
}

async fn get_one(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    Path(id): Path<String>,
) -> Result<Reply<Backup>> {
    super::get(&app, &id).await.map(Reply::ok)
}

async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// Streams the archive (never buffered whole) with `Content-Length`,
/// `X-Checksum-SHA256` (hex) and `Digest: sha-256=<base64>` (RFC 3230).
async fn download(
    State(app): State<AppState>,
    Can(_, _): Can<BackupsWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    let d = super::records::download(&app, &id).await?;
    let digest = d.sha256_base64().map(|b64| format!("sha-256={b64}"));
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        d.file,
        256 * 1024,
    ));
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(d.len));
    let disposition = format!("attachment; filename=\"{}\"", d.file_name);
    insert_text(h, header::CONTENT_DISPOSITION, &disposition);
    if let Some(sha) = &d.sha256 {
        insert_text(h, "x-checksum-sha256", sha);
    }
    if let Some(digest) = &digest {
        insert_text(h, "digest", digest);
    }
    Ok(r)
}

/// Sets header `name` to `value` when `value` is a valid header value.
fn insert_text(h: &mut axum::http::HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

async fn restore(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsAdmin>,
    Path(id): Path<String>,
    Json(req): Json<RestoreRequest>,
) -> Result<Reply<super::restore::Report>> {
    let scope = req.scope()?;
    let unseal = super::unseal_for(&app, req.passphrase, req.identity)?;
    super::restore_online(&app, &Actor::from(&who), &id, unseal, scope)
        .await
        .map(Reply::ok)
}

fn check_master_key(who: &crate::auth::principal::Principal, spec: &ScheduleSpec) -> Result<()> {
    if spec.options.backup.include_master_key {
        who.require(Permission(Domain::Backups, Action::Admin))?;
    }
    Ok(())
}

async fn list_schedules(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    List(q): List,
) -> Result<Reply<Vec<Schedule>>> {
    schedule::list(&app, q).await.map(Reply::page)
}

async fn create_schedule(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Json(req): Json<ScheduleRequest>,
) -> Result<Reply<Schedule>> {
    let spec = req.into_spec()?;
    check_master_key(&who, &spec)?;
    schedule::create(&app, &Actor::from(&who), spec)
        .await
        .map(Reply::created)
}

async fn get_schedule(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    Path(id): Path<String>,
) -> Result<Reply<Schedule>> {
    schedule::get(&app, &id).await.map(Reply::ok)
}

async fn put_schedule(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Path(id): Path<String>,
    Json(req): Json<ScheduleRequest>,
) -> Result<Reply<Schedule>> {
    let spec = req.into_spec()?;
    check_master_key(&who, &spec)?;
    schedule::replace(&app, &Actor::from(&who), &id, spec)
        .await
        .map(Reply::ok)
}

async fn delete_schedule(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    schedule::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}
