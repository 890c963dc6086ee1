//! The last minute of HTTP requests per route group, for `GET /metrics`: request rate
//! and latency percentiles over a sliding window of 60 one-second slots. Each slot
//! counts requests in log-spaced latency buckets (each bucket's upper bound is 1.25× the
//! previous one, from 50 µs to about 64 s), so a percentile is the upper bound of the
//! bucket it falls in: at most 25 % above the true value, and bounded memory whatever
//! the rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Slots in the window (one per second).
const SLOTS: usize = 60;
/// Latency buckets per slot.
const BUCKETS: usize = 64;
/// Upper bound of the first bucket, in microseconds.
const FIRST_US: f64 = 50.0;
/// Ratio between consecutive bucket bounds.
const FACTOR: f64 = 1.25;

/// Requests of one route group in one second.
#[derive(Clone)]
struct Slot {
    /// Which second (since the window's start) this slot holds.
    second: u64,
    errors: u64,
    buckets: [u64; BUCKETS],
}

impl Slot {
    fn empty(second: u64) -> Slot {
        Slot {
            second,
            errors: 0,
            buckets: [0; BUCKETS],
        }
    }
}

/// One route group's last minute of requests.
pub struct Group {
    slots: Vec<Slot>,
}

/// What one route group did over the last minute.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = HttpGroupSummary)]
pub struct GroupSummary {
    /// Requests answered in the window.
    pub requests: u64,
    /// Requests per second over the window (requests / 60).
    pub rate_per_s: f64,
    /// Answers with status 5xx.
    pub errors_5xx: u64,
    /// Median latency in milliseconds (upper bound of its bucket); `null` without requests.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency in milliseconds; `null` without requests.
    pub p95_ms: Option<f64>,
    /// 99th percentile latency in milliseconds; `null` without requests.
    pub p99_ms: Option<f64>,
}

/// Sliding one-minute windows by route group.
pub struct Window {
    start: Instant,
    groups: Mutex<HashMap<&'static str, Group>>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            start: Instant::now(),
            groups: Mutex::default(),
        }
    }
}

fn bucket_of(latency: Duration) -> usize {
    let us = latency.as_secs_f64() * 1e6;
    if us <= FIRST_US {
        return 0;
    }
    let i = ((us / FIRST_US).ln() / FACTOR.ln()).ceil() as usize;
    i.min(BUCKETS - 1)
}

fn bound_ms(bucket: usize) -> f64 {
    FIRST_US * FACTOR.powi(bucket as i32) / 1000.0
}

impl Window {
    /// Counts one request of `group` that took `latency`; `error` for a 5xx answer.
    pub fn record(&self, group: &'static str, latency: Duration, error: bool) {
        let second = self.start.elapsed().as_secs();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let g = groups.entry(group).or_insert_with(|| Group {
            slots: vec![Slot::empty(u64::MAX); SLOTS],
        });
        let slot = &mut g.slots[(second % SLOTS as u64) as usize];
        if slot.second != second {
            *slot = Slot::empty(second);
        }
        slot.buckets[bucket_of(latency)] += 1;
        if error {
            slot.errors += 1;
        }
    }

    /// Every group that answered a request in the last minute, by name.
    pub fn summary(&self) -> std::collections::BTreeMap<&'static str, GroupSummary> {
        let now = self.start.elapsed().as_secs();
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups
            .iter()
            .filter_map(|(name, g)| {
                let mut buckets = [0u64; BUCKETS];
                let mut errors = 0;
                for s in g
                    .slots
                    .iter()
                    .filter(|s| s.second != u64::MAX && now - s.second.min(now) < SLOTS as u64)
                {
                    errors += s.errors;
                    for (b, n) in buckets.iter_mut().zip(s.buckets.iter()) {
                        *b += n;
                    }
                }
                let requests: u64 = buckets.iter().sum();
                (requests > 0).then(|| (*name, summarise(&buckets, requests, errors)))
            })
            .collect()
    }
}

fn summarise(buckets: &[u64; BUCKETS], requests: u64, errors: u64) -> GroupSummary {
    let percentile = |p: f64| {
        let rank = ((p * requests as f64).ceil() as u64).max(1);
        let mut seen = 0;
        buckets.iter().enumerate().find_map(|(i, n)| {
            seen += n;
            (seen >= rank).then(|| (bound_ms(i) * 1000.0).round() / 1000.0)
        })
    };
    GroupSummary {
        requests,
        rate_per_s: requests as f64 / SLOTS as f64,
        errors_5xx: errors,
        p50_ms: percentile(0.50),
        p95_ms: percentile(0.95),
        p99_ms: percentile(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_bounds_within_a_quarter() {
        let w = Window::default();
        for ms in 1..=100u64 {
            w.record("services", Duration::from_millis(ms), ms > 98);
        }
        let s = &w.summary()["services"];
        assert_eq!(s.requests, 100);
        assert_eq!(s.errors_5xx, 2);
        for (got, truth) in [(s.p50_ms, 50.0), (s.p95_ms, 95.0), (s.p99_ms, 99.0)] {
            let got = got.unwrap_or_default();
            assert!(got >= truth && got <= truth * FACTOR, "{got} vs {truth}");
        }
    }

    #[test]
    fn empty_groups_are_left_out_and_huge_latencies_land_in_the_last_bucket() {
        let w = Window::default();
        assert!(w.summary().is_empty());
        assert_eq!(bucket_of(Duration::from_secs(3600)), BUCKETS - 1);
        assert_eq!(bucket_of(Duration::from_micros(1)), 0);
    }
}
