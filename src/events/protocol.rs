//! The messages of `GET /api/v1/ws`, both ways, as JSON text frames.
//!
//! From the client: `{"type": "auth", "token": "…"}` (when the upgrade carried no
//! credential), `{"type": "subscribe", "channel": "…", "filters": {…}}`,
//! `{"type": "unsubscribe", "channel": "…"}` and `{"type": "ping"}`.
//!
//! To the client, every message is `{channel, type, time, data}`: events on the
//! channel the client subscribed to (named as it named it), and the answers
//! `welcome` (authenticated; `data.user`), `subscribed`,
//! `unsubscribed` (`data.reason` when the daemon ended it), `pong` and `error`
//! (`data` is the API's error object: `code`, `message`, `details`), with `channel`
//! `null` when the answer concerns none.
//!
//! Close codes (RFC 6455 §7.4.1): 1000 when the client closes, 1001 at shutdown or
//! after a missed heartbeat, 1008 (policy violation) when authentication fails or the
//! credential is revoked, 1013 (try again later) when the client cannot keep up.

use super::Event;
use crate::error::Error;
use serde::Deserialize;
use serde_json::{Value, json};

/// Close: the daemon is shutting down, or the peer stopped answering pings.
pub const GOING_AWAY: u16 = 1001;
/// Close: authentication failed or the credential was revoked.
pub const POLICY: u16 = 1008;
/// Close: the client reads too slowly.
pub const TRY_AGAIN_LATER: u16 = 1013;

/// A message from the client.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Inbound {
    /// Authenticate with an access token or an API key.
    Auth {
        /// The credential.
        token: String,
    },
    /// Start receiving a channel.
    Subscribe {
        /// `services`, `logs:<service>`, `metrics`, `mcp:<server>`, `backups`, `audit`.
        channel: String,
        /// Optional filters (`service_id`).
        #[serde(default)]
        filters: Value,
    },
    /// Stop receiving a channel.
    Unsubscribe {
        /// The channel as subscribed.
        channel: String,
    },
    /// Asks for a `pong`.
    Ping {},
}

impl Inbound {
    /// Parses one text frame (`VALIDATION_ERROR` naming what is wrong).
    pub fn parse(text: &str) -> Result<Inbound, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::validation(format!("not a valid message: {e}")).with_detail(
                "type",
                "one of auth {token}, subscribe {channel, filters?}, unsubscribe {channel}, ping",
            )
        })
    }
}

/// An answer that is not an event.
pub fn control(channel: Option<&str>, kind: &str, data: Value) -> String {
    json!({"channel": channel, "type": kind, "time": crate::time::now_rfc3339(), "data": data})
        .to_string()
}

/// An `error` answer carrying the API's error object, stamped with the request id of
/// the connection's upgrade request.
pub fn error(channel: Option<&str>, e: &Error, request_id: &str) -> String {
    let bytes = crate::http::error::envelope_bytes(e, request_id.to_string());
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    control(channel, "error", body["error"].clone())
}

/// An event as sent to a subscriber that named the channel `label`.
pub fn event(label: &str, e: &Event) -> String {
    json!({"channel": label, "type": e.kind, "time": e.time, "data": e.data}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_strictly() {
        assert_eq!(
            Inbound::parse(r#"{"type":"ping"}"#).ok(),
            Some(Inbound::Ping {})
        );
        assert!(matches!(
            Inbound::parse(r#"{"type":"subscribe","channel":"services"}"#),
            Ok(Inbound::Subscribe { channel, filters: Value::Null }) if channel == "services"
        ));
        for bad in [
            r#"{"type":"subscribe"}"#,
            r#"{"type":"nope"}"#,
            "[]",
            "not json",
            r#"{"type":"ping","x":1}"#,
        ] {
            let e = Inbound::parse(bad).err();
            assert_eq!(
                e.map(|e| e.code.as_str()),
                Some("VALIDATION_ERROR"),
                "{bad}"
            );
        }
    }
}
