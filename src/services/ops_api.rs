//! `/api/v1/services/{id}/logs | exec | health | stats`: thin handlers over
//! [`super::ops`]. `{id}` is a service id or name.
//!
//! - `GET  …/logs?tail=&since=&timestamps=&follow=&replica=` — `text/plain`; with
//!   `follow=true` a chunked stream until the client leaves or the container stops.
//!   `services:read`.
//! - `POST …/exec {command, timeout_s?, replica?, env?, workdir?}` →
//!   `{exit_code, stdout, stderr, duration_ms, truncated, container}`. `services:execute`,
//!   audited as `services.exec` (program name and exit code only: arguments and env may
//!   hold secrets).
//! - `GET  …/health`, `GET …/stats`. `services:read`.

use super::ops::{
    self, exec::ExecRequest, exec::ExecResult, health::ServiceHealth, stats::ServiceStats,
};
use crate::app::{App, AppState};
use crate::audit::{self, Actor};
use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ServicesExecute, ServicesRead};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{Json, Path};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The operations routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logs))
        .routes(routes!(exec))
        .routes(routes!(health))
        .routes(routes!(stats))
}

/// Query of `GET /services/{id}/logs`, for the OpenAPI document (the handler reads the
/// raw query with [`ops::logs::LogOptions::parse`]); unknown parameters are a 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Last lines per container, 0–10000 (default 100).
    #[param(minimum = 0, maximum = 10000)]
    pub tail: Option<u32>,
    /// Seed 003's name for `tail`.
    #[param(minimum = 0, maximum = 10000)]
    pub lines: Option<u32>,
    /// Only entries at or after this time: RFC 3339 or Unix seconds (0 to 2147483647).
    #[param(example = "2024-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// Only entries before this time: RFC 3339 or Unix seconds (0 to 2147483647).
    #[param(example = "2024-01-01T00:00:00Z")]
    pub until: Option<String>,
    /// `true`/`1` or `false`/`0` (default false): prefix each line with Docker's RFC 3339
    /// timestamp.
    #[param(value_type = Option<String>, pattern = "^(true|false|1|0)$")]
    pub timestamps: Option<String>,
    /// `true`/`1` or `false`/`0` (default false): keep streaming new lines until the
    /// client leaves, the container stops or the daemon shuts down.
    #[param(value_type = Option<String>, pattern = "^(true|false|1|0)$")]
    pub follow: Option<String>,
    /// Only this replica's container (from 1).
    #[param(minimum = 1)]
    pub replica: Option<u32>,
}

/// The containers' merged stdout and stderr as plain text (not the JSON envelope); with
/// several containers and no `replica` each line is prefixed `mcpd-<service>-<n> | `;
/// `follow=true` streams. Permission: `services:read`.
#[utoipa::path(get, path = "/services/{id}/logs", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name"), LogParams),
    responses((status = 200, description = "The log (`text/plain; charset=utf-8`, `Cache-Control: no-store`); a chunked stream with `follow=true`; a one-shot read is cut at 16 MiB with a final note line",
            content_type = "text/plain", body = String),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn logs(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| Error::validation(format!("malformed query string: {e}")))?;
    let opts = ops::logs::LogOptions::parse(&pairs)?;
    let stream = ops::logs::logs(&app, &id, &opts).await?;
    let mut resp = Body::from_stream(stream).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Followed logs must reach the client as they come, not when a proxy's buffer fills.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

/// Run a command in one of the service's containers and return its exit code and output
/// (any exit code is a 200). Permission: `services:execute`.
#[utoipa::path(post, path = "/services/{id}/exec", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")), request_body = ExecRequest,
    responses((status = 200, description = "What the command did", body = Envelope<ExecResult>),
        (status = 409, description = "`CONFLICT`: no running container"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the command did not finish within `timeout_s`")))]
async fn exec(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesExecute>,
    Path(id): Path<String>,
    Json(req): Json<ExecRequest>,
) -> Result<Reply<ExecResult>> {
    let result = ops::exec::exec(&app, &id, &req).await;
    audit_exec(&app, &who, &id, &req, &result).await;
    Ok(Reply::ok(result?))
}

/// Records the exec (success = the command ran, whatever its exit code). An audit
/// failure is logged; the command has already run and its result is returned.
async fn audit_exec(
    app: &App,
    who: &Principal,
    service: &str,
    req: &ExecRequest,
    result: &Result<ExecResult>,
) {
    let actor = Actor::from(who);
    let service = match result {
        Ok(r) => r.service_id.clone(),
        Err(_) => service.to_string(),
    };
    let program = req.command.first().cloned().unwrap_or_default();
    let (success, details) = match result {
        Ok(r) => (
            true,
            json!({"program": program, "container": r.container, "exit_code": r.exit_code, "duration_ms": r.duration_ms}),
        ),
        Err(e) => (false, json!({"program": program, "error_code": e.code})),
    };
    let outcome = audit::Entry::new("services.exec")
        .on("service", service)
        .details(details)
        .succeeded(success);
    audit::record_alone(&app.store, actor, outcome).await;
}

/// Docker's health check results per container, and overall. Permission: `services:read`.
#[utoipa::path(get, path = "/services/{id}/health", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service's health", body = Envelope<ServiceHealth>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn health(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<ServiceHealth>> {
    Ok(Reply::ok(ops::health::health(&app, &id).await?))
}

/// One resource usage sample of every running container, and their sums.
/// Permission: `services:read`.
#[utoipa::path(get, path = "/services/{id}/stats", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service's resource usage", body = Envelope<ServiceStats>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn stats(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<ServiceStats>> {
    Ok(Reply::ok(ops::stats::stats(&app, &id).await?))
}
