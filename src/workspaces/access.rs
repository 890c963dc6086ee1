//! Which MCP servers, tools and resources a user may see and use, from their
//! workspaces. Admins (role `admin`) see everything. Everyone else gets the union of
//! the active grants of the workspaces they belong to; a workspace with `all_servers`
//! (like the built-in `default`) grants every server with execute permission, and one
//! with `all_members` counts every user as a member.
//!
//! Hidden servers, tools and resources answer 404 as if they did not exist; a server
//! granted read-only answers 403 to execution.
//!
//! Scopes and attributions are read on every call, so they are kept in memory
//! ([`crate::store::cache`]) until the next database write: revoking a grant, removing
//! a member, changing a role or a workspace takes effect on the very next call.

use super::model::Membership;
use super::store;
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::cache::Cache;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::Arc;

pub use super::model::Grant;

/// Scopes by user id.
static SCOPES: Cache<McpScope> = Cache::new(4096);
/// [`Membership`] rows by `<user id>/<server id>`.
static MEMBERSHIPS: Cache<Arc<Vec<Membership>>> = Cache::new(4096);

/// A user's MCP scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpScope {
    /// Every server, fully.
    All,
    /// Only these server ids, each with its grant.
    Only(HashMap<String, Grant>),
}

impl McpScope {
    /// The grant on `server_id`, if visible (`All` → a full grant).
    pub fn grant(&self, server_id: &str) -> Option<Grant> {
        match self {
            McpScope::All => Some(Grant {
                execute: true,
                tools: None,
                resources: None,
            }),
            McpScope::Only(m) => m.get(server_id).cloned(),
        }
    }

    /// Whether `server_id` is visible at all.
    pub fn sees(&self, server_id: &str) -> bool {
        self.grant(server_id).is_some()
    }
}

/// Computes `user_id`'s scope (blocking; inside a store closure).
pub fn scope_of(conn: &Connection, user_id: &str) -> Result<McpScope> {
    // `get` also matches usernames: only the row whose id is `user_id` counts.
    let admin = crate::users::store::get(conn, user_id)?
        .is_some_and(|u| u.id == user_id && u.roles.iter().any(|r| r == "admin"));
    if admin {
        return Ok(McpScope::All);
    }
    let workspaces = store::workspaces_of(conn, user_id)?;
    if workspaces.iter().any(|(_, all)| *all) {
        return Ok(McpScope::All);
    }
    let mut out: HashMap<String, Grant> = HashMap::new();
    for (ws, _) in &workspaces {
        for (server, g) in store::active_grants(conn, ws)? {
            match out.get_mut(&server) {
                Some(existing) => existing.merge(g),
                None => {
                    out.insert(server, g);
                }
            }
        }
    }
    Ok(McpScope::Only(out))
}

/// [`scope_of`] off the async runtime (cached). `None` user (the daemon itself) → `All`.
pub async fn scope(app: &App, user_id: Option<&str>) -> Result<McpScope> {
    let Some(uid) = user_id else {
        return Ok(McpScope::All);
    };
    let owned = uid.to_string();
    SCOPES
        .get_or_read(&app.store, uid, move |c| scope_of(c, &owned))
        .await
}

