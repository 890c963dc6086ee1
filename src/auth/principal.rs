//! Who is calling: resolved from an access token or an API key on every request, with
//! the user as the database holds it so that disabling a user, revoking a session or
//! revoking a key takes effect on the very next request. What a credential resolves to
//! is kept in memory until the next database write ([`crate::store::cache`]) or the
//! credential's expiry, whichever comes first; the token's signature and expiry are
//! checked on every request.

use super::rbac::{self, Permission, Role, Scope};
use super::store as auth_store;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::sha256_hex;
use crate::store::Store;
use crate::store::cache::Cache;
use crate::users::store::active_user;
use subtle::ConstantTimeEq;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `usr_…`.
    pub user_id: String,
    /// Login name, for the audit log.
    pub username: String,
    /// The user's roles; what they grant is in [`rbac`](super::rbac).
    pub roles: Vec<Role>,
    /// Set when the caller used an API key; its scopes narrow `roles`.
    pub api_key_id: Option<String>,
    /// Scopes of the API key or client-credentials token, narrowing `roles`; `None` for a login token.
    pub scopes: Option<Vec<Scope>>,
    /// Login session of an access token.
    pub session_id: Option<String>,
    /// Peer address of the connection, for the audit log.
    pub client_addr: Option<String>,
}

impl Principal {
    /// Whether the roles (narrowed by the scopes, if any) grant `wanted`.
    pub fn can(&self, wanted: Permission) -> bool {
        rbac::allowed(&self.roles, self.scopes.as_deref(), wanted)
    }

    /// `FORBIDDEN` unless the caller holds `wanted`.
    pub fn require(&self, wanted: Permission) -> Result<()> {
        if self.can(wanted) {
            Ok(())
        } else {
            Err(Error::forbidden(format!("missing permission {wanted}")))
        }
    }

    /// For lists that show only the caller's own rows unless they administer the
    /// domain: `None` (everyone's) with `<domain>:admin`, else `Some(own user id)`.
    pub fn own_rows_unless_admin(&self, domain: rbac::Domain) -> Option<String> {
        (!self.can(Permission(domain, rbac::Action::Admin))).then(|| self.user_id.clone())
    }

    /// Every permission the caller holds after scopes: each role grant a scope allows,
    /// and each scope a role grant implies (an admin's key scoped to `mcp:read` holds
    /// `mcp:read`, not the `mcp:admin` of the role).
    pub fn permissions(&self) -> Vec<Permission> {
        let grants = self.roles.iter().flat_map(|r| r.grants());
        let mut out: Vec<Permission> = match self.scopes.as_deref() {
            None => grants.collect(),
            Some(scopes) => grants
                .flat_map(|g| {
                    if scopes.iter().any(|sc| sc.allows(g)) {
                        return vec![g];
                    }
                    scopes
                        .iter()
                        .filter_map(|sc| match sc {
                            rbac::Scope::Only(p) if g.implies(*p) => Some(*p),
                            _ => None,
                        })
                        .collect()
                })
                .collect(),
        };
        out.sort();
        out.dedup();
        out
    }
}

/// API keys look like `mcpd_<8-char prefix>_<secret>`.
pub const API_KEY_PREFIX: &str = "mcpd_";
/// Characters of `[a-z0-9]` between `mcpd_` and the secret.
pub const API_KEY_PREFIX_LEN: usize = 8;

/// Splits `mcpd_<prefix>_<secret>` into its prefix, or `None` if it is not shaped so.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == API_KEY_PREFIX_LEN && !secret.is_empty()).then_some(prefix)
}

fn invalid_key() -> Error {
    Error::new(
        ErrorCode::AuthTokenInvalid,
        "API key is invalid, revoked or expired",
    )
}

/// Scopes and expiry of API key `key_id` owned by `user_id`, if it is neither revoked
/// nor expired.
fn live_key_scopes(
    conn: &rusqlite::Connection,
    key_id: &str,
    user_id: &str,
) -> Result<(Vec<Scope>, Option<String>)> {
    let now = crate::time::now_rfc3339();
    let (scopes, expires_at) =
        auth_store::live_key(conn, key_id, user_id, &now)?.ok_or_else(invalid_key)?;
    let scopes: Vec<String> = serde_json::from_str(&scopes)?;
    Ok((
        scopes.iter().filter_map(|s| s.parse().ok()).collect(),
        expires_at,
    ))
}

