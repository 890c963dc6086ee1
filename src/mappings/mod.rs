//! Resource mappings (`/mappings`): an MCP resource, by URI or URI template
//! (RFC 6570), published to a workspace under an alias, optionally tied to a component
//! (`component_type`, `component_id`) with free-form `mapping_config`. `POST
//! /mappings/sync` re-discovers the servers' resources and reports what was added,
//! removed or changed, and which mappings now point at nothing. Shapes and requests
//! are in [`model`], SQL in [`store`].

pub mod api;
pub mod model;
pub mod store;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::mcp::model::Catalog;
use crate::store::list::{ListQuery, Page};
use model::{Mapping, MappingPatch, MappingTarget, NewMapping, ServerSync, SyncReport};
use rusqlite::Connection;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Aliases: 1–128 of `[A-Za-z0-9._/-]`, starting with a letter or digit.
fn validate_alias(a: &str) -> Result<()> {
    let ok = !a.is_empty()
        && a.len() <= 128
        && a.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "alias",
            "must be 1-128 of letters, digits, '.', '_', '-', '/', starting with a letter or digit",
        ))
    }
}

fn validate_config(v: &Option<Value>) -> Result<()> {
    if let Some(v) = v {
        if !v.is_object() {
            return Err(Error::field("mapping_config", "must be a JSON object"));
        }
        if v.to_string().len() > 64 * 1024 {
            return Err(Error::field("mapping_config", "larger than 64 KiB"));
        }
    }
    Ok(())
}

/// Mappings matching the query; `member` limits them to the user's workspaces.
pub async fn list(app: &App, q: ListQuery, member: Option<String>) -> Result<Page<Mapping>> {
    app.store
        .read(move |c| {
            let workspaces = match member {
                Some(u) => Some(crate::workspaces::store::ids_of_member(c, &u)?),
                None => None,
            };
            store::list(c, &q, workspaces)
        })
        .await
}

/// A mapping by id (blocking); `RESOURCE_NOT_FOUND` when there is none.
fn load(c: &Connection, id: &str) -> Result<Mapping> {
    store::find(c, id)?.ok_or_else(|| Error::not_found("mapping", id))
}

/// A mapping by id; `RESOURCE_NOT_FOUND` when there is none.
pub async fn get(app: &App, id: &str) -> Result<Mapping> {
    let id = id.to_string();
    app.store.read(move |c| load(c, &id)).await
}

/// Checks the fields of a create request that need no lookup.
fn check_new(m: &NewMapping) -> Result<()> {
    validate_alias(&m.alias)?;
    if let Some(d) = &m.description {
        crate::text::description(d)?;
    }
    validate_config(&m.mapping_config)?;
    match (&m.uri, &m.uri_template) {
        (Some(u), None) if !u.is_empty() && u.len() <= 2048 => Ok(()),
        (None, Some(t)) if !t.is_empty() && t.len() <= 2048 => Ok(()),
        (Some(_), Some(_)) => Err(Error::field("uri", "give uri or uri_template, not both")),
        _ => Err(Error::field(
            "uri",
            "a uri or a uri_template (1-2048 characters) is required",
        )),
    }
}

/// The workspace and server ids of a create request (blocking): both must exist and the
/// server must be granted to the workspace (or the workspace grants every server).
fn resolve(c: &Connection, m: &NewMapping) -> Result<(String, String)> {
    let w = crate::workspaces::store::find(c, &m.workspace)?
        .ok_or_else(|| Error::field("workspace", format!("unknown workspace '{}'", m.workspace)))?;
    let sid = crate::mcp::store::find(c, &m.server)?
        .map(|s| s.id)
        .ok_or_else(|| Error::field("server", format!("unknown MCP server '{}'", m.server)))?;
    let granted = w.all_servers || crate::workspaces::store::is_granted(c, &w.id, &sid)?;
    if !granted {
        return Err(Error::field(
            "server",
            "not granted to this workspace (see /workspaces/{id}/access)",
        ));
    }
    Ok((w.id, sid))
}

