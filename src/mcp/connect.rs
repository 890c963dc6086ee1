//! Opening a server's session: over the container's attached stdio, over streamable
//! HTTP on the container's address (managed) or to the URL (remote); the identity the
//! server gives in `initialize`; and how failed MCP requests map to API errors.

use super::backing;
use super::headers::open_headers;
use super::model::{ServerInfo, ServerRecord, Transport, status};
use super::store;
use super::transport::{self, Client, Handler};
use crate::app::App;
use crate::error::{Error, ErrorCode, Result};
use rmcp::ServiceError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long opening a session (attach or HTTP connect, then `initialize`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A managed HTTP server needs a moment to listen after its container starts; connects
/// are retried this often until [`CONNECT_TIMEOUT`].
const CONNECT_RETRY: Duration = Duration::from_millis(250);

/// The server's live session, opened (and initialised) when there is none or the old
/// one closed. 503 `MCP_SERVICE_UNAVAILABLE` when the server is stopped or cannot be
/// reached, 503 `MCP_SERVICE_UNCONFIGURED` when it is `unconfigured`.
pub async fn session(app: &App, rec: &ServerRecord) -> Result<Arc<Client>> {
    if rec.status == status::UNCONFIGURED {
        return Err(unconfigured(&rec.name));
    }
    if rec.status != status::RUNNING {
        return Err(backing::not_running(&rec.name, &rec.status));
    }
    let (client, fresh) = app
        .mcp
        .get_or_connect(&rec.id, || async {
            tokio::time::timeout(CONNECT_TIMEOUT, open(app, rec))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorCode::McpServiceUnavailable,
                        format!(
                            "MCP server '{}' did not complete initialize in time",
                            rec.name
                        ),
                    ))
                })
        })
        .await?;
    if fresh {
        tracing::info!(server = %rec.name, "MCP session opened");
        if let Some((info, caps)) = peer_identity(&client) {
            let id = rec.id.clone();
            app.store
                .write(move |tx| store::set_server_info(tx, &id, &info, &caps))
                .await?;
        }
    }
    Ok(client)
}

/// 503 `MCP_SERVICE_UNCONFIGURED` for a server whose required configuration is missing.
pub fn unconfigured(name: &str) -> Error {
    Error::new(
        ErrorCode::McpServiceUnconfigured,
        format!(
            "MCP server '{name}' requires configuration: PUT /api/v1/mcp/servers/{name}/config"
        ),
    )
}

/// `serverInfo` (with the protocol version) and capabilities (JSON) from `initialize`;
/// `None` before the session is initialised.
pub(super) fn peer_identity(client: &Client) -> Option<(ServerInfo, Value)> {
    let info = client.peer_info()?;
    let implementation = info.server_info.clone();
    let server_info = ServerInfo {
        name: implementation
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        version: implementation.map(|i| i.version).unwrap_or_default(),
        protocol_version: info.protocol_version.to_string(),
    };
    let caps = serde_json::to_value(&info.capabilities).unwrap_or(Value::Null);
    Some((server_info, caps))
}

/// Opens a new session: attach to the container (stdio), connect to the container's
/// address (managed HTTP, retried while it boots) or to the URL (remote).
async fn open(app: &App, rec: &ServerRecord) -> Result<Client> {
    let handler = app.mcp.handler(&rec.id);
    if rec.is_placed() {
        return super::placement::open(app, rec, handler).await;
    }
    match (&rec.service_id, rec.transport) {
        (None, _) => open_remote(app, rec, handler).await,
        (Some(sid), Transport::Stdio) => {
            let container = backing::running_container(app, &rec.name, sid).await?;
            let docker = app.docker.get().await?;
            transport::connect_stdio(&docker, &container, handler)
                .await
                .map_err(|e| unavailable(rec, e))
        }
        (Some(sid), Transport::StreamableHttp) => {
            let container = backing::running_container(app, &rec.name, sid).await?;
            open_container_http(app, rec, &container, handler).await
        }
    }
}

/// 503 `MCP_SERVICE_UNAVAILABLE`: a session with `rec` could not be opened.
fn unavailable(rec: &ServerRecord, e: anyhow::Error) -> Error {
    Error::new(
        ErrorCode::McpServiceUnavailable,
        format!("could not open an MCP session with '{}': {e:#}", rec.name),
    )
}

/// A remote server: its URL, with its header values opened.
async fn open_remote(app: &App, rec: &ServerRecord, handler: Handler) -> Result<Client> {
    let url = rec.url.clone().unwrap_or_default();
    let headers = open_headers(app, rec).await?;
    transport::connect_http(&url, &headers, handler)
        .await
        .map_err(|e| unavailable(rec, e))
}

/// A managed streamable HTTP server: the container's address, retried until it
/// listens (the caller's [`CONNECT_TIMEOUT`] ends the retries).
async fn open_container_http(
    app: &App,
    rec: &ServerRecord,
    container: &str,
    handler: Handler,
) -> Result<Client> {
    let ip = backing::container_ip(app, container).await?;
    let url = format!(
        "http://{ip}:{}{}",
        rec.port.unwrap_or(80),
        rec.path.as_deref().unwrap_or("/mcp")
    );
    let empty = BTreeMap::new();
    loop {
        match transport::connect_http(&url, &empty, handler.clone()).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::debug!(server = %rec.name, error = %e, "MCP server not answering yet; retrying");
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    }
}

/// Maps a failed MCP request: JSON-RPC error → 502 `MCP_SERVICE_ERROR` (message from
/// the server, JSON-RPC code in `details`), rmcp timeout → 504 `MCP_TIMEOUT`, closed
/// transport → 503 `MCP_SERVICE_UNAVAILABLE`.
pub fn map_service_error(server: &str, e: ServiceError) -> Error {
    match e {
        ServiceError::McpError(data) => Error::new(
            ErrorCode::McpServiceError,
            format!("MCP server '{server}' returned an error: {}", data.message),
        )
        .with_detail("jsonrpc_code", data.code.0.to_string()),
        ServiceError::Timeout { .. } => Error::new(
            ErrorCode::McpTimeout,
            format!("MCP server '{server}' did not answer in time"),
        ),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => Error::new(
            ErrorCode::McpServiceUnavailable,
            format!("the session with MCP server '{server}' closed"),
        ),
        other => Error::new(
            ErrorCode::McpServiceError,
            format!("MCP server '{server}' answered unexpectedly: {other}"),
        ),
    }
}

/// Whether an error means the session is gone (and should be reopened next time).
pub fn session_lost(e: &Error) -> bool {
    e.code == ErrorCode::McpServiceUnavailable
}
