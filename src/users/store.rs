//! SQL for users and their roles.

use super::model::{NewUser, User};
use crate::error::{Error, Internal, Result};
use rusqlite::{Connection, OptionalExtension, Row};

pub const COLUMNS: &str = "u.id, u.username, u.email, u.full_name, u.status, u.mfa_enabled, u.created_at, u.updated_at, u.last_login_at";

/// Maps a row selected with [`COLUMNS`]; roles are filled by [`load_roles`].
pub fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        email: r.get(2)?,
        full_name: r.get(3)?,
        roles: Vec::new(),
        status: r.get(4)?,
        mfa_enabled: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        last_login_at: r.get(8)?,
    })
}

/// Fills `user.roles` (sorted).
pub fn load_roles(conn: &Connection, user: &mut User) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role")?;
    user.roles = stmt
        .query_map([&user.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(())
}

/// Inserts a user and their roles. A taken username or email is `RESOURCE_ALREADY_EXISTS`.
pub fn insert(conn: &Connection, new: &NewUser) -> Result<User> {
    let taken: Option<String> = conn
        .query_row(
            "SELECT CASE WHEN username = ?1 THEN 'username' ELSE 'email' END FROM users WHERE username = ?1 OR email = ?2",
            [&new.username, &new.email],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(field) = taken {
        let value = if field == "username" {
            &new.username
        } else {
            &new.email
        };
        return Err(Error::already_exists("user", value).with_detail(field, "already taken"));
    }
    let id = crate::ids::new_id("usr");
    let now = crate::time::now_rfc3339();
    conn.execute(
        "INSERT INTO users (id, username, email, full_name, password_hash, status, created_at, updated_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?6, ?6)",
        rusqlite::params![id, new.username, new.email, new.full_name, new.password_hash, now],
    )?;
    for role in &new.roles {
        conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)",
            [&id, role.as_str()],
        )?;
    }
    get(conn, &id)?.internal("user vanished after insert")
}

/// A user by id, or by username (case-insensitive), with roles.
pub fn get(conn: &Connection, id_or_username: &str) -> Result<Option<User>> {
    let user = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users u WHERE u.id = ?1 OR u.username = ?1"),
            [id_or_username],
            from_row,
        )
        .optional()?;
    match user {
        Some(mut u) => {
            load_roles(conn, &mut u)?;
            Ok(Some(u))
        }
        None => Ok(None),
    }
}

/// Whether any user exists (first start creates `admin`).
pub fn any(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
}

/// Replaces a user's password hash and revokes every login session of theirs.
pub fn set_password(
    conn: &Connection,
    user_id: &str,
    password_hash: &str,
    reason: &str,
) -> Result<()> {
    let now = crate::time::now_rfc3339();
    let n = conn.execute(
        "UPDATE users SET password_hash = ?1, password_changed_at = ?2, updated_at = ?2 WHERE id = ?3",
        rusqlite::params![password_hash, now, user_id],
    )?;
    if n == 0 {
        return Err(Error::not_found("user", user_id));
    }
    conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
        rusqlite::params![now, reason, user_id],
    )?;
    Ok(())
}

/// Every user with roles, by username (case-insensitive, as the column sorts).
pub fn all(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users u ORDER BY u.username"
    ))?;
    let mut users = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for u in &mut users {
        load_roles(conn, u)?;
    }
    Ok(users)
}
