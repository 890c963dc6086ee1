//! The session registry: at most one live MCP client session per server, shared by
//! every concurrent call (rmcp matches responses to JSON-RPC ids). A session whose
//! transport closed (container restarted, remote went away) is replaced on the next
//! call; connecting is serialised per server so concurrent first calls open one session.

use super::transport::{Client, Handler, ListChanged, ResourceUpdated};
use crate::error::Result;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Client>>>>;

/// Live sessions by server id. Held in [`crate::app::App`].
pub struct Sessions {
    slots: Mutex<HashMap<String, Slot>>,
    changed: mpsc::UnboundedSender<ListChanged>,
    changed_rx: Mutex<Option<mpsc::UnboundedReceiver<ListChanged>>>,
    updated: broadcast::Sender<ResourceUpdated>,
}

impl Default for Sessions {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            slots: Mutex::default(),
            changed: tx,
            changed_rx: Mutex::new(Some(rx)),
            updated: broadcast::channel(256).0,
        }
    }
}

impl Sessions {
    /// The list-changed notifications of every session; taken once by the task that
    /// refreshes the discovery cache.
    pub fn take_changes(&self) -> Option<mpsc::UnboundedReceiver<ListChanged>> {
        self.changed_rx.lock().ok()?.take()
    }

    /// The `notifications/resources/updated` of every session from now on (the
    /// gateway's subscription relay; a receiver that lags loses the oldest).
    pub fn resource_updates(&self) -> broadcast::Receiver<ResourceUpdated> {
        self.updated.subscribe()
    }

    /// The client handler for a new session of `server_id`.
    pub fn handler(&self, server_id: &str) -> Handler {
        Handler::new(server_id, Some(self.changed.clone())).with_updates(self.updated.clone())
    }

    fn slot(&self, server_id: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(server_id.to_string()).or_default().clone()
    }

    /// The live session of `server_id`, or a new one from `connect`. The second value
    /// is `true` when the session was just opened.
    pub async fn get_or_connect<F, Fut>(
        &self,
        server_id: &str,
        connect: F,
    ) -> Result<(Arc<Client>, bool)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Client>>,
    {
        let slot = self.slot(server_id);
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref()
            && !c.is_transport_closed()
        {
            return Ok((c.clone(), false));
        }
        if let Some(old) = guard.take() {
            old.cancellation_token().cancel();
        }
        let client = Arc::new(connect().await?);
        *guard = Some(client.clone());
        Ok((client, true))
    }

    /// The live session, if there is one (never connects).
    pub async fn current(&self, server_id: &str) -> Option<Arc<Client>> {
        let slot = self.slot(server_id);
        let guard = slot.lock().await;
        guard.as_ref().filter(|c| !c.is_transport_closed()).cloned()
    }

    /// The live session, without waiting: `None` also while it is being opened or
    /// replaced (the caller then goes through [`Sessions::get_or_connect`]). For the
    /// call path, which must not queue behind a connect it does not need.
    pub fn open_now(&self, server_id: &str) -> Option<Arc<Client>> {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.get(server_id)?.clone()
        };
        let guard = slot.try_lock().ok()?;
        guard.as_ref().filter(|c| !c.is_transport_closed()).cloned()
    }

    /// Closes the session of `server_id` (in-flight calls fail with a closed transport).
    /// For a stdio server this ends only the attach; the container keeps running.
    pub async fn close(&self, server_id: &str) {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.remove(server_id)
        };
        if let Some(slot) = slot
            && let Some(c) = slot.lock().await.take()
        {
            c.cancellation_token().cancel();
        }
    }

    /// Drops the session of `server_id` if it is `client` (after it failed), so the next
    /// call reconnects; a newer session is left alone.
    pub async fn discard(&self, server_id: &str, client: &Arc<Client>) {
        let slot = self.slot(server_id);
        let mut guard = slot.lock().await;
        if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, client))
            && let Some(c) = guard.take()
        {
            c.cancellation_token().cancel();
        }
    }

    /// Every open session (for the liveness check).
    pub async fn live(&self) -> Vec<(String, Arc<Client>)> {
        let slots: Vec<(String, Slot)> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let mut out = Vec::new();
        for (id, slot) in slots {
            if let Some(c) = slot.lock().await.as_ref() {
                out.push((id, c.clone()));
            }
        }
        out
    }

    /// Closes every session (shutdown).
    pub async fn close_all(&self) {
        let ids: Vec<String> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.keys().cloned().collect()
        };
        for id in ids {
            self.close(&id).await;
        }
    }
}
