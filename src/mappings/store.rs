//! SQL for `resource_mappings`, the table the mappings domain owns. Server names come
//! from [`crate::mcp::store::NAME_BY_SERVER_ID`].

use super::model::{Mapping, MappingPatch, MappingTarget, NewMapping};
use crate::error::Result;
use crate::mcp::store::NAME_BY_SERVER_ID;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

fn columns() -> String {
    format!(
        "m.id, m.workspace_id, m.server_id, {NAME_BY_SERVER_ID}, m.uri, m.uri_template, m.alias, m.description,
         m.component_type, m.component_id, m.mapping_config, m.is_active, m.state, m.last_synced, m.created_by,
         m.created_at, m.updated_at"
    )
}

const FROM: &str = "resource_mappings m";

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

/// Filters and sorts of `GET /mappings`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("workspace_id", "m.workspace_id", FieldKind::Text),
        Field::new("server_id", "m.server_id", FieldKind::Text),
        Field::new("server", NAME_BY_SERVER_ID, FieldKind::Text),
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
    search: &[],
};

/// One page of mappings; `workspaces` (ids) keeps only the mappings of those.
pub fn list(
    c: &Connection,
    q: &ListQuery,
    workspaces: Option<Vec<String>>,
) -> Result<Page<Mapping>> {
    let mut parts = q.sql(&LIST)?;
    if let Some(ids) = workspaces {
        let marks = vec!["?"; ids.len()].join(", ");
        parts = parts.and(
            &format!("m.workspace_id IN ({marks})"),
            ids.into_iter().map(rusqlite::types::Value::Text),
        );
    }
    parts.query(c, &columns(), FROM, from_row)
}

/// A mapping by id.
pub fn find(c: &Connection, id: &str) -> Result<Option<Mapping>> {
    Ok(c.query_row(
        &format!("SELECT {} FROM {FROM} WHERE m.id = ?1", columns()),
        [id],
        from_row,
    )
    .optional()?)
}

/// Whether a mapping of workspace `workspace_id` other than `except` (an id) has this
/// alias.
pub fn alias_taken(
    c: &Connection,
    workspace_id: &str,
    alias: &str,
    except: Option<&str>,
) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM resource_mappings WHERE workspace_id = ?1 AND alias = ?2 AND id IS NOT ?3)",
        params![workspace_id, alias, except],
        |r| r.get(0),
    )?)
}

/// Inserts mapping `id` of server `server_id` in workspace `workspace_id` (state
/// `unknown`, active; description `""` and `mapping_config` `{}` unless given).
pub fn insert(
    c: &Connection,
    (id, workspace_id, server_id): (&str, &str, &str),
    m: &NewMapping,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    let config = m
        .mapping_config
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    c.execute(
        "INSERT INTO resource_mappings (id, workspace_id, server_id, uri, uri_template, alias, description,
             component_type, component_id, mapping_config, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            id,
            workspace_id,
            server_id,
            m.uri,
            m.uri_template,
            m.alias,
            m.description.as_deref().unwrap_or_default(),
            m.component_type,
            m.component_id,
            config.to_string(),
            created_by,
            now
        ],
    )?;
    Ok(())
}

/// Applies the fields of `patch` that are sent; `now` becomes `updated_at`.
pub fn update(c: &Connection, id: &str, patch: &MappingPatch, now: &str) -> Result<()> {
    c.execute(
        "UPDATE resource_mappings SET alias = coalesce(?2, alias), description = coalesce(?3, description),
             component_type = coalesce(?4, component_type), component_id = coalesce(?5, component_id),
             mapping_config = coalesce(?6, mapping_config), is_active = coalesce(?7, is_active), updated_at = ?8
         WHERE id = ?1",
        params![
            id,
            patch.alias,
            patch.description,
            patch.component_type,
            patch.component_id,
            patch.mapping_config.as_ref().map(|v| v.to_string()),
            patch.is_active,
            now
        ],
    )?;
    Ok(())
}

/// Deletes a mapping; whether there was one.
pub fn delete(c: &Connection, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM resource_mappings WHERE id = ?1", [id])? > 0)
}

/// Ids of the servers that have mappings, in id order.
pub fn mapped_servers(c: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        c.prepare("SELECT DISTINCT server_id FROM resource_mappings ORDER BY server_id")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every mapping, as sync needs it.
pub fn targets(c: &Connection) -> Result<Vec<MappingTarget>> {
    let mut stmt =
        c.prepare("SELECT id, server_id, uri, uri_template, alias FROM resource_mappings")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(MappingTarget {
                id: r.get(0)?,
                server_id: r.get(1)?,
                uri: r.get(2)?,
                uri_template: r.get(3)?,
                alias: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Records what a sync saw of mapping `id` (`present` or `missing`) at `now`.
pub fn set_state(c: &Connection, id: &str, present: bool, now: &str) -> Result<()> {
    c.execute(
        "UPDATE resource_mappings SET state = ?2, last_synced = ?3 WHERE id = ?1",
        params![id, if present { "present" } else { "missing" }, now],
    )?;
    Ok(())
}
