//! Executing a tool, reading a resource, getting a prompt on a server's shared session,
//! with a per-call timeout and one request log row per execution.
//!
//! Outcomes (docs/api.md §12 "MCP execution"): the tool's own failure (`isError`) is a success
//! with `is_error: true`; a JSON-RPC error is 502 `MCP_SERVICE_ERROR`; an unknown server,
//! tool or prompt is 404; a stopped or unreachable server is 503
//! `MCP_SERVICE_UNAVAILABLE`; past the timeout it is 504 `MCP_TIMEOUT`, and dropping the
//! request future makes rmcp send `notifications/cancelled` to the server. The same
//! happens when the caller's cancellation token fires (the gateway's client cancelled
//! or went away): the call is logged with error code [`CANCELLED`].
//!
//! The call path reads no database row it can take from memory: the server record, the
//! caller's workspace grants and the server's tool list are cached until the next
//! write ([`crate::store::cache`]), a server with a live session is called without
//! asking Docker about its container (a session that died is replaced as before), and
//! the request log row is group-committed ([`crate::request_log::writer`]).

use super::connect::{self, map_service_error, session_lost};
use super::discovery::discover_with;
use super::model::{Catalog, ServerRecord, status};
use super::records::{cached_list, get, lookup};
use super::transport::Client;
use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, ErrorCode, Result};
use crate::request_log::{Kind, NewRequestLog};
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
use tokio_util::sync::CancellationToken;

/// `error_code` of the request log row of a call its client cancelled (or whose
/// client went away) before it finished.
pub const CANCELLED: &str = "CANCELLED";

/// `POST /mcp/execute/tool`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Server id or name.
    pub server: String,
    /// Tool name as the server lists it (`tools/list`); not blank.
    pub tool: String,
    /// The tool's arguments (MCP `tools/call` `arguments`); absent or null = `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<JsonObject>,
    /// Seconds; default `mcp.call_timeout_s`, at most `mcp.max_call_timeout_s`.
    pub timeout_s: Option<u64>,
}

/// `POST /mcp/execute/resource`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRead {
    /// Server id (`mcp_…`) or name.
    pub server: String,
    /// Resource URI to read (MCP `resources/read`); not blank; need not be listed by the server.
    pub uri: String,
    /// Seconds, 1 to `mcp.max_call_timeout_s`; default `mcp.call_timeout_s`.
    pub timeout_s: Option<u64>,
}

/// `POST /mcp/execute/prompt`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptGet {
    /// Server id (`mcp_…`) or name.
    pub server: String,
    /// Prompt name as the server lists it (`prompts/list`); not blank.
    pub prompt: String,
    /// Prompt arguments (MCP `prompts/get` `arguments`); absent, null or `{}` = none sent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<JsonObject>,
    /// Seconds, 1 to `mcp.max_call_timeout_s`; default `mcp.call_timeout_s`.
    pub timeout_s: Option<u64>,
}

/// Result of a tool call. `content` holds MCP content blocks as the server sent them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolResult {
    /// Array of MCP content blocks (`text`, `image`, `resource`, …) as sent.
    pub content: Value,
    /// The tool's `structuredContent` object (MCP 2025-06-18); `null` when not sent.
    pub structured_content: Option<Value>,
    /// The tool reported its own failure (`isError`); the call itself still succeeded.
    pub is_error: bool,
    /// Wall time of the call on the session, milliseconds.
    pub execution_time_ms: u64,
    /// Id of the request log row (`rlog_…`); `""` if the row could not be written.
    pub request_log_id: String,
}

/// Result of a resource read: MCP resource contents (`uri`, `mimeType`, `text`|`blob`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResourceResult {
    /// Array of MCP resource contents (`uri`, `mimeType`, `text` or base64 `blob`).
    pub contents: Value,
    /// Wall time of the call on the session, milliseconds.
    pub execution_time_ms: u64,
    /// Id of the request log row (`rlog_…`); `""` if the row could not be written.
    pub request_log_id: String,
}

/// Result of a prompt get: MCP prompt messages.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromptResult {
    /// The prompt's description from `prompts/get`; `null` when not sent.
    pub description: Option<String>,
    /// Array of MCP prompt messages (`role`, `content`).
    pub messages: Value,
    /// Wall time of the call on the session, milliseconds.
    pub execution_time_ms: u64,
    /// Id of the request log row (`rlog_…`); `""` if the row could not be written.
    pub request_log_id: String,
}

