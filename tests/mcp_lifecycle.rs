//! MCP server changes that touch Docker run to their end even when the client leaves:
//! a `DELETE /mcp/servers/{id}` or `POST …/stop` whose client disconnects half-way
//! still removes (or stops) the server, its service and its container, and is audited.
//!
//! The server is the real filesystem MCP server, made to ignore SIGTERM (a Node.js
//! `--import` hook in `NODE_OPTIONS`), so stopping its container takes the whole stop
//! timeout (2 s here) and the client (gone after 500 ms) leaves in the middle of it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{create_server, names};
use common::{Daemon, FILESYSTEM_IMAGE, containers_named, docker, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// Makes `node` ignore SIGTERM: `docker stop` then waits for its timeout and kills.
const IGNORE_SIGTERM: &str = "--import=data:text/javascript,process.on(`SIGTERM`,()=>{})";

/// A daemon whose container stops wait 2 s before SIGKILL.
async fn daemon() -> Daemon {
    Daemon::start_with_var("MCPD_DOCKER__STOP_TIMEOUT_S", "2").await
}

/// How long an abandoned change may take to finish.
const SETTLE: Duration = Duration::from_secs(30);

/// Creates a managed stdio filesystem server that is slow to stop; returns its view.
async fn stubborn_server(d: &Daemon, admin: &str, name: &str) -> Value {
    let server = create_server(
        d,
        admin,
        json!({"name": name, "image": FILESYSTEM_IMAGE, "transport": "stdio",
               "env": {"NODE_OPTIONS": IGNORE_SIGTERM}}),
    )
    .await;
    assert_eq!(server["status"], "running", "{server}");
    assert_eq!(containers_named(&format!("mcpd-{name}-")).len(), 1);
    server
}

/// A [`daemon`] with a [`stubborn_server`] named [`Daemon::name`]`(name)`: the daemon,
/// an admin token, the server's name and its view.
async fn start_stubborn(name: &str) -> (Daemon, String, String, Value) {
    let mut d = daemon().await;
    let admin = d.admin().await;
    let name = d.name(name);
    let server = stubborn_server(&d, &admin, &name).await;
    (d, admin, name, server)
}

/// Sends `method path` and leaves after 500 ms, before the answer.
async fn abandon(d: &Daemon, admin: &str, method: Method, path: &str) {
    let r = d
        .client
        .request(method, d.url(path))
        .bearer_auth(admin)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(r.is_err(), "the request was expected to time out: {r:?}");
}

/// The outcomes of the audit entries of `action` on `target_id`.
async fn outcomes(d: &Daemon, admin: &str, action: &str, target_id: &str) -> Vec<String> {
    let (s, b) = d
        .get(&format!("/audit?action={action}&limit=100"), admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]
        .as_array()
        .expect("audit entries")
        .iter()
        .filter(|e| e["target_id"] == target_id)
        .filter_map(|e| e["outcome"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_delete_abandoned_by_its_client_still_removes_server_service_and_container() {
    require_docker!();
    let (d, admin, name, server) = start_stubborn("gone").await;
    let id = server["id"].as_str().unwrap().to_string();
    let service_id = server["backend"]["service_id"]
        .as_str()
        .unwrap()
        .to_string();

    abandon(&d, &admin, Method::DELETE, &format!("/mcp/servers/{id}")).await;

    wait_for("the abandoned delete to finish", SETTLE, async || {
        let (_, servers) = d.get("/mcp/servers?limit=100", &admin).await;
        let (_, services) = d.get("/services?limit=100", &admin).await;
        (!names(&servers).contains(&name)
            && !names(&services).contains(&name)
            && containers_named(&format!("mcpd-{name}-")).is_empty())
        .then_some(())
    })
    .await;
    let (s, _) = d.get(&format!("/mcp/servers/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = d.get(&format!("/services/{service_id}"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        outcomes(&d, &admin, "mcp.servers.delete", &id).await,
        ["success"]
    );
    assert_eq!(
        outcomes(&d, &admin, "services.delete", &service_id).await,
        ["success"]
    );
}

#[tokio::test]
async fn a_stop_abandoned_by_its_client_still_stops_the_server_and_its_container() {
    require_docker!();
    let (d, admin, name, server) = start_stubborn("halt").await;
    let id = server["id"].as_str().unwrap().to_string();
    let containers = d.container_ids(&admin, &name).await;
    assert_eq!(containers.len(), 1, "{containers:?}");

    abandon(&d, &admin, Method::POST, &format!("/mcp/servers/{id}/stop")).await;

    wait_for("the abandoned stop to be audited", SETTLE, async || {
        (outcomes(&d, &admin, "mcp.servers.stop", &id).await == ["success"]).then_some(())
    })
    .await;
    let (s, b) = d.get(&format!("/mcp/servers/{id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "stopped", "{b}");
    let (_, svc) = d.get(&format!("/services/{name}"), &admin).await;
    assert_eq!(svc["data"]["desired_state"], "stopped", "{svc}");
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &containers[0]]);
    assert_eq!(running.as_deref(), Some("false"), "container still running");

    // The server is still usable afterwards: it starts again and answers.
    let (s, b) = d
        .post(&format!("/mcp/servers/{id}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running", "{b}");
    let (s, b) = d.delete(&format!("/mcp/servers/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
}
