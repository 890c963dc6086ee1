//! SQL for the tables the workspaces domain owns: `organization`, `workspaces`,
//! `workspace_members` and `workspace_access` (grants). Server names come from
//! [`crate::mcp::store::NAME_BY_SERVER_ID`]; the domain reads users (usernames, roles)
//! through [`crate::users::store`].

use super::model::{Access, AccessPatch, Grant, Membership, NewGrant, Organization, Workspace};
use super::model::{NewWorkspace, WorkspacePatch};
use crate::error::Result;
use crate::mcp::store::NAME_BY_SERVER_ID;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// SQL: whether `w` (a `workspaces w` row) counts the user bound to parameter `p` (`?`,
/// `?1`, …) as a member.
fn member_of(p: &str) -> String {
    format!(
        "w.all_members = 1
         OR EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = w.id AND m.user_id = {p})"
    )
}

// ---- organization ----

/// The organization; `members` is left empty (users belong to the users domain).
pub fn organization(c: &Connection) -> Result<Organization> {
    let (name, settings, created_at, updated_at): (String, String, String, String) = c.query_row(
        "SELECT name, settings, created_at, updated_at FROM organization WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    Ok(Organization {
        name,
        settings: serde_json::from_str(&settings).unwrap_or(Value::Object(Default::default())),
        members: Vec::new(),
        created_at,
        updated_at,
    })
}

/// Renames the organization; `now` becomes `updated_at`.
pub fn set_organization_name(c: &Connection, name: &str, now: &str) -> Result<()> {
    c.execute(
        "UPDATE organization SET name = ?1, updated_at = ?2 WHERE id = 1",
        params![name, now],
    )?;
    Ok(())
}

/// Replaces the organization's settings object; `now` becomes `updated_at`.
pub fn set_organization_settings(c: &Connection, settings: &Value, now: &str) -> Result<()> {
    c.execute(
        "UPDATE organization SET settings = ?1, updated_at = ?2 WHERE id = 1",
        params![settings.to_string(), now],
    )?;
    Ok(())
}

// ---- workspaces ----

const COLUMNS: &str = "w.id, w.name, w.description, w.all_members, w.all_servers,
    (SELECT count(*) FROM workspace_members m WHERE m.workspace_id = w.id),
    (SELECT count(*) FROM workspace_access a WHERE a.workspace_id = w.id),
    w.created_by, w.created_at, w.updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        all_members: r.get(3)?,
        all_servers: r.get(4)?,
        members_count: r.get(5)?,
        access_count: r.get(6)?,
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Filters and sorts of `GET /workspaces`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "w.name", FieldKind::Text),
        Field::new("created_at", "w.created_at", FieldKind::Time),
        Field::new("updated_at", "w.updated_at", FieldKind::Time),
    ],
    default_sort: "w.name",
    default_order: Order::Asc,
    search: &[],
};

/// One page of workspaces; `member` (a user id) keeps those the user belongs to.
pub fn list(c: &Connection, q: &ListQuery, member: Option<String>) -> Result<Page<Workspace>> {
    let mut parts = q.sql(&LIST)?;
    if let Some(u) = member {
        parts = parts.and(&member_of("?"), [rusqlite::types::Value::Text(u)]);
    }
    parts.query(c, COLUMNS, "workspaces w", from_row)
}

/// A workspace by id or name.
pub fn find(c: &Connection, id_or_name: &str) -> Result<Option<Workspace>> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM workspaces w WHERE w.id = ?1 OR w.name = ?1"),
        [id_or_name],
        from_row,
    )
    .optional()?)
}

/// Whether `user_id` is an explicit member of workspace `id`.
pub fn is_member(c: &Connection, id: &str, user_id: &str) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2)",
        params![id, user_id],
        |r| r.get(0),
    )?)
}

/// Ids of the workspaces `user_id` belongs to (explicitly or through `all_members`).
pub fn ids_of_member(c: &Connection, user_id: &str) -> Result<Vec<String>> {
    let mut stmt = c.prepare(&format!(
        "SELECT w.id FROM workspaces w WHERE {}",
        member_of("?1")
    ))?;
    let rows = stmt
        .query_map([user_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Workspace ids → names, every workspace.
pub fn names(c: &Connection) -> Result<HashMap<String, String>> {
    let mut stmt = c.prepare("SELECT id, name FROM workspaces")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<HashMap<String, String>>>()?;
    Ok(rows)
}

/// Whether a workspace other than `except` (an id) has this name.
pub fn name_taken(c: &Connection, name: &str, except: Option<&str>) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )?)
}