/// The timeout of one call: the request's `timeout_s` (1..=max) or the default.
fn call_timeout(app: &App, asked: Option<u64>) -> Result<Duration> {
    let max = app.settings.mcp.max_call_timeout_s;
    match asked {
        None => Ok(Duration::from_secs(app.settings.mcp.call_timeout_s)),
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

/// The session to call `rec` on: the live one when the server is running and has one
/// (no Docker round trip), else the full path: the status refreshed from the backing
/// service, then [`connect::session`] (opening one, or the not-running error).
async fn live_session(app: &App, rec: &ServerRecord) -> Result<Arc<Client>> {
    if rec.status == status::RUNNING
        && let Some(client) = app.mcp.open_now(&rec.id)
    {
        return Ok(client);
    }
    let fresh = get(app, &rec.id).await?;
    connect::session(app, &fresh).await
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
    if listed(&cached_list(app, &rec.id, which).await?) {
        return Ok(());
    }
    let fresh = discover_with(app, rec, client).await?;
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

/// Counts one execution in the metrics and writes its request log row, returning the
/// row's id. A failure to log is reported in the daemon log but does not fail the call.
async fn log(app: &App, entry: NewRequestLog) -> String {
    app.metrics.record_call(
        &entry.server_name,
        entry.kind.as_str(),
        &entry.name,
        entry.error_code.is_none(),
        std::time::Duration::from_millis(entry.duration_ms),
    );
    match app.request_logs.write(entry).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "could not write a request log row");
            String::new()
        }
    }
}

/// What one execution is about: the server as the caller named it, the kind and name
/// of the thing used, its arguments as logged.
struct Target<'a> {
    server: &'a str,
    kind: Kind,
    name: &'a str,
    arguments: Value,
    timeout: Duration,
}

impl Target<'_> {
    fn usage(&self) -> Use<'_> {
        match self.kind {
            Kind::Tool => Use::Tool(self.name),
            Kind::Resource => Use::Resource(self.name),
            Kind::Prompt => Use::Prompt,
        }
    }

    /// The cached list `name` must be in, if any.
    fn listed_in(&self) -> Option<Catalog> {
        match self.kind {
            Kind::Tool => Some(Catalog::Tools),
            Kind::Prompt => Some(Catalog::Prompts),
            Kind::Resource => None,
        }
    }
}

/// The outcome of one logged execution.
struct Done<T> {
    value: T,
    execution_time_ms: u64,
    request_log_id: String,
}

/// Completes when any of `tokens` is cancelled (never when there is none).
async fn any_cancelled(tokens: &[CancellationToken]) {
    if tokens.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(tokens.iter().map(|t| Box::pin(t.cancelled()))).await;
}

/// The one execution path of tools, resources and prompts: resolve the server, check
/// the caller's workspaces, take the session, check the name is listed, run `call`
/// within the timeout (or until one of `cancel` fires), turn its result into the value and the
/// JSON kept in the request log with `shape`, and write the log row.
async fn execute<R, T, F, Fut, S>(
    app: &App,
    actor: &Actor,
    target: Target<'_>,
    cancel: &[CancellationToken],
    call: F,
    shape: S,
) -> Result<Done<T>>
where
    F: FnOnce(Arc<Client>) -> Fut,
    Fut: Future<Output = std::result::Result<R, ServiceError>>,
    S: FnOnce(R) -> Result<(T, Value)>,
{
    let rec = lookup(app, target.server).await?;
    // Outside the caller's workspaces the server or tool does not exist for them.
    let workspace = access::check(
        app,
        actor.user_id.as_deref(),
        &rec.id,
        target.server,
        target.usage(),
    )
    .await?;
    let started = Instant::now();
    let work = async {
        let client = live_session(app, &rec).await?;
        if let Some(which) = target.listed_in() {
            ensure_listed(app, &rec, &client, which, target.name).await?;
        }
        shape(run(app, &rec, client, target.timeout, call).await?)
    };
    // `None` when the caller cancelled first (the call future is dropped, which
    // cancels it on the server).
    let outcome = tokio::select! {
        r = work => Some(r),
        _ = any_cancelled(cancel) => None,
    };
    let execution_time_ms = started.elapsed().as_millis() as u64;
    let entry = NewRequestLog {
        user_id: actor.user_id.clone(),
        api_key_id: actor.api_key_id.clone(),
        workspace_id: workspace,
        server_id: rec.id.clone(),
        server_name: rec.name.clone(),
        kind: target.kind,
        name: target.name.to_string(),
        error_code: None,
        error_message: None,
        duration_ms: execution_time_ms,
        arguments: target.arguments,
        result: None,
    };
    finish(app, entry, &rec.name, outcome).await
}

