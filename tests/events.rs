//! The live events WebSocket (`GET /api/v1/ws`) through the real binary, with a real
//! WebSocket client (tokio-tungstenite) and the Python `websockets` library: service
//! status events and container log lines, MCP server, backup and audit events,
//! permissions per channel, revocation closing the socket, and a slow reader dropped
//! while a fast one keeps receiving.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::answers::{expect, expect_error};
use common::mcp::{python_path, stdio_server};
use common::ws::{Auth, Next, connect, try_connect};
use common::{BUSYBOX_IMAGE, Daemon, EVERYTHING_IMAGE, create_service, repo_path};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A service whose container prints `tick-<n>` every `every` seconds (a shell `sleep`
/// argument), `lines` lines at a time.
fn ticker(name: &str, lines: u32, every: &str) -> Value {
    let script = format!(
        "i=0; while true; do for j in $(seq 1 {lines}); do i=$((i+1)); echo tick-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; sleep {every}; done"
    );
    json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sh", "-c", script]})
}

fn is(v: &Value, channel: &str, kind: &str) -> bool {
    v["channel"] == channel && v["type"] == kind
}

#[tokio::test]
async fn subscribers_follow_services_logs_mcp_servers_backups_and_the_audit_log() {
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("ticker");
    let svc = create_service(&d, &admin, ticker(&name, 1, "0.2")).await;
    let id = svc["id"].as_str().unwrap().to_string();
    let server = d.name("everything");
    stdio_server(&d, &admin, &server, EVERYTHING_IMAGE).await;

    let mut ws = connect(&d, Auth::Header(&admin)).await;
    let welcome = ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    assert_eq!(welcome["data"]["user"], "admin", "{welcome}");
    assert!(
        welcome["time"].is_string() && welcome["channel"].is_null(),
        "{welcome}"
    );
    for channel in ["services", "backups", "audit"] {
        ws.subscribed(channel).await;
    }
    let logs = format!("logs:{name}");
    ws.subscribed(&logs).await;
    let mcp = format!("mcp:{server}");
    ws.subscribed(&mcp).await;

    expect(
        200,
        d.post(&format!("/services/{id}/start"), &admin, json!({}))
            .await,
    );
    let running = ws
        .expect(WAIT, "the service running", |v| {
            is(v, "services", "service.status")
                && v["data"]["id"] == id.as_str()
                && v["data"]["status"] == "running"
        })
        .await;
    assert_eq!(running["data"]["name"], name.as_str(), "{running}");
    let line = ws
        .expect(WAIT, "a log line", |v| is(v, &logs, "log.entry"))
        .await;
    assert!(
        line["data"]["message"]
            .as_str()
            .unwrap()
            .starts_with("tick-"),
        "{line}"
    );
    assert_eq!(line["data"]["service_id"], id.as_str(), "{line}");
    ws.expect(WAIT, "the audit entry of the start", |v| {
        is(v, "audit", "audit.entry") && v["data"]["action"] == "services.start"
    })
    .await;

    // A rediscovery is announced as a list change.
    expect(
        200,
        d.post(
            &format!("/mcp/servers/{server}/discover"),
            &admin,
            json!({}),
        )
        .await,
    );
    ws.expect(WAIT, "the list change", |v| is(v, &mcp, "list_changed"))
        .await;
    expect(
        200,
        d.post(&format!("/mcp/servers/{server}/stop"), &admin, json!({}))
            .await,
    );
    let stopped = ws
        .expect(WAIT, "the MCP server stopped", |v| {
            is(v, &mcp, "connection_status") && v["data"]["status"] == "stopped"
        })
        .await;
    assert_eq!(stopped["data"]["name"], server.as_str(), "{stopped}");

    let (s, b) = d.post("/backups", &admin, json!({})).await;
    assert_eq!(s, 202, "{b}");
    let backup = b["data"]["id"].as_str().unwrap().to_string();
    let done = ws
        .expect(WAIT, "the backup completed", |v| {
            is(v, "backups", "backup.completed") && v["data"]["id"] == backup.as_str()
        })
        .await;
    assert_eq!(done["data"]["progress_pct"], 100, "{done}");

    // Unsubscribing stops the log lines; the socket stays usable.
    ws.send(json!({"type": "unsubscribe", "channel": logs}))
        .await;
    ws.expect(WAIT, "unsubscribed", |v| is(v, &logs, "unsubscribed"))
        .await;
    let mut after = 0;
    while let Next::Json(v) = ws.next(Duration::from_millis(1500)).await {
        after += usize::from(is(&v, &logs, "log.entry"));
    }
    // Lines already queued when the unsubscribe was read may still arrive; no more.
    assert!(after <= 5, "{after} log lines after unsubscribing");
    ws.send(json!({"type": "ping"})).await;
    ws.expect(WAIT, "pong", |v| v["type"] == "pong").await;

    // Deleting the service is announced too.
    expect(204, d.delete(&format!("/services/{id}"), &admin).await);
    ws.expect(WAIT, "the service deleted", |v| {
        is(v, "services", "service.deleted") && v["data"]["id"] == id.as_str()
    })
    .await;
    ws.close().await;
}

#[tokio::test]
async fn channels_check_permissions_and_revocation_closes_the_socket() {
    let mut d = Daemon::start_with_var("MCPD_EVENTS__MAX_SUBSCRIPTIONS", "2").await;
    let admin = d.admin().await;
    let viewer = d.user_with_roles("viewer", &["viewer"]).await;

    // A browser-style connection: the token in the subprotocol, `mcpd.v1` selected.
    let mut ws = connect(&d, Auth::Protocol(&viewer)).await;
    assert_eq!(ws.protocol.as_deref(), Some("mcpd.v1"));
    ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    for (channel, code) in [
        ("audit", "FORBIDDEN"),
        ("backups", "FORBIDDEN"),
        ("nonsense", "VALIDATION_ERROR"),
        ("logs", "VALIDATION_ERROR"),
        ("logs:no-such-service", "RESOURCE_NOT_FOUND"),
        ("mcp:no-such-server", "RESOURCE_NOT_FOUND"),
    ] {
        let a = ws.subscribe(channel).await;
        assert_eq!(
            (a["type"].as_str(), a["data"]["code"].as_str()),
            (Some("error"), Some(code)),
            "{channel}: {a}"
        );
    }
    ws.send_text("not json".into()).await;
    let e = ws.expect(WAIT, "an error", |v| v["type"] == "error").await;
    assert_eq!(e["data"]["code"], "VALIDATION_ERROR", "{e}");
    ws.subscribed("services").await;
    ws.subscribed("metrics").await;
    let a = ws.subscribe("services?again").await;
    assert_eq!(
        a["data"]["code"], "VALIDATION_ERROR",
        "the third subscription is over the limit: {a}"
    );

    // Disabling the user closes the socket with 1008.
    let me = expect(200, d.get("/users/me", &viewer).await)["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect(
        200,
        d.patch(
            &format!("/users/{me}"),
            &admin,
            json!({"status": "disabled"}),
        )
        .await,
    );
    let (code, reason) = ws.closed(WAIT).await.expect("a close frame");
    assert_eq!(code, 1008, "{reason}");

    // An API key: revoking it closes its socket.
    let (key_id, key) = d.api_key(&admin, "events", &["services:read"]).await;
    let mut ws = connect(&d, Auth::Header(&key)).await;
    ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    ws.subscribed("services").await;
    expect(204, d.delete(&format!("/api-keys/{key_id}"), &admin).await);
    assert_eq!(ws.closed(WAIT).await.map(|c| c.0), Some(1008));

    // Authentication by the first message: a bad token closes with 1008.
    let mut ws = connect(&d, Auth::None).await;
    ws.send(json!({"type": "auth", "token": "not-a-token"}))
        .await;
    let e = ws.expect(WAIT, "an error", |v| v["type"] == "error").await;
    assert_eq!(e["data"]["code"], "AUTH_TOKEN_INVALID", "{e}");
    assert_eq!(ws.closed(WAIT).await.map(|c| c.0), Some(1008));
    let mut ws = connect(&d, Auth::None).await;
    ws.send(json!({"type": "auth", "token": admin})).await;
    ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    ws.subscribed("audit").await;

    // A bad credential on the upgrade is refused before it, in the envelope.
    match try_connect(&d, Auth::Header("not-a-token"), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 401);
            let body: Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "AUTH_TOKEN_INVALID", "{body}");
        }
        other => panic!("expected 401, got {:?}", other.map(|w| w.protocol)),
    }
    // A plain GET is not an upgrade.
    expect_error(d.get("/ws", &admin).await, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_auth_timeout() {
    let d = Daemon::start_with_var("MCPD_EVENTS__AUTH_TIMEOUT_S", "1").await;
    let mut ws = connect(&d, Auth::None).await;
    let (code, reason) = ws.closed(WAIT).await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1008, "authentication timed out"));
}

