//! The MCP server behind `/mcp`: lists what the running servers offer (namespaced, see
//! [`super::catalog`]) and forwards calls through [`crate::mcp::execute`], so a call made
//! through the gateway is executed, timed out, cancelled and request-logged exactly like
//! one made through `POST /api/v1/mcp/execute/…`.
//!
//! Every request is authorised on its own: the HTTP layer ([`super::authenticate`])
//! puts the caller's [`Principal`] into the request, and rmcp hands the request's HTTP
//! parts to each handler call. Listing needs `mcp:read`, calling, reading and getting
//! need `mcp:execute`; on top of that the caller's workspaces decide which servers,
//! tools and resources they see (lists) and use (execution checks them).
//!
//! Lists are cursor-paginated ([`super::paging`], `mcp.gateway_page_size` items a page)
//! and clients are told when they change ([`super::notify`]: after `initialized` on a
//! session, or on a `subscriptions/listen` stream). `resources/subscribe` is authorised
//! as `resources/read` is and relayed by [`super::subscriptions`].
//!
//! A call ends when its MCP client cancels it (`notifications/cancelled`, or the end of
//! its session: `DELETE`, idle timeout; rmcp fires the request's `ctx.ct`) or drops the
//! HTTP request ([`ClientGone`]): the execution then drops the upstream call, which
//! makes rmcp send `notifications/cancelled` to the MCP server behind it.

use super::ClientGone;
use super::catalog;
use super::errors::{Asked, to_rpc};
use super::notify::{self, Notifier};
use super::paging;
use super::subscriptions::Subscriptions;
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use crate::mcp::execute::{self, PromptGet, ResourceRead, ToolCall};
use crate::mcp::model::{Catalog, ServerRecord};
use crate::workspaces::access::{self, McpScope};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

const READ: Permission = Permission(Domain::Mcp, Action::Read);
const EXECUTE: Permission = Permission(Domain::Mcp, Action::Execute);

/// One gateway handler; rmcp makes one per MCP session (and one per request of the
/// session-less 2026-07-28 revision), all sharing the daemon state.
#[derive(Clone)]
pub struct Gateway {
    app: AppState,
    /// Whether this session's list-changed forwarder was started.
    forwarding: Arc<AtomicBool>,
    /// This session's resource subscriptions are kept under this number.
    session: u64,
    subscriptions: Arc<Subscriptions>,
}

impl Gateway {
    /// A handler for a new session; `subscriptions` is shared by every session.
    pub fn new(app: AppState, subscriptions: Arc<Subscriptions>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            app,
            forwarding: Arc::default(),
            session: NEXT.fetch_add(1, Ordering::Relaxed),
            subscriptions,
        }
    }
}

/// What the HTTP layer ([`super::authenticate`]) put into the HTTP request an MCP
/// message came in (rmcp hands handlers the request's parts in their extensions).
fn from_http<T: Clone + Send + Sync + 'static>(extensions: &rmcp::model::Extensions) -> Option<T> {
    extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<T>())
        .cloned()
}

/// The authenticated caller of this request, holding `wanted`.
fn caller(
    ctx: &RequestContext<RoleServer>,
    wanted: Permission,
    asked: Asked,
) -> std::result::Result<Principal, ErrorData> {
    let who = from_http::<Principal>(&ctx.extensions)
        // The HTTP layer rejects unauthenticated requests before rmcp sees them, so
        // this means the gateway was mounted without it: refuse rather than serve.
        .ok_or_else(|| to_rpc(&Error::unauthorized("authentication required"), asked))?;
    who.require(wanted).map_err(|e| to_rpc(&e, asked))?;
    Ok(who)
}

/// What ends a call early: the MCP client's `notifications/cancelled` or the end of its
/// session (`ctx.ct`), or the client dropping the HTTP request ([`ClientGone`]).
fn cancellation(ctx: &RequestContext<RoleServer>) -> Vec<CancellationToken> {
    let mut tokens = vec![ctx.ct.clone()];
    if let Some(ClientGone(gone)) = from_http(&ctx.extensions) {
        tokens.push(gone);
    }
    tokens
}