/// Writes the request log row of one execution (`entry`, completed with the outcome;
/// `None`: cancelled by its client, logged as [`CANCELLED`]) and returns the outcome as
/// the caller sees it.
async fn finish<T>(
    app: &App,
    mut entry: NewRequestLog,
    server: &str,
    outcome: Option<Result<(T, Value)>>,
) -> Result<Done<T>> {
    let execution_time_ms = entry.duration_ms;
    match outcome {
        Some(Ok((value, logged))) => {
            // A tool reporting its own failure (`isError`) is still a completed call.
            entry.result = Some(logged);
            let request_log_id = log(app, entry).await;
            Ok(Done {
                value,
                execution_time_ms,
                request_log_id,
            })
        }
        Some(Err(err)) => {
            entry.error_code = Some(err.code.as_str().to_string());
            entry.error_message = Some(err.message.clone());
            log(app, entry).await;
            Err(err)
        }
        None => {
            let err = Error::new(
                ErrorCode::McpServiceError,
                format!("the call to MCP server '{server}' was cancelled by its client"),
            );
            entry.error_code = Some(CANCELLED.to_string());
            entry.error_message = Some(err.message.clone());
            log(app, entry).await;
            Err(err)
        }
    }
}

/// Calls a tool. See the module docs for the outcomes; any of `cancel` (the gateway's
/// tokens of the client's request) abandons the call when it fires.
pub async fn tool(
    app: &App,
    actor: &Actor,
    req: ToolCall,
    cancel: &[CancellationToken],
) -> Result<ToolResult> {
    non_empty("tool", &req.tool)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let args = req.arguments.unwrap_or_default();
    let params = CallToolRequestParams::new(req.tool.clone()).with_arguments(args.clone());
    let target = Target {
        server: &req.server,
        kind: Kind::Tool,
        name: &req.tool,
        arguments: Value::Object(args),
        timeout,
    };
    let done = execute(
        app,
        actor,
        target,
        cancel,
        |c| async move { c.peer().call_tool(params).await },
        |r| {
            let content = serde_json::to_value(&r.content)?;
            let is_error = r.is_error.unwrap_or(false);
            let logged = serde_json::json!({"content": content, "structured_content": r.structured_content, "is_error": is_error});
            Ok(((content, r.structured_content, is_error), logged))
        },
    )
    .await?;
    let (content, structured_content, is_error) = done.value;
    Ok(ToolResult {
        content,
        structured_content,
        is_error,
        execution_time_ms: done.execution_time_ms,
        request_log_id: done.request_log_id,
    })
}

/// Reads a resource by URI (`cancel` as for [`tool`]).
pub async fn resource(
    app: &App,
    actor: &Actor,
    req: ResourceRead,
    cancel: &[CancellationToken],
) -> Result<ResourceResult> {
    non_empty("uri", &req.uri)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let params = ReadResourceRequestParams::new(req.uri.clone());
    let target = Target {
        server: &req.server,
        kind: Kind::Resource,
        name: &req.uri,
        arguments: serde_json::json!({"uri": req.uri}),
        timeout,
    };
    let done = execute(
        app,
        actor,
        target,
        cancel,
        |c| async move { c.peer().read_resource(params).await },
        |r| {
            let contents = serde_json::to_value(&r.contents)?;
            let logged = serde_json::json!({"contents": contents});
            Ok((contents, logged))
        },
    )
    .await?;
    Ok(ResourceResult {
        contents: done.value,
        execution_time_ms: done.execution_time_ms,
        request_log_id: done.request_log_id,
    })
}

/// Gets a prompt with arguments (`cancel` as for [`tool`]).
pub async fn prompt(
    app: &App,
    actor: &Actor,
    req: PromptGet,
    cancel: &[CancellationToken],
) -> Result<PromptResult> {
    non_empty("prompt", &req.prompt)?;
    let timeout = call_timeout(app, req.timeout_s)?;
    let args = req.arguments.unwrap_or_default();
    let mut params = GetPromptRequestParams::new(req.prompt.clone());
    if !args.is_empty() {
        params = params.with_arguments(args.clone());
    }
    let target = Target {
        server: &req.server,
        kind: Kind::Prompt,
        name: &req.prompt,
        arguments: Value::Object(args),
        timeout,
    };
    let done = execute(
        app,
        actor,
        target,
        cancel,
        |c| async move { c.peer().get_prompt(params).await },
        |r| {
            let messages = serde_json::to_value(&r.messages)?;
            let logged = serde_json::json!({"description": r.description, "messages": messages});
            Ok(((r.description, messages), logged))
        },
    )
    .await?;
    let (description, messages) = done.value;
    Ok(PromptResult {
        description,
        messages,
        execution_time_ms: done.execution_time_ms,
        request_log_id: done.request_log_id,
    })
}
