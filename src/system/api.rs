//! `GET /api/v1/health` (no auth) and `GET /api/v1/info` (`system:read`).

use super::{Health, Info};
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::SystemRead};
use crate::http::envelope::Reply;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The system routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/info", get(info))
}

/// 200, or 503 when the daemon is down, with the [`Health`] in the success envelope.
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

async fn info(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Reply<Info>> {
    Ok(Reply::ok(super::info(&app).await))
}