/// Inserts a workspace (no members, no grants, both flags false).
pub fn insert(
    c: &Connection,
    id: &str,
    new: &NewWorkspace,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO workspaces (id, name, description, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, new.name, new.description.as_deref().unwrap_or_default(), created_by, now],
    )?;
    Ok(())
}

/// Applies the fields of `patch` that are sent; `now` becomes `updated_at`.
pub fn update(c: &Connection, id: &str, patch: &WorkspacePatch, now: &str) -> Result<()> {
    c.execute(
        "UPDATE workspaces SET name = coalesce(?2, name), description = coalesce(?3, description),
             all_members = coalesce(?4, all_members), all_servers = coalesce(?5, all_servers), updated_at = ?6
         WHERE id = ?1",
        params![
            id,
            patch.name,
            patch.description,
            patch.all_members,
            patch.all_servers,
            now
        ],
    )?;
    Ok(())
}

/// Deletes a workspace (its members, grants and mappings go with it).
pub fn delete(c: &Connection, id: &str) -> Result<()> {
    c.execute("DELETE FROM workspaces WHERE id = ?1", [id])?;
    Ok(())
}

// ---- members ----

/// The explicit members of workspace `id`: user id → (role, added_at).
pub fn member_roles(c: &Connection, id: &str) -> Result<HashMap<String, (String, String)>> {
    let mut stmt =
        c.prepare("SELECT user_id, role, added_at FROM workspace_members WHERE workspace_id = ?1")?;
    let rows = stmt
        .query_map([id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Adds a member, or changes the role of an existing one (keeping `added_at`).
pub fn set_member(c: &Connection, id: &str, user_id: &str, role: &str, now: &str) -> Result<()> {
    c.execute(
        "INSERT INTO workspace_members (workspace_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        params![id, user_id, role, now],
    )?;
    Ok(())
}

/// Removes a member; whether there was one.
pub fn remove_member(c: &Connection, id: &str, user_id: &str) -> Result<bool> {
    let n = c.execute(
        "DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2",
        params![id, user_id],
    )?;
    Ok(n > 0)
}

// ---- access (grants) ----

fn access_columns() -> String {
    format!(
        "a.id, a.workspace_id, a.server_id, {NAME_BY_SERVER_ID}, a.name, a.description, a.permission_level,
         a.allowed_tools, a.allowed_resources, a.is_active, a.created_by, a.created_at, a.updated_at"
    )
}

fn access_row(r: &Row<'_>) -> rusqlite::Result<Access> {
    let list = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok());
    Ok(Access {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        server: serde_json::json!({"id": r.get::<_, String>(2)?, "name": r.get::<_, Option<String>>(3)?}),
        name: r.get(4)?,
        description: r.get(5)?,
        permission_level: r.get(6)?,
        allowed_tools: list(r.get(7)?),
        allowed_resources: list(r.get(8)?),
        is_active: r.get(9)?,
        created_by: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// A grant of workspace `id`, by its id or its server's id or name.
pub fn find_access(c: &Connection, id: &str, access: &str) -> Result<Option<Access>> {
    Ok(c.query_row(
        &format!(
            "SELECT {} FROM workspace_access a
             WHERE a.workspace_id = ?1 AND (a.id = ?2 OR a.server_id = ?2 OR {NAME_BY_SERVER_ID} = ?2)",
            access_columns()
        ),
        params![id, access],
        access_row,
    )
    .optional()?)
}

/// The grants of workspace `id`, by server name.
pub fn access_list(c: &Connection, id: &str) -> Result<Vec<Access>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {} FROM workspace_access a WHERE a.workspace_id = ?1 ORDER BY {NAME_BY_SERVER_ID}",
        access_columns()
    ))?;
    let rows = stmt
        .query_map([id], access_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Whether server `server_id` is granted to workspace `id` (active or not).
pub fn is_granted(c: &Connection, id: &str, server_id: &str) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM workspace_access WHERE workspace_id = ?1 AND server_id = ?2)",
        params![id, server_id],
        |r| r.get(0),
    )?)
}

/// A tool or resource list as stored: a sorted JSON array without duplicates.
fn json_list(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref().map(|l| {
        let set: BTreeSet<&String> = l.iter().collect();
        serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
    })
}

