//! Configuration entries (`/api/v1/config`): named JSON values, global or scoped to a
//! service, optionally secret. Secret values are sealed by the vault (column
//! `sealed_value`, the row's key as associated data) and shown as `"********"` unless
//! revealed by a holder of `config:admin`, which is audited. Each entry carries a
//! `version` for optimistic concurrency (`If-Match`).
//!
//! Keys: 1–128 characters, dot-separated segments of `[a-z0-9_-]`, each starting with
//! a letter or digit (`smtp.password`, `github.token`). Services and MCP servers refer to
//! secret entries as `${secret:<key>}` in their env.

pub mod api;
pub mod model;
pub mod refs;
pub mod store;

pub use model::{ConfigEntry, ConfigWrite};

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::services::store as services_store;
use crate::store::list::{ListQuery, Page};
use crate::vault::seal::RowRef;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

/// Placeholder shown instead of a secret value.
pub const MASK: &str = "********";
/// Longest key.
pub const MAX_KEY_LEN: usize = 128;
/// Largest value, as JSON text.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most entries in one bulk request.
pub const MAX_BULK: usize = 500;

fn sealed_row(key: &str) -> RowRef<'_> {
    RowRef {
        table: "config_entries",
        column: "sealed_value",
        id: key,
    }
}

/// Checks a key against the documented character set and length.
pub fn validate_key(key: &str) -> Result<()> {
    let seg_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if key.len() > MAX_KEY_LEN || !key.split('.').all(seg_ok) {
        return Err(Error::field(
            "key",
            "must be 1-128 characters: dot-separated segments of a-z, 0-9, '_' and '-', each starting with a letter or digit",
        ));
    }
    Ok(())
}

fn validate_scope(conn: &Connection, scope: &str) -> Result<()> {
    if scope == "global" {
        return Ok(());
    }
    let Some(id) = scope.strip_prefix("service:") else {
        return Err(Error::field(
            "scope",
            "must be 'global' or 'service:<service id>'",
        ));
    };
    if services_store::find(conn, id)?.is_none_or(|s| s.id != id) {
        return Err(Error::field(
            "scope",
            format!("service '{id}' does not exist"),
        ));
    }
    Ok(())
}

fn masked((mut e, sealed): (ConfigEntry, Option<String>)) -> ConfigEntry {
    if sealed.is_some() {
        e.value = Value::String(MASK.into());
    }
    e
}

/// Entries matching the query, secrets masked. Besides the fields of [`LIST`]:
/// `scope=service` matches every service scope, `service=<id or name>` one service's,
/// and `search=<text>` a substring of the key, the description or a non-secret value
/// (docs/api.md §18, `GET /api/v1/config`).
pub async fn list(app: &App, mut q: ListQuery) -> Result<Page<ConfigEntry>> {
    let any_service = q
        .filters
        .iter()
        .any(|f| f.field == "scope" && f.value == "service");
    if any_service {
        q.take("scope");
    }
    let service = q.take("service");
    app.store
        .read(move |c| {
            // An unknown service matches nothing.
            let service_id = match service {
                Some(s) => Some(
                    services_store::find(c, &s)?
                        .map(|r| r.id)
                        .unwrap_or_default(),
                ),
                None => None,
            };
            let narrowing = store::Narrowing {
                any_service,
                service_id,
            };
            Ok(store::list(c, &q, narrowing)?.map(masked))
        })
        .await
}

/// One entry; with `reveal` the secret value is opened and the reveal audited (the
/// caller has checked `config:admin`). `RESOURCE_NOT_FOUND` for an unknown key.
pub async fn get(app: &App, actor: &Actor, key: &str, reveal: bool) -> Result<ConfigEntry> {
    let key = key.to_string();
    let vault = app.vault.clone();
    let actor = actor.clone();
    let run = move |c: &Connection| -> Result<ConfigEntry> {
        let (mut e, sealed) =
            store::load(c, &key)?.ok_or_else(|| Error::not_found("config key", &key))?;
        match sealed {
            Some(s) if reveal => {
                let clear = vault.open_string(sealed_row(&key), &s)?;
                e.value = serde_json::from_str(&clear)?;
                audit::record(c, &actor, &Entry::new("config.reveal").on("config", &key))?;
                Ok(e)
            }
            s => Ok(masked((e, s))),
        }
    };
    if reveal {
        app.store.write(move |tx| run(tx)).await
    } else {
        app.store.read(move |c| run(c)).await
    }
}

