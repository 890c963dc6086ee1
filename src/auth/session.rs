//! Login sessions: password login, refresh-token rotation with reuse detection, logout,
//! and the caller's own session list. The OAuth2 client-credentials grant is in
//! [`super::client`].
//!
//! A login starts a session (`auth_sessions`); each refresh token belongs to one session
//! and is stored only as its SHA-256. Refreshing marks the presented token used and issues
//! a new one in the same transaction. Presenting a used token again means it was copied:
//! the whole session (the token family) is revoked, as OAuth 2.0 Security BCP
//! (RFC 9700 §4.14.2) recommends. Access tokens carry the session id, so revoking a
//! session stops its access tokens on the next request.

use super::model::{ClientInfo, LoginRequest, SessionInfo};
use super::password;
use super::principal::Principal;
use super::store::{self, NewSession};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::sha256_hex;
use crate::users::model::{LoginRecord, User};
use crate::users::store as users;
use rusqlite::Connection;
use serde::Serialize;

/// Refresh tokens look like `mcpdr_<43 alnum>`; the prefix makes a leaked one greppable.
const REFRESH_PREFIX: &str = "mcpdr_";

/// `{access_token, refresh_token, token_type: "Bearer", expires_in, user}`;
/// `expires_in` is the access token's lifetime in seconds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// JWT (HS256), sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// `mcpdr_…`; single use, exchanged at `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer` (RFC 6750).
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Access token lifetime in seconds (`auth.access_token_ttl_s`).
    pub expires_in: u64,
    /// The logged-in user.
    pub user: User,
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

/// RFC 3339 time `ttl_s` seconds from now.
pub(super) fn expiry_after(ttl_s: u64) -> String {
    crate::time::format_rfc3339(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(ttl_s as i64),
    )
}

/// What the credential checks of one login attempt found.
struct Verdict {
    /// The user the name matched, if any.
    user_id: Option<String>,
    password_ok: bool,
    active: bool,
    /// The second factor's refusal (wrong or replayed code).
    mfa_failed: Option<Error>,
}

impl Verdict {
    fn passed(&self) -> bool {
        self.password_ok && self.active && self.mfa_failed.is_none()
    }
}

/// Password login. Unknown users cost the same argon2 work as known ones; failures are
/// logged and counted per (username, client address) and past
/// `auth.login_failures_per_minute` answered with `RATE_LIMIT_EXCEEDED` + `Retry-After`.
/// Errors: `AUTH_INVALID_CREDENTIALS` (wrong user/password, disabled account),
/// `AUTH_MFA_REQUIRED` (right password, no one-time code), `RATE_LIMIT_EXCEEDED`.
pub async fn login(app: &App, req: LoginRequest, client: ClientInfo) -> Result<TokenPair> {
    let LoginRequest {
        username,
        password,
        mfa_code,
    } = req;
    if let Err(l) = app.login_limiter.check(&username, client.addr.as_deref()) {
        return Err(rate_limited(l.retry_after_s));
    }
    let verdict = check_credentials(app, &username, password, mfa_code).await?;
    if !verdict.passed() {
        return Err(login_failed(app, &username, &client, verdict).await);
    }
    issue_tokens(app, verdict.user_id.unwrap_or_default(), client).await
}

/// Looks the user up by username or email, verifies the password and then, for an
/// active account with MFA on, the one-time code. `AUTH_MFA_REQUIRED` is returned
/// at once; every other refusal is in the verdict.
async fn check_credentials(
    app: &App,
    username: &str,
    password: String,
    mfa_code: Option<String>,
) -> Result<Verdict> {
    let name = username.to_string();
    let found = app
        .store
        .read(move |c| users::by_login_name(c, &name))
        .await?;
    let phc = found.as_ref().map(|f| f.password_hash.clone());
    let password_ok = password::verify(password, phc).await;
    let active = found.as_ref().is_some_and(|f| f.status == "active");
    // Second factor, only once the password is right (a missing code says nothing
    // about the password to someone who does not know it).
    let mfa_failed = match found
        .as_ref()
        .filter(|f| password_ok && active && f.mfa_enabled)
    {
        Some(user) => check_second_factor(app, user, mfa_code).await?,
        None => None,
    };
    Ok(Verdict {
        user_id: found.map(|f| f.id),
        password_ok,
        active,
        mfa_failed,
    })
}

