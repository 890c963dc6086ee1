//! `GET /api/v1/health` (no auth) and `GET /api/v1/info` (`system:read`).

use super::{Health, Info};
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::SystemRead};
use crate::http::envelope::{Envelope, Reply};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The system routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(info))
}

/// The daemon's health, in the success envelope: 200, or 503 when the database or the
/// vault check fails. No credentials.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, description = "Serving (`status` `ok` or `degraded`)", body = Envelope<Health>),
        (status = 503, description = "Down (`status` `down`): the database or the vault check fails; \
            the success envelope, not an error", body = Envelope<Health>)))]
async fn health(State(app): State<AppState>) -> Response {
    let h: Health = super::health(&app).await;
    let code = if h.is_down() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut resp = Reply::ok(h).into_response();
    *resp.status_mut() = code;
    resp
}

/// Version and build of mcpd and of the Docker engine. Permission: `system:read`.
#[utoipa::path(get, path = "/info", tag = "system",
    responses((status = 200, description = "Build information", body = Envelope<Info>)))]
async fn info(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Reply<Info>> {
    Ok(Reply::ok(super::info(&app).await))
}
