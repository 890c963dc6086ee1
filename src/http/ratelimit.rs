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
//! Kubernetes routes count against a tier of their own as well ([`count_tier`]); the
//! headers then show that tier.

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::ratelimit::{RequestLimiter, Standing};
use crate::error::{Error, ErrorCode};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};

/// Where the extractors leave the caller's standing for [`middleware`], and which
/// limits were counted already.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Counted>>);

#[derive(Default)]
struct Counted {
    standing: Option<Standing>,
    general: bool,
    tier: bool,
}

/// Which limit a count is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// `auth.requests_per_minute`, on every authenticated request.
    General,
    /// A domain's own tier (Kubernetes), counted besides the general one.
    Tier,
}

fn caller(who: &Principal) -> String {
    match &who.api_key_id {
        Some(key) => format!("key:{key}"),
        None => format!("user:{}", who.user_id),
    }
}

/// Counts one request of `who` against `auth.requests_per_minute` (once per request,
/// however many extractors ask). Errors: `RATE_LIMIT_EXCEEDED` with `retry_after_s`
/// past the limit.
pub fn count(parts: &mut Parts, app: &AppState, who: &Principal) -> Result<(), Error> {
    count_in(parts, &app.request_limiter, who, Limit::General)
}

/// Counts one request of `who` against a domain's tier as well (its routes' `Can`
/// extractor calls this); the headers then show the tier's standing. Errors as
/// [`count`].
pub fn count_tier(
    parts: &mut Parts,
    limiter: &RequestLimiter,
    who: &Principal,
) -> Result<(), Error> {
    count_in(parts, limiter, who, Limit::Tier)
}

fn count_in(
    parts: &mut Parts,
    limiter: &RequestLimiter,
    who: &Principal,
    which: Limit,
) -> Result<(), Error> {
    let slot = parts.extensions.get::<Slot>().cloned();
    if let Some(slot) = &slot
        && let Ok(mut c) = slot.0.lock()
    {
        let done = match which {
            Limit::General => &mut c.general,
            Limit::Tier => &mut c.tier,
        };
        if std::mem::replace(done, true) {
            return Ok(());
        }
    }
    let (standing, refused) = match limiter.check(caller(who)) {
        Ok(None) => return Ok(()),
        Ok(Some(s)) => (s, None),
        Err((limited, s)) => (s, Some(limited)),
    };
    if let Some(slot) = slot
        && let Ok(mut c) = slot.0.lock()
    {
        // The tier is the tighter limit: its standing is what the caller should see.
        if which == Limit::Tier || c.standing.is_none() {
            c.standing = Some(standing);
        }
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
    let standing = slot.0.lock().ok().and_then(|c| c.standing);
    if let Some(s) = standing {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(s.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(s.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(s.reset_unix));
    }
    resp
}
