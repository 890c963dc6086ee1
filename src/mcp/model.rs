//! MCP server records and the shapes the API returns (docs/api.md §3 "Shapes", "MCP server").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How mcpd speaks to a server: JSON-RPC lines over the container's stdin/stdout, or
/// the MCP streamable HTTP transport (spec 2025-06-18, "Transports").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// `stdio`: newline-delimited JSON-RPC 2.0 over the attached stdin/stdout (managed servers
    /// only; the default).
    Stdio,
    /// `streamable_http`: MCP streamable HTTP (POST, answers as JSON or SSE); the only transport of
    /// remote servers.
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
    /// `running`: the backing service runs, or a remote server is enabled.
    pub const RUNNING: &str = "running";
    /// `stopped`: the backing service is stopped (or only created), or a remote server is disabled.
    pub const STOPPED: &str = "stopped";
    /// Created from a catalog entry whose required configuration is missing: its
    /// service exists but is not started until `PUT /mcp/servers/{id}/config`.
    pub const UNCONFIGURED: &str = "unconfigured";
}

/// Identity the server gave in `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerInfo {
    /// `serverInfo.name` from the `initialize` result.
    pub name: String,
    /// `serverInfo.version` from the `initialize` result.
    pub version: String,
    /// Negotiated MCP revision, e.g. `2025-06-18` (`protocolVersion` of the `initialize` result).
    pub protocol_version: String,
}

/// Everything stored about one MCP server, including secrets (header values) that the
/// API never returns; [`ServerRecord::view`] gives the public shape.
#[derive(Debug, Clone)]
pub struct ServerRecord {
    /// Server id, `mcp_` + 16 alphanumerics; stable for the server's life.
    pub id: String,
    /// Unique name, 1–63 of `a-z 0-9 - _ .` starting with a letter or digit; a managed server's
    /// service has the same name.
    pub name: String,
    /// How mcpd speaks to the server.
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
    /// Managed streamable HTTP servers: endpoint path, starting with `/` (default `/mcp`); `None`
    /// otherwise.
    pub path: Option<String>,
    /// `running`, `stopped`, `unconfigured` (see [`status`]) or the backing service's status
    /// (`starting`, `failed`, …).
    pub status: String,
    /// Managed servers: whether Docker answered when `status` was read (not stored;
    /// `None` until read, and always for remote servers).
    pub engine: Option<crate::docker::Engine>,
    /// `serverInfo` and protocol revision from the last `initialize`; `None` until a session
    /// opened.
    pub server_info: Option<ServerInfo>,
    /// The server's MCP capabilities object from `initialize`, as sent; `None` until a session
    /// opened.
    pub capabilities: Option<Value>,
    /// Sizes of the cached discovery lists.
    pub counts: Counts,
    /// When the discovery cache was last filled (RFC 3339 UTC); `None` before the first discovery.
    pub discovered_at: Option<String>,
    /// User id (`usr_…`) of the creator, kept after the user is deleted; `None` when no user made
    /// it.
    pub created_by: Option<String>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change of settings or status (RFC 3339 UTC); discovery does not touch it.
    pub updated_at: String,
    /// The catalog entry the server was made from (`POST /mcp/servers {registry}`);
    /// `None` for servers made from an image or URL directly.
    pub registry: Option<String>,
    /// `Some` for a managed server placed on a registered Kubernetes cluster (then
    /// `service_id` is `None`: no local service runs it).
    pub placement: Option<Placement>,
}

/// Where on a cluster a placed server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The cluster (`cls_…`).
    pub cluster_id: String,
    /// The namespace (an RFC 1123 label).
    pub namespace: String,
    /// Name of its Deployment (and Service, Secret `<workload>-env`).
    pub workload: String,
}

/// Sizes of the discovery cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Cached tools (`tools/list`).
    pub tools: u64,
    /// Cached resources (`resources/list`).
    pub resources: u64,
    /// Cached resource templates (`resources/templates/list`).
    pub resource_templates: u64,
    /// Cached prompts (`prompts/list`).
    pub prompts: u64,
}

