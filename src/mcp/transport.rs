//! The transports of MCP client sessions (rmcp): a container's attached stdin/stdout
//! (stdio servers) or streamable HTTP (managed HTTP servers and remote servers). The
//! registry of live sessions is [`super::sessions`].
//!
//! A stdio session is one long-lived `docker attach` (stream, stdin, stdout, stderr;
//! never `logs`, which would replay stale JSON-RPC responses of earlier sessions).
//! Concurrent calls share it; rmcp matches responses by JSON-RPC id.

use bollard::Docker;
use bollard::container::LogOutput;
use futures::StreamExt;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ResourceUpdatedNotificationParam,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::collections::BTreeMap;
use tokio::sync::{broadcast, mpsc};

/// A running MCP client session.
pub type Client = RunningService<RoleClient, Handler>;

/// What a server told us outside a request: a list changed, so the cache is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChanged {
    /// Id (`mcp_…`) of the server whose list changed.
    pub server_id: String,
}

/// A server's `notifications/resources/updated`: the resource at `uri` changed (sent
/// only for URIs the session subscribed to; the gateway relays it to its subscribers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUpdated {
    /// Id (`mcp_…`) of the server that sent it.
    pub server_id: String,
    /// URI of the resource that changed, as the server sent it.
    pub uri: String,
}

/// Client side of a session: identifies mcpd in `initialize` and forwards list-changed
/// notifications so the discovery cache is refreshed, and resource-updated ones to
/// whoever listens ([`Handler::with_updates`]).
#[derive(Clone)]
pub struct Handler {
    server_id: String,
    changed: Option<mpsc::UnboundedSender<ListChanged>>,
    updated: Option<broadcast::Sender<ResourceUpdated>>,
}

impl Handler {
    /// A handler for the session of `server_id`; list-changed notifications go to
    /// `changed` when given.
    pub fn new(server_id: &str, changed: Option<mpsc::UnboundedSender<ListChanged>>) -> Self {
        Self {
            server_id: server_id.to_string(),
            changed,
            updated: None,
        }
    }

    /// The same handler, also publishing `notifications/resources/updated` on `updated`.
    pub fn with_updates(mut self, updated: broadcast::Sender<ResourceUpdated>) -> Self {
        self.updated = Some(updated);
        self
    }

    fn notify(&self) {
        if let Some(tx) = &self.changed {
            let _ = tx.send(ListChanged {
                server_id: self.server_id.clone(),
            });
        }
    }
}

impl ClientHandler for Handler {
    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.notify();
    }
    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.notify();
    }
    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.notify();
    }
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        if let Some(tx) = &self.updated {
            // No receiver (nobody subscribed through the gateway yet) is not an error.
            let _ = tx.send(ResourceUpdated {
                server_id: self.server_id.clone(),
                uri: params.uri,
            });
        }
    }
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcpd", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// Attaches to a running container's stdin/stdout and runs `initialize`.
///
/// The container must have been created with `OpenStdin`, `StdinOnce=false` and no TTY
/// (a TTY echoes requests back). Closing this session ends only the attach; the
/// server process keeps running. StdErr frames go to the debug log.
pub async fn connect_stdio(
    docker: &Docker,
    container: &str,
    handler: Handler,
) -> anyhow::Result<Client> {
    let opts = bollard::query_parameters::AttachContainerOptionsBuilder::new()
        .stream(true)
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .logs(false)
        .build();
    let attach = docker
        .attach_container(&crate::docker::path_segment(container), Some(opts))
        .await?;
    let name = container.to_string();
    // Frames are not messages: one frame may hold several JSON lines or half of one,
    // so turn the StdOut frames into a byte stream and let rmcp split lines.
    let stdout = attach.output.filter_map(move |frame| {
        let name = name.clone();
        async move {
            match frame {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    Some(Ok(message))
                }
                Ok(LogOutput::StdErr { message }) => {
                    tracing::debug!(container = %name, stderr = %String::from_utf8_lossy(&message).trim_end(), "mcp server stderr");
                    None
                }
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(std::io::Error::other(e))),
            }
        }
    });
    let reader = tokio_util::io::StreamReader::new(Box::pin(stdout));
    let client = handler.serve((reader, attach.input)).await?;
    Ok(client)
}

