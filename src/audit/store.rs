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
    search: &[],
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
    parts.query(conn, COLUMNS, "audit_log a", entry_of)
}

/// The columns [`entry_of`] reads, in its order.
const COLUMNS: &str = "a.id, a.timestamp, a.actor_user_id, a.actor_api_key_id, a.action, a.target_type, a.target_id, a.outcome, a.client_addr, a.request_id, a.details";

fn entry_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    entry_at(r, 0)
}

/// The entry in [`COLUMNS`] starting at column `o`.
fn entry_at(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<AuditEntry> {
    let details: Option<String> = r.get(o + 10)?;
    Ok(AuditEntry {
        id: r.get(o)?,
        timestamp: r.get(o + 1)?,
        actor_user_id: r.get(o + 2)?,
        actor_api_key_id: r.get(o + 3)?,
        action: r.get(o + 4)?,
        target_type: r.get(o + 5)?,
        target_id: r.get(o + 6)?,
        outcome: r.get(o + 7)?,
        client_addr: r.get(o + 8)?,
        request_id: r.get(o + 9)?,
        details: details.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

/// The position of the newest entry (its rowid; 0 when the log is empty), for
/// following the log from now on ([`after`]).
pub fn newest(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT coalesce(max(rowid), 0) FROM audit_log", [], |r| {
            r.get(0)
        })?,
    )
}

/// Up to `limit` entries written after position `pos`, oldest first, with their
/// positions (the live `audit` event channel).
pub fn after(conn: &Connection, pos: i64, limit: usize) -> Result<Vec<(i64, AuditEntry)>> {
    let mut st = conn.prepare(&format!(
        "SELECT a.rowid, {COLUMNS} FROM audit_log a WHERE a.rowid > ?1 ORDER BY a.rowid LIMIT ?2"
    ))?;
    let rows = st.query_map(rusqlite::params![pos, limit as i64], |r| {
        Ok((r.get(0)?, entry_at(r, 1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
