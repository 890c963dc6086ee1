//! SQL of the `config_entries` table. A row is read with its sealed value beside it
//! (`(entry, Some(sealed text))` for a secret, whose `entry.value` is then `null`);
//! masking and opening are the domain's ([`super::get`], [`super::list`]).

use super::model::ConfigEntry;
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

const COLUMNS: &str = "c.key, c.value, c.sealed_value, c.scope, c.description, c.version, c.created_at, c.updated_at, c.updated_by";

/// An entry and, for a secret, its sealed value.
pub type Stored = (ConfigEntry, Option<String>);

fn from_row(r: &Row<'_>) -> rusqlite::Result<Stored> {
    let sealed: Option<String> = r.get(2)?;
    let value: Option<String> = r.get(1)?;
    let value = value
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or(Value::Null);
    Ok((
        ConfigEntry {
            key: r.get(0)?,
            value,
            secret: sealed.is_some(),
            scope: r.get(3)?,
            description: r.get(4)?,
            version: r.get(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
            updated_by: r.get(8)?,
        },
        sealed,
    ))
}

/// The filterable and sortable fields of `GET /config`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("key", "c.key", FieldKind::Text),
        Field::new("scope", "c.scope", FieldKind::Text),
        Field::new("secret", "(c.sealed_value IS NOT NULL)", FieldKind::Bool),
        Field::new("updated_at", "c.updated_at", FieldKind::Time),
        Field::new("created_at", "c.created_at", FieldKind::Time),
        Field::new("updated_by", "c.updated_by", FieldKind::Text),
    ],
    default_sort: "c.key",
    default_order: Order::Asc,
    // A secret's value column is NULL (it is sealed elsewhere): search finds plain values only.
    search: &["c.key", "c.description", "c.value"],
};

/// What `GET /config` filters on besides the fields of [`LIST`].
#[derive(Debug, Default)]
pub struct Narrowing {
    /// Only service-scoped entries.
    pub any_service: bool,
    /// Only entries scoped to this service id (`Some("")` matches nothing).
    pub service_id: Option<String>,
}

/// One page of entries matching `q` and `n`.
pub fn list(conn: &Connection, q: &ListQuery, n: Narrowing) -> Result<Page<Stored>> {
    let mut parts = q.sql(&LIST)?;
    if n.any_service {
        parts = parts.and("c.scope LIKE 'service:%'", []);
    }
    if let Some(id) = n.service_id {
        parts = parts.and("c.scope = 'service:' || ?", [Sql::Text(id)]);
    }
    parts.query(conn, COLUMNS, "config_entries c", from_row)
}

/// The entry `key`, if any.
pub fn load(conn: &Connection, key: &str) -> Result<Option<Stored>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM config_entries c WHERE c.key = ?1"),
            [key],
            from_row,
        )
        .optional()?)
}

/// Whether an entry `key` exists.
pub fn exists(conn: &Connection, key: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM config_entries WHERE key = ?1)",
        [key],
        |r| r.get(0),
    )?)
}

/// The stored value of `key` as `(plain JSON text, sealed text)`, `None` when absent.
pub fn raw_value(conn: &Connection, key: &str) -> Result<Option<(Option<String>, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT value, sealed_value FROM config_entries WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The columns a write sets: JSON text of a plain value or the sealed text of a
/// secret (one of the two), scope, description, the writer's user id, and the time.
pub struct Write<'a> {
    /// Config key, 1–128 characters of dot-separated `a-z 0-9 _ -` segments.
    pub key: &'a str,
    /// JSON text of a plain value; `None` for a secret.
    pub value: Option<&'a str>,
    /// Vault-sealed JSON text of a secret (`v1:<key id>:<base64>`); `None` for a plain value.
    pub sealed: Option<&'a str>,
    /// `global` or `service:<service id>`.
    pub scope: &'a str,
    /// Free text, at most 1024 bytes.
    pub description: &'a str,
    /// User id (`usr_…`) of the writer, stored as `updated_by`; `None` for the daemon.
    pub by: Option<&'a str>,
    /// Time of the write (RFC 3339 UTC), stored as `updated_at` (and `created_at` on insert).
    pub now: &'a str,
}

/// Inserts a new entry at version 1.
pub fn insert(conn: &Connection, w: &Write<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO config_entries (key, value, sealed_value, scope, description, version, created_at, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)",
        params![w.key, w.value, w.sealed, w.scope, w.description, w.now, w.by],
    )?;
    Ok(())
}

/// Replaces an entry's value, scope and description and bumps its version.
pub fn update(conn: &Connection, w: &Write<'_>) -> Result<()> {
    conn.execute(
        "UPDATE config_entries SET value = ?2, sealed_value = ?3, scope = ?4, description = ?5,
           version = version + 1, updated_at = ?6, updated_by = ?7 WHERE key = ?1",
        params![
            w.key,
            w.value,
            w.sealed,
            w.scope,
            w.description,
            w.now,
            w.by
        ],
    )?;
    Ok(())
}

/// Deletes `key`; whether it existed.
pub fn delete(conn: &Connection, key: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM config_entries WHERE key = ?1", [key])? == 1)
}

/// Key → `version` (as text) of every configuration entry: what a backup restore compares
/// between the live and the restored database to report keys added, removed or changed.
pub fn name_stamps(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    crate::store::text_pairs(
        conn,
        "SELECT key, CAST(version AS TEXT) FROM config_entries",
    )
}
