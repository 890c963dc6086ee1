//! The middleware that counts every HTTP request under its route template
//! ([`axum::extract::MatchedPath`], e.g. `/api/v1/services/{id}`; `unmatched` when no
//! route matched), its method and status, and how long the answer took to its head.

use crate::app::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// The method as a bounded label value (`other` for extension methods).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records the request in [`crate::app::App::metrics`].
pub async fn middleware(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    app.metrics.record_http(
        route.as_deref().unwrap_or("unmatched"),
        method,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}
