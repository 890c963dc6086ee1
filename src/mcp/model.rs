//! MCP server records and the shapes the API returns (DESIGN.md, "Main shapes").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How mcpd speaks to a server: JSON-RPC lines over the container's stdin/stdout, or
/// the MCP streamable HTTP transport (spec 2025-06-18, "Transports").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Stdio,
    StreamableHttp,
}

impl Transport {
    /// The wire name (`stdio`, `streamable_http`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::StreamableHttp => "streamable_http",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Transport> {
        match s {
            "stdio" => Some(Transport::Stdio),
            "streamable_http" => Some(Transport::StreamableHttp),
            _ => None,
        }
    }
}

/// Server status as stored: `running` (backing service running or remote enabled),
/// `stopped`, `starting`, or whatever the backing service reports (`failed`, …).
pub mod status {
    pub const RUNNING: &str = "running";
    pub const STOPPED: &str = "stopped";
    /// Created from a catalog entry whose required configuration is missing: its
    /// service exists but is not started until `PUT /mcp/servers/{id}/config`.
    pub const UNCONFIGURED: &str = "unconfigured";
}

/// Identity the server gave in `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    pub protocol_version: String,
}

/// Everything stored about one MCP server, including secrets (header values) that the
/// API never returns; [`ServerRecord::view`] gives the public shape.
#[derive(Debug, Clone)]
pub struct ServerRecord {
    pub id: String,
    pub name: String,
    pub transport: Transport,
    /// `Some` for a managed server: the backing service.
    pub service_id: Option<String>,
    /// Remote servers: the streamable HTTP endpoint.
    pub url: Option<String>,
    /// Remote servers: names of the extra request headers.
    pub header_names: Vec<String>,
    /// Remote servers: the header values as a JSON object, sealed by the vault
    /// (`mcp_servers.headers` of this id). Opened only to connect.
    pub headers_sealed: Option<String>,
    /// Managed streamable HTTP servers: container port and path of the endpoint.
    pub port: Option<u16>,
    pub path: Option<String>,
    pub status: String,
    /// Managed servers: whether Docker answered when `status` was read (not stored;
    /// `None` until read, and always for remote servers).
    pub engine: Option<crate::docker::Engine>,
    pub server_info: Option<ServerInfo>,
    pub capabilities: Option<Value>,
    pub counts: Counts,
    pub discovered_at: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The catalog entry the server was made from (`POST /mcp/servers {registry}`);
    /// `None` for servers made from an image or URL directly.
    pub registry: Option<String>,
}

/// Sizes of the discovery cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tools: u64,
    pub resources: u64,
    pub resource_templates: u64,
    pub prompts: u64,
}

/// Where the server runs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Backend {
    /// In the container(s) of a service mcpd manages.
    Container {
        service_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Reached over streamable HTTP; only header *names* are shown.
    Remote { url: String, headers: Vec<String> },
}

/// The API shape of an MCP server.
#[derive(Debug, Clone, Serialize)]
pub struct McpServer {
    pub id: String,
    pub name: String,
    pub transport: Transport,
    pub backend: Backend,
    /// Catalog entry name, or `null` when made without one.
    pub registry: Option<String>,
    pub status: String,
    /// Managed servers: `available` when Docker answered as `status` was read,
    /// `unavailable` when it could not be asked and `status` is the last one observed;
    /// `null` for remote servers.
    pub engine: Option<crate::docker::Engine>,
    pub server_info: Option<ServerInfo>,
    pub capabilities: Option<Value>,
    pub tools_count: u64,
    pub resources_count: u64,
    pub resource_templates_count: u64,
    pub prompts_count: u64,
    pub discovered_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ServerRecord {
    /// Whether a service mcpd manages runs this server.
    pub fn is_managed(&self) -> bool {
        self.service_id.is_some()
    }

    /// The public shape (header values left out).
    pub fn view(&self) -> McpServer {
        let backend = match &self.service_id {
            Some(service_id) => Backend::Container {
                service_id: service_id.clone(),
                port: self.port,
                path: self.path.clone(),
            },
            None => Backend::Remote {
                url: self.url.clone().unwrap_or_default(),
                headers: self.header_names.clone(),
            },
        };
        McpServer {
            id: self.id.clone(),
            name: self.name.clone(),
            transport: self.transport,
            backend,
            registry: self.registry.clone(),
            status: self.status.clone(),
            engine: self.engine,
            server_info: self.server_info.clone(),
            capabilities: self.capabilities.clone(),
            tools_count: self.counts.tools,
            resources_count: self.counts.resources,
            resource_templates_count: self.counts.resource_templates,
            prompts_count: self.counts.prompts,
            discovered_at: self.discovered_at.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// Which discovery list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Tools,
    Resources,
    ResourceTemplates,
    Prompts,
}

impl Catalog {
    /// Column of `mcp_servers` holding the cached JSON array. Never user input.
    pub fn column(self) -> &'static str {
        match self {
            Catalog::Tools => "tools",
            Catalog::Resources => "resources",
            Catalog::ResourceTemplates => "resource_templates",
            Catalog::Prompts => "prompts",
        }
    }
}

/// Result of `discover`: the lists as the server gave them (MCP's own shapes).
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub tools: Vec<Value>,
    pub resources: Vec<Value>,
    pub resource_templates: Vec<Value>,
    pub prompts: Vec<Value>,
}
