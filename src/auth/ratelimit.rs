//! Failed-login throttling: at most `auth.login_failures_per_minute` failures per
//! minute per (lowercased username, client address), as a GCRA bucket (`governor`,
//! keyed by a `DashMap`). Past the limit the key is blocked until the bucket has room
//! again; while blocked, even a correct password is refused so the limit cannot be
//! used as an oracle. A success does not reset the count (simple and safe).

use governor::clock::{Clock, DefaultClock};
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
    pub retry_after_s: u64,
}

impl LoginLimiter {
    /// `per_minute` failures allowed per key per minute (config validation keeps it ≥ 1).
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
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

fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
