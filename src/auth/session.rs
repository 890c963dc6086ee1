//! Login sessions: password login, refresh-token rotation with reuse detection, logout,
//! and the OAuth2 client-credentials grant for machine clients.
//!
//! A login starts a session (`auth_sessions`); each refresh token belongs to one session
//! and is stored only as its SHA-256. Refreshing marks the presented token used and issues
//! a new one in the same transaction. Presenting a used token again means it was copied:
//! the whole session (the token family) is revoked, as OAuth 2.0 Security BCP
//! (RFC 9700 §4.14.2) recommends. Access tokens carry the session id, so revoking a
//! session stops its access tokens on the next request.

use super::password;
use super::principal::Principal;
use super::rbac::Scope;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::sha256_hex;
use crate::users::model::User;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Refresh tokens look like `mcpdr_<43 alnum>`; the prefix makes a leaked one greppable.
const REFRESH_PREFIX: &str = "mcpdr_";

/// `{access_token, refresh_token, token_type: "Bearer", expires_in, user}`;
/// `expires_in` is the access token's lifetime in seconds.
#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: User,
}

/// Client-credentials answer (RFC 6749 §5.1 fields): no refresh token.
#[derive(Debug, Serialize)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
}

fn invalid_credentials() -> Error {
    Error::new(
        ErrorCode::AuthInvalidCredentials,
        "invalid username or password",
    )
}

fn invalid_refresh() -> Error {
    Error::new(
        ErrorCode::AuthTokenInvalid,
        "refresh token is invalid, expired or revoked",
    )
}

fn expiry_after(ttl_s: u64) -> String {
    crate::time::format_rfc3339(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(ttl_s as i64),
    )
}

/// Password login. Unknown users cost the same argon2 work as known ones; failures are
/// logged and counted per (username, client address) and past
/// `auth.login_failures_per_minute` answered with `RATE_LIMIT_EXCEEDED` + `Retry-After`.
/// Errors: `AUTH_INVALID_CREDENTIALS` (wrong user/password, disabled account),
/// `RATE_LIMIT_EXCEEDED`.
pub async fn login(
    app: &App,
    username: &str,
    password: String,
    mfa_code: Option<String>,
    client_addr: Option<String>,
    user_agent: Option<String>,
) -> Result<TokenPair> {
    let addr = client_addr.as_deref();
    if let Err(l) = app.login_limiter.check(username, addr) {
        return Err(rate_limited(l.retry_after_s));
    }
    let name = username.to_string();
    let found: Option<(String, String, String, bool, String)> = app
        .store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT id, password_hash, status, mfa_enabled, username FROM users WHERE username = ?1 OR email = ?1",
                [&name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?)
        })
        .await?;
    let ok = password::verify(password, found.as_ref().map(|f| f.1.clone())).await;
    let user_id = found.as_ref().map(|f| f.0.clone());
    let active = found.as_ref().is_some_and(|f| f.2 == "active");
    // Second factor, only once the password is right (a missing code says nothing
    // about the password to someone who does not know it).
    let mut mfa_failed = None;
    if let Some((id, _, _, true, name)) = found.as_ref().filter(|_| ok && active) {
        let (vault, id, name, code) = (
            app.vault.clone(),
            id.clone(),
            name.clone(),
            mfa_code.clone(),
        );
        let checked = app
            .store
            .write(move |tx| {
                Ok(super::mfa::check_login(
                    tx,
                    &vault,
                    &id,
                    &name,
                    code.as_deref(),
                ))
            })
            .await?;
        match checked {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::AuthMfaRequired => return Err(e),
            Err(e) => mfa_failed = Some(e),
        }
    }
    if !ok || !active || mfa_failed.is_some() {
        tracing::warn!(
            username,
            client_addr = addr,
            reason = match (ok, active) {
                (false, _) => "bad credentials",
                (true, false) => "disabled",
                (true, true) => "bad one-time code",
            },
            "login failed"
        );
        let actor = Actor {
            user_id: user_id.clone(),
            api_key_id: None,
            client_addr: client_addr.clone(),
        };
        let outcome = Entry::new("auth.login")
            .on_any("user", actor.user_id.as_deref())
            .failed();
        audit::record_alone(&app.store, actor, outcome).await;
        if let Err(l) = app.login_limiter.failed(username, addr) {
            return Err(rate_limited(l.retry_after_s));
        }
        return Err(match mfa_failed {
            Some(e) => e,
            None if ok => Error::new(ErrorCode::AuthInvalidCredentials, "account is disabled"),
            None => invalid_credentials(),
        });
    }
    let user_id = user_id.unwrap_or_default();
    let refresh_ttl = app.config.auth.refresh_token_ttl_s;
    let (session_id, refresh, user) = app
        .store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let sid = crate::ids::new_id("ses");
            tx.execute(
                "INSERT INTO auth_sessions (id, user_id, created_at, expires_at, last_used_at, client_addr, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6)",
                params![sid, user_id, now, expiry_after(refresh_ttl), client_addr, user_agent],
            )?;
            let refresh = insert_refresh_token(tx, &sid, refresh_ttl)?;
            tx.execute("UPDATE users SET last_login_at = ?1 WHERE id = ?2", params![now, user_id])?;
            let actor = Actor { user_id: Some(user_id.clone()), api_key_id: None, client_addr };
            audit::record(tx, &actor, &Entry::new("auth.login").on("user", &user_id))?;
            let user = crate::users::store::get(tx, &user_id)?.ok_or_else(invalid_credentials)?;
            Ok((sid, refresh, user))
        })
        .await?;
    pair(app, &session_id, refresh, user)
}

