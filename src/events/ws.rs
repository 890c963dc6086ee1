//! One WebSocket connection of `GET /api/v1/ws`: authentication (at the upgrade, or the
//! first message within `events.auth_timeout_s`), subscriptions, delivery, heartbeats,
//! and the checks that end it.
//!
//! Nothing a client does can hold up the daemon: every message to it goes into a
//! bounded queue (`events.queue_messages`) with `try_send`, and a separate task writes
//! the queue to the socket. A client whose queue is full, or whose connection fell so
//! far behind the bus that events were lost, is disconnected with close code 1013
//! (the close frame jumps the queue; what was queued is dropped). After every tracked
//! database commit the credential is checked again ([`revalidate`]): revoked, expired
//! or disabled closes the socket with 1008; a subscription the caller may no longer
//! hold is ended with an `unsubscribed` message.
//!
//! [`revalidate`]: crate::auth::principal::revalidate

use super::channel::Channel;
use super::outbox::{Outbox, Outgoing, write};
use super::protocol::{self, GOING_AWAY, Inbound, POLICY, TRY_AGAIN_LATER};
use super::{Event, feed};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Error;
use axum::extract::ws::{Message, WebSocket};
use futures::StreamExt;
use futures::stream::SplitStream;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;

/// One of the `events.max_connections` connections, given back when dropped.
pub struct Slot(AppState);

impl Slot {
    /// A slot, or `None` when every one is taken.
    pub fn take(app: &AppState) -> Option<Slot> {
        app.events
            .enter(app.settings.events.max_connections)
            .then(|| Slot(app.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.events.leave();
    }
}

/// Ends what a subscription started when it is dropped.
struct Sub {
    channel: Channel,
    app: AppState,
    follower: Option<CancellationToken>,
}

impl Drop for Sub {
    fn drop(&mut self) {
        if self.channel == Channel::Metrics {
            self.app.events.count_metrics_subscriber(false);
        }
        if let Some(stop) = &self.follower {
            stop.cancel();
        }
    }
}

/// Why a connection ends: close code and reason.
type Ending = (u16, String);

/// One connection.
pub struct Conn {
    app: AppState,
    out: Outbox,
    who: Option<Principal>,
    subs: BTreeMap<String, Sub>,
    request_id: String,
}

/// Serves one upgraded socket; `who` is set when the upgrade request carried a
/// credential. Returns when the connection is closed.
pub async fn serve(app: AppState, socket: WebSocket, who: Option<Principal>, request_id: String) {
    let (sink, mut stream) = socket.split();
    let slow = CancellationToken::new();
    let (out, rx) = Outbox::new(app.settings.events.queue_messages, slow.clone());
    let (abort, abort_rx) = oneshot::channel();
    let writer = tokio::spawn(write(sink, rx, abort_rx));
    let mut conn = Conn {
        app,
        out,
        who,
        subs: BTreeMap::new(),
        request_id,
    };
    let (code, reason) = conn.run(&mut stream, &slow).await;
    conn.subs.clear();
    let user = conn
        .who
        .as_ref()
        .map(|w| w.username.clone())
        .unwrap_or_default();
    if code == TRY_AGAIN_LATER {
        tracing::warn!(%user, %reason, "closing a WebSocket client that cannot keep up");
        let _ = abort.send((code, reason));
    } else {
        tracing::debug!(%user, code, %reason, "WebSocket closed");
        if !conn.out.push(Outgoing::Close(code, reason.clone())) {
            let _ = abort.send((code, reason));
        }
    }
    drop(conn);
    let _ = writer.await;
}

impl Conn {
    fn send_error(&self, channel: Option<&str>, e: &Error) {
        self.out
            .send_text(protocol::error(channel, e, &self.request_id));
    }

    /// Authenticates if needed, then serves until something ends the connection.
    async fn run(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
        slow: &CancellationToken,
    ) -> Ending {
        if self.who.is_none() {
            match self.authenticate(stream).await {
                Ok(p) => self.who = Some(p),
                Err(reason) => return (POLICY, reason),
            }
        }
        let who = self
            .who
            .as_ref()
            .map(|w| w.username.clone())
            .unwrap_or_default();
        self.out
            .send_text(protocol::control(None, "welcome", json!({"user": who})));
        let mut bus = self.app.events.subscribe();
        let mut changes = self.app.store.changes();
        let every = Duration::from_secs(self.app.settings.events.ping_interval_s);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                _ = self.app.shutdown.cancelled() => return (GOING_AWAY, "the daemon is shutting down".into()),
                _ = slow.cancelled() => return (TRY_AGAIN_LATER, "client too slow: its message queue is full".into()),
                m = stream.next() => {
                    heard = Instant::now();
                    if let Some(end) = self.on_message(m).await {
                        return end;
                    }
                }
                e = bus.recv() => match e {
                    Ok(e) => self.deliver(&e),
                    Err(broadcast::error::RecvError::Lagged(_)) => return (TRY_AGAIN_LATER, "client too slow: events were lost".into()),
                    Err(broadcast::error::RecvError::Closed) => return (GOING_AWAY, "the daemon is shutting down".into()),
                },
                r = changes.changed() => {
                    if r.is_err() {
                        return (GOING_AWAY, "the daemon is shutting down".into());
                    }
                    if let Err(reason) = self.revalidate().await {
                        return (POLICY, reason);
                    }
                }
                _ = ping.tick() => {
                    if heard.elapsed() > every * 2 {
                        return (GOING_AWAY, "no answer to pings".into());
                    }
                    self.out.push(Outgoing::Ping);
                    // Expiry needs no commit to happen: check on the heartbeat too.
                    if let Err(reason) = self.revalidate().await {
                        return (POLICY, reason);
                    }
                }
            }
        }
    }

