//! Shapes of the resource mapping API: the mapping, what clients send to create and
//! change one (one typed request and one `Patch`), and the sync report (see
//! docs/api.md, "Resource mappings").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{id, workspace_id, server: {id, name}, uri | uri_template, alias, description,
/// component_type, component_id, mapping_config, is_active, state, last_synced, …}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Mapping {
    /// `map_…`.
    pub id: String,
    /// The workspace (`wks_…`) it is published to.
    pub workspace_id: String,
    /// `{id, name}`; `name` is null once the server is gone.
    #[schema(value_type = crate::workspaces::model::ServerRef)]
    pub server: Value,
    /// The resource URI; null when `uri_template` is set.
    pub uri: Option<String>,
    /// RFC 6570 URI template; null when `uri` is set.
    pub uri_template: Option<String>,
    /// 1–128 of `A-Za-z0-9 . _ - /`, starting with a letter or digit; unique per workspace.
    pub alias: String,
    /// Free text, at most 1024 bytes (`""` when none).
    pub description: String,
    /// Free text naming the kind of component it is tied to; null when none.
    pub component_type: Option<String>,
    /// Free text naming the component; null when none.
    pub component_id: Option<String>,
    /// A JSON object.
    #[schema(value_type = Object)]
    pub mapping_config: Value,
    /// Whether the mapping is on; true when created, changed only by `PATCH`.
    pub is_active: bool,
    /// present | missing | unknown (never synced).
    pub state: String,
    /// RFC 3339 UTC time `state` was last set by a sync; null: never synced.
    pub last_synced: Option<String>,
    /// User id (`usr_…`) of its creator, or null.
    pub created_by: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// `POST /mappings` (validated by [`super::create`]).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    /// Workspace id or name.
    pub workspace: String,
    /// MCP server id or name.
    pub server: String,
    /// Exactly one of `uri` and `uri_template` (1-2048 characters).
    pub uri: Option<String>,
    /// RFC 6570 URI template (1-2048 characters), instead of `uri`.
    pub uri_template: Option<String>,
    /// 1-128 of `[A-Za-z0-9._/-]`, starting with a letter or digit.
    pub alias: String,
    /// Default `""`; at most 1024 bytes.
    pub description: Option<String>,
    /// Free text, optional.
    pub component_type: Option<String>,
    /// Free text, optional.
    pub component_id: Option<String>,
    /// A JSON object, at most 64 KiB; default `{}`.
    #[schema(value_type = Option<Object>)]
    pub mapping_config: Option<Value>,
}

/// `PATCH /mappings/{id}`: the fields sent change (`null` keeps the value).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingPatch {
    /// New alias (same rule as [`NewMapping::alias`]); unique per workspace.
    pub alias: Option<String>,
    /// At most 1024 bytes.
    pub description: Option<String>,
    /// Free text; cannot be cleared.
    pub component_type: Option<String>,
    /// Free text; cannot be cleared.
    pub component_id: Option<String>,
    /// Replaces the whole object (at most 64 KiB as JSON).
    #[schema(value_type = Option<Object>)]
    pub mapping_config: Option<Value>,
    /// Switches the mapping on or off.
    pub is_active: Option<bool>,
}

/// `POST /mappings/sync` (the body is optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only this MCP server (id or name); default: every server with mappings.
    pub server: Option<String>,
}

/// What a sync found on one server.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerSync {
    /// `mcp_…`.
    pub server_id: String,
    /// The server's name.
    pub server_name: String,
    /// `ok`, or the error that kept it from being re-discovered (its cache is kept).
    pub status: String,
    /// Resource URIs listed now and not before.
    pub added: Vec<String>,
    /// Resource URIs listed before and not now.
    pub removed: Vec<String>,
    /// Still listed, but with another name, description or MIME type.
    pub changed: Vec<String>,
}

/// `{servers: [ServerSync], mappings_present, mappings_missing: [alias…]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    /// One entry per server synced.
    pub servers: Vec<ServerSync>,
    /// How many mappings match a listed resource (by URI or template).
    pub mappings_present: usize,
    /// Aliases of the mappings that now match no listed resource.
    pub mappings_missing: Vec<String>,
}

/// What sync needs of one mapping.
#[derive(Debug)]
pub struct MappingTarget {
    /// `map_…`.
    pub id: String,
    /// `mcp_…` of the server it points at.
    pub server_id: String,
    /// As [`Mapping::uri`].
    pub uri: Option<String>,
    /// As [`Mapping::uri_template`].
    pub uri_template: Option<String>,
    /// Reported in `mappings_missing` when nothing matches.
    pub alias: String,
}
