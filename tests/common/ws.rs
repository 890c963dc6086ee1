//! A WebSocket client of `GET /api/v1/ws` (tokio-tungstenite over rustls, trusting the
//! daemon's certificate): connect with a credential in a header, in the subprotocol or
//! not at all, send JSON messages, and wait for the answers and events that matter.

use super::Daemon;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// How a connection carries its credential.
pub enum Auth<'a> {
    /// `Authorization: Bearer <token>`.
    Header(&'a str),
    /// `Sec-WebSocket-Protocol: mcpd.v1, bearer.<token>` (what a browser can send).
    Protocol(&'a str),
    /// None: the client sends `{"type": "auth"}` itself.
    None,
}

/// What came next on a connection.
#[derive(Debug)]
pub enum Next {
    /// A JSON text message.
    Json(Value),
    /// The connection ended: the close frame's code and reason, if one came.
    Closed(Option<(u16, String)>),
    /// Nothing within the wait.
    Quiet,
}

/// An open connection.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages [`Ws::expect`] read past without wanting them, oldest first.
    backlog: std::collections::VecDeque<Value>,
    /// The subprotocol the daemon selected.
    pub protocol: Option<String>,
}

fn connector(d: &Daemon) -> Connector {
    let pem = std::fs::read(d.data_path("tls/cert.pem")).expect("daemon certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("certificate")).expect("root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connector::Rustls(Arc::new(config))
}

/// Opens a connection (with a receive buffer of `recv_buffer` bytes when given, for a
/// client meant to fall behind); the handshake's error as tungstenite reports it.
pub async fn try_connect(
    d: &Daemon,
    auth: Auth<'_>,
    recv_buffer: Option<u32>,
) -> Result<Ws, tungstenite::Error> {
    let url = d.url("/ws").replacen("https://", "wss://", 1);
    let mut req = url.as_str().into_client_request()?;
    match auth {
        Auth::Header(t) => {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Auth::Protocol(t) => {
            let offered = format!("mcpd.v1, bearer.{t}");
            req.headers_mut()
                .insert("sec-websocket-protocol", offered.parse().unwrap());
        }
        Auth::None => {}
    }
    let host = url
        .trim_start_matches("wss://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let addr: std::net::SocketAddr = host.parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n).unwrap();
    }
    let tcp = socket.connect(addr).await.map_err(tungstenite::Error::Io)?;
    let (stream, resp) =
        tokio_tungstenite::client_async_tls_with_config(req, tcp, None, Some(connector(d))).await?;
    let protocol = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_string());
    Ok(Ws {
        stream,
        backlog: Default::default(),
        protocol,
    })
}

/// [`try_connect`], asserting success.
pub async fn connect(d: &Daemon, auth: Auth<'_>) -> Ws {
    try_connect(d, auth, None)
        .await
        .expect("WebSocket connection")
}

impl Ws {
    /// Sends `v` as a text frame.
    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, t: String) {
        self.stream
            .send(Message::Text(t.into()))
            .await
            .expect("send");
    }

    /// The next JSON message or the end, waiting up to `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let m = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Next::Quiet,
                Ok(m) => m,
            };
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Next::Json(serde_json::from_str(&t).expect("JSON message"));
                }
                Some(Ok(Message::Close(f))) => {
                    return Next::Closed(f.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Next::Closed(None),
            }
        }
    }

    /// The first message that `want` accepts, from those read past earlier (kept in
    /// order) or arriving within `within`; panics on the end of the connection or
    /// the timeout.
    pub async fn expect(
        &mut self,
        within: Duration,
        what: &str,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(i) = self.backlog.iter().position(&want) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Json(v) if want(&v) => return v,
                Next::Json(v) => {
                    if self.backlog.len() == 10_000 {
                        self.backlog.pop_front();
                    }
                    self.backlog.push_back(v);
                }
                other => {
                    let last: Vec<&Value> = self.backlog.iter().rev().take(3).collect();
                    panic!(
                        "waiting for {what}: {other:?}; {} others read, the last: {last:?}",
                        self.backlog.len()
                    );
                }
            }
        }
    }

    /// Subscribes to `channel` and returns the answer (`subscribed` or `error`).
    pub async fn subscribe(&mut self, channel: &str) -> Value {
        self.send(json!({"type": "subscribe", "channel": channel}))
            .await;
        self.expect(Duration::from_secs(10), "a subscription answer", |v| {
            v["channel"] == channel && (v["type"] == "subscribed" || v["type"] == "error")
        })
        .await
    }

    /// Subscribes and asserts `subscribed`.
    pub async fn subscribed(&mut self, channel: &str) {
        let a = self.subscribe(channel).await;
        assert_eq!(a["type"], "subscribed", "{a}");
    }

    /// Reads until the connection ends (within `within`); its close code and reason.
    pub async fn closed(&mut self, within: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Json(_) => continue,
                Next::Closed(c) => return c,
                Next::Quiet => panic!("the connection did not end within {within:?}"),
            }
        }
    }

    /// Closes from the client side.
    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}
