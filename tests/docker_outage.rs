//! Docker going away and coming back while mcpd runs. The daemon talks to Docker
//! through a Unix-socket proxy this test owns (`MCPD_DOCKER__HOST`); stopping the proxy
//! is a Docker outage as mcpd sees it, without touching the engine other tests use.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::stdio_server;
use common::{
    BUSYBOX_IMAGE, Daemon, EngineProxy, FILESYSTEM_IMAGE, assert_error, create_service, docker,
    expect_error, sleeper, wait_for,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// How long mcpd may take to notice that Docker is back.
const RECOVERY: Duration = Duration::from_secs(60);

#[tokio::test]
async fn docker_outage_is_reported_and_recovered_without_restart() {
    require_docker!();
    let (dir, proxy, d, admin) = Daemon::start_behind_proxy("docker.sock").await;
    let name = d.name("steady");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    let b = create_service(&d, &admin, body).await;
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["status"], "running");
    assert_eq!(b["engine"], "available", "{b}");
    let files = d.name("files");
    let b = stdio_server(&d, &admin, &files, FILESYSTEM_IMAGE).await;
    assert_eq!(b["engine"], "available", "{b}");

    // Docker goes away.
    proxy.stop().await;

    // Health reports it, the API keeps answering.
    let (s, b) = d.call(Method::GET, "/health", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "degraded", "{b}");
    assert_eq!(b["data"]["checks"]["docker"]["status"], "error", "{b}");
    assert_eq!(b["data"]["checks"]["database"]["status"], "ok", "{b}");

    // Operations that need Docker: 503 DOCKER_UNAVAILABLE, nothing changed.
    let other = d.name("during");
    let during = json!({"name": other, "image": BUSYBOX_IMAGE});
    expect_error(
        d.post("/services", &admin, during).await,
        503,
        "DOCKER_UNAVAILABLE",
    );
    let service = format!("/services/{id}");
    for op in ["stop", "start", "restart"] {
        let answer = d.post(&format!("{service}/{op}"), &admin, json!({})).await;
        expect_error(answer, 503, "DOCKER_UNAVAILABLE");
    }
    expect_error(d.delete(&service, &admin).await, 503, "DOCKER_UNAVAILABLE");

    // Reads still work from the database, with the last known status, and say that
    // it is only that: the engine could not be asked.
    let (s, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running", "{b}");
    assert_eq!(b["data"]["engine"], "unavailable", "{b}");
    assert_eq!(b["data"]["containers"], json!([]), "{b}");
    let (s, b) = d.get(&format!("/services?name={name}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    assert_eq!(b["data"][0]["engine"], "unavailable", "{b}");
    let (s, b) = d.get(&format!("/mcp/servers/{files}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["engine"], "unavailable", "{b}");
    let (_, b) = d.get(&format!("/mcp/servers?name={files}"), &admin).await;
    assert_eq!(b["data"][0]["engine"], "unavailable", "{b}");
    let (s, b) = d.get(&format!("/services/{other}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // The container itself was never touched.
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.State.Running}}",
            &format!("mcpd-{name}-1")
        ])
        .as_deref(),
        Some("true")
    );

    // Docker comes back: mcpd reconnects by itself.
    let _proxy = EngineProxy::start(&dir.path().join("docker.sock"));
    let b = wait_for("health ok", RECOVERY, async || {
        let (_, b) = d.call(Method::GET, "/health", None, None).await;
        (b["data"]["status"] == "ok").then_some(b)
    })
    .await;
    assert_eq!(b["data"]["checks"]["docker"]["status"], "ok");
    let (_, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(b["data"]["engine"], "available", "{b}");
    assert_eq!(
        b["data"]["containers"].as_array().map(Vec::len),
        Some(1),
        "{b}"
    );
    let (_, b) = d.get(&format!("/mcp/servers/{files}"), &admin).await;
    assert_eq!(b["data"]["engine"], "available", "{b}");
    let mut body = sleeper(&other);
    body["start"] = json!(true);
    let b = create_service(&d, &admin, body).await;
    assert_eq!(b["status"], "running");

    // The events watcher reconnects too (it reconciles first, which would restart a
    // container killed before it is back): then a container killed behind mcpd's back
    // shows up in the stored status.
    wait_for("events watcher reconnected", RECOVERY, async || {
        let n = d.log().matches("following events").count();
        (n >= 2).then_some(())
    })
    .await;
    docker(&["kill", &format!("mcpd-{name}-1")]).unwrap();
    let path = format!("/services?name={name}&status=failed");
    wait_for("events after reconnect", RECOVERY, async || {
        let (_, b) = d.get(&path, &admin).await;
        (b["meta"]["pagination"]["total"] == 1).then_some(b)
    })
    .await;

    let (s, b) = d.delete(&format!("/mcp/servers/{files}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    for svc in [&name, &other] {
        let (s, b) = d.delete(&format!("/services/{svc}"), &admin).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    }
    assert!(common::containers_named(&d.container_prefix()).is_empty());
}

#[tokio::test]
async fn daemon_starts_without_docker_and_picks_it_up_later() {
    require_docker!();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    // No proxy yet: Docker is down from the start.
    let mut d = Daemon::start_on_socket(&sock).await;
    let admin = d.admin().await;
    let (s, b) = d.call(Method::GET, "/health", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["checks"]["docker"]["status"], "error", "{b}");
    let name = d.name("late");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    let (s, b) = d.post("/services", &admin, body.clone()).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d.get("/services", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 0);

    let _proxy = EngineProxy::start(&sock);
    let b = wait_for("create once Docker is back", RECOVERY, async || {
        let (s, b) = d.post("/services", &admin, body.clone()).await;
        if s != StatusCode::CREATED {
            eprintln!("create while Docker comes back: {s} {b}");
        }
        (s == StatusCode::CREATED).then_some(b)
    })
    .await;
    assert_eq!(b["data"]["status"], "running", "{b}");
    wait_for("events watcher connected", RECOVERY, async || {
        d.log().contains("following events").then_some(())
    })
    .await;
    // The watcher's reconcile and the create both made sure the network exists: one
    // network, not two of the same name.
    let nets = common::networks_named(&d.network);
    assert_eq!(nets.len(), 1, "networks named {}: {nets:?}", d.network);
    let (s, _) = d.delete(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}