/// The one-time code check of a login (it burns the code's time step). A missing code
/// is the error `AUTH_MFA_REQUIRED`; a wrong one is returned as `Ok(Some(..))` to be
/// counted as a failed login.
async fn check_second_factor(
    app: &App,
    user: &LoginRecord,
    code: Option<String>,
) -> Result<Option<Error>> {
    let (vault, id, name) = (app.vault.clone(), user.id.clone(), user.username.clone());
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
        Ok(()) => Ok(None),
        Err(e) if e.code == ErrorCode::AuthMfaRequired => Err(e),
        Err(e) => Ok(Some(e)),
    }
}

/// Logs, audits and counts a failed login; returns the error to answer with
/// (`RATE_LIMIT_EXCEEDED` once the failures pass the limit).
async fn login_failed(app: &App, username: &str, client: &ClientInfo, v: Verdict) -> Error {
    let addr = client.addr.as_deref();
    tracing::warn!(
        username,
        client_addr = addr,
        reason = match (v.password_ok, v.active) {
            (false, _) => "bad credentials",
            (true, false) => "disabled",
            (true, true) => "bad one-time code",
        },
        "login failed"
    );
    let actor = Actor {
        user_id: v.user_id,
        api_key_id: None,
        client_addr: client.addr.clone(),
    };
    let outcome = Entry::new("auth.login")
        .on_any("user", actor.user_id.as_deref())
        .failed();
    audit::record_alone(&app.store, actor, outcome).await;
    if let Err(l) = app.login_limiter.failed(username, addr) {
        return rate_limited(l.retry_after_s);
    }
    match v.mfa_failed {
        Some(e) => e,
        None if v.password_ok => {
            Error::new(ErrorCode::AuthInvalidCredentials, "account is disabled")
        }
        None => invalid_credentials(),
    }
}

/// Starts a login session for `user_id` (refresh token, `last_login_at`, audit) and
/// returns the token pair.
async fn issue_tokens(app: &App, user_id: String, client: ClientInfo) -> Result<TokenPair> {
    let refresh_ttl = app.settings.auth.refresh_token_ttl_s;
    let (session_id, refresh, user) = app
        .store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let sid = crate::ids::new_id("ses");
            let session = NewSession {
                id: &sid,
                user_id: &user_id,
                created_at: &now,
                expires_at: &expiry_after(refresh_ttl),
                client_addr: client.addr.as_deref(),
                user_agent: client.user_agent.as_deref(),
            };
            store::insert_session(tx, &session)?;
            let refresh = insert_refresh_token(tx, &sid, refresh_ttl)?;
            users::record_login(tx, &user_id, &now)?;
            let actor = Actor {
                user_id: Some(user_id.clone()),
                api_key_id: None,
                client_addr: client.addr,
            };
            audit::record(tx, &actor, &Entry::new("auth.login").on("user", &user_id))?;
            let user = users::get(tx, &user_id)?.ok_or_else(invalid_credentials)?;
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
    let ttl = app.settings.auth.access_token_ttl_s;
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
    store::insert_refresh_token(
        conn,
        &sha256_hex(&token),
        session_id,
        &crate::time::now_rfc3339(),
        &expiry_after(ttl_s),
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
    let ttl = app.settings.auth.refresh_token_ttl_s;
    let outcome = app
        .store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let (sid, expires_at, used_at) =
                store::refresh_token(tx, &hash)?.ok_or_else(invalid_refresh)?;
            let (user_id, revoked_at, session_expires) =
                store::session_state(tx, &sid)?.ok_or_else(invalid_refresh)?;
            if revoked_at.is_some() || session_expires <= now || expires_at <= now {
                return Err(invalid_refresh());
            }
            if used_at.is_some() {
                store::revoke_session(tx, &sid, "refresh token reuse")?;
                let actor = Actor {
                    user_id: Some(user_id.clone()),
                    ..Actor::default()
                };
                audit::record(
                    tx,
                    &actor,
                    &Entry::new("auth.refresh_reuse")
                        .on("session", &sid)
                        .failed(),
                )?;
                return Ok(Refreshed::Reused);
            }
            let user = users::get(tx, &user_id)?
                .filter(|u| u.status == "active")
                .ok_or_else(invalid_refresh)?;
            store::mark_refresh_used(tx, &hash, &now)?;
            store::touch_session(tx, &sid, &now)?;
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
            store::revoke_session(tx, &sid, "logout")?;
            audit::record(tx, &actor, &Entry::new("auth.logout").on("session", &sid))
        })
        .await
}