/// Expiry of login session `session_id` of `user_id`, if it is neither revoked nor
/// expired.
fn live_session_expiry(
    conn: &rusqlite::Connection,
    session_id: &str,
    user_id: &str,
) -> Result<Option<String>> {
    auth_store::live_session_expiry(conn, session_id, user_id, &crate::time::now_rfc3339())
}

/// `who` as the database holds them now, for work that outlives the request that
/// authenticated it (the MCP gateway's notification forwarders): `None` once the user
/// is disabled or deleted, or the login session or API key the credential came from is
/// revoked or expired. Roles are re-read; the credential's scopes stay as they were.
pub async fn revalidate(store: &Store, who: &Principal) -> Result<Option<Principal>> {
    let who = who.clone();
    store
        .read(move |c| {
            if let Some(sid) = &who.session_id
                && live_session_expiry(c, sid, &who.user_id)?.is_none()
            {
                return Ok(None);
            }
            if let Some(kid) = &who.api_key_id {
                match live_key_scopes(c, kid, &who.user_id) {
                    Ok(_) => {}
                    Err(e) if e.code == ErrorCode::AuthTokenInvalid => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            Ok(
                active_user(c, &who.user_id)?.map(|(username, roles)| Principal {
                    username,
                    roles,
                    ..who
                }),
            )
        })
        .await
}

/// A resolved credential: the principal and when it stops being valid (RFC 3339, UTC
/// with milliseconds like every stored time; `None`: no expiry) and, for an API key,
/// when it was last recorded as used.
#[derive(Clone)]
struct Resolved {
    principal: Principal,
    until: Option<String>,
    last_used: Option<String>,
}

impl Resolved {
    fn valid_now(&self) -> bool {
        self.until
            .as_ref()
            .is_none_or(|u| *u > crate::time::now_rfc3339())
    }
}

/// Access tokens by token, API keys by hash.
static RESOLVED: Cache<Resolved> = Cache::new(4096);

/// The earlier of two optional expiries (`None` = never).
fn earliest(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Resolves an access token's claims to a principal: session live, user active.
///
/// A token resolved since the last database write is answered from memory without
/// checking its signature again: the cache is keyed by the whole token, an entry exists
/// only for a token that verified, and it is used only until the earliest of the
/// token's `exp`, its session's and its API key's expiry.
pub async fn from_access_token(
    store: &Store,
    keys: &super::jwt::JwtKeys,
    token: &str,
) -> Result<Principal> {
    if let Some(hit) = RESOLVED.get(store, token)
        && hit.valid_now()
    {
        return Ok(hit.principal);
    }
    let claims = keys.verify(token)?;
    let token_expiry = time::OffsetDateTime::from_unix_timestamp(claims.exp)
        .ok()
        .map(crate::time::format_rfc3339);
    let generation = store.generation();
    let resolved = store
        .read(move |c| {
            let Some(session_expiry) = live_session_expiry(c, &claims.sid, &claims.sub)? else {
                return Err(Error::new(
                    ErrorCode::AuthTokenInvalid,
                    "session has been revoked or has expired",
                ));
            };
            let (username, roles) = active_user(c, &claims.sub)?.ok_or_else(|| {
                Error::new(
                    ErrorCode::AuthTokenInvalid,
                    "user is disabled or no longer exists",
                )
            })?;
            // A client-credentials token acts as its API key: the key's scopes (or the
            // narrower ones asked for at the token endpoint) apply while the key lives.
            let (scopes, key_expiry) = match &claims.kid {
                Some(kid) => {
                    let (key_scopes, key_expiry) = live_key_scopes(c, kid, &claims.sub)?;
                    let scopes = match &claims.scp {
                        Some(asked) => asked.iter().filter_map(|s| s.parse().ok()).collect(),
                        None => key_scopes,
                    };
                    (Some(scopes), key_expiry)
                }
                None => (None, None),
            };
            Ok(Resolved {
                principal: Principal {
                    user_id: claims.sub,
                    username,
                    roles,
                    api_key_id: claims.kid,
                    scopes,
                    session_id: Some(claims.sid),
                    client_addr: None,
                },
                until: earliest(earliest(Some(session_expiry), key_expiry), token_expiry),
                last_used: None,
            })
        })
        .await?;
    RESOLVED.put(store, generation, token, resolved.clone());
    Ok(resolved.principal)
}

/// Resolves an API key: known prefix, matching hash (constant-time), not revoked or
/// expired, owner active. Records `last_used_at` at most once a minute.
pub async fn from_api_key(store: &Store, key: &str) -> Result<Principal> {
    let prefix = api_key_prefix(key).ok_or_else(invalid_key)?.to_string();
    let hash = sha256_hex(key);
    let resolved = match RESOLVED.get(store, &hash).filter(Resolved::valid_now) {
        Some(hit) => hit,
        None => {
            let generation = store.generation();
            let h = hash.clone();
            let resolved = store
                .read(move |c| {
                    let row = auth_store::key_by_prefix(c, &prefix)?;
                    let (id, user_id, stored, scopes, expires_at, revoked_at, last_used) =
                        row.ok_or_else(invalid_key)?;
                    if !bool::from(stored.as_bytes().ct_eq(h.as_bytes())) || revoked_at.is_some() {
                        return Err(invalid_key());
                    }
                    let now = crate::time::now_rfc3339();
                    if expires_at.as_ref().is_some_and(|e| *e <= now) {
                        return Err(invalid_key());
                    }
                    let scopes: Vec<String> = serde_json::from_str(&scopes)?;
                    let scopes = scopes.iter().filter_map(|s| s.parse().ok()).collect();
                    let (username, roles) = active_user(c, &user_id)?.ok_or_else(invalid_key)?;
                    Ok(Resolved {
                        principal: Principal {
                            user_id,
                            username,
                            roles,
                            api_key_id: Some(id),
                            scopes: Some(scopes),
                            session_id: None,
                            client_addr: None,
                        },
                        until: expires_at,
                        last_used,
                    })
                })
                .await?;
            RESOLVED.put(store, generation, &hash, resolved.clone());
            resolved
        }
    };
    let minute_ago =
        crate::time::format_rfc3339(time::OffsetDateTime::now_utc() - time::Duration::minutes(1));
    if resolved.last_used.as_ref().is_none_or(|t| *t < minute_ago) {
        let id = resolved.principal.api_key_id.clone().unwrap_or_default();
        let store = store.clone();
        // Bookkeeping only: the request does not wait for it. Its commit ends the
        // cached entry, so the next request sees the new time.
        tokio::spawn(async move {
            let _ = store
                .write(move |tx| auth_store::touch_key(tx, &id, &crate::time::now_rfc3339()))
                .await;
        });
    }
    Ok(resolved.principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_shape() {
        assert_eq!(api_key_prefix("mcpd_abcdefgh_secret"), Some("abcdefgh"));
        assert_eq!(api_key_prefix("mcpd_abc_secret"), None);
        assert_eq!(api_key_prefix("mcpd_abcdefgh_"), None);
        assert_eq!(api_key_prefix("eyJhbGciOi"), None);
    }

    /// The permissions listed match what `can` decides, for narrowing scopes too.
    #[test]
    fn listed_permissions_are_what_the_scopes_leave() {
        let who = |roles: Vec<Role>, scopes: Option<Vec<&str>>| Principal {
            user_id: "usr_x".into(),
            username: "x".into(),
            roles,
            api_key_id: None,
            scopes: scopes.map(|s| s.iter().map(|s| s.parse().unwrap()).collect()),
            session_id: None,
            client_addr: None,
        };
        let p = |s: &str| s.parse::<Permission>().unwrap();
        let admin_key = who(vec![Role::Admin], Some(vec!["mcp:read", "services:write"]));
        assert_eq!(
            admin_key.permissions(),
            [p("services:write"), p("mcp:read")]
        );
        let viewer_key = who(vec![Role::Viewer], Some(vec!["mcp:admin"]));
        assert_eq!(viewer_key.permissions(), [p("mcp:read")]);
        let all = who(vec![Role::Operator], Some(vec!["*"]));
        assert_eq!(
            all.permissions(),
            who(vec![Role::Operator], None).permissions()
        );
        for holder in [admin_key, viewer_key, all] {
            for d in crate::auth::rbac::Domain::ALL {
                for a in crate::auth::rbac::Action::ALL {
                    let wanted = Permission(*d, *a);
                    let listed = holder.permissions().iter().any(|h| h.implies(wanted));
                    assert_eq!(listed, holder.can(wanted), "{wanted}");
                }
            }
        }
    }
}
