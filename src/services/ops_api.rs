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
use crate::http::envelope::Reply;
use crate::http::extract::{Json, Path};
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

/// The operations routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/{id}/logs", get(logs))
        .route("/services/{id}/exec", post(exec))
        .route("/services/{id}/health", get(health))
        .route("/services/{id}/stats", get(stats))
}

async fn logs(
    State(app): State<AppState>,
    Can(_, _): Can<ServicesRead>,
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

async fn health(
    State(app): State<AppState>,
    Can(_, _): Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<ServiceHealth>> {
    Ok(Reply::ok(ops::health::health(&app, &id).await?))
}

async fn stats(
    State(app): State<AppState>,
    Can(_, _): Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<ServiceStats>> {
    Ok(Reply::ok(ops::stats::stats(&app, &id).await?))
}
