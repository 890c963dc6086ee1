//! The organization (the appliance's one, seed 001) and its workspaces (seed 002):
//! members with a workspace role, and grants of MCP servers (optionally narrowed to
//! some tools and resources, read-only or with execution). [`access`] turns them into
//! what each user may see and run.

pub mod access;
pub mod api;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// `{name, settings, members: [{id, username, roles}], created_at, updated_at}`.
#[derive(Debug, Serialize)]
pub struct Organization {
    pub name: String,
    pub settings: Value,
    pub members: Vec<OrgMember>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct OrgMember {
    pub id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub status: String,
}

/// `{id, name, description, all_members, all_servers, members_count, access_count, …}`.
#[derive(Debug, Serialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Every user is a member (the built-in `default`).
    pub all_members: bool,
    /// Every MCP server is granted with execution (the built-in `default`).
    pub all_servers: bool,
    pub members_count: i64,
    pub access_count: i64,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub added_at: String,
}

/// A grant (seed 002's workspace access): `{id, workspace_id, server: {id, name},
/// name, description, permission_level, allowed_tools, allowed_resources, is_active}`.
#[derive(Debug, Serialize)]
pub struct Access {
    pub id: String,
    pub workspace_id: String,
    pub server: Value,
    pub name: String,
    pub description: String,
    pub permission_level: String,
    pub allowed_tools: Option<Vec<String>>,
    pub allowed_resources: Option<Vec<String>>,
    pub is_active: bool,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Changes to a workspace; `None` keeps the value.
#[derive(Debug, Default)]
pub struct WorkspaceChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub all_members: Option<bool>,
    pub all_servers: Option<bool>,
}

/// A grant to create or change; `None` keeps (or defaults: execute, everything, active).
#[derive(Debug, Default)]
pub struct AccessChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permission_level: Option<String>,
    pub allowed_tools: Option<Option<Vec<String>>>,
    pub allowed_resources: Option<Option<Vec<String>>>,
    pub is_active: Option<bool>,
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        && !name.starts_with(' ')
        && !name.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "name",
            "must be 1-64 letters, digits, spaces, '-', '_' or '.'",
        ))
    }
}

// ---- organization ----

pub async fn organization(app: &App) -> Result<Organization> {
    app.store
        .read(|c| {
            let (name, settings, created_at, updated_at): (String, String, String, String) = c
                .query_row(
                    "SELECT name, settings, created_at, updated_at FROM organization WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
            let mut stmt = c.prepare(
                "SELECT u.id, u.username, u.status, coalesce(group_concat(r.role), '') FROM users u
                 LEFT JOIN user_roles r ON r.user_id = u.id GROUP BY u.id ORDER BY u.username",
            )?;
            let members = stmt
                .query_map([], |r| {
                    let roles: String = r.get(3)?;
                    Ok(OrgMember {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        status: r.get(2)?,
                        roles: roles
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Organization {
                name,
                settings: serde_json::from_str(&settings)
                    .unwrap_or(Value::Object(Default::default())),
                members,
                created_at,
                updated_at,
            })
        })
        .await
}

/// Renames the organization and/or replaces its settings (a JSON object ≤ 64 KiB).
pub async fn update_organization(
    app: &App,
    actor: &Actor,
    name: Option<String>,
    settings: Option<Value>,
) -> Result<Organization> {
    if let Some(n) = &name {
        validate_name(n)?;
    }
    if let Some(s) = &settings {
        if !s.is_object() {
            return Err(Error::field("settings", "must be a JSON object"));
        }
        if s.to_string().len() > 64 * 1024 {
            return Err(Error::field("settings", "larger than 64 KiB"));
        }
    }
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            if let Some(n) = &name {
                tx.execute(
                    "UPDATE organization SET name = ?1, updated_at = ?2 WHERE id = 1",
                    params![n, now],
                )?;
            }
            if let Some(s) = &settings {
                tx.execute(
                    "UPDATE organization SET settings = ?1, updated_at = ?2 WHERE id = 1",
                    params![s.to_string(), now],
                )?;
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("organization.update").on("organization", "1"),
            )
        })
        .await?;
    organization(app).await
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

const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "w.name", FieldKind::Text),
        Field::new("created_at", "w.created_at", FieldKind::Time),
        Field::new("updated_at", "w.updated_at", FieldKind::Time),
    ],
    default_sort: "w.name",
    default_order: Order::Asc,
};