/// `PRECONDITION_FAILED` unless `if_match` (when given) is the version of `current`.
fn check_version(key: &str, current: Option<&ConfigEntry>, if_match: Option<i64>) -> Result<()> {
    let Some(v) = if_match else {
        return Ok(());
    };
    let current = current.map(|e| e.version);
    if current == Some(v) {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::PreconditionFailed,
        format!(
            "config key '{key}' is at version {}, not {v}",
            current.map_or("(none)".to_string(), |c| c.to_string())
        ),
    ))
}

/// Writes one entry inside `tx`; returns the masked entry and whether it was created.
/// `if_match`: the version the caller last saw (`PRECONDITION_FAILED` otherwise; for a
/// key that does not exist yet, any `If-Match` fails, as RFC 9110 §13.1.1 says).
fn put_in(
    tx: &Connection,
    vault: &crate::vault::Vault,
    actor: &Actor,
    w: &ConfigWrite,
    if_match: Option<i64>,
) -> Result<(ConfigEntry, bool)> {
    validate_key(&w.key)?;
    let text = serde_json::to_string(&w.value)?;
    if text.len() > MAX_VALUE_BYTES {
        return Err(Error::field(
            "value",
            format!("larger than {MAX_VALUE_BYTES} bytes"),
        ));
    }
    let old = store::load(tx, &w.key)?.map(|(e, _)| e);
    check_version(&w.key, old.as_ref(), if_match)?;
    let secret = w.secret.unwrap_or(old.as_ref().is_some_and(|e| e.secret));
    let scope = w
        .scope
        .clone()
        .or_else(|| old.as_ref().map(|e| e.scope.clone()))
        .unwrap_or_else(|| "global".into());
    validate_scope(tx, &scope)?;
    let description = w
        .description
        .clone()
        .or_else(|| old.as_ref().map(|e| e.description.clone()))
        .unwrap_or_default();
    crate::text::description(&description)?;
    let (value, sealed) = if secret {
        (None, Some(vault.seal(sealed_row(&w.key), text.as_bytes())?))
    } else {
        (Some(text), None)
    };
    let now = crate::time::now_rfc3339();
    let created = old.is_none();
    let row = store::Write {
        key: &w.key,
        value: value.as_deref(),
        sealed: sealed.as_deref(),
        scope: &scope,
        description: &description,
        by: actor.user_id.as_deref(),
        now: &now,
    };
    if created {
        store::insert(tx, &row)?;
    } else {
        store::update(tx, &row)?;
    }
    audit::record(
        tx,
        actor,
        &Entry::new(if created {
            "config.create"
        } else {
            "config.update"
        })
        .on("config", &w.key)
        .details(serde_json::json!({"secret": secret, "scope": scope})),
    )?;
    let row = store::load(tx, &w.key)?.internal("entry vanished")?;
    Ok((masked(row), created))
}

/// Creates or replaces one entry. Returns the entry (masked) and whether it was new.
pub async fn put(
    app: &App,
    actor: &Actor,
    w: ConfigWrite,
    if_match: Option<i64>,
) -> Result<(ConfigEntry, bool)> {
    let vault = app.vault.clone();
    let actor = actor.clone();
    app.store
        .write(move |tx| put_in(tx, &vault, &actor, &w, if_match))
        .await
}

/// A written entry plus who uses it: `dependents` (services referring to the key) and
/// `restarted` (the names of those restarted because it was asked).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ConfigWritten)]
pub struct Written {
    /// The entry as stored (a secret masked).
    #[serde(flatten)]
    pub entry: ConfigEntry,
    /// Services whose env refers to the key.
    pub dependents: Vec<Dependent>,
    /// Names of the services restarted to pick up the new value.
    pub restarted: Vec<String>,
}

/// `PUT /config/{key}`: [`put`], then with `restart` the running dependents are
/// restarted ([`restart_dependents`]). Returns the written entry with its dependents and
/// whether it was created.
pub async fn write_one(
    app: &App,
    actor: &Actor,
    w: ConfigWrite,
    if_match: Option<i64>,
    restart: bool,
) -> Result<(Written, bool)> {
    let key = w.key.clone();
    let (entry, created) = put(app, actor, w, if_match).await?;
    let restarted = if restart {
        restart_dependents(app, actor, &key).await?
    } else {
        Vec::new()
    };
    let dependents = dependents_of(app, &key).await?;
    let written = Written {
        entry,
        dependents,
        restarted,
    };
    Ok((written, created))
}

