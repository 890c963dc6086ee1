//! Resource mappings (seed 002 `/mappings`): an MCP resource, by URI or URI template
//! (RFC 6570), published to a workspace under an alias, optionally tied to a component
//! (`component_type`, `component_id`) with free-form `mapping_config`. `POST
//! /mappings/sync` re-discovers the servers' resources and reports what was added,
//! removed or changed, and which mappings now point at nothing.

pub mod api;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::mcp::model::Catalog;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `{id, workspace_id, server: {id, name}, uri | uri_template, alias, description,
/// component_type, component_id, mapping_config, is_active, state, last_synced, …}`.
#[derive(Debug, Serialize)]
pub struct Mapping {
    pub id: String,
    pub workspace_id: String,
    pub server: Value,
    pub uri: Option<String>,
    pub uri_template: Option<String>,
    pub alias: String,
    pub description: String,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    pub mapping_config: Value,
    pub is_active: bool,
    /// present | missing | unknown (never synced).
    pub state: String,
    pub last_synced: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new mapping (validated here).
#[derive(Debug)]
pub struct NewMapping {
    pub workspace: String,
    pub server: String,
    pub uri: Option<String>,
    pub uri_template: Option<String>,
    pub alias: String,
    pub description: Option<String>,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    pub mapping_config: Option<Value>,
}

/// Changes to a mapping; `None` keeps the value.
#[derive(Debug, Default)]
pub struct MappingChanges {
    pub alias: Option<String>,
    pub description: Option<String>,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    pub mapping_config: Option<Value>,
    pub is_active: Option<bool>,
}

const COLUMNS: &str = "m.id, m.workspace_id, m.server_id, s.name, m.uri, m.uri_template, m.alias, m.description,
    m.component_type, m.component_id, m.mapping_config, m.is_active, m.state, m.last_synced, m.created_by,
    m.created_at, m.updated_at";
const FROM: &str = "resource_mappings m LEFT JOIN mcp_servers s ON s.id = m.server_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Mapping> {
    let cfg: String = r.get(10)?;
    Ok(Mapping {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        server: serde_json::json!({"id": r.get::<_, String>(2)?, "name": r.get::<_, Option<String>>(3)?}),
        uri: r.get(4)?,
        uri_template: r.get(5)?,
        alias: r.get(6)?,
        description: r.get(7)?,
        component_type: r.get(8)?,
        component_id: r.get(9)?,
        mapping_config: serde_json::from_str(&cfg).unwrap_or(Value::Null),
        is_active: r.get(11)?,
        state: r.get(12)?,
        last_synced: r.get(13)?,
        created_by: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("workspace_id", "m.workspace_id", FieldKind::Text),
        Field::new("server_id", "m.server_id", FieldKind::Text),
        Field::new("server", "s.name", FieldKind::Text),
        Field::new("alias", "m.alias", FieldKind::Text),
        Field::new("uri", "m.uri", FieldKind::Text),
        Field::new("component_type", "m.component_type", FieldKind::Text),
        Field::new("component_id", "m.component_id", FieldKind::Text),
        Field::new("state", "m.state", FieldKind::Text),
        Field::new("is_active", "m.is_active", FieldKind::Bool),
        Field::new("created_at", "m.created_at", FieldKind::Time),
    ],
    default_sort: "m.alias",
    default_order: Order::Asc,
};

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
    let mut parts = q.sql(&LIST)?;
    if let Some(u) = member {
        parts = parts.and(
            "m.workspace_id IN (SELECT w.id FROM workspaces w WHERE w.all_members = 1
               OR EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = w.id AND wm.user_id = ?))",
            [rusqlite::types::Value::Text(u)],
        );
    }
    app.store
        .read(move |c| parts.query(c, COLUMNS, FROM, from_row))
        .await
}

fn load(c: &Connection, id: &str) -> Result<Mapping> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM {FROM} WHERE m.id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("mapping", id))
}

pub async fn get(app: &App, id: &str) -> Result<Mapping> {
    let id = id.to_string();
    app.store.read(move |c| load(c, &id)).await
}

