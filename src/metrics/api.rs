//! `GET /api/v1/stats`, `GET /api/v1/metrics` and `GET /api/v1/metrics/prometheus`
//! (each `system:read`), and the plain `/metrics` router served without auth on
//! `metrics.listen` (as node exporters do).

use super::snapshot::Snapshot;
use super::stats::Stats;
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::SystemRead};
use crate::http::envelope::{Envelope, Reply};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(metrics))
        .routes(routes!(prometheus))
}

/// The router of `metrics.listen`: `GET /metrics` without auth, nothing else.
pub fn exporter(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .fallback(crate::http::not_found)
        .with_state(app)
}

/// What the database holds, counted in one read (services, MCP servers, users, keys,
/// workspaces, backups, clusters, devices, tool calls). Permission: `system:read`.
#[utoipa::path(get, path = "/stats", tag = "metrics",
    responses((status = 200, description = "The counts", body = Envelope<Stats>)))]
async fn stats(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Reply<Stats>> {
    Ok(Reply::ok(super::stats::stats(&app).await?))
}

/// A JSON snapshot of the host, the daemon's process, the last minute of HTTP traffic,
/// MCP sessions, WebSocket connections, the Docker engine and the services' containers.
/// Permission: `system:read`.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "The snapshot", body = Envelope<Snapshot>)))]
async fn metrics(State(app): State<AppState>, _: Can<SystemRead>) -> Reply<Snapshot> {
    Reply::ok(super::snapshot::snapshot(&app).await)
}

/// The Prometheus text exposition (format 0.0.4), not the envelope; the same text as
/// the exporter on `metrics.listen`. Permission: `system:read`.
#[utoipa::path(get, path = "/metrics/prometheus", tag = "metrics",
    responses((status = 200, description = "Prometheus text exposition, version 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
async fn prometheus(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Response> {
    exposition(State(app)).await
}

/// The exposition with its content type.
async fn exposition(State(app): State<AppState>) -> Result<Response> {
    let text = super::exposition::render(&app).await?;
    Ok((
        [(header::CONTENT_TYPE, super::exposition::CONTENT_TYPE)],
        text,
    )
        .into_response())
}
