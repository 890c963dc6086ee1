//! Executing a tool, reading a resource, getting a prompt on a server's shared session,
//! with a per-call timeout and one request log row per execution.
//!
//! Outcomes (DESIGN.md, "MCP servers"): the tool's own failure (`isError`) is a success
//! with `is_error: true`; a JSON-RPC error is 502 `MCP_SERVICE_ERROR`; an unknown server,
//! tool or prompt is 404; a stopped or unreachable server is 503
//! `MCP_SERVICE_UNAVAILABLE`; past the timeout it is 504 `MCP_TIMEOUT`, and dropping the
//! request future makes rmcp send `notifications/cancelled` to the server.

use super::manager::{self, map_service_error, session_lost};
use super::model::{Catalog, ServerRecord};
use super::session::Client;
use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, ErrorCode, Result};
use crate::logs::{Kind, NewRequestLog};
use crate::workspaces::access::{self, Use};
use rmcp::ServiceError;
use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, JsonObject, ReadResourceRequestParams,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `POST /mcp/execute/tool`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Server id or name.
    pub server: String,
    pub tool: String,
    #[serde(default)]
    pub arguments: Option<JsonObject>,
    /// Seconds; default `mcp.call_timeout_s`, at most `mcp.max_call_timeout_s`.
    pub timeout_s: Option<u64>,
}

/// `POST /mcp/execute/resource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRead {
    pub server: String,
    pub uri: String,
    pub timeout_s: Option<u64>,
}

/// `POST /mcp/execute/prompt`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptGet {
    pub server: String,
    pub prompt: String,
    #[serde(default)]
    pub arguments: Option<JsonObject>,
    pub timeout_s: Option<u64>,
}

/// Result of a tool call. `content` holds MCP content blocks as the server sent them.
#[derive(Debug, Clone, Serialize)]
pub struct ToolResult {
    pub content: Value,
    pub structured_content: Option<Value>,
    pub is_error: bool,
    pub execution_time_ms: u64,
    pub request_log_id: String,
}

/// Result of a resource read: MCP resource contents (`uri`, `mimeType`, `text`|`blob`).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    pub contents: Value,
    pub execution_time_ms: u64,
    pub request_log_id: String,
}

/// Result of a prompt get: MCP prompt messages.
#[derive(Debug, Clone, Serialize)]
pub struct PromptResult {
    pub description: Option<String>,
    pub messages: Value,
    pub execution_time_ms: u64,
    pub request_log_id: String,
}

/// The timeout of one call: the request's `timeout_s` (1..=max) or the default.
fn call_timeout(app: &App, asked: Option<u64>) -> Result<Duration> {
    let max = app.config.mcp.max_call_timeout_s;
    match asked {
        None => Ok(Duration::from_secs(app.config.mcp.call_timeout_s)),
        Some(s) if (1..=max).contains(&s) => Ok(Duration::from_secs(s)),
        Some(_) => Err(Error::field(
            "timeout_s",
            format!("must be from 1 to {max}"),
        )),
    }
}

fn non_empty(field: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(Error::field(field, "must not be empty"));
    }
    Ok(())
}

/// Runs `call` on the server's session within `timeout`, mapping rmcp's failures and
/// dropping a session whose transport closed so the next call reopens it.
async fn run<T, F, Fut>(
    app: &App,
    rec: &ServerRecord,
    client: Arc<Client>,
    timeout: Duration,
    call: F,
) -> Result<T>
where
    F: FnOnce(Arc<Client>) -> Fut,
    Fut: Future<Output = std::result::Result<T, ServiceError>>,
{
    match tokio::time::timeout(timeout, call(client.clone())).await {
        Err(_) => Err(Error::new(
            ErrorCode::McpTimeout,
            format!(
                "MCP server '{}' did not answer within {} s; the request was cancelled",
                rec.name,
                timeout.as_secs()
            ),
        )),
        Ok(Err(e)) => {
            let err = map_service_error(&rec.name, e);
            if session_lost(&err) {
                app.mcp.discard(&rec.id, &client).await;
            }
            Err(err)
        }
        Ok(Ok(v)) => Ok(v),
    }
}

/// Fails with 404 unless `name` is in the server's cached `which` list, refreshing the
/// cache once when it is not (the server may have added it since).
async fn ensure_listed(
    app: &App,
    rec: &ServerRecord,
    client: &Arc<Client>,
    which: Catalog,
    name: &str,
) -> Result<()> {
    let listed = |items: &[Value]| {
        items
            .iter()
            .any(|t| t.get("name").and_then(Value::as_str) == Some(name))
    };
    let id = rec.id.clone();
    let cached = app
        .store
        .read(move |c| super::store::cached(c, &id, which))
        .await?;
    if listed(&cached) {
        return Ok(());
    }
    let fresh = manager::discover_with(app, rec, client).await?;
    let items = match which {
        Catalog::Prompts => fresh.prompts,
        _ => fresh.tools,
    };
    if listed(&items) {
        return Ok(());
    }
    let kind = if which == Catalog::Prompts {
        "prompt"
    } else {
        "tool"
    };
    Err(Error::not_found(kind, name).with_detail(kind, "not offered by this MCP server"))
}

/// Writes the request log row of one execution and returns its id. A failure to log
/// is reported in the daemon log but does not fail the call.
async fn log(
    app: &App,
    mut entry: NewRequestLog,
    outcome: std::result::Result<&Value, &Error>,
) -> String {
    match outcome {
        Ok(v) => entry.result = Some(v.clone()),
        Err(e) => {
            entry.error_code = Some(e.code.as_str().to_string());
            entry.error_message = Some(e.message.clone());
        }
    }
    let cap = app.config.mcp.request_log_payload_cap_bytes;
    match app
        .store
        .write(move |tx| crate::logs::store::insert(tx, &entry, cap))
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "could not write a request log row");
            String::new()
        }
    }
}

