//! A connection's outgoing side: the bounded queue every message to the client goes
//! through ([`Outbox`], `try_send` only, so no producer ever waits for a client) and
//! the task that writes it to the socket ([`write`]). A full queue marks the
//! connection too slow; its close frame then jumps the queue.

use super::Event;
use super::protocol;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use futures::stream::SplitSink;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How long the writer tries to deliver a close frame before it drops the socket.
const CLOSE_FLUSH: Duration = Duration::from_secs(10);

/// What the writer task sends.
pub enum Outgoing {
    /// A JSON text message.
    Text(String),
    /// A ping (heartbeat).
    Ping,
    /// A close frame with its code and reason; nothing is written after it.
    Close(u16, String),
}

/// The sending side of a connection's queue, shared with its log followers.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    slow: CancellationToken,
}

impl Outbox {
    /// A queue of `capacity` messages; `slow` is cancelled when it overflows. The
    /// receiver goes to [`write`].
    pub fn new(capacity: usize, slow: CancellationToken) -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Outbox { tx, slow }, rx)
    }
}

impl Outbox {
    /// Queues `m`; `false` when the queue is full (the connection is then being
    /// closed as too slow) or closed.
    pub fn push(&self, m: Outgoing) -> bool {
        match self.tx.try_send(m) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.slow.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a text message; `false` when the queue is full (the connection is then
    /// being closed as too slow) or closed.
    pub fn send_text(&self, text: String) -> bool {
        self.push(Outgoing::Text(text))
    }

    /// Queues `e` under its own channel name.
    pub fn send_event(&self, e: &Event) -> bool {
        self.send_text(protocol::event(&e.channel, e))
    }
}

/// Writes the queue to the socket until a close: in order from the queue, or at once
/// from `abort` (the client is too slow).
pub async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    mut abort: oneshot::Receiver<(u16, String)>,
) {
    loop {
        let next = tokio::select! {
            biased;
            a = &mut abort => match a {
                Ok((code, reason)) => Outgoing::Close(code, reason),
                Err(_) => return,
            },
            m = rx.recv() => match m {
                Some(m) => m,
                None => return,
            },
        };
        let msg = match next {
            Outgoing::Text(t) => Message::Text(t.into()),
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Close(code, reason) => {
                rx.close();
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ =
                    tokio::time::timeout(CLOSE_FLUSH, sink.send(Message::Close(Some(frame)))).await;
                return;
            }
        };
        tokio::select! {
            r = sink.send(msg) => if r.is_err() { return },
            a = &mut abort => {
                if let Ok((code, reason)) = a {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = tokio::time::timeout(CLOSE_FLUSH, sink.send(Message::Close(Some(frame)))).await;
                }
                return;
            }
        }
    }
}
