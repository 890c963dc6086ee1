//! Per-caller request limits on the wire (docs/api.md §1.10 "Rate limits": every
//! authenticated answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
//! `X-RateLimit-Reset`).
//!
//! The auth extractor counts each authenticated request against its caller's bucket
//! ([`count`]: the API key when one was used, else the user) and refuses one over the
//! limit with 429 `RATE_LIMIT_EXCEEDED` and `Retry-After`. The extractor cannot touch
//! the response, so [`middleware`] leaves an empty slot in the request, the extractor
//! writes the caller's standing into it, and the middleware turns that into headers on
//! whatever response goes out, error or not. Unauthenticated requests carry none.

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::ratelimit::Standing;
use crate::error::{Error, ErrorCode};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};

/// Where the extractor leaves the caller's standing for [`middleware`].
#[derive(Clone, Default)]
struct Slot(Arc<OnceLock<Standing>>);

/// Counts one request of `who` (once per request, however many extractors ask).
/// Errors: `RATE_LIMIT_EXCEEDED` with `retry_after_s` past the limit.
pub fn count(parts: &mut Parts, app: &AppState, who: &Principal) -> Result<(), Error> {
    let slot = parts.extensions.get::<Slot>().cloned();
    if slot.as_ref().is_some_and(|s| s.0.get().is_some()) {
        return Ok(());
    }
    let caller = match &who.api_key_id {
        Some(key) => format!("key:{key}"),
        None => format!("user:{}", who.user_id),
    };
    let (standing, refused) = match app.request_limiter.check(caller) {
        Ok(None) => return Ok(()),
        Ok(Some(s)) => (s, None),
        Err((limited, s)) => (s, Some(limited)),
    };
    if let Some(slot) = slot {
        let _ = slot.0.set(standing);
    }
    match refused {
        None => Ok(()),
        Some(l) => Err(Error::new(
            ErrorCode::RateLimitExceeded,
            format!(
                "more than {} requests per minute; retry in {} s",
                standing.limit, l.retry_after_s
            ),
        )
        .with_retry_after(l.retry_after_s)),
    }
}

/// Middleware: the `X-RateLimit-*` headers of the caller counted while handling the
/// request.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    if let Some(s) = slot.0.get() {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(s.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(s.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(s.reset_unix));
    }
    resp
}
