//! SQL of the vault's own tables, `vault_keys` (which master key seals the database,
//! with a sealed check value) and `daemon_secrets` (the daemon's own sealed secrets),
//! and the re-seal walk over every sealed column ([`super::SEALED_COLUMNS`]) that a
//! key rotation needs. The walk is the one place SQL touches other domains' tables
//! generically: it only reads and rewrites the sealed columns the vault registered.

use rusqlite::{Connection, OptionalExtension, params};

/// The active key's id and sealed check value, if a key is recorded.
pub fn active_key(conn: &Connection) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT key_id, check_value FROM vault_keys WHERE retired_at IS NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Records `key_id` (with its sealed check value) as the active key.
pub fn insert_key(conn: &Connection, key_id: &str, check: &str, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO vault_keys (key_id, check_value, created_at) VALUES (?1, ?2, ?3)",
        params![key_id, check, now],
    )?;
    Ok(())
}

/// Marks the active key retired at `now`.
pub fn retire_active_key(conn: &Connection, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE vault_keys SET retired_at = ?1 WHERE retired_at IS NULL",
        [now],
    )?;
    Ok(())
}

/// The sealed values of `table.column` with their row ids (`id_col`).
pub fn sealed_values(
    conn: &Connection,
    table: &str,
    column: &str,
    id_col: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {id_col}, {column} FROM {table} WHERE {column} IS NOT NULL"
    ))?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Replaces one sealed value of `table.column`.
pub fn set_sealed_value(
    conn: &Connection,
    (table, column, id_col): (&str, &str, &str),
    id: &str,
    sealed: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!("UPDATE {table} SET {column} = ?1 WHERE {id_col} = ?2"),
        params![sealed, id],
    )?;
    Ok(())
}

/// The sealed daemon secret `name`, if stored.
pub fn daemon_secret(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM daemon_secrets WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
}

/// Stores the daemon secret `name`, sealed.
pub fn insert_daemon_secret(
    conn: &Connection,
    name: &str,
    sealed: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO daemon_secrets (name, value, created_at) VALUES (?1, ?2, ?3)",
        params![name, sealed, now],
    )?;
    Ok(())
}
