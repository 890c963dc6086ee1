//! MCP client sessions (rmcp): over a container's attached stdin/stdout (stdio servers)
//! or over streamable HTTP (managed HTTP servers and remote servers).
//!
//! A stdio session is one long-lived `docker attach` (stream, stdin, stdout, stderr;
//! never `logs`, which would replay stale JSON-RPC responses of earlier sessions).
//! Concurrent calls share it; rmcp matches responses by JSON-RPC id.

use bollard::Docker;
use bollard::container::LogOutput;
use futures::StreamExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// A running MCP client session.
pub type Client = RunningService<RoleClient, Handler>;

/// What a server told us outside a request: a list changed, so the cache is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChanged {
    pub server_id: String,
}

/// Client side of a session: identifies mcpd in `initialize` and forwards list-changed
/// notifications so the discovery cache is refreshed.
#[derive(Clone)]
pub struct Handler {
    server_id: String,
    changed: Option<mpsc::UnboundedSender<ListChanged>>,
}

impl Handler {
    pub fn new(server_id: &str, changed: Option<mpsc::UnboundedSender<ListChanged>>) -> Self {
        Self {
            server_id: server_id.to_string(),
            changed,
        }
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
    let attach = docker.attach_container(container, Some(opts)).await?;
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
