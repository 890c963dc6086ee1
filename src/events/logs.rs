//! The `logs:<service>` channel: one follower per subscription reads the service's
//! container logs (stdout and stderr, as `GET /services/{id}/logs?follow=true` does)
//! and sends each line as a `log.entry` event. When the stream ends (the containers
//! stopped or were recreated, or the engine went away) it opens it again a second
//! later with the lines since then, until the subscription ends. Around such a reopen a
//! line may be sent twice (the engine's `since` counts whole seconds).

use super::Event;
use super::outbox::Outbox;
use crate::app::AppState;
use crate::services::ops::logs::{LogOptions, MAX_TAIL};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest line sent in one event; longer ones are split.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Wait before a stream that ended is opened again.
const REOPEN: Duration = Duration::from_secs(1);

/// One subscription's follower.
pub struct Follower {
    /// The service's id.
    pub service_id: String,
    /// The service's name.
    pub service: String,
    /// The channel name as the client subscribed (`logs:web`), put on every message.
    pub label: String,
}

impl Follower {
    fn event(&self, line: &[u8]) -> Event {
        let text = String::from_utf8_lossy(line);
        let data = json!({"service_id": self.service_id, "service": self.service, "message": text.trim_end_matches('\r')});
        Event::new(self.label.clone(), "log.entry", data)
    }

    /// Runs until `stop` is cancelled or the connection's outbox refuses a line (then
    /// the connection is being closed).
    pub async fn run(self, app: AppState, out: Outbox, stop: CancellationToken) {
        let mut since = crate::time::unix_now();
        while !stop.is_cancelled() {
            let opts = LogOptions {
                tail: MAX_TAIL,
                since: Some(since),
                until: None,
                timestamps: false,
                follow: true,
                replica: None,
            };
            let opened = crate::services::ops::logs::logs(&app, &self.service_id, &opts).await;
            if let Ok(mut stream) = opened {
                let mut pending: Vec<u8> = Vec::new();
                loop {
                    let chunk = tokio::select! {
                        _ = stop.cancelled() => return,
                        c = stream.next() => c,
                    };
                    let Some(Ok(chunk)) = chunk else { break };
                    pending.extend_from_slice(&chunk);
                    while let Some(line) = take_line(&mut pending) {
                        if !out.send_event(&self.event(&line)) {
                            return;
                        }
                    }
                }
                if !pending.is_empty() && !out.send_event(&self.event(&pending)) {
                    return;
                }
            }
            since = crate::time::unix_now();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(REOPEN) => {}
            }
        }
    }
}

/// The first complete line of `buf` (without its newline), or its first
/// [`MAX_LINE_BYTES`] when no newline comes that soon.
fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = match buf.iter().position(|b| *b == b'\n') {
        Some(i) if i <= MAX_LINE_BYTES => i,
        _ if buf.len() > MAX_LINE_BYTES => {
            let rest = buf.split_off(MAX_LINE_BYTES);
            return Some(std::mem::replace(buf, rest));
        }
        _ => return None,
    };
    let rest = buf.split_off(end + 1);
    let mut line = std::mem::replace(buf, rest);
    line.pop();
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_newlines_and_at_the_cap() {
        let mut b = b"one\ntwo\npart".to_vec();
        assert_eq!(take_line(&mut b).as_deref(), Some(&b"one"[..]));
        assert_eq!(take_line(&mut b).as_deref(), Some(&b"two"[..]));
        assert_eq!(take_line(&mut b), None);
        assert_eq!(b, b"part");
        let mut long = vec![b'x'; MAX_LINE_BYTES + 10];
        assert_eq!(take_line(&mut long).map(|l| l.len()), Some(MAX_LINE_BYTES));
        assert_eq!(long.len(), 10);
    }
}
