//! The MCP request log (not container logs, which are `services::ops::logs`): one row per
//! MCP execution (tool, resource or prompt), success or error, with the caller, server,
//! timing, sizes, and the arguments and result kept up to a size cap with secret-looking
//! values redacted (docs/api.md §3 "Request log"). Executions write their rows through
//! [`writer`], which group-commits them.

pub mod api;
pub mod redact;
pub mod store;
pub mod writer;

use serde::Serialize;
use serde_json::Value;

/// What was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A tool call (`tools/call`).
    Tool,
    /// A resource read (`resources/read`).
    Resource,
    /// A prompt fetch (`prompts/get`).
    Prompt,
}

impl Kind {
    /// The wire name (`tool`, `resource`, `prompt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
        }
    }
}

/// One execution to record. `arguments` and `result` are redacted and capped by
/// [`store::insert`]; sizes are of the JSON as sent and received.
#[derive(Debug, Clone)]
pub struct NewRequestLog {
    /// Caller's user id (`usr_…`); `None` when the caller has none.
    pub user_id: Option<String>,
    /// API key id (`key_…`) when the call was made with a key or a token bound to one.
    pub api_key_id: Option<String>,
    /// The workspace the call was made under ([`crate::workspaces::access::check`] returns it).
    pub workspace_id: Option<String>,
    /// Server id (`mcp_…`) at call time.
    pub server_id: String,
    /// Server name at call time (kept if the server is renamed or deleted).
    pub server_name: String,
    /// Tool, resource or prompt.
    pub kind: Kind,
    /// Tool name, resource URI or prompt name.
    pub name: String,
    /// `None` on success; the error code (e.g. `MCP_TIMEOUT`) otherwise.
    pub error_code: Option<String>,
    /// Message of the error, as the caller got it; `None` on success.
    pub error_message: Option<String>,
    /// Wall time of the call, milliseconds.
    pub duration_ms: u64,
    /// Arguments as sent (for a resource `{"uri": …}`); redacted and capped when stored.
    pub arguments: Value,
    /// Result as received; `None` on error. Redacted and capped when stored.
    pub result: Option<Value>,
}

/// The list shape of a request log row (docs/api.md §3 "Request log").
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestLog {
    /// Row id, `rlog_` + 16 alphanumerics whose first 9 encode the time, so ids sort by time.
    pub id: String,
    /// When the row was written, at the end of the call (RFC 3339 UTC).
    pub timestamp: String,
    /// Caller's user id; `null` when there was none.
    pub user_id: Option<String>,
    /// API key used, if any (`key_…`).
    pub api_key_id: Option<String>,
    /// Workspace the call is attributed to; `null` for admins no workspace grants the server, and
    /// for rows older than the column.
    pub workspace_id: Option<String>,
    /// Server id (`mcp_…`) at call time; the row stays after the server is deleted.
    pub server_id: Option<String>,
    /// Server name at call time.
    pub server_name: Option<String>,
    /// `tool`, `resource` or `prompt`.
    pub kind: String,
    /// Tool name, resource URI or prompt name.
    pub name: String,
    /// `success` or `error`; a tool result with `is_error: true` is `success`.
    pub status: String,
    /// mcpd error code (e.g. `MCP_TIMEOUT`), or `CANCELLED` when the client went away; `null` on
    /// success.
    pub error_code: Option<String>,
    /// Error message as the caller got it; `null` on success.
    pub error_message: Option<String>,
    /// Wall time of the call, milliseconds.
    pub duration_ms: u64,
    /// Size of the arguments as compact JSON before redaction, bytes.
    pub request_bytes: u64,
    /// Size of the result as compact JSON, bytes; 0 on error.
    pub response_bytes: u64,
    /// Whether `arguments` or `result` was cut at the size cap.
    pub truncated: bool,
}

/// One row with its (capped, redacted) arguments and result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestLogDetail {
    /// The list fields, flattened.
    #[serde(flatten)]
    pub log: RequestLog,
    /// Redacted arguments; a JSON string of the first bytes when over the cap; `null` when not
    /// stored.
    pub arguments: Option<Value>,
    /// Redacted result (tool `{content, structured_content, is_error}`, resource `{contents}`,
    /// prompt `{description, messages}`); `null` on error.
    pub result: Option<Value>,
}
