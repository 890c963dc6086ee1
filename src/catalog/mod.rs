//! The MCP catalog (registry): types of MCP server a user can create by name, each with
//! an image, transport, default arguments, a JSON Schema (draft 2020-12) of its
//! configuration and how that configuration maps to container arguments and
//! environment (docs/api.md §13 "MCP catalog").
//!
//! Built-in entries are JSON files: those shipped in the repository's `etc/catalog.d`
//! (compiled in) and those in the configured `mcp.catalog_dir` (read when asked; a file
//! there replaces a compiled-in entry of the same name). They are read-only through
//! the API: `PUT` and `DELETE` on them are 409 `CONFLICT`, and their names cannot be
//! taken by added entries. Admins (`mcp:admin`) add, replace and remove other entries,
//! stored in the database. An entry in use by a server cannot be removed (409).

pub mod api;
pub mod model;
pub mod server_config;
pub mod servers;
pub mod store;

use crate::app::App;
use crate::audit::{self, Actor, Entry as AuditEntry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use model::{Entry, EntrySpec};
use serde_json::json;

/// The entries shipped with mcpd (the repository's `etc/catalog.d`).
const SHIPPED: &[(&str, &str)] = &[
    (
        "filesystem.json",
        include_str!("../../etc/catalog.d/filesystem.json"),
    ),
    (
        "everything.json",
        include_str!("../../etc/catalog.d/everything.json"),
    ),
];

fn parse_file(file: &str, text: &str) -> Option<EntrySpec> {
    let parsed = serde_json::from_str::<EntrySpec>(text)
        .map_err(|e| e.to_string())
        .and_then(|s| s.validate().map(|_| s).map_err(|e| e.message));
    match parsed {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(file, error = %e, "ignoring an invalid catalog file");
            None
        }
    }
}

/// Built-in entries, by name: the compiled-in ones, replaced or extended by the
/// `*.json` files of `mcp.catalog_dir` (a missing directory adds nothing; an invalid
/// file is logged and skipped).
pub async fn builtin(app: &App) -> Vec<Entry> {
    let mut specs: Vec<EntrySpec> = SHIPPED
        .iter()
        .filter_map(|(f, t)| parse_file(f, t))
        .collect();
    let dir = app.settings.mcp.catalog_dir.clone();
    let files = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "json")
                    && let Ok(t) = std::fs::read_to_string(&p)
                {
                    out.push((p.display().to_string(), t));
                }
            }
        }
        out.sort();
        out
    })
    .await
    .unwrap_or_default();
    for (f, t) in files {
        if let Some(s) = parse_file(&f, &t) {
            specs.retain(|x| x.name != s.name);
            specs.push(s);
        }
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
        .into_iter()
        .map(|s| Entry::new(s, true, None, None))
        .collect()
}

/// Logs the built-in entries at start (and warns about invalid files).
pub async fn announce(app: &App) {
    let names: Vec<String> = builtin(app)
        .await
        .into_iter()
        .map(|e| e.spec.name)
        .collect();
    tracing::info!(entries = ?names, dir = %app.settings.mcp.catalog_dir.display(), "MCP catalog loaded");
}

/// Every entry, built-in first then added ones, by name.
async fn all(app: &App) -> Result<Vec<Entry>> {
    let mut out = builtin(app).await;
    let added = app.store.read(store::all).await?;
    let shadowed: Vec<String> = out.iter().map(|e| e.spec.name.clone()).collect();
    out.extend(
        added
            .into_iter()
            .filter(|a| !shadowed.contains(&a.spec.name)),
    );
    Ok(out)
}

