//! Shapes of the organization and workspace API: what it answers (organization,
//! workspace, member, grant) and what clients send to create and change them (one
//! typed request or `Patch` per resource, see docs/api.md, "Organization and
//! workspaces").

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// `{name, settings, members: [{id, username, roles, status}], created_at, updated_at}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Organization {
    /// The organization's display name.
    pub name: String,
    /// A JSON object (`{}` when unset or unreadable).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Every user, by username.
    pub members: Vec<OrgMember>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC of the last `PATCH`.
    pub updated_at: String,
}

/// One user of the organization: `{id, username, roles, status}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgMember {
    /// `usr_…`.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role names, sorted.
    pub roles: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
}

/// `{id, name, description, all_members, all_servers, members_count, access_count, …}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    /// `wks_…`.
    pub id: String,
    /// 1–64 of letters, digits, space, `-`, `_`, `.`; no leading or trailing space; unique.
    pub name: String,
    /// Free text, at most 1024 bytes (`""` when none).
    pub description: String,
    /// Every user is a member (the built-in `default`).
    pub all_members: bool,
    /// Every MCP server is granted with execution (the built-in `default`).
    pub all_servers: bool,
    /// Explicit members (not counting `all_members`).
    pub members_count: i64,
    /// Grants, active or not.
    pub access_count: i64,
    /// User id (`usr_…`) of its creator, or null.
    pub created_by: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// An explicit member of a workspace: `{user_id, username, role, added_at}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// `usr_…`.
    pub user_id: String,
    /// The member's login name.
    pub username: String,
    /// `owner`, `member` or `viewer`.
    pub role: String,
    /// RFC 3339 UTC time the member was added.
    pub added_at: String,
}

/// A grant (workspace access): `{id, workspace_id, server: {id, name}, name,
/// description, permission_level, allowed_tools, allowed_resources, is_active}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Access {
    /// `wsa_…`.
    pub id: String,
    /// The workspace (`wks_…`) it belongs to.
    pub workspace_id: String,
    /// `{id, name}`; `name` is null once the server is gone.
    #[schema(value_type = ServerRef)]
    pub server: Value,
    /// Free text label, at most 256 bytes.
    pub name: String,
    /// Free text, at most 1024 bytes.
    pub description: String,
    /// `read` or `execute`.
    pub permission_level: String,
    /// `None`: every tool.
    pub allowed_tools: Option<Vec<String>>,
    /// `None`: every resource. A trailing `*` matches a prefix.
    pub allowed_resources: Option<Vec<String>>,
    /// Inactive grants grant nothing.
    pub is_active: bool,
    /// User id (`usr_…`) of its creator, or null.
    pub created_by: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// The MCP server a grant or a mapping points at, as answered in their `server` field
/// (which is built as JSON: this type only describes it in the OpenAPI document).
#[derive(Debug, utoipa::ToSchema)]
pub struct ServerRef {
    /// `mcp_…`.
    pub id: String,
    /// The server's name; null once the server is gone.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// `PATCH /organization`: the fields sent change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    /// The workspace name rule.
    pub name: Option<String>,
    /// Replaces the whole settings object (a JSON object, at most 64 KiB as JSON).
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

/// `POST /workspaces`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    /// 1-64 letters, digits, spaces, `-`, `_` or `.`, no leading or trailing space.
    pub name: String,
    /// Default `""`; at most 1024 bytes.
    pub description: Option<String>,
}

/// `PATCH /workspaces/{id}`: the fields sent change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    /// The workspace name rule (see [`NewWorkspace::name`]); unique.
    pub name: Option<String>,
    /// At most 1024 bytes.
    pub description: Option<String>,
    /// Make every user a member.
    pub all_members: Option<bool>,
    /// Grant every MCP server with execution.
    pub all_servers: Option<bool>,
}

/// `POST /workspaces/{id}/members`: adds a member or changes their role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// User id or username.
    pub user: String,
    /// owner, member (default) or viewer.
    pub role: Option<String>,
}

/// `POST /workspaces/{id}/access`: a new grant (defaults: execute, every tool and
/// resource, active).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// MCP server id or name.
    pub server: String,
    /// Default `""`; at most 256 bytes.
    pub name: Option<String>,
    /// Default `""`; at most 1024 bytes.
    pub description: Option<String>,
    /// read or execute (default).
    pub permission_level: Option<String>,
    /// Tool names; absent or null = every tool.
    pub allowed_tools: Option<Vec<String>>,
    /// Resource URIs (a trailing `*` matches a prefix); absent or null = every resource.
    pub allowed_resources: Option<Vec<String>>,
    /// Default true; an inactive grant grants nothing.
    pub is_active: Option<bool>,
}

/// `PATCH /workspaces/{id}/access/{access}`: the fields sent change;
/// `allowed_tools: null` means every tool again (likewise `allowed_resources`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPatch {
    /// At most 256 bytes.
    pub name: Option<String>,
    /// At most 1024 bytes.
    pub description: Option<String>,
    /// `read` or `execute`.
    pub permission_level: Option<String>,
    /// Absent: unchanged; `null`: every tool; a list: only those tools.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_tools: Option<Option<Vec<String>>>,
    /// Absent: unchanged; `null`: every resource; a list: only those URIs (`prefix*` allowed).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_resources: Option<Option<Vec<String>>>,
    /// An inactive grant grants nothing.
    pub is_active: Option<bool>,
}

/// Distinguishes a field sent as `null` (Some(None)) from one not sent (None).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// `POST /workspaces/{id}/access/{access}/add-resource` and `…/remove-resource`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceUri {
    /// 1-1024 characters; a trailing `*` matches a prefix.
    pub uri: String,
}

/// What a grant allows on one server (for a user: the union over their workspaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// May execute (`execute` level); `false`: may only see the server.
    pub execute: bool,
    /// `None`: every tool.
    pub tools: Option<BTreeSet<String>>,
    /// `None`: every resource. Entries are URIs; a trailing `*` matches a prefix.
    pub resources: Option<BTreeSet<String>>,
}

impl Grant {
    /// Adds what `other` allows (an unrestricted list stays unrestricted).
    pub fn merge(&mut self, other: Grant) {
        self.execute |= other.execute;
        self.tools = match (self.tools.take(), other.tools) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
        self.resources = match (self.resources.take(), other.resources) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Whether tool `name` is allowed.
    pub fn allows_tool(&self, name: &str) -> bool {
        self.tools.as_ref().is_none_or(|t| t.contains(name))
    }

    /// Whether resource `uri` is allowed (exactly, or by a `prefix*` entry).
    pub fn allows_resource(&self, uri: &str) -> bool {
        self.resources.as_ref().is_none_or(|rs| {
            rs.iter().any(|r| match r.strip_suffix('*') {
                Some(prefix) => uri.starts_with(prefix),
                None => r == uri,
            })
        })
    }
}

/// One of a user's workspaces, as far as one server goes: whether it grants every
/// server, and its own active grant on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// `wks_…`.
    pub workspace_id: String,
    /// The workspace grants every server with execution.
    pub all_servers: bool,
    /// The workspace's active grant on the server, if any.
    pub grant: Option<Grant>,
}