/// What an execution touches, for [`check`].
#[derive(Debug, Clone, Copy)]
pub enum Use<'a> {
    /// Calling the tool of this name.
    Tool(&'a str),
    /// Reading the resource at this URI.
    Resource(&'a str),
    /// Getting a prompt (allowed by any grant on the server).
    Prompt,
}

/// Checks that `user_id` may execute on `server_id` (given by id; `server` is the name
/// the caller used, for the message) and returns the workspace the call is attributed
/// to (see [`attribute`]). Errors: `RESOURCE_NOT_FOUND` for a server or tool/resource
/// outside the user's workspaces, `FORBIDDEN` for a read-only grant.
pub async fn check(
    app: &App,
    user_id: Option<&str>,
    server_id: &str,
    server: &str,
    what: Use<'_>,
) -> Result<Option<String>> {
    let Some(uid) = user_id else {
        return Ok(None);
    };
    let scope = scope(app, user_id).await?;
    let (u, sid) = (uid.to_string(), server_id.to_string());
    let rows = MEMBERSHIPS
        .get_or_read(&app.store, &format!("{uid}/{server_id}"), move |c| {
            Ok(Arc::new(store::memberships(c, &u, &sid)?))
        })
        .await?;
    decide(&scope, &rows, server_id, server, what)
}

/// [`check`]'s decision. What the user may *see* is the union of their grants
/// (`scope`); what they may *execute* is decided grant by grant ([`attribute`]), so a
/// read-only grant on every tool and an execute grant on one tool do not add up to
/// executing every tool.
fn decide(
    scope: &McpScope,
    rows: &[Membership],
    server_id: &str,
    server: &str,
    what: Use<'_>,
) -> Result<Option<String>> {
    let grant = scope
        .grant(server_id)
        .ok_or_else(|| Error::not_found("mcp server", server))?;
    match what {
        Use::Tool(t) if !grant.allows_tool(t) => return Err(Error::not_found("tool", t)),
        Use::Resource(u) if !grant.allows_resource(u) => {
            return Err(Error::not_found("resource", u));
        }
        _ => {}
    }
    let workspace = attribute(rows, what);
    if workspace.is_none() && matches!(scope, McpScope::Only(_)) {
        return Err(Error::forbidden(format!(
            "your workspaces grant read-only access to this on MCP server '{server}'"
        )));
    }
    Ok(workspace)
}

/// The workspace one execution is attributed to in the request log and in usage by
/// workspace, from the user's [`store::memberships`]: the first by name whose own active
/// grant on the server allows `what` with execute permission; failing that, the first
/// by name that grants every server (like the built-in `default`); `None` when none
/// does (an admin using a server no workspace of theirs grants).
fn attribute(rows: &[Membership], what: Use<'_>) -> Option<String> {
    let allows = |g: &Grant| {
        g.execute
            && match what {
                Use::Tool(t) => g.allows_tool(t),
                Use::Resource(u) => g.allows_resource(u),
                Use::Prompt => true,
            }
    };
    rows.iter()
        .find(|m| m.grant.as_ref().is_some_and(allows))
        .or_else(|| rows.iter().find(|m| m.all_servers))
        .map(|m| m.workspace_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_merge_and_match() {
        let mut a = Grant {
            execute: false,
            tools: Some(["echo".to_string()].into()),
            resources: Some(["demo://a".to_string()].into()),
        };
        a.merge(Grant {
            execute: true,
            tools: Some(["add".to_string()].into()),
            resources: Some(["file:///data/*".to_string()].into()),
        });
        assert!(a.execute);
        assert!(a.allows_tool("echo") && a.allows_tool("add") && !a.allows_tool("rm"));
        assert!(a.allows_resource("demo://a") && !a.allows_resource("demo://ab"));
        assert!(a.allows_resource("file:///data/x/y"));
        a.merge(Grant {
            execute: false,
            tools: None,
            resources: None,
        });
        assert!(a.allows_tool("anything") && a.allows_resource("any://thing"));
    }

    #[test]
    fn execution_is_decided_grant_by_grant() {
        let grant = |execute: bool, tools: Option<&[&str]>| Grant {
            execute,
            tools: tools.map(|t| t.iter().map(|s| s.to_string()).collect()),
            resources: None,
        };
        // Read-only on every tool in one workspace, execute on `echo` in another.
        let rows = vec![
            Membership {
                workspace_id: "wks_read".into(),
                all_servers: false,
                grant: Some(grant(false, None)),
            },
            Membership {
                workspace_id: "wks_exec".into(),
                all_servers: false,
                grant: Some(grant(true, Some(&["echo"]))),
            },
        ];
        let mut merged = grant(false, None);
        merged.merge(grant(true, Some(&["echo"])));
        let scope = McpScope::Only(HashMap::from([("mcp_1".to_string(), merged)]));
        let run = |tool| decide(&scope, &rows, "mcp_1", "srv", Use::Tool(tool));
        assert_eq!(run("echo").unwrap().as_deref(), Some("wks_exec"));
        let e = run("rm").unwrap_err();
        assert_eq!(
            e.code,
            crate::error::ErrorCode::Forbidden,
            "seen, not executable"
        );
        assert_eq!(
            decide(&scope, &rows, "mcp_2", "other", Use::Prompt)
                .unwrap_err()
                .code,
            crate::error::ErrorCode::ResourceNotFound
        );
        // Admins (scope `All`) run anything, attributed to no workspace.
        assert_eq!(
            decide(&McpScope::All, &[], "mcp_2", "x", Use::Tool("rm")).unwrap(),
            None
        );
    }
}
