//! `X-Request-ID`: echoed when the client sent a sane one, else generated (`req_…`),
//! and made the current request id ([`crate::telemetry::request_id`]) for the rest of
//! the stack.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Request and response header carrying the request id (`X-Request-ID`).
pub const HEADER: &str = "x-request-id";
/// Longest client-supplied id we echo, in bytes.
const MAX_CLIENT_ID_LEN: usize = 128;

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware: runs the rest of the stack inside the request id's scope and sets the
/// response header.
pub async fn middleware(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| crate::ids::new_id("req"));
    // One span per request: its fields (request id, method, path, and the user once
    // authenticated) go with every log line of the request, as journald fields under
    // systemd.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        user = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let mut resp = crate::telemetry::request_id::scope(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::debug!(
            status = resp.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "request finished"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}
