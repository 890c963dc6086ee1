//! HTTP: the cross-cutting pieces every domain's `api.rs` uses (envelope, error mapping,
//! extractors, the auth extractor, request id, rate limit headers, TLS) and the answers
//! for unknown routes, wrong methods and panics. The router itself is assembled in
//! [`crate::daemon::router`], above every domain, so that nothing here imports one.

pub mod auth;
pub mod conn;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod guard;
pub mod openapi;
pub mod ratelimit;
pub mod request_id;
pub mod tls;

use crate::error::{Error, ErrorCode};
use axum::response::{IntoResponse, Response};

/// 404 for a path no route matches.
pub async fn not_found() -> Error {
    Error::new(ErrorCode::ResourceNotFound, "no such route")
}

/// 405 for a method the route does not have.
pub async fn method_not_allowed() -> Response {
    error::with_status(
        Error::validation("method not allowed on this route"),
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
    )
}

/// 500 for a handler that panicked (the panic is not shown).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Error::internal(anyhow::anyhow!("handler panicked")).into_response()
}
