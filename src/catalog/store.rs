//! SQL for `mcp_catalog` (entries added through the API) and `mcp_server_configs`
//! (the configuration of servers created from an entry).

use super::model::{Entry, EntrySpec};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn to_entry((spec, created, updated): (String, String, String)) -> Result<Entry> {
    let spec: EntrySpec = serde_json::from_str(&spec)?;
    Ok(Entry::new(spec, false, Some(created), Some(updated)))
}

/// Every added entry, by name.
pub fn all(conn: &Connection) -> Result<Vec<Entry>> {
    let mut st =
        conn.prepare("SELECT spec, created_at, updated_at FROM mcp_catalog ORDER BY name")?;
    let rows = st.query_map([], from_row)?;
    rows.map(|r| to_entry(r?)).collect()
}

/// One added entry.
pub fn find(conn: &Connection, name: &str) -> Result<Option<Entry>> {
    conn.query_row(
        "SELECT spec, created_at, updated_at FROM mcp_catalog WHERE name = ?1",
        [name],
        from_row,
    )
    .optional()?
    .map(to_entry)
    .transpose()
}

/// Stores a new added entry (`builtin: false`), stamped now; `by` is the creator's user id.
pub fn insert(conn: &Connection, spec: &EntrySpec, by: Option<&str>) -> Result<()> {
    let now = crate::time::now_rfc3339();
    conn.execute(
        "INSERT INTO mcp_catalog (name, spec, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![spec.name, serde_json::to_string(spec)?, by, now],
    )?;
    Ok(())
}

/// Replaces an entry's spec; false when there is none.
pub fn update(conn: &Connection, spec: &EntrySpec) -> Result<bool> {
    let n = conn.execute(
        "UPDATE mcp_catalog SET spec = ?2, updated_at = ?3 WHERE name = ?1",
        params![
            spec.name,
            serde_json::to_string(spec)?,
            crate::time::now_rfc3339()
        ],
    )?;
    Ok(n == 1)
}

/// Removes an entry; false when there is none.
pub fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM mcp_catalog WHERE name = ?1", [name])? == 1)
}

/// How many servers were created from entry `name`.
pub fn servers_using(conn: &Connection, name: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM mcp_server_configs WHERE registry = ?1",
        [name],
        |r| r.get(0),
    )?)
}

/// The stored configuration of a server created from an entry.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Id (`mcp_…`) of the server.
    pub server_id: String,
    /// Name of the catalog entry it was made from.
    pub registry: String,
    /// The configuration without its secret fields.
    pub config: Value,
    /// Config keys (vault) holding the secret fields.
    pub secret_keys: Vec<String>,
}

/// Inserts or replaces a server's configuration.
pub fn save_config(conn: &Connection, c: &ServerSettings) -> Result<()> {
    conn.execute(
        "INSERT INTO mcp_server_configs (server_id, registry, config, secret_keys, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (server_id) DO UPDATE SET registry = ?2, config = ?3, secret_keys = ?4, updated_at = ?5",
        params![
            c.server_id,
            c.registry,
            serde_json::to_string(&c.config)?,
            serde_json::to_string(&c.secret_keys)?,
            crate::time::now_rfc3339()
        ],
    )?;
    Ok(())
}

/// A server's configuration, when it was created from an entry.
pub fn load_config(conn: &Connection, server_id: &str) -> Result<Option<ServerSettings>> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT registry, config, secret_keys FROM mcp_server_configs WHERE server_id = ?1",
            [server_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(registry, config, keys)| {
        Ok(ServerSettings {
            server_id: server_id.to_string(),
            registry,
            config: serde_json::from_str(&config)?,
            secret_keys: serde_json::from_str(&keys)?,
        })
    })
    .transpose()
}

/// Deletes config entries (the secret fields of a server) that no service references
/// any more. Called after the server's service is gone or reconfigured.
pub fn delete_secret_keys(conn: &Connection, keys: &[String]) -> Result<()> {
    for k in keys {
        conn.execute("DELETE FROM config_entries WHERE key = ?1", [k])?;
    }
    Ok(())
}
