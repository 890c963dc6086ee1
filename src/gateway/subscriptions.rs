//! Resource subscriptions through `/mcp` (`resources/subscribe`, `resources/unsubscribe`,
//! `notifications/resources/updated`; MCP 2025-06-18 "Resources › Subscriptions").
//!
//! mcpd holds one upstream subscription per (server, URI) on its one shared session of
//! that server, reference-counted across gateway sessions: the first gateway subscriber
//! makes mcpd send `resources/subscribe` upstream, the last one leaving (its
//! `resources/unsubscribe`, or the end of its session, noticed at the next update)
//! makes mcpd send `resources/unsubscribe`. The server's updates arrive through
//! [`crate::mcp::sessions::Sessions::resource_updates`] and are relayed to each
//! subscriber that may still read the resource: its credential is revalidated
//! ([`crate::auth::principal::revalidate`]) and its workspace scope (cached) must still
//! reach the server owning the URI ([`super::catalog::resource_owner`]); otherwise that
//! update is not sent to it. An update carries only the URI; the client reads again
//! under its own permissions.
//!
//! When the server's upstream session is replaced (server restarted, transport lost),
//! the URIs that still have subscribers are subscribed again on the new session
//! (checked every [`RESUBSCRIBE_CHECK`]); updates in between are lost.

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Result;
use crate::mcp::model::ServerRecord;
use crate::mcp::transport::{Client, ResourceUpdated};
use crate::mcp::{connect, records};
use crate::workspaces::access;
use rmcp::RoleServer;
use rmcp::model::{
    ResourceUpdatedNotificationParam, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::Peer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::sync::broadcast::error::RecvError;

/// How often upstream subscriptions are checked against the server's current session.
pub const RESUBSCRIBE_CHECK: Duration = Duration::from_secs(5);

/// One gateway session subscribed to one URI.
struct Subscriber {
    /// The gateway session (see [`super::handler::Gateway`]).
    session: u64,
    peer: Peer<RoleServer>,
    who: Principal,
}

/// The subscribers of one (server id, URI) and the upstream session subscribed on.
struct Upstream {
    subscribers: Vec<Subscriber>,
    session: Weak<Client>,
}

/// Every gateway resource subscription of the daemon; one per `/mcp` route.
#[derive(Default)]
pub struct Subscriptions {
    by_key: Mutex<HashMap<(String, String), Upstream>>,
    relaying: AtomicBool,
}

impl Subscriptions {
    /// Subscribes gateway session `session` (`peer`, as `who`) to `uri` of `server`
    /// (the caller has checked that `who` may read it): `resources/subscribe` upstream
    /// unless another gateway session already holds it. Subscribing twice is one
    /// subscription. Errors: the server's session cannot be opened (503) or it refused
    /// the subscription (502, its message).
    pub async fn subscribe(
        self: &Arc<Self>,
        app: &AppState,
        session: u64,
        peer: Peer<RoleServer>,
        who: Principal,
        server: &ServerRecord,
        uri: &str,
    ) -> Result<()> {
        self.start_relay(app);
        let mut by_key = self.by_key.lock().await;
        let key = (server.id.clone(), uri.to_string());
        if let Some(up) = by_key.get_mut(&key) {
            up.subscribers
                .retain(|s| s.session != session && !s.peer.is_transport_closed());
            if !up.subscribers.is_empty() {
                up.subscribers.push(Subscriber { session, peer, who });
                return Ok(());
            }
        }
        let client = connect::session(app, server).await?;
        upstream_subscribe(&client, &server.name, uri).await?;
        by_key.insert(
            key,
            Upstream {
                subscribers: vec![Subscriber { session, peer, who }],
                session: Arc::downgrade(&client),
            },
        );
        Ok(())
    }

    /// Ends gateway session `session`'s subscription to `uri` (on whichever server);
    /// the last subscriber leaving ends the upstream one. Not being subscribed is not
    /// an error (the result is the same).
    pub async fn unsubscribe(&self, session: u64, uri: &str) {
        let mut by_key = self.by_key.lock().await;
        let keys: Vec<(String, String)> = by_key.keys().filter(|k| k.1 == uri).cloned().collect();
        for key in keys {
            if let Some(up) = by_key.get_mut(&key) {
                up.subscribers.retain(|s| s.session != session);
            }
            drop_if_unused(&mut by_key, &key).await;
        }
    }

    /// Starts the relay task once (on the first subscription).
    fn start_relay(self: &Arc<Self>, app: &AppState) {
        if self.relaying.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = Arc::clone(self);
        let app2 = app.clone();
        app.tasks.spawn(async move { this.relay(&app2).await });
    }

    /// Relays upstream updates and keeps upstream subscriptions on the current
    /// sessions, until shutdown.
    async fn relay(&self, app: &AppState) {
        let mut updates = app.mcp.resource_updates();
        let mut tick = tokio::time::interval(RESUBSCRIBE_CHECK);
        loop {
            tokio::select! {
                () = app.shutdown.cancelled() => return,
                _ = tick.tick() => self.resubscribe(app).await,
                u = updates.recv() => match u {
                    Ok(u) => self.deliver(app, u).await,
                    Err(RecvError::Lagged(n)) => tracing::warn!(lost = n, "MCP gateway: resource updates lost (relay behind)"),
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    /// Sends `update` to the subscribers that may still read it; drops those whose
    /// session or credential is gone.
    async fn deliver(&self, app: &AppState, update: ResourceUpdated) {
        let mut by_key = self.by_key.lock().await;
        let key = (update.server_id.clone(), update.uri.clone());
        let Some(up) = by_key.get_mut(&key) else {
            return; // an update after the last unsubscribe
        };
        let mut kept = Vec::with_capacity(up.subscribers.len());
        for mut s in std::mem::take(&mut up.subscribers) {
            if s.peer.is_transport_closed() {
                continue;
            }
            match crate::auth::principal::revalidate(&app.store, &s.who).await {
                Ok(Some(current)) => s.who = current,
                Ok(None) => {
                    tracing::debug!(user = %s.who.user_id, "MCP gateway: credential no longer valid; resource subscription ends");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "MCP gateway: subscriber not revalidated; update not sent");
                    kept.push(s);
                    continue;
                }
            }
            if may_read(app, &s.who, &update).await
                && s.peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(
                        update.uri.clone(),
                    ))
                    .await
                    .is_err()
            {
                continue; // the session ended
            }
            kept.push(s);
        }
        up.subscribers = kept;
        drop_if_unused(&mut by_key, &key).await;
    }

    /// Subscribes again, on the server's current session, every URI whose upstream
    /// session was replaced; drops the subscribers whose gateway session ended.
    async fn resubscribe(&self, app: &AppState) {
        let mut by_key = self.by_key.lock().await;
        let keys: Vec<(String, String)> = by_key.keys().cloned().collect();
        for key in keys {
            if let Some(up) = by_key.get_mut(&key) {
                up.subscribers.retain(|s| !s.peer.is_transport_closed());
            }
            drop_if_unused(&mut by_key, &key).await;
            let Some(up) = by_key.get_mut(&key) else {
                continue;
            };
            if up
                .session
                .upgrade()
                .is_some_and(|c| !c.is_transport_closed())
            {
                continue;
            }
            let (server_id, uri) = &key;
            let Ok(rec) = records::lookup(app, server_id).await else {
                continue; // deleted: its subscribers get no more updates
            };
            if rec.status != crate::mcp::model::status::RUNNING {
                continue;
            }
            match connect::session(app, &rec).await {
                Ok(client) => match upstream_subscribe(&client, &rec.name, uri).await {
                    Ok(()) => {
                        tracing::info!(server = %rec.name, uri = %uri, "MCP gateway: resource subscribed again on the new session");
                        up.session = Arc::downgrade(&client);
                    }
                    Err(e) => {
                        tracing::warn!(server = %rec.name, error = %e, "MCP gateway: resource not subscribed again")
                    }
                },
                Err(e) => {
                    tracing::debug!(server = %rec.name, error = %e, "MCP gateway: no session to subscribe again on")
                }
            }
        }
    }
}

/// Whether `who` may read `update`'s URI now: their workspace scope reaches the server
/// that owns it (as `resources/read` checks).
async fn may_read(app: &AppState, who: &Principal, update: &ResourceUpdated) -> bool {
    let owner = async {
        let scope = access::scope(app, Some(&who.user_id)).await?;
        super::catalog::resource_owner(app, &update.uri, &scope).await
    };
    match owner.await {
        Ok(Some(rec)) => rec.id == update.server_id,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "MCP gateway: access not checked; update not sent");
            false
        }
    }
}

#[allow(deprecated)] // legacy-only in rmcp: servers before 2026-07-28 need it
async fn upstream_subscribe(client: &Client, server: &str, uri: &str) -> Result<()> {
    client
        .peer()
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .map_err(|e| connect::map_service_error(server, e))
}

/// Removes `key` when it has no subscribers left, unsubscribing upstream (best effort:
/// a failure only means the server keeps sending updates nobody receives).
#[allow(deprecated)] // see upstream_subscribe
async fn drop_if_unused(by_key: &mut HashMap<(String, String), Upstream>, key: &(String, String)) {
    if by_key.get(key).is_none_or(|up| !up.subscribers.is_empty()) {
        return;
    }
    let Some(up) = by_key.remove(key) else {
        return;
    };
    let Some(client) = up.session.upgrade().filter(|c| !c.is_transport_closed()) else {
        return;
    };
    let r = client
        .peer()
        .unsubscribe(UnsubscribeRequestParams::new(key.1.clone()))
        .await;
    if let Err(e) = r {
        tracing::warn!(server_id = %key.0, error = %e, "MCP gateway: upstream resources/unsubscribe failed");
    }
}
