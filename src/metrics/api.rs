//! `GET /api/v1/stats`, `GET /api/v1/metrics` and `GET /api/v1/metrics/prometheus`
//! (each `system:read`), and the plain `/metrics` router served without auth on
//! `metrics.listen` (as node exporters do).

use super::snapshot::Snapshot;
use super::stats::Stats;
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::SystemRead};
use crate::http::envelope::Reply;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/metrics/prometheus", get(prometheus))
}

/// The router of `metrics.listen`: `GET /metrics` without auth, nothing else.
pub fn exporter(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .fallback(crate::http::not_found)
        .with_state(app)
}

async fn stats(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Reply<Stats>> {
    Ok(Reply::ok(super::stats::stats(&app).await?))
}

async fn metrics(State(app): State<AppState>, _: Can<SystemRead>) -> Reply<Snapshot> {
    Reply::ok(super::snapshot::snapshot(&app).await)
}

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