/// Deletes login sessions (with their refresh tokens) that expired or were revoked more
/// than a week ago; returns how many. The week keeps recent revocations visible for
/// investigation.
pub fn purge_stale(conn: &Connection) -> Result<usize> {
    let cutoff =
        crate::time::format_rfc3339(time::OffsetDateTime::now_utc() - time::Duration::days(7));
    store::delete_sessions_before(conn, &cutoff)
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

/// The caller's live sessions, newest first.
pub async fn list_sessions(app: &App, who: &Principal) -> Result<Vec<SessionInfo>> {
    let uid = who.user_id.clone();
    let current = who.session_id.clone();
    app.store
        .read(move |c| {
            store::live_sessions(c, &uid, &crate::time::now_rfc3339(), current.as_deref())
        })
        .await
}

/// Revokes one of the caller's own sessions (`RESOURCE_NOT_FOUND` for anyone else's).
pub async fn revoke_own_session(app: &App, who: &Principal, id: &str) -> Result<()> {
    let (uid, id) = (who.user_id.clone(), id.to_string());
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            let owner = store::unrevoked_session_owner(tx, &id)?;
            if owner.as_deref() != Some(uid.as_str()) {
                return Err(Error::not_found("session", &id));
            }
            store::revoke_session(tx, &id, "revoked by owner")?;
            audit::record(
                tx,
                &actor,
                &Entry::new("auth.session_revoke").on("session", &id),
            )
        })
        .await
}

/// The live login sessions of user `user_id` as an admin sees them (none is
/// `current`), newest first.
pub async fn user_sessions(app: &App, user_id: String) -> Result<Vec<SessionInfo>> {
    app.store
        .read(move |c| store::live_sessions(c, &user_id, &crate::time::now_rfc3339(), None))
        .await
}

/// Revokes user `user_id`'s live session `session` or, with `None`, all of them, audited
/// as `auth.session_revoke` with `{"user_id", "by": "admin", "revoked"}`; returns how
/// many were revoked. `RESOURCE_NOT_FOUND` for a session that is not the user's or is
/// no longer live.
pub async fn revoke_user_sessions(
    app: &App,
    actor: &Actor,
    user_id: String,
    session: Option<String>,
) -> Result<usize> {
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let revoked = match &session {
                Some(id) => {
                    let owner = store::unrevoked_session_owner(tx, id)?;
                    if owner.as_deref() != Some(user_id.as_str()) {
                        return Err(Error::not_found("session", id));
                    }
                    usize::from(store::revoke_session(tx, id, "revoked by an admin")?)
                }
                None => store::revoke_user_sessions(tx, &user_id, "revoked by an admin")?,
            };
            let entry = Entry::new("auth.session_revoke").details(serde_json::json!({
                "user_id": user_id, "by": "admin", "revoked": revoked,
            }));
            let entry = match &session {
                Some(id) => entry.on("session", id),
                None => entry.on("user", &user_id),
            };
            audit::record(tx, &actor, &entry)?;
            Ok(revoked)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

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
