//! `/api/v1/config…`. Responses for one entry carry `ETag: "<version>"`; `PUT` honours
//! `If-Match` with that tag (or the bare version number).

use super::{ConfigEntry, ConfigWrite, Rotation, Written};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ConfigAdmin, ConfigRead, ConfigWrite as ConfigWritePerm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/config` routes: list, get, put, delete, `bulk` and `rotate-key`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(bulk))
        .routes(routes!(rotate_key))
        .routes(routes!(get_one, put_one, delete_one))
}

crate::list_params!(
    /// Query of `GET /config`.
    ConfigFilters,
    super::store::LIST
);

/// Configuration entries, by key by default; secret values masked. Permission: `config:read`.
#[utoipa::path(get, path = "/config", tag = "configuration",
    params(ConfigFilters,
        ("service" = Option<String>, Query, description = "Only entries scoped to this service (id or name)")),
    responses((status = 200, description = "One page of config entries (`scope=service` matches every service scope)",
        body = Envelope<Vec<ConfigEntry>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<ConfigRead>,
    List(q): List,
) -> Result<Reply<Vec<ConfigEntry>>> {
    super::list(&app, q).await.map(Reply::page)
}

/// Query of `GET /config/{key}`; any other parameter is a 400.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct GetParams {
    /// Open a secret's value (needs `config:admin`; audited). Default `false`.
    #[serde(default)]
    reveal: bool,
}

fn with_etag(mut r: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// One entry, with `ETag: "<version>"`; `reveal=true` opens a secret. Permission:
/// `config:read` (with `reveal=true` also `config:admin`).
#[utoipa::path(get, path = "/config/{key}", tag = "configuration",
    params(("key" = String, Path, description = "Config key"), GetParams),
    responses((status = 200, description = "The entry", body = Envelope<ConfigEntry>,
        headers(("etag" = String, description = "`\"<version>\"`")))))]
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

/// `PUT /config/{key}` body. Attributes not sent keep their stored value (for a new key:
/// not secret, `global`, `""`).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ConfigPut)]
#[serde(deny_unknown_fields)]
struct PutRequest {
    /// Any JSON value, at most 65536 bytes as JSON.
    value: Value,
    /// Seal the value; a secret stays secret unless `false` is sent.
    secret: Option<bool>,
    /// `global` or `service:<service id>`.
    scope: Option<String>,
    /// At most 1024 bytes.
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

/// Create or replace an entry; honours `If-Match`. Permission: `config:write`
/// (`restart_dependents: true` also needs `services:write`).
#[utoipa::path(put, path = "/config/{key}", tag = "configuration",
    params(("key" = String, Path, description = "Config key"),
        ("If-Match" = Option<String>, Header, description = "The version last seen: `\"3\"`, `W/\"3\"` or `3`; `*` counts as absent")),
    request_body = PutRequest,
    responses((status = 200, description = "Replaced", body = Envelope<Written>,
            headers(("etag" = String, description = "`\"<version>\"`"))),
        (status = 201, description = "Created", body = Envelope<Written>,
            headers(("etag" = String, description = "`\"<version>\"`"))),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` names another version, or the key does not exist yet"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`: with `restart_dependents`, a restart failed \
            (the new value is stored)")))]
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

/// Delete an entry. Permission: `config:write`.
#[utoipa::path(delete, path = "/config/{key}", tag = "configuration",
    params(("key" = String, Path, description = "Config key")),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "`CONFLICT`: services' env still refers to the key")))]
async fn delete_one(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigWritePerm>,
    Path(key): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &key).await?;
    Ok(no_content())
}

/// One item of `POST /config/bulk`: same rules as `PUT /config/{key}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ConfigBulkEntry)]
#[serde(deny_unknown_fields, remote = "Self")]
struct BulkEntry {
    /// Config key.
    key: String,
    /// Any JSON value, at most 65536 bytes as JSON.
    value: Value,
    /// Seal the value.
    secret: Option<bool>,
    /// `global` or `service:<service id>`.
    scope: Option<String>,
    /// At most 1024 bytes.
    description: Option<String>,
}
crate::json::object_only!(BulkEntry, "a configuration entry object");

/// `POST /config/bulk` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ConfigBulk)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    /// Seed 003's name for the list: 1 to 500 entries with distinct keys.
    #[schema(min_items = 1, max_items = 500)]
    configs: Vec<BulkEntry>,
}

/// Write several entries, all or none. Permission: `config:write`.
#[utoipa::path(post, path = "/config/bulk", tag = "configuration", request_body = BulkRequest,
    responses((status = 200, description = "The written entries, masked (not paged)", body = Envelope<Vec<ConfigEntry>>)))]
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

/// Rotate the vault's master key and re-seal every sealed value. Permission: `config:admin`.
#[utoipa::path(post, path = "/config/rotate-key", tag = "configuration",
    responses((status = 200, description = "Rotated", body = Envelope<Rotation>),
        (status = 409, description = "`CONFLICT`: the key comes from systemd credentials and cannot be replaced in place")))]
async fn rotate_key(
    State(app): State<AppState>,
    Can(who, _): Can<ConfigAdmin>,
) -> Result<Reply<Rotation>> {
    super::rotate_key(&app, &Actor::from(&who))
        .await
        .map(Reply::ok)
}
