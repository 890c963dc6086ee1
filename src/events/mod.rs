//! Live events: a bus every source publishes to, and the WebSocket at `GET /api/v1/ws`
//! that lets a client subscribe to channels of it.
//!
//! Channels (docs/api.md §24.4): `services` (status changes), `logs:<service>`
//! (container log lines), `metrics` (the `GET /metrics` snapshot every
//! `events.metrics_interval_s`), `mcp:<server>` (session state, discoveries, resource
//! updates), `backups` (progress and outcome) and `audit` (new audit entries). Every
//! message is `{channel, type, time, data}`.
//!
//! Sources: database changes are diffed after each tracked commit ([`feed`]), so only
//! committed states are announced, whichever code path made them; resource updates
//! come from the MCP sessions; log lines are followed per subscription ([`logs`]).
//! A connection that cannot keep up is closed ([`ws`]); it never slows a source.

pub mod api;
pub mod channel;
pub mod feed;
pub mod logs;
pub mod outbox;
pub mod protocol;
pub mod ws;

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::broadcast;

/// Events the bus holds for a receiver that is behind; one further behind is closed.
pub const BUS_CAPACITY: usize = 4096;

/// One event on the bus.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The channel as published: `services`, `metrics`, `backups`, `audit` or
    /// `mcp:<server id>`.
    pub channel: String,
    /// What happened, e.g. `service.status`, `backup.progress`, `resource_updated`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The event's fields.
    pub data: Value,
}

impl Event {
    /// An event of `kind` on `channel`, timed now.
    pub fn new(channel: impl Into<String>, kind: &'static str, data: Value) -> Event {
        Event {
            channel: channel.into(),
            kind,
            time: crate::time::now_rfc3339(),
            data,
        }
    }
}

/// The bus: a broadcast of [`Event`]s (held in [`crate::app::App`]).
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    /// Connections subscribed to `metrics` (the ticker runs only while there are some).
    metrics_subscribers: AtomicUsize,
    /// Open WebSocket connections.
    connections: AtomicUsize,
    /// The database feed's last view ([`feed`]).
    pub seen: feed::Baseline,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(BUS_CAPACITY).0,
            metrics_subscribers: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            seen: feed::Baseline::default(),
        }
    }
}

impl Bus {
    /// Publishes `e` to every receiver (none: dropped).
    pub fn publish(&self, e: Event) {
        let _ = self.tx.send(Arc::new(e));
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Whether anyone listens.
    pub fn has_receivers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Counts a `metrics` subscription in (`+1`) or out (`-1`).
    pub fn count_metrics_subscriber(&self, joined: bool) {
        if joined {
            self.metrics_subscribers.fetch_add(1, Ordering::Relaxed);
        } else {
            self.metrics_subscribers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a connection in, unless `max` are open already.
    pub fn enter(&self, max: usize) -> bool {
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Counts a connection out.
    pub fn leave(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Whether a connection is subscribed to `metrics`.
    pub fn wants_metrics(&self) -> bool {
        self.metrics_subscribers.load(Ordering::Relaxed) > 0
    }
}
