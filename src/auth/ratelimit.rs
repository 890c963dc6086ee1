//! Rate limits kept in memory, as GCRA buckets (`governor`, keyed by a `DashMap`).
//!
//! [`LoginLimiter`] throttles failed logins: at most `auth.login_failures_per_minute` failures per
//! minute per (lowercased username, client address), as a GCRA bucket (`governor`,
//! keyed by a `DashMap`). Past the limit the key is blocked until the bucket has room
//! again; while blocked, even a correct password is refused so the limit cannot be
//! used as an oracle. A success does not reset the count (simple and safe).

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before stale ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// Per-(username, address) failed-login limiter, kept on `App`.
pub struct LoginLimiter {
    limit: u32,
    failures: DefaultKeyedRateLimiter<String>,
    blocked_until: Mutex<HashMap<String, Instant>>,
}

/// A refusal: how long to wait, in whole seconds (≥ 1), for `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds to wait, ≥ 1.
    pub retry_after_s: u64,
}

impl LoginLimiter {
    /// `per_minute` failures allowed per key per minute (config validation keeps it ≥ 1).
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        LoginLimiter {
            limit: n.get(),
            failures: RateLimiter::dashmap(Quota::per_minute(n)),
            blocked_until: Mutex::new(HashMap::new()),
        }
    }

    /// Failures allowed per minute.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    fn key(username: &str, client_addr: Option<&str>) -> String {
        format!(
            "{}|{}",
            username.to_lowercase(),
            client_addr.unwrap_or("unknown")
        )
    }

    /// Before checking a password: refused while the key is blocked.
    pub fn check(&self, username: &str, client_addr: Option<&str>) -> Result<(), Limited> {
        let key = Self::key(username, client_addr);
        let mut blocked = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match blocked.get(&key) {
            Some(until) if *until > now => Err(Limited {
                retry_after_s: whole_seconds(*until - now),
            }),
            Some(_) => {
                blocked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts one failure; `Err` when it is over the limit (the key is then blocked).
    pub fn failed(&self, username: &str, client_addr: Option<&str>) -> Result<(), Limited> {
        let key = Self::key(username, client_addr);
        if self.failures.len() > SWEEP_ABOVE {
            self.failures.retain_recent();
            let now = Instant::now();
            self.blocked_until
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, until| *until > now);
        }
        match self.failures.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.blocked_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, Instant::now() + wait);
                Err(Limited {
                    retry_after_s: whole_seconds(wait),
                })
            }
        }
    }
}

/// Requests per minute per caller (`docs/api.md`, 1.10 "Rate limits": per API key, else per
/// user), on every authenticated request. The bucket holds a minute's worth, so a
/// caller may burst up to the limit and then goes on at limit/60 per second.
pub struct RequestLimiter {
    limit: u32,
    buckets: Option<
        RateLimiter<
            String,
            DefaultKeyedStateStore<String>,
            DefaultClock,
            StateInformationMiddleware,
        >,
    >,
}

/// Where a caller stands, for the `X-RateLimit-*` headers: the limit per minute, the
/// requests left now, and when the bucket is full again (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Requests allowed per minute.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Unix seconds when the bucket is full again.
    pub reset_unix: i64,
}

impl RequestLimiter {
    /// `per_minute` requests per caller; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        RequestLimiter {
            limit: per_minute,
            buckets: NonZeroU32::new(per_minute).map(|n| {
                RateLimiter::dashmap(Quota::per_minute(n))
                    .with_middleware::<StateInformationMiddleware>()
            }),
        }
    }

    /// Counts one request of `caller`. `Ok(None)` when the limit is off; `Err` with the
    /// wait and the standing (nothing left) when over it.
    pub fn check(&self, caller: String) -> Result<Option<Standing>, (Limited, Standing)> {
        let Some(buckets) = &self.buckets else {
            return Ok(None);
        };
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain_recent();
        }
        // One request's worth of refill, in seconds.
        let per_request = 60.0 / f64::from(self.limit);
        let now = crate::time::unix_now();
        match buckets.check_key(&caller) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = (f64::from(self.limit - remaining) * per_request).ceil() as i64;
                Ok(Some(Standing {
                    limit: self.limit,
                    remaining,
                    reset_unix: now + refill,
                }))
            }
            Err(not_until) => {
                let wait = whole_seconds(not_until.wait_time_from(DefaultClock::default().now()));
                Err((
                    Limited {
                        retry_after_s: wait,
                    },
                    Standing {
                        limit: self.limit,
                        remaining: 0,
                        reset_unix: now + 60,
                    },
                ))
            }
        }
    }
}

fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_caller_and_zero_is_off() {
        let l = RequestLimiter::new(3);
        for left in [2, 1, 0] {
            let s = l.check("key:a".into()).unwrap().unwrap();
            assert_eq!((s.limit, s.remaining), (3, left));
            assert!(s.reset_unix > crate::time::unix_now() - 1);
        }
        let (limited, s) = l.check("key:a".into()).unwrap_err();
        assert!((1..=20).contains(&limited.retry_after_s), "{limited:?}");
        assert_eq!(s.remaining, 0);
        assert_eq!(l.check("user:a".into()).unwrap().unwrap().remaining, 2);
        assert_eq!(RequestLimiter::new(0).check("key:a".into()), Ok(None));
    }

    #[test]
    fn blocks_after_the_limit_per_key() {
        let l = LoginLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check("Alice", Some("1.2.3.4")).is_ok());
            assert!(l.failed("alice", Some("1.2.3.4")).is_ok());
        }
        let e = l.failed("ALICE", Some("1.2.3.4")).unwrap_err();
        assert!(e.retry_after_s >= 1 && e.retry_after_s <= 60, "{e:?}");
        assert!(l.check("alice", Some("1.2.3.4")).is_err());
        // Other addresses and other users are unaffected.
        assert!(l.check("alice", Some("5.6.7.8")).is_ok());
        assert!(l.check("bob", Some("1.2.3.4")).is_ok());
    }
}