fn entry(
    actor: &Actor,
    workspace_id: Option<String>,
    rec: &ServerRecord,
    kind: Kind,
    name: &str,
    arguments: Value,
    started: Instant,
) -> NewRequestLog {
    NewRequestLog {
        user_id: actor.user_id.clone(),
        api_key_id: actor.api_key_id.clone(),
        workspace_id,
        server_id: rec.id.clone(),
        server_name: rec.name.clone(),
        kind,
        name: name.to_string(),
        error_code: None,
        error_message: None,
        duration_ms: started.elapsed().as_millis() as u64,
        arguments,
        result: None,
    }
}

/// Calls a tool. See the module docs for the outcomes.
pub async fn tool(app: &App, actor: &Actor, req: ToolCall) -> Result<ToolResult> {
    non_empty("tool", &req.tool)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let rec = manager::get(app, &req.server).await?;
    // Outside the caller's workspaces the server or tool does not exist for them.
    let workspace = access::check(
        app,
        actor.user_id.as_deref(),
        &rec.id,
        &req.server,
        Use::Tool(&req.tool),
    )
    .await?;
    let started = Instant::now();
    let args = req.arguments.clone().unwrap_or_default();
    let outcome = async {
        let client = manager::session(app, &rec).await?;
        ensure_listed(app, &rec, &client, Catalog::Tools, &req.tool).await?;
        let params = CallToolRequestParams::new(req.tool.clone()).with_arguments(args.clone());
        let r = run(app, &rec, client, timeout, |c| async move {
            c.peer().call_tool(params).await
        })
        .await?;
        Ok::<_, Error>((
            serde_json::to_value(&r.content)?,
            r.structured_content.clone(),
            r.is_error.unwrap_or(false),
        ))
    }
    .await;
    let execution_time_ms = started.elapsed().as_millis() as u64;
    let e = entry(
        actor,
        workspace,
        &rec,
        Kind::Tool,
        &req.tool,
        Value::Object(args),
        started,
    );
    match outcome {
        Ok((content, structured_content, is_error)) => {
            let logged = serde_json::json!({"content": content, "structured_content": structured_content, "is_error": is_error});
            // A tool reporting its own failure (`isError`) is still a completed call.
            let request_log_id = log(app, e, Ok(&logged)).await;
            Ok(ToolResult {
                content,
                structured_content,
                is_error,
                execution_time_ms,
                request_log_id,
            })
        }
        Err(err) => {
            log(app, e, Err(&err)).await;
            Err(err)
        }
    }
}

/// Reads a resource by URI.
pub async fn resource(app: &App, actor: &Actor, req: ResourceRead) -> Result<ResourceResult> {
    non_empty("uri", &req.uri)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let rec = manager::get(app, &req.server).await?;
    let workspace = access::check(
        app,
        actor.user_id.as_deref(),
        &rec.id,
        &req.server,
        Use::Resource(&req.uri),
    )
    .await?;
    let started = Instant::now();
    let outcome = async {
        let client = manager::session(app, &rec).await?;
        let params = ReadResourceRequestParams::new(req.uri.clone());
        let r = run(app, &rec, client, timeout, |c| async move {
            c.peer().read_resource(params).await
        })
        .await?;
        Ok::<_, Error>(serde_json::to_value(&r.contents)?)
    }
    .await;
    let execution_time_ms = started.elapsed().as_millis() as u64;
    let e = entry(
        actor,
        workspace,
        &rec,
        Kind::Resource,
        &req.uri,
        serde_json::json!({"uri": req.uri}),
        started,
    );
    match outcome {
        Ok(contents) => {
            let request_log_id = log(app, e, Ok(&serde_json::json!({"contents": contents}))).await;
            Ok(ResourceResult {
                contents,
                execution_time_ms,
                request_log_id,
            })
        }
        Err(err) => {
            log(app, e, Err(&err)).await;
            Err(err)
        }
    }
}

/// Gets a prompt with arguments.
pub async fn prompt(app: &App, actor: &Actor, req: PromptGet) -> Result<PromptResult> {
    non_empty("prompt", &req.prompt)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let rec = manager::get(app, &req.server).await?;
    let workspace = access::check(
        app,
        actor.user_id.as_deref(),
        &rec.id,
        &req.server,
        Use::Prompt,
    )
    .await?;
    let started = Instant::now();
    let args = req.arguments.clone().unwrap_or_default();
    let outcome = async {
        let client = manager::session(app, &rec).await?;
        ensure_listed(app, &rec, &client, Catalog::Prompts, &req.prompt).await?;
        let mut params = GetPromptRequestParams::new(req.prompt.clone());
        if !args.is_empty() {
            params = params.with_arguments(args.clone());
        }
        let r = run(app, &rec, client, timeout, |c| async move {
            c.peer().get_prompt(params).await
        })
        .await?;
        Ok::<_, Error>((r.description.clone(), serde_json::to_value(&r.messages)?))
    }
    .await;
    let execution_time_ms = started.elapsed().as_millis() as u64;
    let e = entry(
        actor,
        workspace,
        &rec,
        Kind::Prompt,
        &req.prompt,
        Value::Object(args),
        started,
    );
    match outcome {
        Ok((description, messages)) => {
            let logged = serde_json::json!({"description": description, "messages": messages});
            let request_log_id = log(app, e, Ok(&logged)).await;
            Ok(PromptResult {
                description,
                messages,
                execution_time_ms,
                request_log_id,
            })
        }
        Err(err) => {
            log(app, e, Err(&err)).await;
            Err(err)
        }
    }
}