/// Creates a mapping. Exactly one of `uri` and `uri_template`; the server must exist and
/// be granted to the workspace (or the workspace grants every server). Errors name the
/// field; a taken alias in the workspace is `RESOURCE_ALREADY_EXISTS`.
pub async fn create(app: &App, actor: &Actor, m: NewMapping) -> Result<Mapping> {
    validate_alias(&m.alias)?;
    if let Some(d) = &m.description {
        crate::text::description(d)?;
    }
    validate_config(&m.mapping_config)?;
    match (&m.uri, &m.uri_template) {
        (Some(u), None) if !u.is_empty() && u.len() <= 2048 => {}
        (None, Some(t)) if !t.is_empty() && t.len() <= 2048 => {}
        (Some(_), Some(_)) => {
            return Err(Error::field("uri", "give uri or uri_template, not both"));
        }
        _ => {
            return Err(Error::field(
                "uri",
                "a uri or a uri_template (1-2048 characters) is required",
            ));
        }
    }
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let (wid, all_servers): (String, bool) = tx
                .query_row(
                    "SELECT id, all_servers FROM workspaces WHERE id = ?1 OR name = ?1",
                    [&m.workspace],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| Error::field("workspace", format!("unknown workspace '{}'", m.workspace)))?;
            let sid: String = tx
                .query_row("SELECT id FROM mcp_servers WHERE id = ?1 OR name = ?1", [&m.server], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::field("server", format!("unknown MCP server '{}'", m.server)))?;
            let granted: bool = all_servers
                || tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM workspace_access WHERE workspace_id = ?1 AND server_id = ?2)",
                    params![wid, sid],
                    |r| r.get(0),
                )?;
            if !granted {
                return Err(Error::field("server", "not granted to this workspace (see /workspaces/{id}/access)"));
            }
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM resource_mappings WHERE workspace_id = ?1 AND alias = ?2)",
                params![wid, m.alias],
                |r| r.get(0),
            )?;
            if taken {
                return Err(Error::already_exists("mapping", &m.alias));
            }
            let id = crate::ids::new_id("map");
            let now = crate::time::now_rfc3339();
            tx.execute(
                "INSERT INTO resource_mappings (id, workspace_id, server_id, uri, uri_template, alias, description,
                     component_type, component_id, mapping_config, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                params![
                    id,
                    wid,
                    sid,
                    m.uri,
                    m.uri_template,
                    m.alias,
                    m.description.unwrap_or_default(),
                    m.component_type,
                    m.component_id,
                    m.mapping_config.unwrap_or_else(|| Value::Object(Default::default())).to_string(),
                    actor.user_id,
                    now
                ],
            )?;
            audit::record(tx, &actor, &Entry::new("mappings.create").on("mapping", &id))?;
            load(tx, &id)
        })
        .await
}

pub async fn update(app: &App, actor: &Actor, id: &str, ch: MappingChanges) -> Result<Mapping> {
    if let Some(a) = &ch.alias {
        validate_alias(a)?;
    }
    if let Some(d) = &ch.description {
        crate::text::description(d)?;
    }
    validate_config(&ch.mapping_config)?;
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let m = load(tx, &id)?;
            if let Some(a) = &ch.alias {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM resource_mappings WHERE workspace_id = ?1 AND alias = ?2 AND id <> ?3)",
                    params![m.workspace_id, a, m.id],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(Error::already_exists("mapping", a));
                }
            }
            let now = crate::time::now_rfc3339();
            tx.execute(
                "UPDATE resource_mappings SET alias = coalesce(?2, alias), description = coalesce(?3, description),
                     component_type = coalesce(?4, component_type), component_id = coalesce(?5, component_id),
                     mapping_config = coalesce(?6, mapping_config), is_active = coalesce(?7, is_active), updated_at = ?8
                 WHERE id = ?1",
                params![
                    m.id,
                    ch.alias,
                    ch.description,
                    ch.component_type,
                    ch.component_id,
                    ch.mapping_config.as_ref().map(|v| v.to_string()),
                    ch.is_active,
                    now
                ],
            )?;
            audit::record(tx, &actor, &Entry::new("mappings.update").on("mapping", &m.id))?;
            load(tx, &m.id)
        })
        .await
}

pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let n = tx.execute("DELETE FROM resource_mappings WHERE id = ?1", [&id])?;
            if n == 0 {
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

/// `(id, server_id, uri, uri_template, alias)` of a mapping, for sync.
type MappingTarget = (String, String, Option<String>, Option<String>, String);

/// What a sync found on one server.
#[derive(Debug, Serialize)]
pub struct ServerSync {
    pub server_id: String,
    pub server_name: String,
    /// `ok`, or the error that kept it from being re-discovered (its cache is kept).
    pub status: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Still listed, but with another name, description or MIME type.
    pub changed: Vec<String>,
}

/// `{servers: [ServerSync], mappings_present, mappings_missing: [alias…]}`.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub servers: Vec<ServerSync>,
    pub mappings_present: usize,
    pub mappings_missing: Vec<String>,
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
    let targets: Vec<(String, String)> = app
        .store
        .read(move |c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT s.id, s.name FROM mcp_servers s
                 WHERE (?1 IS NULL AND s.id IN (SELECT server_id FROM resource_mappings)) OR s.id = ?1 OR s.name = ?1",
            )?;
            let rows = stmt
                .query_map([server], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await?;
    let mut servers = Vec::new();
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (sid, name) in targets {
        let before = by_uri(
            crate::mcp::discovery::catalog(app, &sid, Catalog::Resources)
                .await
                .unwrap_or_default(),
        );
        let status = match crate::mcp::discovery::discover(app, &sid).await {
            Ok(_) => "ok".to_string(),
            Err(e) => e.message,
        };
        let after = by_uri(
            crate::mcp::discovery::catalog(app, &sid, Catalog::Resources)
                .await
                .unwrap_or_default(),
        );
        let (added, removed, changed) = diff(&before, &after);
        let mut offered: BTreeSet<String> = after.keys().cloned().collect();
        // A template mapping stays present while the server still offers the template.
        for t in crate::mcp::discovery::catalog(app, &sid, Catalog::ResourceTemplates)
            .await
            .unwrap_or_default()
        {
            if let Some(t) = t.get("uriTemplate").and_then(Value::as_str) {
                offered.insert(format!("template:{t}"));
            }
        }
        listed.insert(sid.clone(), offered);
        servers.push(ServerSync {
            server_id: sid,
            server_name: name,
            status,
            added,
            removed,
            changed,
        });
    }
    let actor = actor.clone();
    let (present, missing) = app
        .store
        .write(move |tx| {
            let mut stmt = tx
                .prepare("SELECT id, server_id, uri, uri_template, alias FROM resource_mappings")?;
            let rows: Vec<MappingTarget> = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let now = crate::time::now_rfc3339();
            let (mut present, mut missing) = (0, Vec::new());
            for (id, sid, uri, template, alias) in rows {
                let Some(uris) = listed.get(&sid) else {
                    continue;
                };
                let found = match (&uri, &template) {
                    (Some(u), _) => uris.contains(u),
                    (None, Some(t)) => {
                        uris.contains(&format!("template:{t}"))
                            || uris.iter().any(|u| template_matches(t, u))
                    }
                    _ => false,
                };
                tx.execute(
                    "UPDATE resource_mappings SET state = ?2, last_synced = ?3 WHERE id = ?1",
                    params![id, if found { "present" } else { "missing" }, now],
                )?;
                if found {
                    present += 1;
                } else {
                    missing.push(alias);
                }
            }
            audit::record(
                tx,
                &actor,
                &audit::Entry::new("mappings.sync")
                    .on_any("mapping", None)
                    .details(serde_json::json!({"present": present, "missing": missing.len()})),
            )?;
            Ok((present, missing))
        })
        .await?;
    Ok(SyncReport {
        servers,
        mappings_present: present,
        mappings_missing: missing,
    })
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
