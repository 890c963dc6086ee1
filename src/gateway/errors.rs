//! mcpd errors as JSON-RPC errors for MCP clients.
//!
//! MCP (spec 2025-06-18, "Tools" → "Error Handling") separates a tool's own failure,
//! which stays a result with `isError: true` (execution already returns it so), from
//! protocol errors, which are JSON-RPC errors. The mapping:
//!
//! | mcpd code | JSON-RPC code |
//! |---|---|
//! | `RESOURCE_NOT_FOUND` for a resource URI | -32002 (MCP "Resource not found") |
//! | `RESOURCE_NOT_FOUND` (unknown tool, prompt, server), `VALIDATION_ERROR` | -32602 invalid params |
//! | `FORBIDDEN` | -32600 invalid request (the caller may not make it) |
//! | `MCP_SERVICE_ERROR` | the upstream server's own JSON-RPC code |
//! | anything else (`MCP_SERVICE_UNAVAILABLE`, `MCP_TIMEOUT`, …) | -32603 internal error |
//!
//! The message is mcpd's (it names the server and never holds secrets; internal errors
//! carry only "internal server error") and `data` is `{"code": "<mcpd error code>"}`
//! plus `details` when there are any, so a client can tell "server not running" from
//! "timed out".

use crate::error::{Error, ErrorCode};
use rmcp::ErrorData;
use rmcp::model::ErrorCode as RpcCode;
use serde_json::{Value, json};

/// What was being asked for, which picks the not-found code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `tools/call`: not found is -32602 invalid params.
    Tool,
    /// `prompts/get`: not found is -32602 invalid params.
    Prompt,
    /// `resources/read`, `resources/subscribe` or `unsubscribe`: not found is -32002 (MCP "Resource
    /// not found").
    Resource,
    /// A `*/list` request: not found is -32602 invalid params.
    List,
}

/// Maps a domain error to the JSON-RPC error sent to the MCP client.
pub fn to_rpc(e: &Error, asked: Asked) -> ErrorData {
    let code = match e.code {
        ErrorCode::ResourceNotFound if asked == Asked::Resource => RpcCode::RESOURCE_NOT_FOUND,
        ErrorCode::ResourceNotFound | ErrorCode::ValidationError => RpcCode::INVALID_PARAMS,
        ErrorCode::Forbidden => RpcCode::INVALID_REQUEST,
        ErrorCode::McpServiceError => upstream_code(e).unwrap_or(RpcCode::INTERNAL_ERROR),
        _ => RpcCode::INTERNAL_ERROR,
    };
    if e.code == ErrorCode::InternalServerError {
        // The cause goes to the daemon log only.
        tracing::error!(error = ?e.source, "MCP gateway: internal error");
    }
    let mut data = json!({"code": e.code.as_str()});
    if !e.details.is_empty() {
        data["details"] = Value::Array(
            e.details
                .iter()
                .map(|d| json!({"field": d.field, "issue": d.issue}))
                .collect(),
        );
    }
    ErrorData::new(code, e.message.clone(), Some(data))
}

/// The upstream JSON-RPC code execution kept in the `jsonrpc_code` detail.
fn upstream_code(e: &Error) -> Option<RpcCode> {
    e.details
        .iter()
        .find(|d| d.field == "jsonrpc_code")
        .and_then(|d| d.issue.parse::<i32>().ok())
        .map(RpcCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let nf = Error::not_found("tool", "x");
        assert_eq!(to_rpc(&nf, Asked::Tool).code, RpcCode::INVALID_PARAMS);
        assert_eq!(
            to_rpc(&nf, Asked::Resource).code,
            RpcCode::RESOURCE_NOT_FOUND
        );
        let denied = to_rpc(
            &Error::forbidden("missing permission mcp:execute"),
            Asked::Tool,
        );
        assert_eq!(denied.code, RpcCode::INVALID_REQUEST);
        assert_eq!(denied.data.unwrap()["code"], "FORBIDDEN");
        let upstream =
            Error::new(ErrorCode::McpServiceError, "boom").with_detail("jsonrpc_code", "-32602");
        assert_eq!(to_rpc(&upstream, Asked::Tool).code, RpcCode(-32602));
        let down = to_rpc(
            &Error::new(
                ErrorCode::McpServiceUnavailable,
                "MCP server 'a' is not running",
            ),
            Asked::Tool,
        );
        assert_eq!(down.code, RpcCode::INTERNAL_ERROR);
        assert_eq!(down.message, "MCP server 'a' is not running");
        assert_eq!(down.data.unwrap()["code"], "MCP_SERVICE_UNAVAILABLE");
    }
}
