//! `/api/v1/backups…`: create (202), list, get, delete, download, restore.
//! Reading needs `backups:read`; creating, deleting and downloading `backups:write`;
//! restoring and putting the master key into an archive `backups:admin`.

use super::schedule::{self, RunOptions, Schedule, ScheduleSpec};
use super::{Backup, BackupOptions, BackupType};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
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
use serde::Deserialize;

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

/// `POST /backups` body. Defaults: full, include_data and include_config true,
/// include_logs false, compress true, encrypt false.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub r#type: Option<BackupType>,
    pub include_data: Option<bool>,
    pub include_config: Option<bool>,
    pub include_logs: Option<bool>,
    pub include_master_key: Option<bool>,
    pub services: Option<Vec<String>>,
    pub pause_services: Option<bool>,
    pub compress: Option<bool>,
    pub encrypt: Option<bool>,
    pub description: Option<String>,
    /// age passphrase (at least 12 characters); never stored.
    pub passphrase: Option<String>,
    /// age X25519 recipient (`age1…`).
    pub recipient: Option<String>,
}

impl CreateRequest {
    /// The options, with defaults filled in.
    pub fn options(&self) -> BackupOptions {
        let d = BackupOptions::default();
        BackupOptions {
            r#type: self.r#type.unwrap_or(d.r#type),
            include_data: self.include_data.unwrap_or(d.include_data),
            include_config: self.include_config.unwrap_or(d.include_config),
            include_logs: self.include_logs.unwrap_or(d.include_logs),
            include_master_key: self.include_master_key.unwrap_or(d.include_master_key),
            services: self.services.clone().unwrap_or_default(),
            pause_services: self.pause_services.unwrap_or(d.pause_services),
            compress: self.compress.unwrap_or(d.compress),
            encrypt: self.encrypt.unwrap_or(d.encrypt),
            description: self.description.clone().unwrap_or_default(),
        }
    }
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsWrite>,
    Json(req): Json<CreateRequest>,
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

/// `POST /backups/{id}/restore` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Report what would change and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Restore the database (default true).
    pub include_data: Option<bool>,
    /// The daemon configuration comes from its config file; restoring it online is
    /// refused (use the archive's `config/mcpd.json` by hand).
    pub include_config: Option<bool>,
    /// Restore the volumes of these services (ids or names): they are stopped, their
    /// volumes replaced, and started again if they were meant to run.
    pub services: Option<Vec<String>>,
    /// Opens a passphrase-encrypted archive (else `backups.passphrase_file`).
    pub passphrase: Option<String>,
    /// Opens a recipient-encrypted archive (else `backups.identity_file`).
    pub identity: Option<String>,
}

async fn restore(
    State(app): State<AppState>,
    Can(who, _): Can<BackupsAdmin>,
    Path(id): Path<String>,
    Json(req): Json<RestoreRequest>,
) -> Result<Reply<super::restore::Report>> {
    let services = req.services.unwrap_or_default();
    let data = req.include_data.unwrap_or(true);
    if !data && services.is_empty() {
        return Err(Error::field(
            "include_data",
            "nothing to restore: include_data is false and no services are listed",
        ));
    }
    if req.include_config == Some(true) {
        return Err(Error::field(
            "include_config",
            "the daemon configuration is read from its config file; copy config/mcpd.json from the archive by hand",
        ));
    }
    let unseal = super::unseal_for(&app, req.passphrase, req.identity)?;
    let scope = super::RestoreScope {
        data,
        services,
        dry_run: req.dry_run,
    };
    super::restore_online(&app, &Actor::from(&who), &id, unseal, scope)
        .await
        .map(Reply::ok)
}

/// `POST /backups/schedules` and `PUT /backups/schedules/{id}` body: `name` and
/// `cron_expression` required; `timezone` defaults to UTC, `enabled` to true, the
/// backup options to those of `POST /backups`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    pub name: Option<String>,
    pub cron_expression: Option<String>,
    pub timezone: Option<String>,
    pub retention: Option<String>,
    pub keep_last: Option<u32>,
    pub enabled: Option<bool>,
    pub r#type: Option<BackupType>,
    pub include_data: Option<bool>,
    pub include_config: Option<bool>,
    pub include_logs: Option<bool>,
    pub include_master_key: Option<bool>,
    pub services: Option<Vec<String>>,
    pub pause_services: Option<bool>,
    pub compress: Option<bool>,
    pub encrypt: Option<bool>,
    pub description: Option<String>,
    /// age X25519 recipient for encrypted runs (else the configured one).
    pub recipient: Option<String>,
}

impl ScheduleRequest {
    fn spec(self) -> Result<ScheduleSpec> {
        let backup = CreateRequest {
            r#type: self.r#type,
            include_data: self.include_data,
            include_config: self.include_config,
            include_logs: self.include_logs,
            include_master_key: self.include_master_key,
            services: self.services,
            pause_services: self.pause_services,
            compress: self.compress,
            encrypt: self.encrypt,
            description: self.description,
            passphrase: None,
            recipient: None,
        }
        .options();
        Ok(ScheduleSpec {
            name: self.name.ok_or_else(|| Error::field("name", "required"))?,
            cron_expression: self
                .cron_expression
                .ok_or_else(|| Error::field("cron_expression", "required"))?,
            timezone: self.timezone.unwrap_or_else(|| "UTC".into()),
            options: RunOptions {
                backup,
                recipient: self.recipient,
            },
            retention: self.retention,
            keep_last: self.keep_last,
            enabled: self.enabled.unwrap_or(true),
        })
    }
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
    let spec = req.spec()?;
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
    let spec = req.spec()?;
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