/// Workspaces visible to the caller: all for `workspaces:admin`, else those they belong to.
pub async fn list(app: &App, q: ListQuery, member: Option<String>) -> Result<Page<Workspace>> {
    let mut parts = q.sql(&LIST)?;
    if let Some(u) = member {
        parts = parts.and(
            "w.all_members = 1 OR EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = w.id AND m.user_id = ?)",
            [rusqlite::types::Value::Text(u)],
        );
    }
    app.store
        .read(move |c| parts.query(c, COLUMNS, "workspaces w", from_row))
        .await
}

fn load(c: &Connection, id_or_name: &str) -> Result<Workspace> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM workspaces w WHERE w.id = ?1 OR w.name = ?1"),
        [id_or_name],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("workspace", id_or_name))
}

/// One workspace; `member` restricts to workspaces the user belongs to (else 404).
pub async fn get(app: &App, id_or_name: &str, member: Option<String>) -> Result<Workspace> {
    let id = id_or_name.to_string();
    app.store
        .read(move |c| {
            let w = load(c, &id)?;
            if let Some(u) = member {
                let belongs: bool = w.all_members
                    || c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2)",
                        params![w.id, u],
                        |r| r.get(0),
                    )?;
                if !belongs {
                    return Err(Error::not_found("workspace", &id));
                }
            }
            Ok(w)
        })
        .await
}

pub async fn create(
    app: &App,
    actor: &Actor,
    name: String,
    description: Option<String>,
) -> Result<Workspace> {
    validate_name(&name)?;
    if let Some(d) = &description {
        crate::text::description(d)?;
    }
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let taken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = ?1)", [&name], |r| r.get(0))?;
            if taken {
                return Err(Error::already_exists("workspace", &name));
            }
            let id = crate::ids::new_id("wks");
            let now = crate::time::now_rfc3339();
            tx.execute(
                "INSERT INTO workspaces (id, name, description, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, name, description.unwrap_or_default(), actor.user_id, now],
            )?;
            audit::record(tx, &actor, &Entry::new("workspaces.create").on("workspace", &id))?;
            load(tx, &id)
        })
        .await
}

pub async fn update(app: &App, actor: &Actor, id: &str, ch: WorkspaceChanges) -> Result<Workspace> {
    if let Some(n) = &ch.name {
        validate_name(n)?;
    }
    if let Some(d) = &ch.description {
        crate::text::description(d)?;
    }
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &id)?;
            let now = crate::time::now_rfc3339();
            if let Some(n) = &ch.name {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = ?1 AND id <> ?2)",
                    params![n, w.id],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(Error::already_exists("workspace", n));
                }
                tx.execute(
                    "UPDATE workspaces SET name = ?1 WHERE id = ?2",
                    params![n, w.id],
                )?;
            }
            if let Some(d) = &ch.description {
                tx.execute(
                    "UPDATE workspaces SET description = ?1 WHERE id = ?2",
                    params![d, w.id],
                )?;
            }
            if let Some(b) = ch.all_members {
                tx.execute(
                    "UPDATE workspaces SET all_members = ?1 WHERE id = ?2",
                    params![b, w.id],
                )?;
            }
            if let Some(b) = ch.all_servers {
                tx.execute(
                    "UPDATE workspaces SET all_servers = ?1 WHERE id = ?2",
                    params![b, w.id],
                )?;
            }
            tx.execute(
                "UPDATE workspaces SET updated_at = ?1 WHERE id = ?2",
                params![now, w.id],
            )?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.update").on("workspace", &w.id),
            )?;
            load(tx, &w.id)
        })
        .await
}

pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &id)?;
            tx.execute("DELETE FROM workspaces WHERE id = ?1", [&w.id])?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.delete").on("workspace", &w.id),
            )
        })
        .await
}

// ---- members ----