/// Opens a streamable HTTP session to `url` with extra request `headers`
/// (values are secrets: they are never logged).
pub async fn connect_http(
    url: &str,
    headers: &BTreeMap<String, String>,
    handler: Handler,
) -> anyhow::Result<Client> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let mut custom = std::collections::HashMap::new();
    for (k, v) in headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| anyhow::anyhow!("invalid header name {k}"))?;
        let mut value = http::HeaderValue::from_str(v)
            .map_err(|_| anyhow::anyhow!("invalid value for header {k}"))?;
        value.set_sensitive(true);
        custom.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = handler.serve(transport).await?;
    Ok(client)
}

/// Opens a streamable HTTP session to `url` with an HTTP client of the caller's (one
/// that authenticates to a Kubernetes API server, for its service proxy).
pub async fn connect_http_with(
    http: reqwest::Client,
    url: &str,
    handler: Handler,
) -> anyhow::Result<Client> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let config = StreamableHttpClientTransportConfig::with_uri(url);
    let transport = StreamableHttpClientTransport::with_client(http, config);
    Ok(handler.serve(transport).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::CallToolRequestParams;
    use serde_json::{Value, json};
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// What execution relies on for `MCP_TIMEOUT`: dropping a pending call (as
    /// `tokio::time::timeout` does) makes rmcp send `notifications/cancelled` with the
    /// call's request id. Checked on the wire against a scripted stdio peer.
    #[tokio::test]
    async fn a_call_dropped_at_its_timeout_is_cancelled_on_the_server() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (cr, cw) = tokio::io::split(client_io);
        let (sr, mut sw) = tokio::io::split(server_io);
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            let mut lines = BufReader::new(sr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let msg: Value = serde_json::from_str(&line).unwrap();
                if msg["method"] == "initialize" {
                    let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "scripted", "version": "1"}}});
                    sw.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
                } else {
                    // tools/call is never answered: the client must give up and cancel.
                    let _ = seen_tx.send(msg);
                }
            }
        });
        let client = Handler::new("mcp_test", None)
            .serve((cr, cw))
            .await
            .unwrap();
        let call = client.peer().call_tool(CallToolRequestParams::new("slow"));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), call)
                .await
                .is_err()
        );
        let mut call_id = Value::Null;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), seen.recv())
                .await
                .expect("notifications/cancelled within 5 s")
                .expect("peer open");
            match msg["method"].as_str() {
                Some("tools/call") => call_id = msg["id"].clone(),
                Some("notifications/cancelled") => {
                    assert_eq!(msg["params"]["requestId"], call_id);
                    assert!(!call_id.is_null());
                    break;
                }
                _ => {}
            }
        }
    }

    /// A server's `notifications/resources/updated` is published, with the server id,
    /// to the receivers of [`Handler::with_updates`] (the gateway's subscription relay).
    #[tokio::test]
    async fn resource_updates_are_published_with_the_server_id() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (cr, cw) = tokio::io::split(client_io);
        let (sr, mut sw) = tokio::io::split(server_io);
        tokio::spawn(async move {
            let mut lines = BufReader::new(sr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let msg: Value = serde_json::from_str(&line).unwrap();
                let out = match msg["method"].as_str() {
                    Some("initialize") => json!({"jsonrpc": "2.0", "id": msg["id"], "result": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {"resources": {"subscribe": true}},
                        "serverInfo": {"name": "scripted", "version": "1"}}}),
                    Some("notifications/initialized") => json!({"jsonrpc": "2.0",
                        "method": "notifications/resources/updated",
                        "params": {"uri": "demo://doc/1"}}),
                    _ => continue,
                };
                sw.write_all(format!("{out}\n").as_bytes()).await.unwrap();
            }
        });
        let (tx, mut rx) = broadcast::channel(4);
        let client = Handler::new("mcp_scripted", None)
            .with_updates(tx)
            .serve((cr, cw))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("resource update within 5 s")
            .unwrap();
        assert_eq!(
            got,
            ResourceUpdated {
                server_id: "mcp_scripted".into(),
                uri: "demo://doc/1".into()
            }
        );
        client.cancel().await.ok();
    }
}