    /// Waits for `{"type": "auth"}` within `events.auth_timeout_s`.
    async fn authenticate(&self, stream: &mut SplitStream<WebSocket>) -> Result<Principal, String> {
        let deadline =
            tokio::time::sleep(Duration::from_secs(self.app.settings.events.auth_timeout_s));
        tokio::pin!(deadline);
        loop {
            let m = tokio::select! {
                _ = &mut deadline => return Err("authentication timed out".into()),
                m = stream.next() => m,
            };
            let text = match m {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return Err("closed before authenticating".into()),
            };
            match Inbound::parse(&text) {
                Ok(Inbound::Auth { token }) => {
                    return crate::http::auth::principal_from_token(&self.app, &token)
                        .await
                        .map_err(|e| {
                            self.send_error(None, &e);
                            "authentication failed".to_string()
                        });
                }
                Ok(Inbound::Ping {}) => {
                    self.out
                        .send_text(protocol::control(None, "pong", json!({})));
                }
                Ok(_) => {
                    self.send_error(
                        None,
                        &Error::unauthorized(
                            "authenticate first: {\"type\": \"auth\", \"token\": …}",
                        ),
                    );
                    return Err("authentication required".into());
                }
                Err(e) => {
                    self.send_error(None, &e);
                    return Err("authentication required".into());
                }
            }
        }
    }

    /// Handles one frame from the client; `Some` ends the connection.
    async fn on_message(&mut self, m: Option<Result<Message, axum::Error>>) -> Option<Ending> {
        match m {
            Some(Ok(Message::Text(t))) => {
                match Inbound::parse(&t) {
                    Ok(msg) => self.on_request(msg).await,
                    Err(e) => self.send_error(None, &e),
                }
                None
            }
            Some(Ok(Message::Binary(_))) => {
                self.send_error(None, &Error::validation("messages are JSON text frames"));
                None
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Some((1000, String::new())),
        }
    }

    async fn on_request(&mut self, msg: Inbound) {
        match msg {
            Inbound::Auth { .. } => {
                self.send_error(None, &Error::validation("already authenticated"))
            }
            Inbound::Ping {} => {
                self.out
                    .send_text(protocol::control(None, "pong", json!({})));
            }
            Inbound::Unsubscribe { channel } => match self.subs.remove(&channel) {
                Some(_) => {
                    self.out.send_text(protocol::control(
                        Some(&channel),
                        "unsubscribed",
                        json!({}),
                    ));
                }
                None => {
                    self.send_error(Some(&channel), &Error::not_found("subscription", &channel))
                }
            },
            Inbound::Subscribe { channel, filters } => {
                if let Err(e) = self.subscribe(&channel, &filters).await {
                    self.send_error(Some(&channel), &e);
                }
            }
        }
    }

    async fn subscribe(
        &mut self,
        label: &str,
        filters: &serde_json::Value,
    ) -> crate::error::Result<()> {
        let Some(who) = self.who.clone() else {
            return Err(Error::unauthorized("authentication required"));
        };
        let max = self.app.settings.events.max_subscriptions;
        if !self.subs.contains_key(label) && self.subs.len() >= max {
            return Err(
                Error::validation(format!("at most {max} subscriptions per connection"))
                    .with_detail("channel", "unsubscribe from another channel first"),
            );
        }
        let channel = Channel::resolve(&self.app, &who, label, filters).await?;
        feed::ensure_baseline(&self.app).await?;
        let follower = match &channel {
            Channel::Logs(id, name) => {
                let stop = CancellationToken::new();
                let f = super::logs::Follower {
                    service_id: id.clone(),
                    service: name.clone(),
                    label: label.to_string(),
                };
                tokio::spawn(f.run(self.app.clone(), self.out.clone(), stop.clone()));
                Some(stop)
            }
            Channel::Metrics => {
                self.app.events.count_metrics_subscriber(true);
                None
            }
            _ => None,
        };
        let sub = Sub {
            channel,
            app: self.app.clone(),
            follower,
        };
        self.subs.insert(label.to_string(), sub);
        self.out
            .send_text(protocol::control(Some(label), "subscribed", json!({})));
        Ok(())
    }

    fn deliver(&self, e: &Event) {
        for (label, sub) in &self.subs {
            if sub.channel.matches(e) && !self.out.send_text(protocol::event(label, e)) {
                return;
            }
        }
    }

    /// Checks the credential again; `Err` (the close reason) when it is no longer
    /// valid. Subscriptions the caller may no longer hold are ended.
    async fn revalidate(&mut self) -> Result<(), String> {
        let Some(who) = &self.who else { return Ok(()) };
        let now = match crate::auth::principal::revalidate(&self.app.store, who).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err("the credential was revoked or expired".into()),
            Err(e) => {
                tracing::warn!(error = %e, "WebSocket: credential not rechecked");
                return Ok(());
            }
        };
        let mut withdrawn = Vec::new();
        for (label, sub) in &self.subs {
            if !sub.channel.still_allowed(&self.app, &now).await {
                withdrawn.push(label.clone());
            }
        }
        for label in withdrawn {
            self.subs.remove(&label);
            let data = json!({"reason": "permission withdrawn"});
            self.out
                .send_text(protocol::control(Some(&label), "unsubscribed", data));
        }
        self.who = Some(now);
        Ok(())
    }
}
