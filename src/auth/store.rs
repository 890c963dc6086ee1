//! SQL for the tables auth owns: `auth_sessions` (login sessions), `refresh_tokens`
//! (stored as SHA-256 only) and `api_keys`. The `users` and `user_roles` tables belong
//! to [`crate::users::store`]. Times are RFC 3339 strings, UTC with milliseconds.

use super::model::{ApiKey, KeyRow, SessionInfo};
use crate::error::{Error, Result};
use crate::store::list::{Field, FieldKind, ListSpec, Order, Page, SqlParts};
use rusqlite::{Connection, OptionalExtension, Row, params};

// ---- login sessions ----

/// A new login session row. `last_used_at` starts at `created_at`.
pub struct NewSession<'a> {
    /// `ses_…`.
    pub id: &'a str,
    /// Owner (`usr_…`).
    pub user_id: &'a str,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC.
    pub expires_at: &'a str,
    /// Peer IP address.
    pub client_addr: Option<&'a str>,
    /// `User-Agent`, at most 256 characters.
    pub user_agent: Option<&'a str>,
}

/// Inserts a login session.
pub fn insert_session(conn: &Connection, s: &NewSession<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO auth_sessions (id, user_id, created_at, expires_at, last_used_at, client_addr, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6)",
        params![s.id, s.user_id, s.created_at, s.expires_at, s.client_addr, s.user_agent],
    )?;
    Ok(())
}

/// `(user_id, revoked_at, expires_at)` of session `id`, if it exists.
pub fn session_state(
    conn: &Connection,
    id: &str,
) -> Result<Option<(String, Option<String>, String)>> {
    Ok(conn
        .query_row(
            "SELECT user_id, revoked_at, expires_at FROM auth_sessions WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// Records that session `id` was used at `now`.
pub fn touch_session(conn: &Connection, id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE auth_sessions SET last_used_at = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    Ok(())
}

/// Expiry of login session `session_id` of `user_id`, if it is neither revoked nor
/// expired at `now`.
pub fn live_session_expiry(
    conn: &Connection,
    session_id: &str,
    user_id: &str,
    now: &str,
) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT expires_at FROM auth_sessions WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
            params![session_id, user_id, now],
            |r| r.get(0),
        )
        .optional()?)
}

/// The owner of session `id` if it is not revoked.
pub fn unrevoked_session_owner(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT user_id FROM auth_sessions WHERE id = ?1 AND revoked_at IS NULL",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Live sessions of `user_id` at `now`, newest first; `current` marks the one with id
/// `current`.
pub fn live_sessions(
    conn: &Connection,
    user_id: &str,
    now: &str,
    current: Option<&str>,
) -> Result<Vec<SessionInfo>> {
    let mut stmt = conn.prepare(
        "SELECT id, created_at, expires_at, last_used_at, client_addr, user_agent FROM auth_sessions
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC",
    )?;
    let rows = stmt
        .query_map(params![user_id, now], |r| {
            let id: String = r.get(0)?;
            Ok(SessionInfo {
                current: current == Some(id.as_str()),
                id,
                created_at: r.get(1)?,
                expires_at: r.get(2)?,
                last_used_at: r.get(3)?,
                client_addr: r.get(4)?,
                user_agent: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Marks a session revoked (its access and refresh tokens stop working). Returns
/// whether it was live.
pub fn revoke_session(conn: &Connection, session_id: &str, reason: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
        params![crate::time::now_rfc3339(), reason, session_id],
    )?;
    Ok(n > 0)
}

/// Revokes every live session of a user; returns how many.
pub fn revoke_user_sessions(conn: &Connection, user_id: &str, reason: &str) -> Result<usize> {
    revoke_user_sessions_at(conn, user_id, reason, &crate::time::now_rfc3339())
}

/// [`revoke_user_sessions`] with the revocation time given (`now` of the caller's
/// change, so that one change records one time).
pub fn revoke_user_sessions_at(
    conn: &Connection,
    user_id: &str,
    reason: &str,
    now: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
        params![now, reason, user_id],
    )?)
}

/// Deletes sessions (their refresh tokens go with them) that expired or were revoked
/// before `cutoff`; returns how many.
pub fn delete_sessions_before(conn: &Connection, cutoff: &str) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM auth_sessions WHERE expires_at < ?1 OR revoked_at < ?1",
        [cutoff],
    )?)
}

// ---- refresh tokens ----

/// Stores a refresh token (its SHA-256 only) for `session_id`.
pub fn insert_refresh_token(
    conn: &Connection,
    token_hash: &str,
    session_id: &str,
    issued_at: &str,
    expires_at: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, session_id, issued_at, expires_at],
    )?;
    Ok(())
}

