//! `/api/v1/images…`:
//!
//! - `GET /images` — list (filters `reference`, `tag`, `id`; sort `created_at`,
//!   `size_bytes`, `id`), permission `images:read`.
//! - `GET /images/{reference}` — inspect, `images:read`.
//! - `POST /images/load` — body is a `docker save` archive (`Content-Type:
//!   application/x-tar`, `application/octet-stream` or a gzip type), streamed to the
//!   engine and capped by `docker.max_image_upload_bytes` rather than the JSON body
//!   limit; 201 with `{references, image_ids, size_bytes}`, `images:write`.
//! - `POST /images/pull {image, tag?}` — 200 with `{reference, id, status}`, `images:write`.
//! - `DELETE /images/{reference}?force=` — 204, `images:write`.
//!
//! `{reference}` is the rest of the path, slashes included (`/images/mcpd-test/busybox:1`);
//! a percent-encoded reference (`mcpd-test%2Fbusybox%3A1`) works too.

use super::{Image, ImageDetail, ImageRef, load, pull, remove};
use crate::app::{App, AppState};
use crate::audit::{self, Actor, Entry};
use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ImagesRead, ImagesWrite};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

/// The images routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images", get(list))
        .route("/images/load", post(load_archive))
        .route("/images/pull", post(pull_image))
        .route("/images/{*reference}", get(inspect).delete(delete))
}

/// Media types accepted for an image archive upload.
const ARCHIVE_TYPES: &[&str] = &[
    "application/x-tar",
    "application/tar",
    "application/octet-stream",
    "application/gzip",
    "application/x-gzip",
];

async fn list(
    State(app): State<AppState>,
    Can(_, _): Can<ImagesRead>,
    List(q): List,
) -> Result<Reply<Vec<Image>>> {
    Ok(Reply::page(super::list(&app, &q).await?))
}

async fn inspect(
    State(app): State<AppState>,
    Can(_, _): Can<ImagesRead>,
    Path(reference): Path<String>,
) -> Result<Reply<ImageDetail>> {
    let reference = ImageRef::parse("reference", &reference)?;
    Ok(Reply::ok(super::inspect(&app, &reference).await?))
}

async fn load_archive(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<load::Loaded>> {
    let media = crate::http::extract::media_type(&headers);
    if !media.as_deref().is_some_and(|m| ARCHIVE_TYPES.contains(&m)) {
        return Err(Error::validation(
            "expected Content-Type: application/x-tar (the output of `docker save`)",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let result = load::load(&app, body.into_data_stream(), declared).await;
    let details = match &result {
        Ok(l) => {
            json!({"references": l.references, "image_ids": l.image_ids, "size_bytes": l.size_bytes})
        }
        Err(e) => json!({"error_code": e.code}),
    };
    audit_image(&app, &who, "images.load", None, result.is_ok(), details).await;
    Ok(Reply::created(result?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullRequest {
    image: String,
    tag: Option<String>,
}

async fn pull_image(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    Json(req): Json<PullRequest>,
) -> Result<Reply<pull::Pulled>> {
    let wanted = pull::Target::parse(&req.image, req.tag.as_deref())?;
    let result = pull::pull(&app, &wanted).await;
    let target = match &result {
        Ok(p) => p.reference.clone(),
        Err(_) => wanted.reference(),
    };
    let details = match &result {
        Ok(p) => json!({"id": p.id}),
        Err(e) => json!({"error_code": e.code}),
    };
    let ok = result.is_ok();
    audit_image(&app, &who, "images.pull", Some(&target), ok, details).await;
    Ok(Reply::ok(result?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    force: Option<String>,
}

async fn delete(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    Path(reference): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Response> {
    let force = match q.force.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::field("force", "must be true or false")),
    };
    let reference = ImageRef::parse("reference", &reference)?;
    let result = remove::remove(&app, &reference, force).await;
    let details = match &result {
        Ok(r) => json!({"untagged": r.untagged, "deleted": r.deleted, "force": force}),
        Err(e) => json!({"error_code": e.code, "force": force}),
    };
    let (target, ok) = (Some(reference.as_str()), result.is_ok());
    audit_image(&app, &who, "images.delete", target, ok, details).await;
    result?;
    Ok(no_content())
}

/// Audits an image change (there is no database row to share a transaction with).
async fn audit_image(
    app: &App,
    who: &Principal,
    action: &'static str,
    target: Option<&str>,
    success: bool,
    details: serde_json::Value,
) {
    let entry = Entry::new(action)
        .on_any("image", target)
        .details(details)
        .succeeded(success);
    audit::record_alone(&app.store, Actor::from(who), entry).await;
}