fn rate_limited(retry_after_s: u64) -> Error {
    Error::new(
        ErrorCode::RateLimitExceeded,
        "too many failed logins; try again later",
    )
    .with_retry_after(retry_after_s)
}

fn pair(app: &App, session_id: &str, refresh_token: String, user: User) -> Result<TokenPair> {
    let ttl = app.config.auth.access_token_ttl_s;
    Ok(TokenPair {
        access_token: app.jwt.issue(&user.id, session_id, ttl)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: ttl,
        user,
    })
}

fn insert_refresh_token(conn: &Connection, session_id: &str, ttl_s: u64) -> Result<String> {
    let token = format!("{REFRESH_PREFIX}{}", crate::ids::random_alnum(43));
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            sha256_hex(&token),
            session_id,
            crate::time::now_rfc3339(),
            expiry_after(ttl_s)
        ],
    )?;
    Ok(token)
}

enum Refreshed {
    Rotated(String, String, Box<User>),
    Reused,
}

/// Rotates a refresh token: the presented one is marked used and a new pair issued.
/// A token presented a second time revokes its whole session (reuse detection).
/// Errors: `AUTH_TOKEN_INVALID` for unknown, expired, reused or revoked tokens and for
/// disabled users.
pub async fn refresh(app: &App, refresh_token: &str) -> Result<TokenPair> {
    let hash = sha256_hex(refresh_token);
    let ttl = app.config.auth.refresh_token_ttl_s;
    let outcome = app
        .store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let row: Option<(String, String, Option<String>)> = tx
                .query_row(
                    "SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (sid, expires_at, used_at) = row.ok_or_else(invalid_refresh)?;
            let session: Option<(String, Option<String>, String)> = tx
                .query_row(
                    "SELECT user_id, revoked_at, expires_at FROM auth_sessions WHERE id = ?1",
                    [&sid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (user_id, revoked_at, session_expires) = session.ok_or_else(invalid_refresh)?;
            if revoked_at.is_some() || session_expires <= now || expires_at <= now {
                return Err(invalid_refresh());
            }
            if used_at.is_some() {
                revoke_session(tx, &sid, "refresh token reuse")?;
                let actor = Actor { user_id: Some(user_id.clone()), ..Actor::default() };
                audit::record(tx, &actor, &Entry::new("auth.refresh_reuse").on("session", &sid).failed())?;
                return Ok(Refreshed::Reused);
            }
            let user = crate::users::store::get(tx, &user_id)?
                .filter(|u| u.status == "active")
                .ok_or_else(invalid_refresh)?;
            tx.execute("UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2", params![now, hash])?;
            tx.execute("UPDATE auth_sessions SET last_used_at = ?1 WHERE id = ?2", params![now, sid])?;
            let new = insert_refresh_token(tx, &sid, ttl)?;
            Ok(Refreshed::Rotated(sid, new, Box::new(user)))
        })
        .await?;
    match outcome {
        Refreshed::Rotated(sid, token, user) => pair(app, &sid, token, *user),
        Refreshed::Reused => {
            tracing::warn!("a rotated refresh token was presented again; its session is revoked");
            Err(invalid_refresh())
        }
    }
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
    Ok(conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
        params![crate::time::now_rfc3339(), reason, user_id],
    )?)
}

