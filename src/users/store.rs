//! SQL for the tables users owns: `users` (accounts, password hashes, the sealed MFA
//! secret) and `user_roles`. Other domains (auth for logins and MFA) call these
//! functions rather than writing SQL on these tables. Times are RFC 3339 strings.

use super::model::{LoginRecord, NewUser, User};
use crate::auth::rbac::Role;
use crate::error::{Error, Internal, Result};
use crate::store::list::{Field, FieldKind, ListSpec, Order, Page, SqlParts};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Columns [`from_row`] reads, in order, from `users u`.
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
    crate::auth::store::revoke_user_sessions_at(conn, user_id, reason, &now)?;
    Ok(())
}

/// Filters and sorts of `GET /users`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("username", "u.username", FieldKind::Text),
        Field::new("email", "u.email", FieldKind::Text),
        Field::new("full_name", "u.full_name", FieldKind::Text),
        Field::new("status", "u.status", FieldKind::Text),
        Field::new("created_at", "u.created_at", FieldKind::Time),
        Field::new("last_login_at", "u.last_login_at", FieldKind::Time),
    ],
    default_sort: "u.created_at",
    default_order: Order::Asc,
    search: &["u.username", "u.email", "u.full_name"],
};

/// One page of users (with roles) for list query `parts` built from [`LIST`].
pub fn list(conn: &Connection, parts: &SqlParts) -> Result<Page<User>> {
    let mut page = parts.query(conn, COLUMNS, "users u", from_row)?;
    for u in &mut page.items {
        load_roles(conn, u)?;
    }
    Ok(page)
}

/// How many active users hold `admin`.
pub fn active_admins(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users u JOIN user_roles r ON r.user_id = u.id WHERE r.role = 'admin' AND u.status = 'active'",
        [],
        |r| r.get(0),
    )?)
}

/// Whether a user other than `user_id` has this email.
pub fn email_taken(conn: &Connection, email: &str, user_id: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1 AND id <> ?2)",
        params![email, user_id],
        |r| r.get(0),
    )?)
}

/// Sets a user's email (uniqueness is checked by [`email_taken`]).
pub fn set_email(conn: &Connection, user_id: &str, email: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET email = ?1 WHERE id = ?2",
        params![email, user_id],
    )?;
    Ok(())
}

/// Sets a user's full name.
pub fn set_full_name(conn: &Connection, user_id: &str, full_name: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET full_name = ?1 WHERE id = ?2",
        params![full_name, user_id],
    )?;
    Ok(())
}

/// Sets a user's status (`active` or `disabled`).
pub fn set_status(conn: &Connection, user_id: &str, status: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET status = ?1 WHERE id = ?2",
        params![status, user_id],
    )?;
    Ok(())
}

/// Sets a user's `updated_at`.
pub fn touch(conn: &Connection, user_id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET updated_at = ?1 WHERE id = ?2",
        params![now, user_id],
    )?;
    Ok(())
}

/// Replaces a user's roles with `roles`.
pub fn set_roles(conn: &Connection, user_id: &str, roles: &[Role]) -> Result<()> {
    conn.execute("DELETE FROM user_roles WHERE user_id = ?1", [user_id])?;
    for r in roles {
        conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)",
            params![user_id, r.as_str()],
        )?;
    }
    Ok(())
}

/// Grants `role` (no-op when held).
pub fn add_role(conn: &Connection, user_id: &str, role: Role) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)",
        params![user_id, role.as_str()],
    )?;
    Ok(())
}

/// Removes `role` (a role name as stored).
pub fn remove_role(conn: &Connection, user_id: &str, role: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM user_roles WHERE user_id = ?1 AND role = ?2",
        params![user_id, role],
    )?;
    Ok(())
}

/// Deletes a user; their roles, sessions and API keys go with them (foreign keys).
pub fn delete(conn: &Connection, user_id: &str) -> Result<()> {
    conn.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    Ok(())
}