/// Writes every entry or none: the first invalid one fails the whole request with its
/// index in the error's field (`configs[3].key`).
pub async fn bulk(app: &App, actor: &Actor, writes: Vec<ConfigWrite>) -> Result<Vec<ConfigEntry>> {
    if writes.is_empty() || writes.len() > MAX_BULK {
        return Err(Error::field(
            "entries",
            format!("must hold 1 to {MAX_BULK} entries"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, w) in writes.iter().enumerate() {
        if !seen.insert(w.key.as_str()) {
            return Err(Error::field(
                format!("configs[{i}].key"),
                "duplicate key in this request",
            ));
        }
    }
    let vault = app.vault.clone();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let mut out = Vec::with_capacity(writes.len());
            for (i, w) in writes.iter().enumerate() {
                let (e, _) = put_in(tx, &vault, &actor, w, None).map_err(|mut e| {
                    for d in &mut e.details {
                        d.field = format!("configs[{i}].{}", d.field);
                    }
                    e.message = format!("configs[{i}]: {}", e.message);
                    e
                })?;
                out.push(e);
            }
            Ok(out)
        })
        .await
}

/// A service whose env refers to a config key: `{id, name, running}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConfigDependent)]
pub struct Dependent {
    /// Service id, `svc_…`.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Whether it is meant to be running (a restart applies the new value).
    pub running: bool,
}

/// Services whose env refers to `key` (`${secret:<key>}`).
pub fn dependents(conn: &Connection, key: &str) -> Result<Vec<Dependent>> {
    let mut out: Vec<Dependent> = services_store::all(conn)?
        .into_iter()
        .filter(|s| refs::env_references(&s.spec.env, key))
        .map(|s| Dependent {
            running: s.desired_state == "running",
            name: s.spec.name,
            id: s.id,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Services that use `key`, read outside a write.
pub async fn dependents_of(app: &App, key: &str) -> Result<Vec<Dependent>> {
    let key = key.to_string();
    app.store.read(move |c| dependents(c, &key)).await
}

/// Restarts the running dependents of `key` so they pick up its new value; returns
/// the names restarted. A failing restart is reported in the error, after the others.
pub async fn restart_dependents(app: &App, actor: &Actor, key: &str) -> Result<Vec<String>> {
    let mut restarted = Vec::new();
    for d in dependents_of(app, key)
        .await?
        .into_iter()
        .filter(|d| d.running)
    {
        crate::services::lifecycle::restart(app, actor, &d.id).await?;
        restarted.push(d.name);
    }
    Ok(restarted)
}

/// Deletes an entry. `RESOURCE_NOT_FOUND` for an unknown key; `CONFLICT` naming the
/// services whose env still refers to it.
pub async fn delete(app: &App, actor: &Actor, key: &str) -> Result<()> {
    let key = key.to_string();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let users = dependents(tx, &key)?;
            if !users.is_empty() {
                let names: Vec<&str> = users.iter().map(|d| d.name.as_str()).collect();
                return Err(Error::conflict(format!(
                    "config key '{key}' is referenced by services: {}",
                    names.join(", ")
                )));
            }
            if !store::delete(tx, &key)? {
                return Err(Error::not_found("config key", &key));
            }
            audit::record(tx, &actor, &Entry::new("config.delete").on("config", &key))
        })
        .await
}

/// `{old_key_id, new_key_id, resealed}` of a master key rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeyRotation)]
pub struct Rotation {
    /// Id of the master key before the rotation (8 hex digits).
    pub old_key_id: String,
    /// Id of the new master key (8 hex digits).
    pub new_key_id: String,
    /// How many sealed values were re-sealed (config secrets, remote server headers, TOTP secrets,
    /// the token signing key).
    pub resealed: usize,
}

/// Rotates the vault's master key (audited).
pub async fn rotate_key(app: &App, actor: &Actor) -> Result<Rotation> {
    let (old, new, n) = app.vault.rotate(&app.store).await?;
    let actor = actor.clone();
    let details = serde_json::json!({"old_key_id": old, "new_key_id": new, "resealed": n});
    app.store
        .write(move |tx| {
            audit::record(
                tx,
                &actor,
                &Entry::new("config.rotate_key")
                    .on_any("vault", None)
                    .details(details),
            )
        })
        .await?;
    Ok(Rotation {
        old_key_id: old,
        new_key_id: new,
        resealed: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        for ok in [
            "a",
            "smtp.password",
            "github.token-2",
            "x_y.z9",
            &"a".repeat(128),
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "A",
            "-a",
            "a b",
            "a/b",
            "é",
            &"a".repeat(129),
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
