//! HTTP: router assembly and the cross-cutting layers (request id, body limit, rate
//! limit headers, envelope for unknown routes and panics). Domain routes live in each domain's `api.rs`.

pub mod auth;
pub mod conn;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod guard;
pub mod ratelimit;
pub mod request_id;
pub mod tls;

use crate::app::AppState;
use crate::error::{Error, ErrorCode};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};

/// The whole API under `/api/v1`, with its layers.
pub fn router(app: AppState) -> Router {
    let api = Router::new()
        .merge(crate::system::api::routes())
        .merge(crate::auth::api::routes())
        .merge(crate::users::api::routes())
        .merge(crate::services::api::routes())
        .merge(crate::services::ops_api::routes())
        .merge(crate::images::api::routes())
        .merge(crate::mcp::api::routes())
        .merge(crate::catalog::api::routes())
        .merge(crate::logs::api::routes())
        .merge(crate::usage::api::routes())
        .merge(crate::workspaces::api::routes())
        .merge(crate::mappings::api::routes())
        .merge(crate::configuration::api::routes())
        .merge(crate::audit::api::routes())
        .merge(crate::backups::api::routes());
    Router::new()
        .nest("/api/v1", api)
        .merge(crate::gateway::routes(&app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.config.server.max_body_bytes))
        .layer(axum::middleware::from_fn(ratelimit::middleware))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn(guard::middleware))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(app)
}

async fn not_found() -> Error {
    Error::new(ErrorCode::ResourceNotFound, "no such route")
}

async fn method_not_allowed() -> Response {
    error::with_status(
        Error::validation("method not allowed on this route"),
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Error::internal(anyhow::anyhow!("handler panicked")).into_response()
}