/// Turns MCP JSON (as cached or as execution returned it) into an rmcp type.
fn typed<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(Error::from)
}

/// The caller's workspace scope.
async fn scope(app: &AppState, who: &Principal) -> Result<McpScope> {
    access::scope(app, Some(&who.user_id)).await
}

/// One page of list `which` as the caller sees it ([`catalog::view`]), as rmcp items,
/// with the next page's cursor ([`paging`]). Items a server sent that are not valid
/// MCP are left out (and logged).
async fn aggregate<T: DeserializeOwned>(
    app: &AppState,
    who: &Principal,
    which: Catalog,
    request: Option<PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>)> {
    let scope = scope(app, who).await?;
    let items = catalog::view(app, which, &scope).await?;
    let fingerprint = catalog::fingerprint(&items);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match typed::<T>(item) {
            Ok(t) => out.push(t),
            Err(e) => tracing::warn!(error = %e, "MCP gateway: item left out"),
        }
    }
    let cursor = request.and_then(|r| r.cursor);
    paging::page(
        out,
        &fingerprint,
        cursor.as_deref(),
        app.settings.mcp.gateway_page_size,
    )
}

/// The server owning resource `uri` among those `who` may use; `RESOURCE_NOT_FOUND`
/// otherwise (the same answer whether it does not exist or is out of their scope).
async fn readable_owner(app: &AppState, who: &Principal, uri: &str) -> Result<ServerRecord> {
    let scope = scope(app, who).await?;
    catalog::resource_owner(app, uri, &scope)
        .await?
        .ok_or_else(|| {
            Error::not_found("resource", uri).with_detail(
                "uri",
                "no running MCP server lists this resource or a template matching it",
            )
        })
}