/// `(session_id, expires_at, used_at)` of the refresh token with this hash.
pub fn refresh_token(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<(String, String, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = ?1",
            [token_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// Marks the refresh token with this hash used at `now`.
pub fn mark_refresh_used(conn: &Connection, token_hash: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2",
        params![now, token_hash],
    )?;
    Ok(())
}

// ---- API keys ----

const KEY_COLUMNS: &str = "k.id, k.name, k.prefix, k.scopes, k.user_id, k.created_at, k.expires_at, k.last_used_at, k.revoked_at";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = r.get(3)?;
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        user_id: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        last_used_at: r.get(7)?,
        revoked_at: r.get(8)?,
        key: None,
    })
}

/// Filters and sorts of `GET /api-keys`.
pub const KEY_LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "k.name", FieldKind::Text),
        Field::new("prefix", "k.prefix", FieldKind::Text),
        Field::new("user_id", "k.user_id", FieldKind::Text),
        Field::new("created_at", "k.created_at", FieldKind::Text),
        Field::new("expires_at", "k.expires_at", FieldKind::Text),
        Field::new("last_used_at", "k.last_used_at", FieldKind::Text),
    ],
    default_sort: "k.created_at",
    default_order: Order::Desc,
    search: &[],
};

/// The conditions a key list adds to the caller's filters: only `owner`'s keys when
/// set, and only unrevoked ones unless `include_revoked`.
pub fn narrow_key_list(
    mut parts: SqlParts,
    owner: Option<&str>,
    include_revoked: bool,
) -> SqlParts {
    if let Some(owner) = owner {
        parts = parts.and(
            "k.user_id = ?",
            [rusqlite::types::Value::Text(owner.to_string())],
        );
    }
    if !include_revoked {
        parts = parts.and("k.revoked_at IS NULL", []);
    }
    parts
}

/// One page of keys for list query `parts` (see [`KEY_LIST`], [`narrow_key_list`]).
pub fn list_keys(conn: &Connection, parts: &SqlParts) -> Result<Page<ApiKey>> {
    parts.query(conn, KEY_COLUMNS, "api_keys k", key_from_row)
}

/// Key `id`; `RESOURCE_NOT_FOUND` when there is none.
pub fn key(conn: &Connection, id: &str) -> Result<ApiKey> {
    conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"),
        [id],
        key_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("api key", id))
}

/// Whether `user_id` already has a key called `name`.
pub fn key_name_taken(conn: &Connection, user_id: &str, name: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE user_id = ?1 AND name = ?2)",
        params![user_id, name],
        |r| r.get(0),
    )?)
}

/// A new API key row (`scopes` as a JSON array, `key_hash` the key's SHA-256).
pub struct NewKeyRow<'a> {
    /// `key_…`.
    pub id: &'a str,
    /// Owner (`usr_…`).
    pub user_id: &'a str,
    /// Trimmed name, unique per owner.
    pub name: &'a str,
    /// The 8 characters after `mcpd_`.
    pub prefix: &'a str,
    /// Lowercase hex SHA-256 of the whole key.
    pub key_hash: &'a str,
    /// JSON array of scope strings.
    pub scopes: &'a str,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC; `None`: never expires.
    pub expires_at: Option<&'a str>,
}

/// Inserts an API key.
pub fn insert_key(conn: &Connection, k: &NewKeyRow<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            k.id,
            k.user_id,
            k.name,
            k.prefix,
            k.key_hash,
            k.scopes,
            k.created_at,
            k.expires_at
        ],
    )?;
    Ok(())
}

/// Marks key `id` revoked at `now`.
pub fn revoke_key(conn: &Connection, id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    Ok(())
}

/// The key with this prefix, as the credential check needs it.
pub fn key_by_prefix(conn: &Connection, prefix: &str) -> Result<Option<KeyRow>> {
    Ok(conn
        .query_row(
            "SELECT id, user_id, key_hash, scopes, expires_at, revoked_at, last_used_at FROM api_keys WHERE prefix = ?1",
            [prefix],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?)
}

/// `(scopes (JSON array), expires_at)` of key `key_id` owned by `user_id`, if it is
/// neither revoked nor expired at `now`.
pub fn live_key(
    conn: &Connection,
    key_id: &str,
    user_id: &str,
    now: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT scopes, expires_at FROM api_keys WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)",
            params![key_id, user_id, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Records that key `id` was used at `now`.
pub fn touch_key(conn: &Connection, id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    Ok(())
}

/// API keys as `active` (neither revoked nor expired at `now`) or `inactive`
/// (`GET /stats`).
pub fn count_keys(conn: &Connection, now: &str) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        conn,
        "SELECT CASE WHEN revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)
                THEN 'active' ELSE 'inactive' END, count(*)
         FROM api_keys GROUP BY 1",
        [now],
    )
}
