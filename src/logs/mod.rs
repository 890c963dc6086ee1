//! Request logs: one row per MCP execution (tool, resource or prompt), success or error,
//! with the caller, server, timing, sizes, and the arguments and result kept up to a size
//! cap with secret-looking values redacted (DESIGN.md, "MCP servers"). Executions write
//! their rows through [`writer`], which group-commits them.

pub mod api;
pub mod redact;
pub mod store;
pub mod writer;

use serde::Serialize;
use serde_json::Value;

/// What was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Tool,
    Resource,
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
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    /// The workspace the call was made under ([`crate::workspaces::access::check`] returns it).
    pub workspace_id: Option<String>,
    pub server_id: String,
    pub server_name: String,
    pub kind: Kind,
    /// Tool name, resource URI or prompt name.
    pub name: String,
    /// `None` on success; the error code (e.g. `MCP_TIMEOUT`) otherwise.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub duration_ms: u64,
    pub arguments: Value,
    pub result: Option<Value>,
}

/// The list shape of a request log row (DESIGN.md, "request log").
#[derive(Debug, Clone, Serialize)]
pub struct RequestLog {
    pub id: String,
    pub timestamp: String,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub server_id: Option<String>,
    pub server_name: Option<String>,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub duration_ms: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Whether `arguments` or `result` was cut at the size cap.
    pub truncated: bool,
}

/// One row with its (capped, redacted) arguments and result.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLogDetail {
    #[serde(flatten)]
    pub log: RequestLog,
    pub arguments: Option<Value>,
    pub result: Option<Value>,
}
