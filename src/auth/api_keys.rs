//! API keys: long-lived credentials for scripts and machines. The key is shown once at
//! creation as `mcpd_<8-char prefix>_<secret>`; only its SHA-256 is stored, the prefix
//! identifies it in lists. Scopes narrow the owner's permissions, never widen them.

use super::model::{ApiKey, MAX_KEY_LIFETIME_S, NewApiKey};
use super::principal::{API_KEY_PREFIX, API_KEY_PREFIX_LEN, Principal};
use super::rbac::{Action, Domain, Permission, Scope};
use super::store;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};

/// Key names: 1..=64 printable characters.
const MAX_NAME_LEN: usize = 64;

/// Checks a creation request: name, scopes (each `*` or `<domain>:<action>`, and held by
/// the owner), expiry in the future. Errors: `VALIDATION_ERROR` naming the field.
pub fn validate(owner: &Principal, new: &NewApiKey) -> Result<()> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::field("name", "must be 1 to 64 printable characters"));
    }
    if new.scopes.is_empty() {
        return Err(Error::field(
            "scopes",
            "at least one scope is required (\"*\" for all of the owner's permissions)",
        ));
    }
    for s in &new.scopes {
        match s.parse::<Scope>() {
            Err(()) => {
                return Err(Error::field(
                    "scopes",
                    format!(
                        "unknown scope '{s}': expected '*' or '<domain>:<read|write|execute|admin>'"
                    ),
                ));
            }
            Ok(Scope::Only(p)) if !owner.can(p) => {
                return Err(Error::field(
                    "scopes",
                    format!("scope '{s}' is not held by the key's owner"),
                ));
            }
            Ok(_) => {}
        }
    }
    expiry(new).map(|_| ())
}

/// When the key expires (RFC 3339 UTC), from `expires_at` or `expires_in`; `None`:
/// never. Errors: `VALIDATION_ERROR` naming the field (both given, not an RFC 3339 time,
/// not in the future, `expires_in` outside 1 to [`MAX_KEY_LIFETIME_S`] seconds).
fn expiry(new: &NewApiKey) -> Result<Option<String>> {
    let now = time::OffsetDateTime::now_utc();
    let at = match (&new.expires_at, new.expires_in) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "expires_in",
                "give either expires_at or expires_in, not both",
            ));
        }
        (None, None) => return Ok(None),
        (None, Some(secs)) => {
            if !(1..=MAX_KEY_LIFETIME_S).contains(&secs) {
                return Err(Error::field(
                    "expires_in",
                    format!("must be 1 to {MAX_KEY_LIFETIME_S} seconds"),
                ));
            }
            now + time::Duration::seconds(secs as i64)
        }
        (Some(e), None) => {
            let t = crate::time::parse_rfc3339(e)
                .ok_or_else(|| Error::field("expires_at", "must be an RFC 3339 time"))?;
            if t <= now {
                return Err(Error::field("expires_at", "must be in the future"));
            }
            t
        }
    };
    Ok(Some(crate::time::format_rfc3339(at)))
}

/// Creates a key for `owner`. A key cannot mint keys (`FORBIDDEN`): creating one needs a
/// login session. Duplicate name for the same owner → `RESOURCE_ALREADY_EXISTS`.
pub async fn create(app: &App, owner: &Principal, new: NewApiKey) -> Result<ApiKey> {
    if owner.api_key_id.is_some() {
        return Err(Error::forbidden(
            "API keys cannot create API keys; log in with a password",
        ));
    }
    validate(owner, &new)?;
    let expires_at = expiry(&new)?;
    let prefix = crate::ids::random_alnum(API_KEY_PREFIX_LEN).to_lowercase();
    let key = format!("{API_KEY_PREFIX}{prefix}_{}", crate::ids::random_alnum(40));
    let hash = crate::ids::sha256_hex(&key);
    let actor = Actor::from(owner);
    let user_id = owner.user_id.clone();
    let mut created = app
        .store
        .write(move |tx| {
            let name = new.name.trim().to_string();
            if store::key_name_taken(tx, &user_id, &name)? {
                return Err(Error::already_exists("api key", &name));
            }
            let id = crate::ids::new_id("key");
            store::insert_key(
                tx,
                &store::NewKeyRow {
                    id: &id,
                    user_id: &user_id,
                    name: &name,
                    prefix: &prefix,
                    key_hash: &hash,
                    scopes: &serde_json::to_string(&new.scopes)?,
                    created_at: &crate::time::now_rfc3339(),
                    expires_at: expires_at.as_deref(),
                },
            )?;
            audit::record(
                tx,
                &actor,
                &Entry::new("api_keys.create")
                    .on("api_key", &id)
                    .details(serde_json::json!({"name": name, "scopes": new.scopes})),
            )?;
            store::key(tx, &id)
        })
        .await?;
    created.key = Some(key);
    Ok(created)
}

fn sees_all(who: &Principal) -> bool {
    who.can(Permission(Domain::Users, Action::Admin))
}

/// The caller's keys (revoked ones excluded unless `revoked=true`); holders of
/// `users:admin` see everyone's and may filter on `user_id`.
pub async fn list(app: &App, who: &Principal, mut q: ListQuery) -> Result<Page<ApiKey>> {
    let include_revoked = match q.take("revoked").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::field("revoked", "must be true or false")),
    };
    let owner = (!sees_all(who)).then_some(who.user_id.as_str());
    let parts = store::narrow_key_list(q.sql(&store::KEY_LIST)?, owner, include_revoked);
    app.store.read(move |c| store::list_keys(c, &parts)).await
}

/// Revokes a key (it stops working on the next request). Someone else's key is
/// `RESOURCE_NOT_FOUND` unless the caller holds `users:admin`.
pub async fn revoke(app: &App, who: &Principal, id: &str) -> Result<()> {
    let id = id.to_string();
    let all = sees_all(who);
    let me = who.user_id.clone();
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            let key = store::key(tx, &id)?;
            if (!all && key.user_id != me) || key.revoked_at.is_some() {
                return Err(Error::not_found("api key", &id));
            }
            store::revoke_key(tx, &id, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("api_keys.revoke").on("api_key", &id),
            )
        })
        .await
}