/// Resolves `<server>__<name>` to the server name and the server's own name; an
/// unknown namespace is reported as an unknown `kind`.
async fn resolve(app: &AppState, full: &str, kind: &str) -> Result<(String, String)> {
    let servers = crate::mcp::records::records(app).await?;
    catalog::split(full, servers.iter().map(|r| r.name.as_str()))
        .map(|(s, n)| (s, n.to_string()))
        .ok_or_else(|| {
            Error::not_found(kind, full).with_detail(
                "name",
                format!(
                    "expected <server>{}<{kind}> naming a known MCP server",
                    catalog::SEPARATOR
                ),
            )
        })
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_prompts_list_changed()
                .build(),
        )
        .with_server_info(
            Implementation::new("mcpd", env!("CARGO_PKG_VERSION")).with_title("mcpd MCP gateway"),
        )
        .with_instructions(format!(
            "Tools and prompts of the MCP servers this mcpd runs, named <server>{sep}<name> \
             (e.g. files{sep}read_text_file); resources keep their servers' URIs.",
            sep = catalog::SEPARATOR
        ))
    }

    /// A session's client is ready: start telling it when its lists change
    /// ([`notify`]), as the user who opened the session (the HTTP layer put the
    /// [`Principal`] into the notification's request).
    async fn on_initialized(&self, ctx: NotificationContext<RoleServer>) {
        let Some(who) = from_http::<Principal>(&ctx.extensions) else {
            return;
        };
        if self.forwarding.swap(true, Ordering::SeqCst) {
            return; // a second `initialized`
        }
        let app = self.app.clone();
        let peer = ctx.peer.clone();
        self.app.tasks.spawn(async move {
            let ended = notify::session_closed(peer.clone());
            notify::forward(&app, who, Notifier::Session(peer), ended).await;
        });
    }

    /// `subscriptions/listen` (2026-07-28): the list-changed notifications are offered;
    /// resource subscriptions are not (they are relayed for `resources/subscribe` of
    /// the earlier revisions only, see [`super::subscriptions`]).
    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .resources_list_changed()
                .prompts_list_changed()
                .build(),
        )
    }

    /// Runs one `subscriptions/listen` stream: the caller's list-changed notifications
    /// until they cancel it; a daemon shutdown ends it gracefully.
    async fn listen(&self, ctx: SubscriptionContext) -> std::result::Result<(), ErrorData> {
        let who = caller(ctx.request_context(), READ, Asked::List)?;
        let sink = ctx.sink().clone();
        notify::forward(
            &self.app,
            who,
            Notifier::Subscription(sink),
            ctx.cancelled(),
        )
        .await;
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        let who = caller(&ctx, READ, Asked::List)?;
        let (items, next) = aggregate(&self.app, &who, Catalog::Tools, request)
            .await
            .map_err(|e| to_rpc(&e, Asked::List))?;
        let mut result = ListToolsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let who = caller(&ctx, EXECUTE, Asked::Tool)?;
        let fail = |e: Error| to_rpc(&e, Asked::Tool);
        let (server, tool) = resolve(&self.app, &request.name, "tool")
            .await
            .map_err(fail)?;
        let call = ToolCall {
            server,
            tool,
            arguments: request.arguments,
            timeout_s: None,
        };
        let r = execute::tool(&self.app, &Actor::from(&who), call, &cancellation(&ctx))
            .await
            .map_err(fail)?;
        let mut result = CallToolResult::success(typed(r.content).map_err(fail)?);
        result.is_error = Some(r.is_error);
        result.structured_content = r.structured_content;
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, ErrorData> {
        let who = caller(&ctx, READ, Asked::List)?;
        let (items, next) = aggregate(&self.app, &who, Catalog::Resources, request)
            .await
            .map_err(|e| to_rpc(&e, Asked::List))?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourceTemplatesResult, ErrorData> {
        let who = caller(&ctx, READ, Asked::List)?;
        let (items, next) = aggregate(&self.app, &who, Catalog::ResourceTemplates, request)
            .await
            .map_err(|e| to_rpc(&e, Asked::List))?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, ErrorData> {
        let who = caller(&ctx, EXECUTE, Asked::Resource)?;
        let fail = |e: Error| to_rpc(&e, Asked::Resource);
        let owner = readable_owner(&self.app, &who, &request.uri)
            .await
            .map_err(fail)?;
        let read = ResourceRead {
            server: owner.id,
            uri: request.uri,
            timeout_s: None,
        };
        let r = execute::resource(&self.app, &Actor::from(&who), read, &cancellation(&ctx))
            .await
            .map_err(fail)?;
        Ok(ReadResourceResult::new(typed(r.contents).map_err(fail)?).into())
    }

    /// `resources/subscribe`: needs what `resources/read` needs (a subscription is a
    /// read over time), with the same answer for a URI the caller may not read.
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<(), ErrorData> {
        let who = caller(&ctx, EXECUTE, Asked::Resource)?;
        let fail = |e: Error| to_rpc(&e, Asked::Resource);
        let owner = readable_owner(&self.app, &who, &request.uri)
            .await
            .map_err(fail)?;
        self.subscriptions
            .subscribe(
                &self.app,
                self.session,
                ctx.peer.clone(),
                who,
                &owner,
                &request.uri,
            )
            .await
            .map_err(fail)
    }

    /// `resources/unsubscribe`: ends this session's subscription (none is no error).
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<(), ErrorData> {
        caller(&ctx, READ, Asked::Resource)?;
        self.subscriptions
            .unsubscribe(self.session, &request.uri)
            .await;
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListPromptsResult, ErrorData> {
        let who = caller(&ctx, READ, Asked::List)?;
        let (items, next) = aggregate(&self.app, &who, Catalog::Prompts, request)
            .await
            .map_err(|e| to_rpc(&e, Asked::List))?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<GetPromptResponse, ErrorData> {
        let who = caller(&ctx, EXECUTE, Asked::Prompt)?;
        let fail = |e: Error| to_rpc(&e, Asked::Prompt);
        let (server, prompt) = resolve(&self.app, &request.name, "prompt")
            .await
            .map_err(fail)?;
        let get = PromptGet {
            server,
            prompt,
            arguments: request.arguments,
            timeout_s: None,
        };
        let r = execute::prompt(&self.app, &Actor::from(&who), get, &cancellation(&ctx))
            .await
            .map_err(fail)?;
        let mut result = GetPromptResult::new(typed(r.messages).map_err(fail)?);
        result.description = r.description;
        Ok(result.into())
    }
}
