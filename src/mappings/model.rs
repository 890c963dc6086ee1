//! Shapes of the resource mapping API: the mapping, what clients send to create and
//! change one (one typed request and one `Patch`), and the sync report (see
//! docs/api.md, "Resource mappings").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{id, workspace_id, server: {id, name}, uri | uri_template, alias, description,
/// component_type, component_id, mapping_config, is_active, state, last_synced, …}`.
#[derive(Debug, Serialize)]
pub struct Mapping {
    pub id: String,
    pub workspace_id: String,
    /// `{id, name}`; `name` is null once the server is gone.
    pub server: Value,
    pub uri: Option<String>,
    pub uri_template: Option<String>,
    pub alias: String,
    pub description: String,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    /// A JSON object.
    pub mapping_config: Value,
    pub is_active: bool,
    /// present | missing | unknown (never synced).
    pub state: String,
    pub last_synced: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /mappings` (validated by [`super::create`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    /// Workspace id or name.
    pub workspace: String,
    /// MCP server id or name.
    pub server: String,
    /// Exactly one of `uri` and `uri_template` (1-2048 characters).
    pub uri: Option<String>,
    pub uri_template: Option<String>,
    /// 1-128 of `[A-Za-z0-9._/-]`, starting with a letter or digit.
    pub alias: String,
    /// Default `""`; at most 1024 bytes.
    pub description: Option<String>,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    /// A JSON object, at most 64 KiB; default `{}`.
    pub mapping_config: Option<Value>,
}

/// `PATCH /mappings/{id}`: the fields sent change (`null` keeps the value).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingPatch {
    pub alias: Option<String>,
    pub description: Option<String>,
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    pub mapping_config: Option<Value>,
    pub is_active: Option<bool>,
}

/// `POST /mappings/sync` (the body is optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only this MCP server (id or name); default: every server with mappings.
    pub server: Option<String>,
}

/// What a sync found on one server.
#[derive(Debug, Serialize)]
pub struct ServerSync {
    pub server_id: String,
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
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub servers: Vec<ServerSync>,
    pub mappings_present: usize,
    pub mappings_missing: Vec<String>,
}

/// What sync needs of one mapping.
#[derive(Debug)]
pub struct MappingTarget {
    pub id: String,
    pub server_id: String,
    pub uri: Option<String>,
    pub uri_template: Option<String>,
    pub alias: String,
}