/// Logout: revokes the caller's login session (the access token used and every
/// refresh token of that login). API-key callers have no session: `VALIDATION_ERROR`.
pub async fn logout(app: &App, who: &Principal) -> Result<()> {
    let sid = who
        .session_id
        .clone()
        .ok_or_else(|| Error::validation("logout applies to login sessions, not API keys"))?;
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            revoke_session(tx, &sid, "logout")?;
            audit::record(tx, &actor, &Entry::new("auth.logout").on("session", &sid))
        })
        .await
}

/// OAuth2 client-credentials grant (RFC 6749 §4.4): `client_id` is an API key id
/// (`key_…`) and `client_secret` the key itself. The access token acts as the key: its
/// scopes (or the narrower `scope` asked for, space-separated) apply, and it stops
/// working when the key is revoked or expires. Errors: `AUTH_INVALID_CREDENTIALS` for
/// a wrong id/secret, `VALIDATION_ERROR` (field `scope`) for a scope the key lacks.
pub async fn client_credentials(
    app: &App,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
) -> Result<AccessToken> {
    let bad_client = || {
        Error::new(
            ErrorCode::AuthInvalidCredentials,
            "invalid client credentials",
        )
    };
    let key = super::principal::from_api_key(&app.store, client_secret)
        .await
        .map_err(|_| bad_client())?;
    if key.api_key_id.as_deref() != Some(client_id) {
        return Err(bad_client());
    }
    let key_scopes = key.scopes.clone().unwrap_or_default();
    let asked: Option<Vec<String>> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let mut out = Vec::new();
            for item in s.split_ascii_whitespace() {
                let sc: Scope = item
                    .parse()
                    .map_err(|_| Error::field("scope", format!("unknown scope '{item}'")))?;
                let covered = key_scopes.iter().any(|k| match sc {
                    Scope::All => *k == Scope::All,
                    Scope::Only(p) => k.allows(p),
                });
                if !covered {
                    return Err(Error::field(
                        "scope",
                        format!("scope '{item}' is not granted to this client"),
                    ));
                }
                out.push(item.to_string());
            }
            Some(out)
        }
    };
    let scope_str = asked
        .clone()
        .unwrap_or_else(|| key_scopes.iter().map(|s| s.to_string()).collect())
        .join(" ");
    let ttl = app.config.auth.access_token_ttl_s;
    let actor = Actor::from(&key);
    let user_id = key.user_id.clone();
    let kid = client_id.to_string();
    let sid = app
        .store
        .write(move |tx| {
            let sid = crate::ids::new_id("ses");
            let now = crate::time::now_rfc3339();
            tx.execute(
                "INSERT INTO auth_sessions (id, user_id, created_at, expires_at, last_used_at, client_addr, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?5, 'client_credentials')",
                params![sid, user_id, now, expiry_after(ttl), actor.client_addr],
            )?;
            audit::record(tx, &actor, &Entry::new("auth.token").on("api_key", &kid))?;
            Ok(sid)
        })
        .await?;
    Ok(AccessToken {
        access_token: app
            .jwt
            .issue_for_key(&key.user_id, &sid, Some(client_id), asked, ttl)?,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope_str,
    })
}

