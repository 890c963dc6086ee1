//! What servers offer: discovering (and caching) their tools, resources, resource
//! templates and prompts, reading the cached lists, and `test` (one timed `ping`).

use super::connect::{map_service_error, peer_identity, session, session_lost};
use super::model::{Catalog, Discovery, McpServer, ServerInfo, ServerRecord, status};
use super::records::{cached_list, get, lookup};
use super::store;
use super::transport::Client;
use crate::app::App;
use crate::error::{Error, ErrorCode, Result};
use rmcp::ServiceError;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Result of `POST /mcp/servers/{id}/test`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// Always `true`: a failed ping is an error, not a result.
    pub ok: bool,
    /// Round trip of one MCP `ping`, in milliseconds.
    pub latency_ms: f64,
    /// `{name, version, protocol_version}` from `initialize`; `null` if the server gave none.
    pub server_info: Option<ServerInfo>,
    /// Negotiated MCP revision, e.g. `2025-06-18`; `null` if unknown.
    pub protocol_version: Option<String>,
}

/// `POST /mcp/servers/{id}/discover`: refreshes and caches tools, resources, resource
/// templates and prompts (each only when the server declares the capability). Errors:
/// 404, those of [`session`], and those of [`map_service_error`] for a failed list.
pub async fn discover(app: &App, id_or_name: &str) -> Result<McpServer> {
    let rec = get(app, id_or_name).await?;
    let client = session(app, &rec).await?;
    discover_with(app, &rec, &client).await?;
    get(app, &rec.id).await.map(|r| r.view())
}

/// Lists everything the server offers on `client` and stores it; a lost session is
/// discarded (the next call reopens it). Errors as [`map_service_error`].
pub async fn discover_with(
    app: &App,
    rec: &ServerRecord,
    client: &Arc<Client>,
) -> Result<Discovery> {
    let caps = client
        .peer_info()
        .map(|i| serde_json::to_value(&i.capabilities).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let has = |k: &str| caps.get(k).is_some_and(|v| !v.is_null());
    let fail = |e: ServiceError| {
        let err = map_service_error(&rec.name, e);
        if session_lost(&err) {
            let (mcp, id, c) = (app.mcp.clone(), rec.id.clone(), client.clone());
            tokio::spawn(async move { mcp.discard(&id, &c).await });
        }
        err
    };
    fn values<T: Serialize>(items: Vec<T>) -> Vec<Value> {
        items
            .into_iter()
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect()
    }
    let mut d = Discovery::default();
    if has("tools") {
        d.tools = values(client.list_all_tools().await.map_err(fail)?);
    }
    if has("resources") {
        d.resources = values(client.list_all_resources().await.map_err(fail)?);
        d.resource_templates = values(client.list_all_resource_templates().await.map_err(fail)?);
    }
    if has("prompts") {
        d.prompts = values(client.list_all_prompts().await.map_err(fail)?);
    }
    let (id, saved) = (rec.id.clone(), d.clone());
    app.store
        .write(move |tx| store::save_discovery(tx, &id, &saved))
        .await?;
    tracing::debug!(server = %rec.name, tools = d.tools.len(), resources = d.resources.len(), prompts = d.prompts.len(), "discovered");
    Ok(d)
}

/// Opens (or reuses) the server's session and discovers on it (see [`discover_with`]).
pub(super) async fn connect_and_discover(app: &App, rec: &ServerRecord) -> Result<()> {
    let client = session(app, rec).await?;
    discover_with(app, rec, &client).await.map(|_| ())
}

/// One cached list of a server (JSON items as the server gave them); discovers first
/// when the server never was. 404, or the errors of [`discover_with`].
pub async fn catalog(app: &App, id_or_name: &str, which: Catalog) -> Result<Vec<Value>> {
    let rec = lookup(app, id_or_name).await?;
    if rec.discovered_at.is_none() && rec.status == status::RUNNING {
        let client = session(app, &rec).await?;
        discover_with(app, &rec, &client).await?;
    }
    Ok(cached_list(app, &rec.id, which).await?.as_ref().clone())
}

/// Resources of every server, each with `server_id` and `server_name` added.
pub async fn all_resources(app: &App) -> Result<Vec<Value>> {
    app.store
        .read(|c| {
            let mut out = Vec::new();
            for rec in store::all(c)? {
                for mut r in store::cached(c, &rec.id, Catalog::Resources)? {
                    if let Value::Object(m) = &mut r {
                        m.insert("server_id".into(), Value::String(rec.id.clone()));
                        m.insert("server_name".into(), Value::String(rec.name.clone()));
                    }
                    out.push(r);
                }
            }
            Ok(out)
        })
        .await
}

/// `test`: opens the session if needed and times one MCP `ping` (`mcp.call_timeout_s`
/// at most: 504 `MCP_TIMEOUT` past it; a failed ping as [`map_service_error`]).
pub async fn test(app: &App, id_or_name: &str) -> Result<TestResult> {
    let rec = get(app, id_or_name).await?;
    let client = session(app, &rec).await?;
    let started = Instant::now();
    let ping = rmcp::model::ClientRequest::PingRequest(Default::default());
    match tokio::time::timeout(
        Duration::from_secs(app.settings.mcp.call_timeout_s),
        client.send_request(ping),
    )
    .await
    {
        Err(_) => Err(Error::new(
            ErrorCode::McpTimeout,
            format!("MCP server '{}' did not answer ping in time", rec.name),
        )),
        Ok(Err(e)) => {
            let err = map_service_error(&rec.name, e);
            if session_lost(&err) {
                app.mcp.discard(&rec.id, &client).await;
            }
            Err(err)
        }
        Ok(Ok(_)) => {
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let identity = peer_identity(&client);
            Ok(TestResult {
                ok: true,
                latency_ms: (latency_ms * 1000.0).round() / 1000.0,
                protocol_version: identity.as_ref().map(|(i, _)| i.protocol_version.clone()),
                server_info: identity.map(|(i, _)| i),
            })
        }
    }
}
