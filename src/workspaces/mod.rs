//! The organization (the appliance's one) and its workspaces: members with a workspace
//! role, and grants of MCP servers (optionally narrowed to some tools and resources,
//! read-only or with execution; see [`grants`]). [`access`] turns them into what each
//! user may see and run. Shapes and requests are in [`model`], SQL in [`store`].

pub mod access;
pub mod api;
pub mod grants;
pub mod model;
pub mod store;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use model::{Member, NewMember, NewWorkspace, OrgMember, OrgPatch, Organization};
use model::{Workspace, WorkspacePatch};
use rusqlite::Connection;

pub use grants::{access_list, edit_resource, grant, revoke, update_access};

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

/// The organization, with every user (by username) in `members`.
pub async fn organization(app: &App) -> Result<Organization> {
    app.store
        .read(|c| {
            let mut org = store::organization(c)?;
            org.members = crate::users::store::all(c)?
                .into_iter()
                .map(|u| OrgMember {
                    id: u.id,
                    username: u.username,
                    roles: u.roles,
                    status: u.status,
                })
                .collect();
            Ok(org)
        })
        .await
}

/// Renames the organization and/or replaces its settings (a JSON object ≤ 64 KiB).
/// Errors: `VALIDATION_ERROR` on `name` or `settings`.
pub async fn update_organization(
    app: &App,
    actor: &Actor,
    patch: OrgPatch,
) -> Result<Organization> {
    if let Some(n) = &patch.name {
        validate_name(n)?;
    }
    if let Some(s) = &patch.settings {
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
            if let Some(n) = &patch.name {
                store::set_organization_name(tx, n, &now)?;
            }
            if let Some(s) = &patch.settings {
                store::set_organization_settings(tx, s, &now)?;
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

/// Workspaces visible to the caller: all for `workspaces:admin` (`member` = `None`),
/// else those user `member` belongs to.
pub async fn list(app: &App, q: ListQuery, member: Option<String>) -> Result<Page<Workspace>> {
    app.store.read(move |c| store::list(c, &q, member)).await
}

/// A workspace by id or name (blocking); `RESOURCE_NOT_FOUND` when there is none.
fn load(c: &Connection, id_or_name: &str) -> Result<Workspace> {
    store::find(c, id_or_name)?.ok_or_else(|| Error::not_found("workspace", id_or_name))
}

/// One workspace; `member` restricts to workspaces the user belongs to (else 404).
pub async fn get(app: &App, id_or_name: &str, member: Option<String>) -> Result<Workspace> {
    let id = id_or_name.to_string();
    app.store
        .read(move |c| {
            let w = load(c, &id)?;
            if let Some(u) = member {
                let belongs = w.all_members || store::is_member(c, &w.id, &u)?;
                if !belongs {
                    return Err(Error::not_found("workspace", &id));
                }
            }
            Ok(w)
        })
        .await
}

/// Creates a workspace. Errors: `VALIDATION_ERROR` on `name` or `description`,
/// `RESOURCE_ALREADY_EXISTS` for a taken name.
pub async fn create(app: &App, actor: &Actor, new: NewWorkspace) -> Result<Workspace> {
    validate_name(&new.name)?;
    if let Some(d) = &new.description {
        crate::text::description(d)?;
    }
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            if store::name_taken(tx, &new.name, None)? {
                return Err(Error::already_exists("workspace", &new.name));
            }
            let id = crate::ids::new_id("wks");
            let now = crate::time::now_rfc3339();
            store::insert(tx, &id, &new, actor.user_id.as_deref(), &now)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.create").on("workspace", &id),
            )?;
            load(tx, &id)
        })
        .await
}

/// Applies a [`WorkspacePatch`] to workspace `id` (id or name). Errors as
/// [`create`], and `RESOURCE_NOT_FOUND`.
pub async fn update(
    app: &App,
    actor: &Actor,
    id: &str,
    patch: WorkspacePatch,
) -> Result<Workspace> {
    if let Some(n) = &patch.name {
        validate_name(n)?;
    }
    if let Some(d) = &patch.description {
        crate::text::description(d)?;
    }
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &id)?;
            if let Some(n) = &patch.name
                && store::name_taken(tx, n, Some(&w.id))?
            {
                return Err(Error::already_exists("workspace", n));
            }
            store::update(tx, &w.id, &patch, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.update").on("workspace", &w.id),
            )?;
            load(tx, &w.id)
        })
        .await
}

/// Deletes workspace `id` (id or name) with its members, grants and mappings.
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &id)?;
            store::delete(tx, &w.id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.delete").on("workspace", &w.id),
            )
        })
        .await
}

// ---- members ----

/// The explicit members of workspace `id` (id or name), by username.
pub async fn members(app: &App, id: &str) -> Result<Vec<Member>> {
    let id = id.to_string();
    app.store
        .read(move |c| {
            let w = load(c, &id)?;
            let mut roles = store::member_roles(c, &w.id)?;
            let members = crate::users::store::all(c)?
                .into_iter()
                .filter_map(|u| {
                    let (role, added_at) = roles.remove(&u.id)?;
                    Some(Member {
                        user_id: u.id,
                        username: u.username,
                        role,
                        added_at,
                    })
                })
                .collect();
            Ok(members)
        })
        .await
}

/// Adds or changes a member (`role`: owner, member (default), viewer) and returns the
/// members. Errors: `VALIDATION_ERROR` on `role` or `user` (unknown user),
/// `RESOURCE_NOT_FOUND` for the workspace.
pub async fn set_member(app: &App, actor: &Actor, id: &str, req: NewMember) -> Result<Vec<Member>> {
    let role = req.role.unwrap_or_else(|| "member".into());
    if !matches!(role.as_str(), "owner" | "member" | "viewer") {
        return Err(Error::field("role", "must be owner, member or viewer"));
    }
    let (wid, user, actor) = (id.to_string(), req.user, actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let u = crate::users::store::get(tx, &user)?
                .ok_or_else(|| Error::field("user", format!("unknown user '{user}'")))?;
            store::set_member(tx, &w.id, &u.id, &role, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.set_member").on("workspace", &w.id),
            )
        })
        .await?;
    members(app, id).await
}

/// Removes explicit member `user` (id or username). `RESOURCE_NOT_FOUND` for the
/// workspace, or when the user is not an explicit member.
pub async fn remove_member(app: &App, actor: &Actor, id: &str, user: &str) -> Result<()> {
    let (wid, user, actor) = (id.to_string(), user.to_string(), actor.clone());
    app.store
        .write(move |tx| {
            let w = load(tx, &wid)?;
            let removed = match crate::users::store::get(tx, &user)? {
                Some(u) => store::remove_member(tx, &w.id, &u.id)?,
                None => false,
            };
            if !removed {
                return Err(Error::not_found("member", &user));
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("workspaces.remove_member").on("workspace", &w.id),
            )
        })
        .await
}