/// `GET /mcp/registry`: filters `transport`, `builtin` (true/false), `image`, and
/// `search` (substring of name, title or description); `page`, `limit`.
pub async fn list(app: &App, mut q: ListQuery) -> Result<Page<Entry>> {
    let transport = match q.take("transport").as_deref() {
        None => None,
        Some(t @ ("stdio" | "streamable_http")) => Some(t.to_owned()),
        Some(_) => {
            return Err(Error::field(
                "transport",
                "must be stdio or streamable_http",
            ));
        }
    };
    let builtin = match q.take("builtin").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(Error::field("builtin", "must be true or false")),
    };
    let image = q.take("image");
    let search = q.take("search").map(|s| s.to_lowercase());
    if let Some(f) = q.filters.first() {
        return Err(Error::field(
            f.field.as_str(),
            "unknown filter (this list takes transport, builtin, image and search, as field=value)",
        ));
    }
    let items: Vec<Entry> = all(app)
        .await?
        .into_iter()
        .filter(|e| {
            transport
                .as_deref()
                .is_none_or(|t| e.spec.transport.as_str() == t)
        })
        .filter(|e| builtin.is_none_or(|b| e.builtin == b))
        .filter(|e| image.as_deref().is_none_or(|i| e.spec.image == i))
        .filter(|e| {
            search.as_deref().is_none_or(|s| {
                e.spec.name.contains(s)
                    || e.spec.title.to_lowercase().contains(s)
                    || e.spec.description.to_lowercase().contains(s)
            })
        })
        .collect();
    Ok(Page::from_vec(items, &q))
}

/// One entry by name; 404 `RESOURCE_NOT_FOUND` when there is none.
pub async fn get(app: &App, name: &str) -> Result<Entry> {
    if let Some(e) = builtin(app).await.into_iter().find(|e| e.spec.name == name) {
        return Ok(e);
    }
    let key = name.to_string();
    app.store
        .read(move |c| store::find(c, &key))
        .await?
        .ok_or_else(|| Error::not_found("catalog entry", name))
}

async fn refuse_builtin(app: &App, name: &str, what: &str) -> Result<()> {
    if builtin(app).await.iter().any(|e| e.spec.name == name) {
        return Err(Error::conflict(format!(
            "catalog entry '{name}' is built in and cannot be {what}; add an entry under another name"
        )));
    }
    Ok(())
}

/// Adds an entry (validated: see [`EntrySpec::validate`]). 409 when the name is taken
/// (by a built-in or an added entry).
pub async fn create(app: &App, actor: &Actor, spec: EntrySpec) -> Result<Entry> {
    spec.validate()?;
    if builtin(app).await.iter().any(|e| e.spec.name == spec.name) {
        return Err(Error::already_exists("catalog entry", &spec.name));
    }
    let (a, name, by) = (actor.clone(), spec.name.clone(), actor.user_id.clone());
    app.store
        .write(move |tx| {
            if store::find(tx, &spec.name)?.is_some() {
                return Err(Error::already_exists("catalog entry", &spec.name));
            }
            store::insert(tx, &spec, by.as_deref())?;
            audit::record(
                tx,
                &a,
                &AuditEntry::new("mcp.registry.create").on("mcp_catalog_entry", &spec.name),
            )
        })
        .await?;
    get(app, &name).await
}

/// Replaces an added entry's spec (`name` from the path; a body `name` must match).
/// Servers made from it keep running; the new schema applies to their next
/// reconfiguration. 409 for a built-in entry, 404 when there is none.
pub async fn update(app: &App, actor: &Actor, name: &str, spec: EntrySpec) -> Result<Entry> {
    if spec.name != name {
        return Err(Error::field("name", "must match the name in the path"));
    }
    spec.validate()?;
    refuse_builtin(app, name, "changed").await?;
    let (a, n) = (actor.clone(), name.to_string());
    app.store
        .write(move |tx| {
            if !store::update(tx, &spec)? {
                return Err(Error::not_found("catalog entry", &n));
            }
            audit::record(
                tx,
                &a,
                &AuditEntry::new("mcp.registry.update").on("mcp_catalog_entry", &n),
            )
        })
        .await?;
    get(app, name).await
}

/// Removes an added entry. 409 for a built-in entry or one servers were made from.
pub async fn delete(app: &App, actor: &Actor, name: &str) -> Result<()> {
    refuse_builtin(app, name, "removed").await?;
    let (a, n) = (actor.clone(), name.to_string());
    app.store
        .write(move |tx| {
            let users = store::servers_using(tx, &n)?;
            if users > 0 {
                return Err(Error::conflict(format!(
                    "catalog entry '{n}' is used by {users} MCP server(s); delete them first"
                )));
            }
            if !store::delete(tx, &n)? {
                return Err(Error::not_found("catalog entry", &n));
            }
            let e = AuditEntry::new("mcp.registry.delete").on("mcp_catalog_entry", &n);
            audit::record(tx, &a, &e.details(json!({"name": n})))
        })
        .await
}
