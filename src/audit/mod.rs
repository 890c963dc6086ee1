//! The audit log: every mutating request and every secret reveal, written in the same
//! transaction as the change it records where there is one.

pub mod api;
pub mod store;

use crate::auth::principal::Principal;
use crate::store::Store;
use rusqlite::Connection;
use serde_json::Value;

/// One audit entry: what was done to what, whether it worked, and context. Made with
/// [`Entry::new`] and its builders, written with [`record`] (inside the transaction of
/// the change it records) or [`record_alone`] (an outcome with no change to join).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `<domain>.<verb>`, e.g. `services.create`.
    pub action: &'static str,
    /// `service`, `mcp_server`, `user`, …
    pub target_type: Option<&'static str>,
    /// Id of the target (`svc_…`, `mcp_…`, a config key, …); `None` when there is none.
    pub target_id: Option<String>,
    /// Stored as outcome `success` when true, `failure` when false.
    pub success: bool,
    /// Extra context; must never hold a secret.
    pub details: Option<Value>,
}

impl Entry {
    /// A successful `action` on nothing in particular.
    pub fn new(action: &'static str) -> Entry {
        Entry {
            action,
            target_type: None,
            target_id: None,
            success: true,
            details: None,
        }
    }

    /// … on the `target_type` with this id.
    pub fn on(mut self, target_type: &'static str, target_id: impl Into<String>) -> Entry {
        self.target_type = Some(target_type);
        self.target_id = Some(target_id.into());
        self
    }

    /// … on some `target_type`, with an id only when there is one.
    pub fn on_any(mut self, target_type: &'static str, target_id: Option<&str>) -> Entry {
        self.target_type = Some(target_type);
        self.target_id = target_id.map(str::to_owned);
        self
    }

    /// … with `details` (never a secret).
    pub fn details(mut self, details: Value) -> Entry {
        self.details = Some(details);
        self
    }

    /// … that failed.
    pub fn failed(self) -> Entry {
        self.succeeded(false)
    }

    /// … that worked or not.
    pub fn succeeded(mut self, success: bool) -> Entry {
        self.success = success;
        self
    }
}

/// Who did it, copied out of a [`Principal`] so it can move into a blocking closure.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Acting user (`usr_…`); `None` for the daemon itself.
    pub user_id: Option<String>,
    /// API key (`key_…`) the request came with, directly or through a client-credentials token.
    pub api_key_id: Option<String>,
    /// Peer IP address of the request; `None` for the daemon itself.
    pub client_addr: Option<String>,
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor {
            user_id: Some(p.user_id.clone()),
            api_key_id: p.api_key_id.clone(),
            client_addr: p.client_addr.clone(),
        }
    }
}

impl Actor {
    /// The daemon itself (reconcile, schedules, first-start bootstrap).
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// Records `entry` in a transaction of its own, for an outcome with no change to join
/// (a failure, a login, an exec). A failure to record is logged, not returned: the
/// outcome being audited (usually an error) is what the caller reports.
pub async fn record_alone(store: &Store, actor: Actor, entry: Entry) {
    let action = entry.action;
    let r = store.write(move |tx| record(tx, &actor, &entry)).await;
    if let Err(e) = r {
        tracing::warn!(error = %e, action, "could not write an audit entry");
    }
}

/// Appends an entry using `conn` (pass the transaction of the change being recorded),
/// stamped with a fresh `aud_` id, the time and the current request id.
pub fn record(conn: &Connection, actor: &Actor, e: &Entry) -> crate::error::Result<()> {
    store::insert(conn, actor, e)
}

/// An audit entry as `GET /audit` shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Entry id, `aud_` + 16 alphanumerics.
    pub id: String,
    /// When it was written (RFC 3339 UTC, milliseconds).
    pub timestamp: String,
    /// Acting user; `null` for the daemon (schedules, reconcile, bootstrap) and failed logins of
    /// unknown users.
    pub actor_user_id: Option<String>,
    /// API key used, if any (`key_…`).
    pub actor_api_key_id: Option<String>,
    /// `<domain>.<verb>`, one of the actions listed in docs/api.md §1.11.
    pub action: String,
    /// Kind of target, e.g. `service`, `mcp_server`, `user`, `config`, `backup`; `null` when none.
    pub target_type: Option<String>,
    /// Id (or key, name) of the target; `null` when none.
    pub target_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Peer IP address of the request; `null` for the daemon.
    pub client_addr: Option<String>,
    /// `X-Request-ID` of the request that wrote it (`req_…` or the client's); `null` outside a
    /// request.
    pub request_id: Option<String>,
    /// Action-specific context; never holds secret values.
    pub details: Option<Value>,
}

/// Audit entries, newest first by default; `from`/`to` bound the timestamp (RFC 3339;
/// `from` inclusive, `to` exclusive). Filters and sorts: see [`store::LIST`].
pub async fn list(
    store: &crate::store::Store,
    mut q: crate::store::list::ListQuery,
) -> crate::error::Result<crate::store::list::Page<AuditEntry>> {
    let mut bounds = Vec::new();
    for (name, op) in [("from", store::Bound::From), ("to", store::Bound::To)] {
        if let Some(v) = q.take(name) {
            bounds.push((op, crate::time::input_param(name, &v)?));
        }
    }
    store.read(move |c| store::list(c, &q, &bounds)).await
}
