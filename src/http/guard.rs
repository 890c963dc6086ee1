//! What every answer gets, whichever layer made it:
//!
//! - **The error envelope.** Handlers answer errors through [`crate::error::Error`],
//!   but some answers are made below them: axum's own extractor rejections (a body over
//!   the limit read as raw bytes answers `413` in plain text), tower layers, and the MCP
//!   gateway's transport (`406`/`415` in plain text). An error answer (status ≥ 400)
//!   whose body is not JSON is replaced by the envelope with the code its status
//!   stands for ([`super::error::code_for_status`]), keeping its status and headers
//!   (`Allow`, `Retry-After`, `WWW-Authenticate`). The plain text is kept as the
//!   message for 4xx answers; 5xx answers say only what their status says.
//! - **An honest connection.** An answer sent before the request body was read to its
//!   end (401, 403, 404, 413, … refuse before reading) leaves unread bytes on an
//!   HTTP/1.1 connection, which hyper then drops without telling the client, and the
//!   client's next request on it fails. Such answers carry `Connection: close`
//!   (RFC 9112 §9.6), so the client opens a new connection instead.
//!
//! Answers that hyper makes itself for requests it cannot parse never reach this
//! layer; [`super::conn`] puts those into the envelope.

use super::error::{code_for_status, with_status};
use super::extract::{is_json, media_type};
use crate::error::Error;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

/// Longest plain-text error body kept as the envelope's message, in bytes.
const MAX_MESSAGE_BYTES: usize = 512;

/// The middleware: tracks whether the request body was read to its end, then puts a
/// non-JSON error answer into the envelope and closes HTTP/1 connections left with
/// unread body bytes.
pub async fn middleware(req: Request, next: Next) -> Response {
    let http1 = req.version() <= Version::HTTP_11;
    let (parts, body) = req.into_parts();
    let read = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Tracked {
        inner: body,
        read: read.clone(),
    });
    let resp = next.run(Request::from_parts(parts, body)).await;
    let mut resp = into_envelope(resp).await;
    if http1 && !read.load(Ordering::Acquire) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A request body that records when it has been read to its end.
struct Tracked {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `resp` itself when it is a success or already JSON; else the envelope in its place.
async fn into_envelope(resp: Response) -> Response {
    let status = resp.status();
    if status.as_u16() < 400 || media_type(resp.headers()).is_some_and(|m| is_json(&m)) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let code = code_for_status(status);
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES * 8).await {
        Ok(b) if status.is_client_error() => String::from_utf8_lossy(&b).trim().to_string(),
        _ => String::new(),
    };
    let message = match status.as_u16() {
        413 => "request body is larger than the configured limit".to_string(),
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
        _ => truncate(&text, MAX_MESSAGE_BYTES),
    };
    let fresh = with_status(Error::new(code, message), status);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, fresh.into_body())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use tower::ServiceExt;

    async fn app() -> axum::Router {
        async fn raw(_: Bytes) -> &'static str {
            "ok"
        }
        async fn refuse() -> Response {
            (
                StatusCode::NOT_ACCEPTABLE,
                [("allow", "POST")],
                "Not Acceptable: use SSE",
            )
                .into_response()
        }
        async fn early() -> Error {
            Error::new(crate::error::ErrorCode::Unauthorized, "no credentials")
        }
        axum::Router::new()
            .route("/raw", post(raw))
            .route("/refuse", post(refuse))
            .route("/early", post(early))
            .layer(axum::extract::DefaultBodyLimit::max(16))
            .layer(axum::middleware::from_fn(middleware))
    }

    async fn send(path: &str, body: &'static str) -> (Response, serde_json::Value) {
        let req = Request::post(path).body(Body::from(body)).unwrap();
        let resp = app().await.oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (Response::from_parts(parts, Body::empty()), v)
    }

    #[tokio::test]
    async fn plain_text_errors_become_the_envelope() {
        let (resp, v) = send("/raw", "more than sixteen bytes of body").await;
        assert_eq!(resp.status(), 413);
        assert_eq!(v["error"]["code"], "PAYLOAD_TOO_LARGE", "{v}");
        assert!(v["error"]["request_id"].is_string(), "{v}");

        let (resp, v) = send("/refuse", "").await;
        assert_eq!(resp.status(), 406);
        assert_eq!(resp.headers()["allow"], "POST");
        assert_eq!(v["error"]["code"], "VALIDATION_ERROR", "{v}");
        assert_eq!(v["error"]["message"], "Not Acceptable: use SSE");
    }

    #[tokio::test]
    async fn unread_bodies_close_the_connection_and_read_ones_do_not() {
        let (resp, _) = send("/early", "a body nobody reads").await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
        let (resp, _) = send("/raw", "small").await;
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get(header::CONNECTION).is_none());
        let (resp, _) = send("/early", "").await;
        assert!(resp.headers().get(header::CONNECTION).is_none());
    }
}