/// The user whose username or email is `name`, with what a password login checks.
pub fn by_login_name(conn: &Connection, name: &str) -> Result<Option<LoginRecord>> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash, status, mfa_enabled, username FROM users WHERE username = ?1 OR email = ?1",
            [name],
            |r| {
                Ok(LoginRecord {
                    id: r.get(0)?,
                    password_hash: r.get(1)?,
                    status: r.get(2)?,
                    mfa_enabled: r.get(3)?,
                    username: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The password hash (PHC string) of user `user_id`, if there is such a user.
pub fn password_hash(conn: &Connection, user_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records a successful login at `now`.
pub fn record_login(conn: &Connection, user_id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET last_login_at = ?1 WHERE id = ?2",
        params![now, user_id],
    )?;
    Ok(())
}

/// An active user's name and roles (unknown role names skipped); `None` if missing or
/// disabled.
pub fn active_user(conn: &Connection, user_id: &str) -> Result<Option<(String, Vec<Role>)>> {
    let name: Option<String> = conn
        .query_row(
            "SELECT username FROM users WHERE id = ?1 AND status = 'active'",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(name) = name else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT role FROM user_roles WHERE user_id = ?1")?;
    let roles = stmt
        .query_map([user_id], |r| r.get::<_, String>(0))?
        .filter_map(|r| r.ok().and_then(|s| s.parse().ok()))
        .collect();
    Ok(Some((name, roles)))
}

// ---- second factor (TOTP), driven by `crate::auth::mfa` ----

/// Whether user `user_id` has MFA on. A missing user is an internal error.
pub fn mfa_enabled(conn: &Connection, user_id: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT mfa_enabled FROM users WHERE id = ?1",
        [user_id],
        |r| r.get(0),
    )?)
}

/// `(mfa_enabled, setup pending: a secret is stored)` of user `user_id`. A missing
/// user is an internal error.
pub fn mfa_state(conn: &Connection, user_id: &str) -> Result<(bool, bool)> {
    Ok(conn.query_row(
        "SELECT mfa_enabled, mfa_secret IS NOT NULL FROM users WHERE id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// `(sealed secret, last used time step)` of user `user_id`, if there is such a user.
pub fn mfa_secret(
    conn: &Connection,
    user_id: &str,
) -> Result<Option<(Option<String>, Option<i64>)>> {
    Ok(conn
        .query_row(
            "SELECT mfa_secret, mfa_last_step FROM users WHERE id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Stores a new sealed secret (setup pending) and forgets the last used step.
pub fn set_mfa_secret(conn: &Connection, user_id: &str, sealed: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET mfa_secret = ?1, mfa_last_step = NULL WHERE id = ?2",
        params![sealed, user_id],
    )?;
    Ok(())
}

/// Remembers the last accepted TOTP time step (a code is accepted once).
pub fn set_mfa_last_step(conn: &Connection, user_id: &str, step: i64) -> Result<()> {
    conn.execute(
        "UPDATE users SET mfa_last_step = ?1 WHERE id = ?2",
        params![step, user_id],
    )?;
    Ok(())
}

/// Turns MFA on (the secret is already stored).
pub fn enable_mfa(conn: &Connection, user_id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET mfa_enabled = 1, updated_at = ?1 WHERE id = ?2",
        params![now, user_id],
    )?;
    Ok(())
}

/// Turns MFA off and forgets the secret. `RESOURCE_NOT_FOUND` for an unknown user.
pub fn clear_mfa(conn: &Connection, user_id: &str, now: &str) -> Result<()> {
    let n = conn.execute(
        "UPDATE users SET mfa_enabled = 0, mfa_secret = NULL, mfa_last_step = NULL, updated_at = ?1 WHERE id = ?2",
        params![now, user_id],
    )?;
    if n == 0 {
        return Err(Error::not_found("user", user_id));
    }
    Ok(())
}

/// Username → `updated_at` (as text) of every user: what a backup restore compares
/// between the live and the restored database to report users added, removed or changed.
pub fn name_stamps(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    crate::store::text_pairs(conn, "SELECT username, CAST(updated_at AS TEXT) FROM users")
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

/// Users by status, `active` or `disabled` (`GET /stats`).
pub fn count_by_status(conn: &Connection) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        conn,
        "SELECT status, count(*) FROM users GROUP BY status",
        [],
    )
}