#[tokio::test]
async fn a_slow_reader_is_dropped_while_a_fast_one_keeps_receiving() {
    let (d, admin) = Daemon::start_admin_with_var("MCPD_EVENTS__QUEUE_MESSAGES", "300").await;
    let name = d.name("chatty");
    let svc = create_service(&d, &admin, ticker(&name, 100, "0.1")).await;
    let logs = format!("logs:{name}");

    let mut fast = connect(&d, Auth::Header(&admin)).await;
    fast.subscribed(&logs).await;
    // A small receive buffer, and nobody reading: the daemon's queue for it fills.
    let mut slow = try_connect(&d, Auth::Header(&admin), Some(4096))
        .await
        .unwrap();
    slow.subscribed(&logs).await;
    expect(
        200,
        d.post(
            &format!("/services/{}/start", svc["id"].as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await,
    );

    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = counter.clone();
    let reader = tokio::spawn(async move {
        loop {
            match fast.next(Duration::from_secs(20)).await {
                Next::Json(v) if v["type"] == "log.entry" => {
                    c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Next::Json(_) => {}
                other => return other,
            }
        }
    });
    d.wait_for_log("closing a WebSocket client that cannot keep up", WAIT)
        .await;
    let at_drop = counter.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = counter.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        later > at_drop + 100,
        "the fast reader stalled: {at_drop} → {later}"
    );
    assert!(
        !reader.is_finished(),
        "the fast reader's connection ended: {:?}",
        reader.await
    );
    // The slow reader, reading at last, finds its connection closed with 1013.
    let end = slow.closed(WAIT).await;
    assert_eq!(end.map(|c| c.0), Some(1013));
    reader.abort();
}

#[test]
fn an_independent_client_negotiates_the_subprotocol_and_subscribes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (d, admin) = rt.block_on(Daemon::start_admin());
    let out = std::process::Command::new(python_path())
        .arg(repo_path("tests/observability/check_ws.py"))
        .arg(d.url("/ws").replacen("https://", "wss://", 1))
        .arg(d.data_path("tls/cert.pem"))
        .env("MCPD_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["subprotocol"], "mcpd.v1", "{seen}");
    assert_eq!(seen["messages"][0]["type"], "welcome", "{seen}");
    assert_eq!(seen["messages"][1]["type"], "subscribed", "{seen}");
    drop(rt);
}

#[tokio::test]
async fn a_client_that_answers_no_pings_is_closed() {
    let (d, admin) = Daemon::start_admin_with_var("MCPD_EVENTS__PING_INTERVAL_S", "1").await;
    let mut ws = connect(&d, Auth::Header(&admin)).await;
    ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    // Not reading means not answering the daemon's pings (the client library answers
    // them while it reads); after two intervals of silence the daemon gives up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, reason) = ws.closed(WAIT).await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1001, "no answer to pings"));
    // A client that keeps reading answers the pings and stays connected.
    let mut ws = connect(&d, Auth::Header(&admin)).await;
    ws.expect(WAIT, "welcome", |v| v["type"] == "welcome").await;
    assert!(matches!(ws.next(Duration::from_secs(4)).await, Next::Quiet));
    ws.send(json!({"type": "ping"})).await;
    ws.expect(WAIT, "pong", |v| v["type"] == "pong").await;
}
