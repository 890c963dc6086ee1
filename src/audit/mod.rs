//! The audit log: every mutating request and every secret reveal, written in the same
//! transaction as the change it records where there is one.

use crate::auth::principal::Principal;
use rusqlite::Connection;
use serde_json::Value;

/// One audit entry. `action` is `<domain>.<verb>`, e.g. `services.create`.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub success: bool,
    /// Extra context; must never hold a secret.
    pub details: Option<Value>,
}

/// Who did it, copied out of a [`Principal`] so it can move into a blocking closure.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
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

/// Appends an entry using `conn` (pass the transaction of the change being recorded).
pub fn record(conn: &Connection, actor: &Actor, e: &Entry<'_>) -> crate::error::Result<()> {
    conn.execute(
        "INSERT INTO audit_log (id, timestamp, actor_user_id, actor_api_key_id, action, target_type, target_id, outcome, client_addr, request_id, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            crate::ids::new_id("aud"),
            crate::time::now_rfc3339(),
            actor.user_id,
            actor.api_key_id,
            e.action,
            e.target_type,
            e.target_id,
            if e.success { "success" } else { "failure" },
            actor.client_addr,
            crate::http::request_id::current(),
            e.details.as_ref().map(|d| d.to_string()),
        ],
    )?;
    Ok(())
}