pub async fn members(app: &App, id: &str) -> Result<Vec<Member>> {
    let id = id.to_string();
    app.store
        .read(move |c| {
            let w = load(c, &id)?;
            let mut stmt = c.prepare(
                "SELECT m.user_id, u.username, m.role, m.added_at FROM workspace_members m
                 JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ?1 ORDER BY u.username",
            )?;
            let rows = stmt
                .query_map([&w.id], |r| {
                    Ok(Member {
                        user_id: r.get(0)?,
                        username: r.get(1)?,
                        role: r.get(2)?,
                        added_at: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
}

/// Adds or changes a member (`role`: owner, member, viewer).
pub async fn set_member(
    app: &App,
    actor: &Actor,
    id: &str,
    user: &str,
    role: &str,
) -> Result<Vec<Member>> {
    if !matches!(role, "owner" | "member" | "viewer") {
        return Err(Error::field("role", "must be owner, member or viewer"));
    }
    let (wid, user, role, actor) = (
        id.to_string(),
        user.to_string(),
        role.to_string(),
        actor.clone(),
    );
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let u = crate::users::store::get(tx, &user)?
                .ok_or_else(|| Error::field("user", format!("unknown user '{user}'")))?;
            tx.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
                params![w.id, u.id, role, crate::time::now_rfc3339()],
            )?;
            audit::record(tx, &actor, &Entry::new("workspaces.set_member").on("workspace", &w.id))
        })
        .await?;
    members(app, id).await
}

pub async fn remove_member(app: &App, actor: &Actor, id: &str, user: &str) -> Result<()> {
    let (wid, user, actor) = (id.to_string(), user.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let n = tx.execute(
                "DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = (SELECT id FROM users WHERE id = ?2 OR username = ?2)",
                params![w.id, user],
            )?;
            if n == 0 {
                return Err(Error::not_found("member", &user));
            }
            audit::record(tx, &actor, &Entry::new("workspaces.remove_member").on("workspace", &w.id))
        })
        .await
}

// ---- access ----

const ACCESS_COLUMNS: &str =
    "a.id, a.workspace_id, a.server_id, s.name, a.name, a.description, a.permission_level,
    a.allowed_tools, a.allowed_resources, a.is_active, a.created_by, a.created_at, a.updated_at";

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

fn load_access(c: &Connection, wid: &str, aid: &str) -> Result<Access> {
    c.query_row(
        &format!("SELECT {ACCESS_COLUMNS} FROM workspace_access a LEFT JOIN mcp_servers s ON s.id = a.server_id
                  WHERE a.workspace_id = ?1 AND (a.id = ?2 OR a.server_id = ?2 OR s.name = ?2)"),
        params![wid, aid],
        access_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("workspace access", aid))
}

pub async fn access_list(app: &App, id: &str) -> Result<Vec<Access>> {
    let id = id.to_string();
    app.store
        .read(move |c| {
            let w = load(c, &id)?;
            let mut stmt = c.prepare(&format!(
                "SELECT {ACCESS_COLUMNS} FROM workspace_access a LEFT JOIN mcp_servers s ON s.id = a.server_id
                 WHERE a.workspace_id = ?1 ORDER BY s.name"
            ))?;
            let rows = stmt.query_map([&w.id], access_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
}

fn check_changes(ch: &AccessChanges) -> Result<()> {
    if let Some(n) = &ch.name {
        crate::text::check("name", n, crate::text::MAX_TITLE_LEN)?;
    }
    if let Some(d) = &ch.description {
        crate::text::description(d)?;
    }
    if let Some(p) = &ch.permission_level
        && !matches!(p.as_str(), "read" | "execute")
    {
        return Err(Error::field("permission_level", "must be read or execute"));
    }
    for (field, v) in [
        ("allowed_tools", &ch.allowed_tools),
        ("allowed_resources", &ch.allowed_resources),
    ] {
        if let Some(Some(items)) = v
            && items.iter().any(|s| s.is_empty() || s.len() > 1024)
        {
            return Err(Error::field(field, "entries must be 1-1024 characters"));
        }
    }
    Ok(())
}

fn json_list(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref().map(|l| {
        let set: BTreeSet<&String> = l.iter().collect();
        serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
    })
}

/// Grants MCP server `server` (id or name) to the workspace. `CONFLICT` when it is
/// already granted (change it with [`update_access`]).
pub async fn grant(
    app: &App,
    actor: &Actor,
    id: &str,
    server: &str,
    ch: AccessChanges,
) -> Result<Access> {
    check_changes(&ch)?;
    let (wid, server, actor) = (id.to_string(), server.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let sid: String = tx
                .query_row("SELECT id FROM mcp_servers WHERE id = ?1 OR name = ?1", [&server], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::field("server", format!("unknown MCP server '{server}'")))?;
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM workspace_access WHERE workspace_id = ?1 AND server_id = ?2)",
                params![w.id, sid],
                |r| r.get(0),
            )?;
            if taken {
                return Err(Error::already_exists("workspace access", &server));
            }
            let aid = crate::ids::new_id("wsa");
            let now = crate::time::now_rfc3339();
            tx.execute(
                "INSERT INTO workspace_access (id, workspace_id, server_id, name, description, permission_level, allowed_tools,
                     allowed_resources, is_active, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
                params![
                    aid,
                    w.id,
                    sid,
                    ch.name.clone().unwrap_or_default(),
                    ch.description.clone().unwrap_or_default(),
                    ch.permission_level.clone().unwrap_or_else(|| "execute".into()),
                    ch.allowed_tools.as_ref().and_then(json_list),
                    ch.allowed_resources.as_ref().and_then(json_list),
                    ch.is_active.unwrap_or(true),
                    actor.user_id,
                    now
                ],
            )?;
            audit::record(tx, &actor, &Entry::new("workspaces.grant").on("workspace", &w.id))?;
            load_access(tx, &w.id, &aid)
        })
        .await
}

/// Changes a grant (addressed by its id, or its server's id or name).
pub async fn update_access(
    app: &App,
    actor: &Actor,
    id: &str,
    access: &str,
    ch: AccessChanges,
) -> Result<Access> {
    check_changes(&ch)?;
    let (wid, aid, actor) = (id.to_string(), access.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let a = load_access(tx, &w.id, &aid)?;
            let now = crate::time::now_rfc3339();
            let set = |col: &str, v: &dyn rusqlite::ToSql| -> Result<()> {
                tx.execute(
                    &format!(
                        "UPDATE workspace_access SET {col} = ?1, updated_at = ?2 WHERE id = ?3"
                    ),
                    params![v, now, a.id],
                )?;
                Ok(())
            };
            if let Some(v) = &ch.name {
                set("name", v)?;
            }
            if let Some(v) = &ch.description {
                set("description", v)?;
            }
            if let Some(v) = &ch.permission_level {
                set("permission_level", v)?;
            }
            if let Some(v) = &ch.allowed_tools {
                set("allowed_tools", &json_list(v))?;
            }
            if let Some(v) = &ch.allowed_resources {
                set("allowed_resources", &json_list(v))?;
            }
            if let Some(v) = &ch.is_active {
                set("is_active", v)?;
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.update_access").on("workspace", &w.id),
            )?;
            load_access(tx, &w.id, &a.id)
        })
        .await
}

/// Adds (`add`) or removes one resource URI of a grant's allowed resources (seed 002's
/// add-resource / remove-resource). Adding to a grant that allows every resource makes
/// it allow only that one.
pub async fn edit_resource(
    app: &App,
    actor: &Actor,
    id: &str,
    access: &str,
    uri: &str,
    add: bool,
) -> Result<Access> {
    if uri.is_empty() || uri.len() > 1024 {
        return Err(Error::field("uri", "must be 1-1024 characters"));
    }
    let current = {
        let (wid, aid) = (id.to_string(), access.to_string());
        app.store
            .read(move |c| load_access(c, &load(c, &wid)?.id, &aid))
            .await?
    };
    let mut list = current.allowed_resources.unwrap_or_default();
    if add {
        if !list.iter().any(|r| r == uri) {
            list.push(uri.to_string());
        }
    } else {
        let before = list.len();
        list.retain(|r| r != uri);
        if list.len() == before {
            return Err(Error::not_found("allowed resource", uri));
        }
    }
    let ch = AccessChanges {
        allowed_resources: Some(Some(list)),
        ..AccessChanges::default()
    };
    update_access(app, actor, id, &current.id, ch).await
}

pub async fn revoke(app: &App, actor: &Actor, id: &str, access: &str) -> Result<()> {
    let (wid, aid, actor) = (id.to_string(), access.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let a = load_access(tx, &w.id, &aid)?;
            tx.execute("DELETE FROM workspace_access WHERE id = ?1", [&a.id])?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.revoke").on("workspace", &w.id),
            )
        })
        .await
}
