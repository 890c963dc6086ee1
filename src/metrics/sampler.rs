//! The sampler: every `metrics.sample_interval_s` seconds it reads the host's CPU
//! ticks and every running service container's cumulative CPU time and memory, and
//! keeps the latest [`Sample`] (with CPU shares computed against the sample before).
//! `GET /metrics`, the Prometheus exposition and the `metrics` WebSocket channel read
//! it; nothing waits on the engine at scrape time. The engine being down leaves the
//! services out of the sample and is reported as such.

use super::host::CpuTicks;
use crate::app::AppState;
use crate::services::ops::stats::Cumulative;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One service's containers in a sample.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ServiceSample {
    /// The service's name.
    pub name: String,
    /// CPU time of its running containers since each started, seconds.
    pub cpu_seconds: f64,
    /// CPU used since the previous sample, percent of one core (so up to 100 × cores);
    /// `null` in the first sample of a container.
    pub cpu_percent: Option<f64>,
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// Running containers.
    pub containers: u32,
}

/// What the sampler read at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Busy share of all CPUs since the previous sample, percent; `null` in the first.
    pub host_cpu_percent: Option<f64>,
    /// Whether the engine answered; when not, `services` is empty.
    pub docker_reachable: bool,
    /// Services with running containers, by service id.
    pub services: BTreeMap<String, ServiceSample>,
    #[serde(skip)]
    ticks: CpuTicks,
    #[serde(skip)]
    taken: Option<Instant>,
}

/// The latest sample, shared (held by [`super::Metrics`]); tasks that store samples
/// wait for the next one with [`Latest::subscribe`].
pub struct Latest(tokio::sync::watch::Sender<Option<Arc<Sample>>>);

impl Default for Latest {
    fn default() -> Self {
        Latest(tokio::sync::watch::Sender::new(None))
    }
}

impl Latest {
    /// The latest sample, if one was taken.
    pub fn get(&self) -> Option<Arc<Sample>> {
        self.0.borrow().clone()
    }

    /// A receiver that wakes at each new sample.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<Arc<Sample>>> {
        self.0.subscribe()
    }

    fn set(&self, s: Arc<Sample>) {
        self.0.send_replace(Some(s));
    }
}

/// Builds the next sample from `previous` and fresh readings.
fn next(
    previous: Option<&Sample>,
    ticks: CpuTicks,
    services: Option<BTreeMap<String, Cumulative>>,
) -> Sample {
    let now = Instant::now();
    let elapsed = previous
        .and_then(|p| p.taken)
        .map(|t| now.duration_since(t).as_secs_f64())
        .filter(|s| *s > 0.0);
    let docker_reachable = services.is_some();
    let services = services
        .unwrap_or_default()
        .into_iter()
        .map(|(id, c)| {
            let before = previous.and_then(|p| p.services.get(&id));
            let cpu_percent = match (before, elapsed) {
                (Some(b), Some(secs)) if c.cpu_seconds >= b.cpu_seconds => {
                    Some(((c.cpu_seconds - b.cpu_seconds) / secs * 10000.0).round() / 100.0)
                }
                _ => None,
            };
            let s = ServiceSample {
                name: c.name,
                cpu_seconds: c.cpu_seconds,
                cpu_percent,
                memory_bytes: c.memory_bytes,
                containers: c.containers,
            };
            (id, s)
        })
        .collect();
    Sample {
        at: crate::time::now_rfc3339(),
        host_cpu_percent: previous.and_then(|p| ticks.usage_percent(&p.ticks)),
        docker_reachable,
        services,
        ticks,
        taken: Some(now),
    }
}

/// Takes one sample now and makes it the latest.
pub async fn sample_now(app: &AppState) -> Arc<Sample> {
    let ticks = CpuTicks::now();
    let services = match crate::services::ops::stats::cumulative(app).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!(error = %e, "metrics sampler: containers not sampled");
            None
        }
    };
    let previous = app.metrics.latest.get();
    let s = Arc::new(next(previous.as_deref(), ticks, services));
    app.metrics.latest.set(s.clone());
    s
}

/// Spawns the sampler on `app.tasks`; it stops at shutdown.
pub fn spawn(app: &AppState) {
    let app = app.clone();
    let every = Duration::from_secs(app.settings.metrics.sample_interval_s.max(1));
    app.tasks.clone().spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            sample_now(&app).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cum(cpu: f64) -> BTreeMap<String, Cumulative> {
        BTreeMap::from([(
            "svc_1".to_string(),
            Cumulative {
                name: "web".into(),
                cpu_seconds: cpu,
                memory_bytes: 10,
                containers: 1,
            },
        )])
    }

    #[test]
    fn cpu_shares_come_from_the_sample_before() {
        let first = next(None, CpuTicks::default(), Some(cum(1.0)));
        assert_eq!(first.services["svc_1"].cpu_percent, None);
        assert_eq!(first.host_cpu_percent, None);
        std::thread::sleep(Duration::from_millis(20));
        let second = next(Some(&first), CpuTicks::now(), Some(cum(1.0)));
        assert_eq!(second.services["svc_1"].cpu_percent, Some(0.0));
        // A restarted container's counter went down: no share rather than a negative one.
        let third = next(Some(&second), CpuTicks::now(), Some(cum(0.5)));
        assert_eq!(third.services["svc_1"].cpu_percent, None);
        let down = next(Some(&third), CpuTicks::now(), None);
        assert!(!down.docker_reachable && down.services.is_empty());
    }
}
