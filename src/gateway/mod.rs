//! The MCP gateway: `/mcp` on the API's TLS port speaks MCP streamable HTTP (rmcp's
//! server, every protocol revision rmcp knows, sessions kept in memory) to any MCP
//! client, and offers the tools, resources and prompts of all running MCP servers as
//! one server (see [`catalog`] for the naming, [`handler`] for the forwarding).
//!
//! Authentication is the API's: `Authorization: Bearer <access token | mcpd_ API key>`
//! or `X-API-Key: mcpd_…`, checked on every HTTP request (not only at `initialize`),
//! so revoking a key or a session takes effect on the next call. Without valid
//! credentials the answer is HTTP 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3, as
//! the MCP authorization spec expects) and the API's error envelope.

pub mod catalog;
pub mod errors;
pub mod handler;

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Error;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Where the gateway is mounted (outside `/api/v1`: it speaks MCP, not the REST API).
pub const PATH: &str = "/mcp";

/// The `/mcp` route with its authentication layer, to merge into the top-level router.
///
/// rmcp's Host check (against DNS rebinding) is off: every request must carry a
/// credential in a header, which a rebinding web page cannot supply, and the REST API
/// on the same port does not check Host either, so the gateway answers under whatever
/// name the appliance is reached by. Sessions end when the daemon shuts down.
pub fn routes(app: &AppState) -> Router<AppState> {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_cancellation_token(app.shutdown.child_token())
        .with_max_request_body_bytes(app.config.server.max_body_bytes);
    let state = app.clone();
    let service = StreamableHttpService::new(
        move || Ok(handler::Gateway::new(state.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            authenticate,
        ))
}

/// Resolves the caller like every API route does and hands the [`Principal`] to the
/// MCP handler through the request's extensions; 401 otherwise.
async fn authenticate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match Principal::from_request_parts(&mut parts, &app).await {
        Ok(who) => {
            parts.extensions.insert(who);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => challenge(e),
    }
}

/// The 401 (or other auth failure) with the RFC 6750 challenge: `invalid_token` when a
/// credential was sent but not accepted.
fn challenge(e: Error) -> Response {
    let sent_credentials = e.code != crate::error::ErrorCode::Unauthorized;
    let mut resp = e.into_response();
    let value = if sent_credentials {
        r#"Bearer realm="mcpd", error="invalid_token""#
    } else {
        r#"Bearer realm="mcpd""#
    };
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    resp
}
