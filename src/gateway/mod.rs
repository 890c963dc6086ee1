//! The MCP gateway: `/mcp` on the API's TLS port speaks MCP streamable HTTP (rmcp's
//! server, every protocol revision rmcp knows, sessions kept in memory) to any MCP
//! client, and offers the tools, resources and prompts of all running MCP servers as
//! one server (see [`catalog`] for the naming, [`handler`] for the forwarding,
//! [`paging`] for the lists' cursors and [`notify`] for the list-changed notifications).
//!
//! Authentication is the API's: `Authorization: Bearer <access token | mcpd_ API key>`
//! or `X-API-Key: mcpd_…`, checked on every HTTP request (not only at `initialize`),
//! so revoking a key or a session takes effect on the next call, and an MCP session
//! belongs to the user who opened it. Without valid
//! credentials the answer is HTTP 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3, as
//! the MCP authorization spec expects) and the API's error envelope.

pub mod catalog;
pub mod doc;
pub mod errors;
pub mod handler;
pub mod notify;
pub mod paging;
pub mod subscriptions;

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Error;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where the gateway is mounted (outside `/api/v1`: it speaks MCP, not the REST API).
pub const PATH: &str = "/mcp";

/// The `/mcp` route with its authentication layer, to merge into the top-level router.
///
/// rmcp's Host check (against DNS rebinding) is off: every request must carry a
/// credential in a header, which a rebinding web page cannot supply, and the REST API
/// on the same port does not check Host either, so the gateway answers under whatever
/// name the appliance is reached by. Sessions end when the daemon shuts down.
pub fn routes(app: &AppState) -> Router<AppState> {
    let state = Layer {
        app: app.clone(),
        owners: Arc::new(Owners::default()),
    };
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_cancellation_token(app.shutdown.child_token())
        .with_max_request_body_bytes(app.settings.server.max_body_bytes);
    let handler_app = app.clone();
    let subscriptions = Arc::new(subscriptions::Subscriptions::default());
    let service = StreamableHttpService::new(
        move || {
            Ok(handler::Gateway::new(
                handler_app.clone(),
                subscriptions.clone(),
            ))
        },
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// State of the authentication layer.
#[derive(Clone)]
struct Layer {
    app: AppState,
    owners: Arc<Owners>,
}

/// The header carrying the MCP session id (spec 2025-06-18, "Session Management").
const SESSION_HEADER: &str = "mcp-session-id";

/// Which user opened each MCP session, so that a session id is usable only by the user
/// who opened it: another user presenting it gets 404 as for an unknown session (each
/// request is authorised as its own caller anyway, but a session's stream may replay
/// earlier responses to whoever resumes it). Entries idle for a day are dropped, far
/// beyond rmcp's own idle timeout (300 s) after which the session is gone anyway.
#[derive(Default)]
struct Owners(Mutex<HashMap<String, (String, Instant)>>);

const OWNER_IDLE: Duration = Duration::from_secs(24 * 3600);

impl Owners {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user_id` may use session `id` (unknown sessions pass: rmcp answers them).
    fn allows(&self, id: &str, user_id: &str) -> bool {
        match self.map().get_mut(id) {
            Some((owner, seen)) if owner == user_id => {
                *seen = Instant::now();
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    fn opened(&self, id: &str, user_id: &str) {
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, (_, seen)| now.duration_since(*seen) < OWNER_IDLE);
        map.insert(id.to_string(), (user_id.to_string(), now));
    }

    fn closed(&self, id: &str) {
        self.map().remove(id);
    }
}

/// Fires when the response to one HTTP request is dropped: sent in full, or abandoned
/// because the client went away (connection closed). Put into the request's
/// extensions, where the MCP handler finds it (rmcp hands it the request's HTTP parts):
/// a call whose client disconnected is cancelled upstream instead of running on.
#[derive(Clone, Debug)]
pub struct ClientGone(pub CancellationToken);

/// Resolves the caller like every API route does and hands the [`Principal`] to the
/// MCP handler through the request's extensions; 401 otherwise.
/// A session opened by one user is refused to others (see [`Owners`]).
async fn authenticate(State(layer): State<Layer>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let who = match Principal::from_request_parts(&mut parts, &layer.app).await {
        Ok(who) => who,
        Err(e) => return challenge(e),
    };
    let session = parts
        .headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &session
        && !layer.owners.allows(id, &who.user_id)
    {
        return Error::not_found("MCP session", id).into_response();
    }
    let user_id = who.user_id.clone();
    let closing = parts.method == axum::http::Method::DELETE;
    parts.extensions.insert(who);
    let gone = CancellationToken::new();
    parts.extensions.insert(ClientGone(gone.clone()));
    let resp = next.run(Request::from_parts(parts, body)).await;
    match (&session, resp.headers().get(SESSION_HEADER)) {
        (None, Some(new)) => {
            if let Ok(new) = new.to_str() {
                layer.owners.opened(new, &user_id);
            }
        }
        (Some(id), _) if closing && resp.status().is_success() => layer.owners.closed(id),
        _ => {}
    }
    // The guard lives as long as the response body (a call's SSE stream).
    let guard = gone.drop_guard();
    resp.map(|body| {
        axum::body::Body::new(body.map_frame(move |frame| {
            let _alive = &guard;
            frame
        }))
    })
}

/// A refusal of the caller: a 401 carries the RFC 6750 challenge (`invalid_token` when a
/// credential was sent but not accepted); anything else (429 past the rate limit) is
/// answered as it is.
fn challenge(e: Error) -> Response {
    let sent_credentials = e.code != crate::error::ErrorCode::Unauthorized;
    let mut resp = e.into_response();
    if resp.status() != axum::http::StatusCode::UNAUTHORIZED {
        return resp;
    }
    let value = if sent_credentials {
        r#"Bearer realm="mcpd", error="invalid_token""#
    } else {
        r#"Bearer realm="mcpd""#
    };
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    resp
}