fn json_set(s: Option<String>) -> Option<BTreeSet<String>> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// Inserts grant `aid` of server `server_id` to workspace `id`; fields `g` leaves out
/// take their defaults (`""`, `execute`, every tool and resource, active).
pub fn insert_access(
    c: &Connection,
    (aid, id, server_id): (&str, &str, &str),
    g: &NewGrant,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO workspace_access (id, workspace_id, server_id, name, description, permission_level, allowed_tools,
             allowed_resources, is_active, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            aid,
            id,
            server_id,
            g.name.as_deref().unwrap_or_default(),
            g.description.as_deref().unwrap_or_default(),
            g.permission_level.as_deref().unwrap_or("execute"),
            json_list(&g.allowed_tools),
            json_list(&g.allowed_resources),
            g.is_active.unwrap_or(true),
            created_by,
            now
        ],
    )?;
    Ok(())
}

/// Applies the fields of `patch` that are sent to grant `aid`, each setting
/// `updated_at` to `now` (nothing sent: nothing changes).
pub fn update_access(c: &Connection, aid: &str, patch: &AccessPatch, now: &str) -> Result<()> {
    let set = |col: &str, v: &dyn rusqlite::ToSql| -> Result<()> {
        c.execute(
            &format!("UPDATE workspace_access SET {col} = ?1, updated_at = ?2 WHERE id = ?3"),
            params![v, now, aid],
        )?;
        Ok(())
    };
    if let Some(v) = &patch.name {
        set("name", v)?;
    }
    if let Some(v) = &patch.description {
        set("description", v)?;
    }
    if let Some(v) = &patch.permission_level {
        set("permission_level", v)?;
    }
    if let Some(v) = &patch.allowed_tools {
        set("allowed_tools", &json_list(v))?;
    }
    if let Some(v) = &patch.allowed_resources {
        set("allowed_resources", &json_list(v))?;
    }
    if let Some(v) = &patch.is_active {
        set("is_active", v)?;
    }
    Ok(())
}

/// Deletes grant `aid`.
pub fn delete_access(c: &Connection, aid: &str) -> Result<()> {
    c.execute("DELETE FROM workspace_access WHERE id = ?1", [aid])?;
    Ok(())
}

// ---- what users may see and run ----

/// The workspaces `user_id` belongs to: `(id, all_servers)`.
pub fn workspaces_of(c: &Connection, user_id: &str) -> Result<Vec<(String, bool)>> {
    let mut stmt = c.prepare(&format!(
        "SELECT w.id, w.all_servers FROM workspaces w WHERE {}",
        member_of("?1")
    ))?;
    let rows = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The active grants of workspace `id`: `(server id, grant)`.
pub fn active_grants(c: &Connection, id: &str) -> Result<Vec<(String, Grant)>> {
    let mut stmt = c.prepare_cached(
        "SELECT server_id, permission_level, allowed_tools, allowed_resources FROM workspace_access
         WHERE workspace_id = ?1 AND is_active = 1",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Grant {
                    execute: r.get::<_, String>(1)? == "execute",
                    tools: json_set(r.get(2)?),
                    resources: json_set(r.get(3)?),
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The user's workspaces (ordered by name) with their active grants on `server_id`.
pub fn memberships(c: &Connection, user_id: &str, server_id: &str) -> Result<Vec<Membership>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT w.id, w.all_servers, a.permission_level, a.allowed_tools, a.allowed_resources
         FROM workspaces w
         LEFT JOIN workspace_access a
           ON a.workspace_id = w.id AND a.server_id = ?2 AND a.is_active = 1
         WHERE {}
         ORDER BY w.name",
        member_of("?1")
    ))?;
    let rows = stmt
        .query_map([user_id, server_id], |r| {
            let grant = match r.get::<_, Option<String>>(2)? {
                Some(level) => Some(Grant {
                    execute: level == "execute",
                    tools: json_set(r.get(3)?),
                    resources: json_set(r.get(4)?),
                }),
                None => None,
            };
            Ok(Membership {
                workspace_id: r.get(0)?,
                all_servers: r.get(1)?,
                grant,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many workspaces exist (`GET /stats`).
pub fn count(c: &Connection) -> Result<u64> {
    Ok(c.query_row("SELECT count(*) FROM workspaces", [], |r| {
        r.get::<_, i64>(0)
    })?
    .max(0) as u64)
}
