//! `X-Request-ID`: echoed when the client sent a sane one, else generated (`req_…`).
//! The id is kept in a task-local for the life of the request so that the envelope and
//! error bodies, written deep inside handlers, carry it without threading it through.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
/// Longest client-supplied id we echo, in bytes.
const MAX_CLIENT_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: String;
}

std::thread_local! {
    /// The request id while a request's blocking work (database closures) runs on the
    /// blocking pool, where the task-local is not visible.
    static BLOCKING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The current request's id, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .ok()
        .or_else(|| BLOCKING.with(|b| b.borrow().clone()))
        .unwrap_or_else(|| crate::ids::new_id("req"))
}

/// The current request's id, if inside one (to carry into blocking work).
pub fn in_request() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// `fut` in the current request's id scope and tracing span, for work spawned off the
/// request's own task (where neither would be visible).
pub fn propagate<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let span = tracing::Span::current();
    let id = in_request();
    async move {
        match id {
            Some(id) => REQUEST_ID.scope(id, fut).await,
            None => fut.await,
        }
    }
    .instrument(span)
}

/// Runs blocking `f` with `id` visible to [`current`] on this thread.
pub fn with_blocking<R>(id: Option<String>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BLOCKING.with(|b| *b.borrow_mut() = None);
        }
    }
    BLOCKING.with(|b| *b.borrow_mut() = id);
    let _reset = Reset;
    f()
}

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
    let mut resp = REQUEST_ID
        .scope(id.clone(), next.run(req))
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
