//! `/api/v1/backups…`: create (202), list, get, delete, download, restore.
//! Reading needs `backups:read`; creating, deleting and downloading `backups:write`;
//! restoring and putting the master key into an archive `backups:admin`.

use super::Backup;
use super::model::{BackupRequest, RestoreRequest, ScheduleRequest};
use super::restore::Report;
use super::schedule::{self, Schedule, ScheduleSpec};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::Result;
use crate::http::auth::Can;
use crate::http::auth::perm::{BackupsAdmin, BackupsRead, BackupsWrite};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The backups and backup schedules routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, delete_one))
        .routes(routes!(download))
        .routes(routes!(restore))
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, put_schedule, delete_schedule))
}

crate::list_params!(
    /// Query of `GET /backups`.
    BackupFilters,
    super::store::LIST
);

/// Start a backup in the background (202, status `queued`). Permission: `backups:write`
/// (`include_master_key` also needs `backups:admin`).
#[utoipa::path(post, path = "/backups", tag = "backups", request_body = BackupRequest,
    responses((status = 202, description = "The backup, queued", body = Envelope<Backup>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: an unknown service"),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: not enough free space (nothing recorded); `DOCKER_UNAVAILABLE`: locating named volumes")))]
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

/// List backups, newest first by default. Permission: `backups:read`.
#[utoipa::path(get, path = "/backups", tag = "backups", params(BackupFilters),
    responses((status = 200, description = "One page of backups", body = Envelope<Vec<Backup>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    List(q): List,
) -> Result<Reply<Vec<Backup>>> {
    super::list(&app, q).await.map(Reply::page)
}

/// One backup, with its progress and, once completed, its manifest. Permission: `backups:read`.
#[utoipa::path(get, path = "/backups/{id}", tag = "backups", params(("id" = String, Path, description = "Backup id (`bkp_…`)")),
    responses((status = 200, description = "The backup", body = Envelope<Backup>)))]
async fn get_one(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    Path(id): Path<String>,
) -> Result<Reply<Backup>> {
    super::get(&app, &id).await.map(Reply::ok)
}

/// Delete a backup: its archive file and its row. Permission: `backups:write`.
#[utoipa::path(delete, path = "/backups/{id}", tag = "backups", params(("id" = String, Path, description = "Backup id (`bkp_…`)")),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "`CONFLICT`: the backup is queued or running, or is the base of an incremental backup")))]
async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// Download a completed backup's archive. Permission: `backups:write`.
///
/// Streams the archive (never buffered whole) with `Content-Length`,
/// `X-Checksum-SHA256` (hex) and `Digest: sha-256=<base64>` (RFC 3230).
#[utoipa::path(get, path = "/backups/{id}/download", tag = "backups", params(("id" = String, Path, description = "Backup id (`bkp_…`)")),
    responses((status = 200, description = "The archive (`<id>.tar[.zst][.age]`), not the envelope",
            content_type = "application/octet-stream", body = String,
            headers(("content-length" = u64, description = "Archive size in bytes"),
                ("content-disposition" = String, description = "`attachment; filename=\"<file_name>\"`"),
                ("x-checksum-sha256" = String, description = "Hex SHA-256 of the archive"),
                ("digest" = String, description = "`sha-256=<base64>` (RFC 3230)"))),
        (status = 409, description = "`CONFLICT`: the backup is not completed")))]
async fn download(
    State(app): State<AppState>,
    _: Can<BackupsWrite>,
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

/// Restore a completed backup online (or report what it would change with `dry_run`).
/// Permission: `backups:admin`.
#[utoipa::path(post, path = "/backups/{id}/restore", tag = "backups", params(("id" = String, Path, description = "Backup id (`bkp_…`)")), request_body = RestoreRequest,
    responses((status = 200, description = "What the restore changed (or would change)", body = Envelope<Report>),
        (status = 409, description = "`CONFLICT`: the backup is not completed, or a backup or restore is in progress"),
        (status = 412, description = "`PRECONDITION_FAILED`: archive damaged or undecryptable, no database, newer schema, another master key, or an incremental base missing"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn restore(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsAdmin>,
    Path(id): Path<String>,
    Json(req): Json<RestoreRequest>,
) -> Result<Reply<Report>> {
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

/// List backup schedules, oldest first. Permission: `backups:read`.
#[utoipa::path(get, path = "/backups/schedules", tag = "backups", params(crate::http::openapi::Paging),
    responses((status = 200, description = "One page of schedules", body = Envelope<Vec<Schedule>>)))]
async fn list_schedules(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    List(q): List,
) -> Result<Reply<Vec<Schedule>>> {
    schedule::list(&app, q).await.map(Reply::page)
}

/// Create a backup schedule. Permission: `backups:write` (`include_master_key` also
/// needs `backups:admin`).
#[utoipa::path(post, path = "/backups/schedules", tag = "backups", request_body = ScheduleRequest,
    responses((status = 201, description = "The schedule", body = Envelope<Schedule>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken")))]
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

/// One backup schedule. Permission: `backups:read`.
#[utoipa::path(get, path = "/backups/schedules/{id}", tag = "backups", params(("id" = String, Path, description = "Schedule id (`bks_…`) or name")),
    responses((status = 200, description = "The schedule", body = Envelope<Schedule>)))]
async fn get_schedule(
    State(app): State<AppState>,
    _: Can<BackupsRead>,
    Path(id): Path<String>,
) -> Result<Reply<Schedule>> {
    schedule::get(&app, &id).await.map(Reply::ok)
}

/// Replace a backup schedule (fields not sent take their defaults). Permission:
/// `backups:write` (`include_master_key` also needs `backups:admin`).
#[utoipa::path(put, path = "/backups/schedules/{id}", tag = "backups", params(("id" = String, Path, description = "Schedule id (`bks_…`) or name")), request_body = ScheduleRequest,
    responses((status = 200, description = "The schedule, `next_run_at` recomputed", body = Envelope<Schedule>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken")))]
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

/// Delete a backup schedule (its backups stay). Permission: `backups:write`.
#[utoipa::path(delete, path = "/backups/schedules/{id}", tag = "backups", params(("id" = String, Path, description = "Schedule id (`bks_…`) or name")),
    responses((status = 204, description = "Deleted")))]
async fn delete_schedule(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    schedule::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}
