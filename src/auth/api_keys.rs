//! API keys: long-lived credentials for scripts and machines. The key is shown once at
//! creation as `mcpd_<8-char prefix>_<secret>`; only its SHA-256 is stored, the prefix
//! identifies it in lists. Scopes narrow the owner's permissions, never widen them.

use super::principal::{API_KEY_PREFIX, API_KEY_PREFIX_LEN, Principal};
use super::rbac::{Action, Domain, Permission, Scope};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

/// `{id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at, user_id}`;
/// `key` is present only in the creation response.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub user_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A validated creation request.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "k.id, k.name, k.prefix, k.scopes, k.user_id, k.created_at, k.expires_at, k.last_used_at, k.revoked_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
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

const LIST: ListSpec = ListSpec {
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
};

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
    if let Some(e) = &new.expires_at {
        let t = crate::time::parse_rfc3339(e)
            .ok_or_else(|| Error::field("expires_at", "must be an RFC 3339 time"))?;
        if t <= time::OffsetDateTime::now_utc() {
            return Err(Error::field("expires_at", "must be in the future"));
        }
    }
    Ok(())
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
    let prefix = crate::ids::random_alnum(API_KEY_PREFIX_LEN).to_lowercase();
    let key = format!("{API_KEY_PREFIX}{prefix}_{}", crate::ids::random_alnum(40));
    let hash = crate::ids::sha256_hex(&key);
    let actor = Actor::from(owner);
    let user_id = owner.user_id.clone();
    let expires_at = new
        .expires_at
        .as_deref()
        .and_then(crate::time::parse_rfc3339)
        .map(crate::time::format_rfc3339);
    let mut created = app
        .store
        .write(move |tx| {
            let name = new.name.trim().to_string();
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM api_keys WHERE user_id = ?1 AND name = ?2)",
                params![user_id, name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(Error::already_exists("api key", &name));
            }
            let id = crate::ids::new_id("key");
            tx.execute(
                "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    user_id,
                    name,
                    prefix,
                    hash,
                    serde_json::to_string(&new.scopes)?,
                    crate::time::now_rfc3339(),
                    expires_at
                ],
            )?;
            audit::record(tx, &actor, &Entry::new("api_keys.create").on("api_key", &id).details(serde_json::json!({"name": name, "scopes": new.scopes})))?;
            get(tx, &id)
        })
        .await?;
    created.key = Some(key);
    Ok(created)
}

fn get(conn: &rusqlite::Connection, id: &str) -> Result<ApiKey> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_keys k WHERE k.id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("api key", id))
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
    let mut parts = q.sql(&LIST)?;
    if !sees_all(who) {
        parts = parts.and(
            "k.user_id = ?",
            [rusqlite::types::Value::Text(who.user_id.clone())],
        );
    }
    if !include_revoked {
        parts = parts.and("k.revoked_at IS NULL", []);
    }
    app.store
        .read(move |c| parts.query(c, COLUMNS, "api_keys k", from_row))
        .await
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
            let key = get(tx, &id)?;
            if (!all && key.user_id != me) || key.revoked_at.is_some() {
                return Err(Error::not_found("api key", &id));
            }
            tx.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2",
                params![crate::time::now_rfc3339(), id],
            )?;
            audit::record(
                tx,
                &actor,
                &Entry::new("api_keys.revoke").on("api_key", &id),
            )
        })
        .await
}
