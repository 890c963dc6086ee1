//! Grants (workspace access): MCP servers granted to a workspace, read-only or with
//! execution, optionally narrowed to some tools and resources. Created from a
//! [`NewGrant`], changed with an [`AccessPatch`]; a grant is addressed by its id or
//! by its server's id or name.

use super::model::{Access, AccessPatch, NewGrant, ResourceUri};
use super::{load, store};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use rusqlite::Connection;

/// A grant of workspace `wid` (blocking); `RESOURCE_NOT_FOUND` when there is none.
fn load_access(c: &Connection, wid: &str, aid: &str) -> Result<Access> {
    store::find_access(c, wid, aid)?.ok_or_else(|| Error::not_found("workspace access", aid))
}

/// The grants of workspace `id` (id or name), by server name.
pub async fn access_list(app: &App, id: &str) -> Result<Vec<Access>> {
    let id = id.to_string();
    app.store
        .read(move |c| store::access_list(c, &load(c, &id)?.id))
        .await
}

/// Checks the grant fields sent, in the order the API documents them.
fn check_fields(
    name: Option<&String>,
    description: Option<&String>,
    permission_level: Option<&String>,
    lists: [(&str, Option<&Vec<String>>); 2],
) -> Result<()> {
    if let Some(n) = name {
        crate::text::check("name", n, crate::text::MAX_TITLE_LEN)?;
    }
    if let Some(d) = description {
        crate::text::description(d)?;
    }
    if let Some(p) = permission_level
        && !matches!(p.as_str(), "read" | "execute")
    {
        return Err(Error::field("permission_level", "must be read or execute"));
    }
    for (field, items) in lists {
        if let Some(items) = items
            && items.iter().any(|s| s.is_empty() || s.len() > 1024)
        {
            return Err(Error::field(field, "entries must be 1-1024 characters"));
        }
    }
    Ok(())
}

impl NewGrant {
    fn check(&self) -> Result<()> {
        check_fields(
            self.name.as_ref(),
            self.description.as_ref(),
            self.permission_level.as_ref(),
            [
                ("allowed_tools", self.allowed_tools.as_ref()),
                ("allowed_resources", self.allowed_resources.as_ref()),
            ],
        )
    }
}

impl AccessPatch {
    fn check(&self) -> Result<()> {
        check_fields(
            self.name.as_ref(),
            self.description.as_ref(),
            self.permission_level.as_ref(),
            [
                (
                    "allowed_tools",
                    self.allowed_tools.as_ref().and_then(Option::as_ref),
                ),
                (
                    "allowed_resources",
                    self.allowed_resources.as_ref().and_then(Option::as_ref),
                ),
            ],
        )
    }
}

/// Grants MCP server `g.server` (id or name) to workspace `id`. Errors:
/// `VALIDATION_ERROR` naming the field (`server` when unknown), `RESOURCE_NOT_FOUND`
/// for the workspace, `RESOURCE_ALREADY_EXISTS` when the server is already granted
/// (change it with [`update_access`]).
pub async fn grant(app: &App, actor: &Actor, id: &str, g: NewGrant) -> Result<Access> {
    g.check()?;
    let (wid, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let sid = crate::mcp::store::find(tx, &g.server)?
                .map(|s| s.id)
                .ok_or_else(|| {
                    Error::field("server", format!("unknown MCP server '{}'", g.server))
                })?;
            if store::is_granted(tx, &w.id, &sid)? {
                return Err(Error::already_exists("workspace access", &g.server));
            }
            let aid = crate::ids::new_id("wsa");
            let now = crate::time::now_rfc3339();
            let by = actor.user_id.as_deref();
            store::insert_access(tx, (&aid, &w.id, &sid), &g, by, &now)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.grant").on("workspace", &w.id),
            )?;
            load_access(tx, &w.id, &aid)
        })
        .await
}

/// Applies an [`AccessPatch`] to grant `access` of workspace `id`. Errors:
/// `VALIDATION_ERROR` naming the field, `RESOURCE_NOT_FOUND`.
pub async fn update_access(
    app: &App,
    actor: &Actor,
    id: &str,
    access: &str,
    patch: AccessPatch,
) -> Result<Access> {
    patch.check()?;
    let (wid, aid, actor) = (id.to_string(), access.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let a = load_access(tx, &w.id, &aid)?;
            store::update_access(tx, &a.id, &patch, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.update_access").on("workspace", &w.id),
            )?;
            load_access(tx, &w.id, &a.id)
        })
        .await
}

/// Adds (`add`) or removes one resource URI of a grant's allowed resources. Adding to
/// a grant that allows every resource makes it allow only that one. Errors:
/// `VALIDATION_ERROR` on `uri`, `RESOURCE_NOT_FOUND` (also for removing a URI that is
/// not listed).
pub async fn edit_resource(
    app: &App,
    actor: &Actor,
    id: &str,
    access: &str,
    req: ResourceUri,
    add: bool,
) -> Result<Access> {
    let uri = req.uri;
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
        if !list.contains(&uri) {
            list.push(uri);
        }
    } else {
        let before = list.len();
        list.retain(|r| *r != uri);
        if list.len() == before {
            return Err(Error::not_found("allowed resource", &uri));
        }
    }
    let patch = AccessPatch {
        allowed_resources: Some(Some(list)),
        ..AccessPatch::default()
    };
    update_access(app, actor, id, &current.id, patch).await
}

/// Revokes grant `access` of workspace `id`. `RESOURCE_NOT_FOUND` when either is
/// unknown.
pub async fn revoke(app: &App, actor: &Actor, id: &str, access: &str) -> Result<()> {
    let (wid, aid, actor) = (id.to_string(), access.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let a = load_access(tx, &w.id, &aid)?;
            store::delete_access(tx, &a.id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.revoke").on("workspace", &w.id),
            )
        })
        .await
}