/// Deletes login sessions (with their refresh tokens) that expired or were revoked more
/// than a week ago; returns how many. The week keeps recent revocations visible for
/// investigation.
pub fn purge_stale(conn: &Connection) -> Result<usize> {
    let cutoff =
        crate::time::format_rfc3339(time::OffsetDateTime::now_utc() - time::Duration::days(7));
    Ok(conn.execute(
        "DELETE FROM auth_sessions WHERE expires_at < ?1 OR revoked_at < ?1",
        [cutoff],
    )?)
}

/// Background task: [`purge_stale`] at start and then hourly, until shutdown.
pub fn spawn_cleanup(app: &std::sync::Arc<App>) {
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match app2.store.write(|tx| purge_stale(tx)).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "purged stale login sessions"),
                Err(e) => tracing::warn!("purging stale login sessions: {e}"),
            }
        }
    });
}

/// A login session as its owner sees it.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the token used for this request.
    pub current: bool,
}

/// The caller's live sessions, newest first.
pub async fn list_sessions(app: &App, who: &Principal) -> Result<Vec<SessionInfo>> {
    let uid = who.user_id.clone();
    let current = who.session_id.clone();
    app.store
        .read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, created_at, expires_at, last_used_at, client_addr, user_agent FROM auth_sessions
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC",
            )?;
            let rows = stmt
                .query_map(params![uid, crate::time::now_rfc3339()], |r| {
                    let id: String = r.get(0)?;
                    Ok(SessionInfo {
                        current: current.as_deref() == Some(id.as_str()),
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
        })
        .await
}

/// Revokes one of the caller's own sessions (`RESOURCE_NOT_FOUND` for anyone else's).
pub async fn revoke_own_session(app: &App, who: &Principal, id: &str) -> Result<()> {
    let (uid, id) = (who.user_id.clone(), id.to_string());
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            let owner: Option<String> = tx
                .query_row(
                    "SELECT user_id FROM auth_sessions WHERE id = ?1 AND revoked_at IS NULL",
                    [&id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.as_deref() != Some(uid.as_str()) {
                return Err(Error::not_found("session", &id));
            }
            revoke_session(tx, &id, "revoked by owner")?;
            audit::record(
                tx,
                &actor,
                &Entry::new("auth.session_revoke").on("session", &id),
            )
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn purge_keeps_live_and_recent_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let n = store
            .write(|tx| {
                let now = crate::time::now_rfc3339();
                tx.execute(
                    "INSERT INTO users (id, username, email, password_hash, created_at, updated_at, password_changed_at)
                     VALUES ('usr_a', 'a', 'a@x.y', 'h', ?1, ?1, ?1)",
                    [&now],
                )?;
                let old = "2001-01-01T00:00:00.000Z";
                let future = expiry_after(3600);
                for (id, expires, revoked) in [
                    ("ses_live", future.as_str(), None),
                    ("ses_revoked_now", future.as_str(), Some(now.as_str())),
                    ("ses_revoked_old", future.as_str(), Some(old)),
                    ("ses_expired_old", old, None),
                ] {
                    tx.execute(
                        "INSERT INTO auth_sessions (id, user_id, created_at, expires_at, revoked_at) VALUES (?1, 'usr_a', ?2, ?3, ?4)",
                        params![id, now, expires, revoked],
                    )?;
                }
                insert_refresh_token(tx, "ses_expired_old", 1)?;
                purge_stale(tx)
            })
            .await
            .unwrap();
        assert_eq!(n, 2);
        let left: Vec<String> = store
            .read(|c| {
                let mut s = c.prepare("SELECT id FROM auth_sessions ORDER BY id")?;
                let v = s
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(left, ["ses_live", "ses_revoked_now"]);
        let tokens: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM refresh_tokens", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(tokens, 0, "refresh tokens go with their session");
    }
}