/// Creates a mapping. Exactly one of `uri` and `uri_template`; the server must exist and
/// be granted to the workspace (or the workspace grants every server). Errors name the
/// field; a taken alias in the workspace is `RESOURCE_ALREADY_EXISTS`.
pub async fn create(app: &App, actor: &Actor, m: NewMapping) -> Result<Mapping> {
    check_new(&m)?;
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let (wid, sid) = resolve(tx, &m)?;
            if store::alias_taken(tx, &wid, &m.alias, None)? {
                return Err(Error::already_exists("mapping", &m.alias));
            }
            let id = crate::ids::new_id("map");
            let now = crate::time::now_rfc3339();
            let by = actor.user_id.as_deref();
            store::insert(tx, (&id, &wid, &sid), &m, by, &now)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("mappings.create").on("mapping", &id),
            )?;
            load(tx, &id)
        })
        .await
}

/// Applies a [`MappingPatch`]. Errors: `VALIDATION_ERROR` on `alias`, `description` or
/// `mapping_config`, `RESOURCE_NOT_FOUND`, `RESOURCE_ALREADY_EXISTS` (alias taken).
pub async fn update(app: &App, actor: &Actor, id: &str, patch: MappingPatch) -> Result<Mapping> {
    if let Some(a) = &patch.alias {
        validate_alias(a)?;
    }
    if let Some(d) = &patch.description {
        crate::text::description(d)?;
    }
    validate_config(&patch.mapping_config)?;
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let m = load(tx, &id)?;
            if let Some(a) = &patch.alias
                && store::alias_taken(tx, &m.workspace_id, a, Some(&m.id))?
            {
                return Err(Error::already_exists("mapping", a));
            }
            store::update(tx, &m.id, &patch, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("mappings.update").on("mapping", &m.id),
            )?;
            load(tx, &m.id)
        })
        .await
}

/// Deletes a mapping; `RESOURCE_NOT_FOUND` when there is none.
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            if !store::delete(tx, &id)? {
                return Err(Error::not_found("mapping", &id));
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("mappings.delete").on("mapping", &id),
            )
        })
        .await
}

fn by_uri(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .filter_map(|v| Some((v.get("uri")?.as_str()?.to_string(), v)))
        .collect()
}

/// `(added, removed, changed)` URIs between two listings keyed by URI.
fn diff(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
        .map(|(k, _)| k.clone())
        .collect();
    (added, removed, changed)
}

/// Whether a URI matches an RFC 6570 level-1 template (`{var}` matches one or more
/// characters other than `/`).
fn template_matches(template: &str, uri: &str) -> bool {
    let mut pattern = String::from("^");
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        pattern.push_str(&regex::escape(&rest[..i]));
        let Some(j) = rest[i..].find('}') else {
            return false;
        };
        pattern.push_str("[^/]+");
        rest = &rest[i + j + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(uri))
}

/// Re-discovers the resources of the servers that have mappings (or `server`, when
/// given) and reports the differences; updates every mapping's `state`.
pub async fn sync(app: &App, actor: &Actor, server: Option<String>) -> Result<SyncReport> {
    let mut servers = Vec::new();
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (sid, name) in sync_targets(app, server).await? {
        let (report, offered) = rediscover(app, sid, name).await;
        listed.insert(report.server_id.clone(), offered);
        servers.push(report);
    }
    let (present, missing) = record_states(app, actor, listed).await?;
    Ok(SyncReport {
        servers,
        mappings_present: present,
        mappings_missing: missing,
    })
}

/// The servers a sync covers, `(id, name)`: `server` (id or name) when given (none
/// when unknown), else every server that has mappings, in id order.
async fn sync_targets(app: &App, server: Option<String>) -> Result<Vec<(String, String)>> {
    app.store
        .read(move |c| {
            let ids = match server {
                Some(s) => vec![s],
                None => store::mapped_servers(c)?,
            };
            let mut out = Vec::new();
            for id in ids {
                if let Some(s) = crate::mcp::store::find(c, &id)? {
                    out.push((s.id, s.name));
                }
            }
            Ok(out)
        })
        .await
}

