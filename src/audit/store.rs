//! SQL of the `audit_log` table.

use super::{Actor, AuditEntry, Entry};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::Connection;
use rusqlite::types::Value as Sql;

/// Appends `e` by `actor`, with a fresh `aud_` id, the time and the current request id.
pub fn insert(conn: &Connection, actor: &Actor, e: &Entry) -> Result<()> {
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
            crate::telemetry::request_id::current(),
            e.details.as_ref().map(|d| d.to_string()),
        ],
    )?;
    Ok(())
}

/// The filterable and sortable fields of `GET /audit`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("timestamp", "a.timestamp", FieldKind::Time),
        Field::new("actor_user_id", "a.actor_user_id", FieldKind::Text),
        Field::new("actor_api_key_id", "a.actor_api_key_id", FieldKind::Text),
        Field::new("action", "a.action", FieldKind::Text),
        Field::new("target_type", "a.target_type", FieldKind::Text),
        Field::new("target_id", "a.target_id", FieldKind::Text),
        Field::new("outcome", "a.outcome", FieldKind::Text),
        Field::new("request_id", "a.request_id", FieldKind::Text),
    ],
    default_sort: "a.timestamp",
    default_order: Order::Desc,
};

/// A time bound on `timestamp`: `From` inclusive, `To` exclusive.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// `from=`: entries at or after this time.
    From,
    /// `to=`: entries before this time.
    To,
}

/// One page of entries matching `q`, within `bounds` (normalised RFC 3339 times).
pub fn list(
    conn: &Connection,
    q: &ListQuery,
    bounds: &[(Bound, String)],
) -> Result<Page<AuditEntry>> {
    let mut parts = q.sql(&LIST)?;
    for (bound, t) in bounds {
        let op = match bound {
            Bound::From => ">=",
            Bound::To => "<",
        };
        parts = parts.and(&format!("a.timestamp {op} ?"), [Sql::Text(t.clone())]);
    }
    parts.query(
        conn,
        "a.id, a.timestamp, a.actor_user_id, a.actor_api_key_id, a.action, a.target_type, a.target_id, a.outcome, a.client_addr, a.request_id, a.details",
        "audit_log a",
        |r| {
            let details: Option<String> = r.get(10)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                timestamp: r.get(1)?,
                actor_user_id: r.get(2)?,
                actor_api_key_id: r.get(3)?,
                action: r.get(4)?,
                target_type: r.get(5)?,
                target_id: r.get(6)?,
                outcome: r.get(7)?,
                client_addr: r.get(8)?,
                request_id: r.get(9)?,
                details: details.and_then(|d| serde_json::from_str(&d).ok()),
            })
        },
    )
}