/// Where the server runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Backend {
    /// In the container(s) of a service mcpd manages.
    Container {
        /// Backing service id, `svc_…`.
        service_id: String,
        /// Container port of the endpoint; `streamable_http` only, left out otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// Endpoint path (starts with `/`); `streamable_http` only, left out otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// In a Deployment mcpd made on a registered Kubernetes cluster.
    Cluster {
        /// The cluster (`cls_…`).
        cluster_id: String,
        /// The namespace.
        namespace: String,
        /// The Deployment (and Service) name.
        workload: String,
        /// Container port of the endpoint; `streamable_http` only, left out otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// Endpoint path (starts with `/`); `streamable_http` only, left out otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Reached over streamable HTTP; only header *names* are shown.
    Remote {
        /// Absolute `http` or `https` URL of the streamable HTTP endpoint.
        url: String,
        /// Names of the extra request headers; their values are sealed and never shown.
        headers: Vec<String>,
    },
}

/// The API shape of an MCP server.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct McpServer {
    /// Server id, `mcp_` + 16 alphanumerics.
    pub id: String,
    /// Unique name, 1–63 of `a-z 0-9 - _ .` starting with a letter or digit.
    pub name: String,
    /// `stdio` or `streamable_http`.
    pub transport: Transport,
    /// Where the server runs: `{"type": "container", …}`, `{"type": "cluster", …}` or
    /// `{"type": "remote", …}`.
    pub backend: Backend,
    /// Catalog entry name, or `null` when made without one.
    pub registry: Option<String>,
    /// `running`, `stopped`, `unconfigured`, or the backing service's status (`starting`, `failed`,
    /// `unhealthy`, `stopping`, `removing`).
    pub status: String,
    /// Managed servers: `available` when Docker answered as `status` was read,
    /// `unavailable` when it could not be asked and `status` is the last one observed;
    /// `null` for remote servers.
    pub engine: Option<crate::docker::Engine>,
    /// `{name, version, protocol_version}` from `initialize`; `null` until a session opened.
    pub server_info: Option<ServerInfo>,
    /// The server's MCP capabilities from `initialize`, as sent; `null` until a session opened.
    pub capabilities: Option<Value>,
    /// Number of cached tools.
    pub tools_count: u64,
    /// Number of cached resources.
    pub resources_count: u64,
    /// Number of cached resource templates.
    pub resource_templates_count: u64,
    /// Number of cached prompts.
    pub prompts_count: u64,
    /// Last discovery (RFC 3339 UTC); `null` before the first.
    pub discovered_at: Option<String>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change of settings or status (RFC 3339 UTC).
    pub updated_at: String,
}

impl ServerRecord {
    /// Whether a service mcpd manages runs this server.
    pub fn is_managed(&self) -> bool {
        self.service_id.is_some()
    }

    /// Whether the server runs on a registered Kubernetes cluster.
    pub fn is_placed(&self) -> bool {
        self.placement.is_some()
    }

    /// The public shape (header values left out).
    pub fn view(&self) -> McpServer {
        let backend = match (&self.service_id, &self.placement) {
            (Some(service_id), _) => Backend::Container {
                service_id: service_id.clone(),
                port: self.port,
                path: self.path.clone(),
            },
            (None, Some(p)) => Backend::Cluster {
                cluster_id: p.cluster_id.clone(),
                namespace: p.namespace.clone(),
                workload: p.workload.clone(),
                port: self.port,
                path: self.path.clone(),
            },
            (None, None) => Backend::Remote {
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
    /// `tools/list`, column `tools`.
    Tools,
    /// `resources/list`, column `resources`.
    Resources,
    /// `resources/templates/list`, column `resource_templates`.
    ResourceTemplates,
    /// `prompts/list`, column `prompts`.
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
    /// Tool objects (`name`, `description`, `inputSchema`, …), all pages concatenated.
    pub tools: Vec<Value>,
    /// Resource objects (`uri`, `name`, `mimeType`, …), all pages concatenated.
    pub resources: Vec<Value>,
    /// Resource template objects (`uriTemplate`, `name`, …), all pages concatenated.
    pub resource_templates: Vec<Value>,
    /// Prompt objects (`name`, `description`, `arguments`), all pages concatenated.
    pub prompts: Vec<Value>,
}

/// What `start`, `stop` and `restart` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Start the backing service (or enable a remote server), then open a session (best effort).
    Start,
    /// Close the session, then stop the backing service (or disable a remote server).
    Stop,
    /// Close the session, restart the backing service, then open a new session (best effort).
    Restart,
}

impl Lifecycle {
    /// The audit action (`mcp.servers.start` …).
    pub fn action(self) -> &'static str {
        match self {
            Lifecycle::Start => "mcp.servers.start",
            Lifecycle::Stop => "mcp.servers.stop",
            Lifecycle::Restart => "mcp.servers.restart",
        }
    }
}
