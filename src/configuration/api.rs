//! `/api/v1/config…`. Responses for one entry carry `ETag: "<version>"`; `PUT` honours
//! `If-Match` with that tag (or the bare version number).

use super::{ConfigEntry, ConfigWrite, Rotation};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ConfigAdmin, ConfigRead, ConfigWrite as ConfigWritePerm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

/// The `/config` routes: list, get, put, delete, `bulk` and `rotate-key`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config", get(list))
        .route("/config/bulk", post(bulk))
        .route("/config/rotate-key", post(rotate_key))
        .route(
            "/config/{key}",
            get(get_one).put(put_one).delete(delete_one),
        )
}

async fn list(
    State(app): State<AppState>,
    _: Can<ConfigRead>,
    List(q): List,
) -> Result<Reply<Vec<ConfigEntry>>> {
    super::list(&app, q).await.map(Reply::page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetParams {
    #[serde(default)]
    reveal: bool,
}

fn with_etag(mut r: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn get_one(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigRead>,
    Path(key): Path<String>,
    Query(p): Query<GetParams>,
) -> Result<Response> {
    if p.reveal {
        who.require(Permission(Domain::Config, Action::Admin))?;
    }
    let e = super::get(&app, &Actor::from(&who), &key, p.reveal).await?;
    let v = e.version;
    Ok(with_etag(Reply::ok(e).into_response(), v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRequest {
    value: Value,
    secret: Option<bool>,
    scope: Option<String>,
    description: Option<String>,
    /// Restart the running services whose env refers to this key, so they get the new
    /// value now rather than at their next restart.
    #[serde(default)]
    restart_dependents: bool,
}

/// `If-Match: "3"` (or `3`) → 3. `*` means "any existing version" and is not supported
/// beyond that: it is treated as absent.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    s.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| Error::field("If-Match", "must be the entry's ETag, e.g. \"3\""))
}

async fn put_one(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigWritePerm>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(req): Json<PutRequest>,
) -> Result<Response> {
    let expected = if_match(&headers)?;
    if req.restart_dependents && !who.can(Permission(Domain::Services, Action::Write)) {
        return Err(Error::forbidden("restart_dependents needs services:write"));
    }
    let w = ConfigWrite {
        key,
        value: req.value,
        secret: req.secret,
        scope: req.scope,
        description: req.description,
    };
    let actor = Actor::from(&who);
    let (written, created) =
        super::write_one(&app, &actor, w, expected, req.restart_dependents).await?;
    let v = written.entry.version;
    let r = if created {
        Reply::created(written)
    } else {
        Reply::ok(written)
    };
    Ok(with_etag(r.into_response(), v))
}

async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigWritePerm>,
    Path(key): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &key).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
struct BulkEntry {
    key: String,
    value: Value,
    secret: Option<bool>,
    scope: Option<String>,
    description: Option<String>,
}
crate::json::object_only!(BulkEntry, "a configuration entry object");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    /// Seed 003's name for the list.
    configs: Vec<BulkEntry>,
}

async fn bulk(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigWritePerm>,
    Json(req): Json<BulkRequest>,
) -> Result<Reply<Vec<ConfigEntry>>> {
    let writes = req
        .configs
        .into_iter()
        .map(|e| ConfigWrite {
            key: e.key,
            value: e.value,
            secret: e.secret,
            scope: e.scope,
            description: e.description,
        })
        .collect();
    super::bulk(&app, &Actor::from(&who), writes)
        .await
        .map(Reply::ok)
}

async fn rotate_key(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigAdmin>,
) -> Result<Reply<Rotation>> {
    super::rotate_key(&app, &Actor::from(&who))
        .await
        .map(Reply::ok)
}
