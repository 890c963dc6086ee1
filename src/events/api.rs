//! `GET /api/v1/ws`: the live events WebSocket (any authenticated caller; each channel
//! checks its own permission). The credential comes with the upgrade (`Authorization`,
//! `X-API-Key`, or, for browsers, the subprotocol `bearer.<token>` offered next to
//! `mcpd.v1`) or as the first message (see [`super::protocol`]).

use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::{Error, ErrorCode, Result};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::http::{header, request::Parts};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The subprotocol the daemon speaks (selected when the client offers it).
pub const PROTOCOL: &str = "mcpd.v1";
/// Largest message a client may send, bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// The caller, when the upgrade request carries a credential (401 when it carries a
/// bad one); `None` when it carries none.
pub struct Upgrader(Option<Principal>);

/// The token of a `bearer.<token>` subprotocol, if one was offered.
fn protocol_token(parts: &Parts) -> Option<String> {
    let offered = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?;
    offered
        .split(',')
        .find_map(|p| p.trim().strip_prefix("bearer.").map(str::to_string))
}

impl FromRequestParts<AppState> for Upgrader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let in_headers = parts.headers.contains_key(header::AUTHORIZATION)
            || parts.headers.contains_key("x-api-key");
        if in_headers {
            return Ok(Upgrader(Some(
                Principal::from_request_parts(parts, app).await?,
            )));
        }
        match protocol_token(parts) {
            Some(t) => Ok(Upgrader(Some(
                crate::http::auth::principal_from_token(app, &t).await?,
            ))),
            None => Ok(Upgrader(None)),
        }
    }
}

/// The upgrade, or why there is none: 401 without a credential (only an upgrade may
/// authenticate later, by its first message), else 400.
fn upgrade_of(
    ws: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    authenticated: bool,
) -> Result<WebSocketUpgrade> {
    match ws {
        Ok(ws) => Ok(ws),
        Err(_) if !authenticated => Err(Error::unauthorized("authentication required")),
        Err(e) => Err(
            Error::validation(format!("this route speaks WebSocket only: {e}"))
                .with_detail("upgrade", "send a WebSocket upgrade request (RFC 6455)"),
        ),
    }
}

/// The live events WebSocket (RFC 6455). Any caller (each channel checks its own
/// permission when subscribed to).
///
/// The subprotocol `mcpd.v1` is selected when offered. The credential comes with the
/// upgrade (`Authorization`, `X-API-Key`, or, for browsers, the subprotocol
/// `bearer.<token>` offered next to `mcpd.v1`), or else as the first message
/// `{"type": "auth", "token": "…"}` within `events.auth_timeout_s`.
///
/// Messages are JSON text frames (at most 64 KiB from the client). Client:
/// `auth`, `subscribe {channel, filters?}`, `unsubscribe {channel}`, `ping`. Server:
/// `{channel, type, time, data}`: `welcome`, `subscribed`, `unsubscribed`, `pong`,
/// `error` (`data` is the API's error object) and the events of the channels
/// `services`, `logs:<service>`, `metrics`, `mcp:<server>`, `backups`, `audit`
/// (docs/api.md §24.4). Close codes: 1000, 1001 (shutdown, no answer to pings), 1008
/// (authentication failed or credential revoked), 1013 (client too slow).
#[utoipa::path(get, path = "/ws", tag = "events",
    responses((status = 101, description = "Switching Protocols: the WebSocket, subprotocol `mcpd.v1` when offered; then JSON text messages both ways"),
        (status = 400, description = "`VALIDATION_ERROR`: an authenticated request that is not a WebSocket upgrade (field `upgrade`)"),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: too many WebSocket connections")))]
async fn upgrade(
    State(app): State<AppState>,
    Upgrader(who): Upgrader,
    ws: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let ws = upgrade_of(ws, who.is_some())?;
    let Some(slot) = super::ws::Slot::take(&app) else {
        return Err(Error::new(
            ErrorCode::ServiceUnavailable,
            "too many WebSocket connections; try again later",
        ));
    };
    let request_id = crate::telemetry::request_id::current();
    Ok(ws
        .protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            super::ws::serve(app, socket, who, request_id).await;
        }))
}