/// The cached list `which` of server `sid` (empty when unreadable).
async fn cached(app: &App, sid: &str, which: Catalog) -> Vec<Value> {
    crate::mcp::discovery::catalog(app, sid, which)
        .await
        .unwrap_or_default()
}

/// Discovers server `sid` again: what changed in its resources, and what it offers now
/// (resource URIs, and `template:<uri template>` for each resource template).
async fn rediscover(app: &App, sid: String, name: String) -> (ServerSync, BTreeSet<String>) {
    let before = by_uri(cached(app, &sid, Catalog::Resources).await);
    let status = match crate::mcp::discovery::discover(app, &sid).await {
        Ok(_) => "ok".to_string(),
        Err(e) => e.message,
    };
    let after = by_uri(cached(app, &sid, Catalog::Resources).await);
    let (added, removed, changed) = diff(&before, &after);
    let mut offered: BTreeSet<String> = after.keys().cloned().collect();
    // A template mapping stays present while the server still offers the template.
    for t in cached(app, &sid, Catalog::ResourceTemplates).await {
        if let Some(t) = t.get("uriTemplate").and_then(Value::as_str) {
            offered.insert(format!("template:{t}"));
        }
    }
    let report = ServerSync {
        server_id: sid,
        server_name: name,
        status,
        added,
        removed,
        changed,
    };
    (report, offered)
}

/// Whether a mapping points at something `offered` (see [`rediscover`]).
fn found(t: &MappingTarget, offered: &BTreeSet<String>) -> bool {
    match (&t.uri, &t.uri_template) {
        (Some(u), _) => offered.contains(u),
        (None, Some(tpl)) => {
            offered.contains(&format!("template:{tpl}"))
                || offered.iter().any(|u| template_matches(tpl, u))
        }
        _ => false,
    }
}

/// Records the `state` of every mapping of the servers in `listed` (server id → what
/// it offers) and audits the sync as `mappings.sync`. Returns how many are present and
/// the aliases of those missing.
async fn record_states(
    app: &App,
    actor: &Actor,
    listed: BTreeMap<String, BTreeSet<String>>,
) -> Result<(usize, Vec<String>)> {
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let (mut present, mut missing) = (0, Vec::new());
            for t in store::targets(tx)? {
                let Some(offered) = listed.get(&t.server_id) else {
                    continue;
                };
                let is_found = found(&t, offered);
                store::set_state(tx, &t.id, is_found, &now)?;
                if is_found {
                    present += 1;
                } else {
                    missing.push(t.alias);
                }
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("mappings.sync")
                    .on_any("mapping", None)
                    .details(serde_json::json!({"present": present, "missing": missing.len()})),
            )?;
            Ok((present, missing))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::{by_uri, diff, template_matches};
    use serde_json::json;

    #[test]
    fn listing_differences() {
        let before = by_uri(vec![
            json!({"uri": "a://1", "name": "one"}),
            json!({"uri": "a://2", "name": "two"}),
            json!({"uri": "a://3", "name": "three"}),
        ]);
        let after = by_uri(vec![
            json!({"uri": "a://1", "name": "one"}),
            json!({"uri": "a://2", "name": "TWO"}),
            json!({"uri": "a://4", "name": "four"}),
            json!({"name": "no uri is ignored"}),
        ]);
        let (added, removed, changed) = diff(&before, &after);
        assert_eq!(added, ["a://4"]);
        assert_eq!(removed, ["a://3"]);
        assert_eq!(changed, ["a://2"]);
    }

    #[test]
    fn uri_templates() {
        assert!(template_matches(
            "demo://resource/{id}",
            "demo://resource/7"
        ));
        assert!(!template_matches(
            "demo://resource/{id}",
            "demo://resource/7/x"
        ));
        assert!(template_matches(
            "file:///{dir}/{name}.txt",
            "file:///data/hello.txt"
        ));
        assert!(!template_matches("a.{x}", "abz"));
        assert!(!template_matches("broken{", "broken{"));
    }
}
