//! Execution semantics on the real `server-everything` reference server
//! (`mcpd-test/mcp-everything:1`): tools, structured content, resources, prompts, a
//! JSON-RPC error, unknown tool, timeout with cancellation, 20 concurrent calls on one
//! stdio session, stopped server, roles, a daemon restart with the container still
//! running, streamable HTTP (managed and remote), and bad inputs that change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{create_server, patch_server, tool};
use common::{Daemon, EVERYTHING_IMAGE, assert_error, containers_named, docker, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

async fn echo(d: &Daemon, token: &str, server: &str, message: &str) -> String {
    let (s, b) = tool(d, token, server, "echo", json!({"message": message})).await;
    assert_eq!(s, StatusCode::OK, "echo: {b}");
    b["data"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn everything_server_tools_resources_prompts_and_errors() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("every");
    let server = create_server(
        &d,
        &admin,
        json!({"name": name, "image": EVERYTHING_IMAGE, "transport": "stdio"}),
    )
    .await;
    assert_eq!(server["server_info"]["name"], "mcp-servers/everything");
    assert!(server["resources_count"].as_u64().unwrap() >= 7, "{server}");
    assert!(server["prompts_count"].as_u64().unwrap() >= 1, "{server}");
    assert!(server["capabilities"]["tools"].is_object(), "{server}");

    let names = common::mcp::tool_names(&d, &admin, &name).await;
    for t in [
        "echo",
        "get-sum",
        "trigger-long-running-operation",
        "get-structured-content",
    ] {
        assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
    }
    // Paging of the cached list.
    let (_, page) = d
        .get(&format!("/mcp/servers/{name}/tools?limit=2&page=2"), &admin)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["meta"]["pagination"]["total"], names.len());

    assert_eq!(echo(&d, &admin, &name, "hi there").await, "Echo: hi there");

    let (s, b) = tool(&d, &admin, &name, "get-sum", json!({"a": 2, "b": 40})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["data"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("42"),
        "{b}"
    );

    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "get-structured-content",
        json!({"location": "New York"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["data"]["structured_content"]["temperature"].is_number(),
        "{b}"
    );

    // Resources: the cached list, then a read.
    let (s, res) = d
        .get(&format!("/mcp/servers/{name}/resources?limit=100"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    let uri = res["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .find(|u| u.starts_with("demo://resource/static/document/"))
        .expect("a static document resource")
        .to_string();
    let (s, b) = d
        .post(
            "/mcp/execute/resource",
            &admin,
            json!({"server": name, "uri": uri}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["contents"][0]["uri"], uri.as_str());
    assert!(
        !b["data"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let (s, all) = d.get("/mcp/resources?limit=100", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["uri"] == uri.as_str() && r["server_name"] == name.as_str())
    );
    let (s, t) = d
        .get(&format!("/mcp/servers/{name}/resource-templates"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!t["data"].as_array().unwrap().is_empty(), "{t}");

    // Prompts.
    let (s, b) = d
        .post(
            "/mcp/execute/prompt",
            &admin,
            json!({"server": name, "prompt": "args-prompt", "arguments": {"city": "Paris"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["data"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Paris"),
        "{b}"
    );
    let (s, b) = d
        .post(
            "/mcp/execute/prompt",
            &admin,
            json!({"server": name, "prompt": "no-such-prompt"}),
        )
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // A JSON-RPC error from the server (unknown resource) → 502 with the code in details.
    let (s, b) = d
        .post(
            "/mcp/execute/resource",
            &admin,
            json!({"server": name, "uri": "demo://resource/static/document/nope.md"}),
        )
        .await;
    let e = assert_error(s, &b, 502, "MCP_SERVICE_ERROR");
    assert!(
        e["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["field"] == "jsonrpc_code"),
        "{e}"
    );

    // Unknown tool → 404, and logged against the server.
    let (s, b) = tool(&d, &admin, &name, "no-such-tool", json!({})).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // Unknown server → 404.
    let (s, b) = tool(
        &d,
        &admin,
        "no-such-server",
        "echo",
        json!({"message": "x"}),
    )
    .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Timeout: the long-running tool outlives timeout_s → 504, and the session stays usable.
    let started = Instant::now();
    let (s, b) = d
        .post(
            "/mcp/execute/tool",
            &admin,
            json!({"server": name, "tool": "trigger-long-running-operation", "arguments": {"duration": 5, "steps": 5}, "timeout_s": 1}),
        )
        .await;
    assert_error(s, &b, 504, "MCP_TIMEOUT");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        echo(&d, &admin, &name, "after timeout").await,
        "Echo: after timeout"
    );

    // Errors are request log rows with their codes.
    let (s, logs) = d
        .get(
            &format!("/logs/requests?server={name}&status=error&limit=100"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let codes: Vec<&str> = logs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error_code"].as_str().unwrap())
        .collect();
    for c in ["RESOURCE_NOT_FOUND", "MCP_SERVICE_ERROR", "MCP_TIMEOUT"] {
        assert!(codes.contains(&c), "{c} not in {codes:?}");
    }
    let (_, kinds) = d
        .get(&format!("/logs/requests?server={name}&kind=prompt"), &admin)
        .await;
    assert_eq!(kinds["meta"]["pagination"]["total"], 2, "{kinds}");

    // test and discover.
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/test"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["ok"], true);
    assert!(b["data"]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(b["data"]["protocol_version"].is_string());
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/discover"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["tools_count"], names.len());

    // Stop → 503 on execution (logged); start → works again.
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "stopped");
    let (s, b) = tool(&d, &admin, &name, "echo", json!({"message": "x"})).await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running");
    assert_eq!(echo(&d, &admin, &name, "back").await, "Echo: back");
    // Restart re-establishes the session on the restarted container.
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/restart"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        echo(&d, &admin, &name, "restarted").await,
        "Echo: restarted"
    );
    let (_, list) = d
        .get("/mcp/servers?status=running&transport=stdio", &admin)
        .await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == name.as_str()),
        "{list}"
    );

    // Roles: a viewer reads but cannot execute; a developer executes and sees only
    // their own request log rows.
    let viewer = d.user_with_roles("viewer1", &["viewer"]).await;
    let (s, _) = d.get(&format!("/mcp/servers/{name}"), &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = tool(&d, &viewer, &name, "echo", json!({"message": "x"})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/stop"), &viewer, json!({}))
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let dev = d.user_with_roles("dev1", &["developer"]).await;
    assert_eq!(echo(&d, &dev, &name, "from dev").await, "Echo: from dev");
    let (s, mine) = d.get("/logs/requests?limit=100", &dev).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["meta"]["pagination"]["total"], 1, "{mine}");
    let (s, b) = d.get("/logs/requests", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["meta"]["pagination"]["total"], 0);
    let (s, b) = d.call(Method::GET, "/logs/requests", None, None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_call_whose_client_goes_away_is_cancelled_and_logged() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("gone");
    create_server(&d, &admin, json!({"name": name, "image": EVERYTHING_IMAGE})).await;
    const LONG: &str = "trigger-long-running-operation";
    let started = Instant::now();
    let r = d
        .client
        .post(d.url("/mcp/execute/tool"))
        .bearer_auth(&admin)
        .timeout(Duration::from_secs(1))
        .json(&json!({"server": name, "tool": LONG, "arguments": {"duration": 30, "steps": 30}}))
        .send()
        .await;
    assert!(r.is_err(), "the request was expected to time out: {r:?}");
    // The row is written when the cancelled call ends, long before the 30 s operation.
    let rows = format!("/logs/requests?server={name}&name={LONG}");
    let within = Duration::from_secs(15).saturating_sub(started.elapsed());
    let row = wait_for(
        "a request log row for the abandoned call",
        within,
        async || {
            let (s, b) = d.get(&rows, &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            b["data"].as_array().and_then(|rows| rows.first()).cloned()
        },
    )
    .await;
    assert_eq!(row["error_code"], "CANCELLED", "{row}");
    assert!(row["duration_ms"].as_u64().unwrap() < 15_000, "{row}");
    // The shared session goes on serving.
    assert_eq!(
        echo(&d, &admin, &name, "still here").await,
        "Echo: still here"
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_session_and_survive_a_daemon_restart() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("conc");
    create_server(&d, &admin, json!({"name": name, "image": EVERYTHING_IMAGE})).await;
    let before = d.container_ids(&admin, &name).await;
    assert_eq!(before.len(), 1);

    let calls = (0..20).map(|i| {
        let (d, admin, name) = (&d, &admin, &name);
        async move {
            (
                i,
                tool(d, admin, name, "echo", json!({"message": format!("m{i}")})).await,
            )
        }
    });
    let mut log_ids = std::collections::HashSet::new();
    for (i, (s, b)) in futures::future::join_all(calls).await {
        assert_eq!(s, StatusCode::OK, "call {i}: {b}");
        assert_eq!(b["data"]["content"][0]["text"], format!("Echo: m{i}"));
        // Rows of concurrent calls share commits; each call gets its own row back,
        // readable as soon as the response is out.
        let id = b["data"]["request_log_id"].as_str().unwrap().to_string();
        let (s, row) = d.get(&format!("/logs/requests/{id}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{row}");
        assert_eq!(
            row["data"]["arguments"]["message"],
            format!("m{i}"),
            "{row}"
        );
        assert_eq!(row["data"]["status"], "success", "{row}");
        log_ids.insert(id);
    }
    assert_eq!(log_ids.len(), 20);
    assert_eq!(containers_named(&format!("mcpd-{name}-")).len(), 1);
    // One attach session: the daemon opened exactly one.
    let opened = d
        .log()
        .lines()
        .filter(|l| l.contains("MCP session opened") && l.contains(name.as_str()))
        .count();
    assert_eq!(opened, 1, "{}", d.log());

    d.restart().await;
    let admin = d.admin().await;
    assert_eq!(
        echo(&d, &admin, &name, "after restart").await,
        "Echo: after restart"
    );
    assert_eq!(
        d.container_ids(&admin, &name).await,
        before,
        "container must not be recreated"
    );
    assert_eq!(containers_named(&format!("mcpd-{name}-")).len(), 1);
}

#[tokio::test]
async fn streamable_http_managed_and_remote() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("http");
    let server = create_server(
        &d,
        &admin,
        json!({"name": name, "image": EVERYTHING_IMAGE, "args": ["streamableHttp"],
               "transport": "streamable_http", "port": 3001, "path": "/mcp"}),
    )
    .await;
    assert_eq!(server["transport"], "streamable_http");
    assert_eq!(server["backend"]["port"], 3001);
    assert_eq!(
        echo(&d, &admin, &name, "over http").await,
        "Echo: over http"
    );

    // The same endpoint as a remote server, with a header whose value is never shown.
    let container = &d.container_ids(&admin, &name).await[0];
    let ip = docker(&[
        "inspect",
        "-f",
        &format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            d.network
        ),
        container,
    ])
    .expect("container ip");
    let remote = d.name("remote");
    let secret = "s3cret-header-value";
    let r = create_server(
        &d,
        &admin,
        json!({"name": remote, "url": format!("http://{ip}:3001/mcp"), "headers": {"X-Api-Token": secret}}),
    )
    .await;
    assert_eq!(r["backend"]["type"], "remote");
    assert_eq!(r["backend"]["headers"], json!(["X-Api-Token"]));
    assert!(!r.to_string().contains(secret));
    assert_eq!(echo(&d, &admin, &remote, "remote").await, "Echo: remote");
    let (_, got) = d.get(&format!("/mcp/servers/{remote}"), &admin).await;
    assert!(!got.to_string().contains(secret));
    // Header values are sealed by the vault: not in the database files in clear.
    for f in ["mcpd.db", "mcpd.db-wal"] {
        let bytes = std::fs::read(d.data_path(f)).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{f} holds the header value"
        );
    }
    // Stopping a remote server disables it.
    let (s, _) = d
        .post(&format!("/mcp/servers/{remote}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = tool(&d, &admin, &remote, "echo", json!({"message": "x"})).await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
    // PATCH replaces the headers (names shown, values never) and the session reopens.
    let (s, b) = patch_server(
        &d,
        &admin,
        &remote,
        json!({"headers": {"Authorization": "Bearer other-secret"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["backend"]["headers"], json!(["Authorization"]));
    assert!(!b.to_string().contains("other-secret"));
    let (s, b) = patch_server(&d, &admin, &remote, json!({"url": "not a url"})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, _) = d
        .post(&format!("/mcp/servers/{remote}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(echo(&d, &admin, &remote, "patched").await, "Echo: patched");
    // Header values may refer to secret config entries, resolved when the session
    // opens; an unknown key is refused, a key deleted later makes the server unconfigured.
    let key = format!("t{}.remote-token", d.tag);
    let (s, b) = d
        .put(
            &format!("/config/{key}"),
            &admin,
            json!({"value": "tok-789", "secret": true}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let (s, b) = patch_server(
        &d,
        &admin,
        &remote,
        json!({"headers": {"Authorization": "Bearer ${secret:no.such.key}"}}),
    )
    .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "headers.Authorization", "{e}");
    let (s, b) = patch_server(
        &d,
        &admin,
        &remote,
        json!({"headers": {"Authorization": format!("Bearer ${{secret:{key}}}")}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        echo(&d, &admin, &remote, "with secret").await,
        "Echo: with secret"
    );
    // What goes on the wire is the resolved value: a listener stands in for the server.
    let spy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spy_addr = spy.local_addr().unwrap();
    let captured = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = spy.accept().await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let n = sock.read(&mut buf).await.unwrap();
        let _ = sock
            .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        String::from_utf8_lossy(&buf[..n]).to_lowercase()
    });
    let spy_name = d.name("spy");
    create_server(
        &d,
        &admin,
        json!({"name": spy_name, "url": format!("http://{spy_addr}/mcp"),
                   "headers": {"Authorization": format!("Bearer ${{secret:{key}}}")}}),
    )
    .await;
    let request = tokio::time::timeout(Duration::from_secs(10), captured)
        .await
        .expect("mcpd connected to the spy")
        .unwrap();
    assert!(
        request.contains("authorization: bearer tok-789"),
        "{request}"
    );
    let (s, _) = d.delete(&format!("/mcp/servers/{spy_name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.delete(&format!("/config/{key}"), &admin).await;
    assert!(s.is_success(), "{b}");
    let (s, _) = d
        .post(&format!("/mcp/servers/{remote}/restart"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = tool(&d, &admin, &remote, "echo", json!({"message": "x"})).await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNCONFIGURED");
    let (_, list) = d.get("/mcp/servers?backend=remote", &admin).await;
    assert_eq!(list["meta"]["pagination"]["total"], 1, "{list}");
    // A remote server that does not answer is stored; executing on it is a 503.
    let gone = d.name("gone");
    let g = create_server(
        &d,
        &admin,
        json!({"name": gone, "url": "http://127.0.0.1:9/mcp"}),
    )
    .await;
    assert_eq!(g["tools_count"], 0);
    let (s, b) = tool(&d, &admin, &gone, "echo", json!({"message": "x"})).await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
    let (s, b) = d
        .post(&format!("/mcp/servers/{gone}/test"), &admin, json!({}))
        .await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
    let (s, _) = d.delete(&format!("/mcp/servers/{gone}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = d.delete(&format!("/mcp/servers/{remote}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());
}

#[tokio::test]
async fn bad_inputs_are_400_and_create_nothing() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("bad");
    let cases = [
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "bogus": 1}),
            "bogus",
        ),
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "url": "http://127.0.0.1:1/mcp"}),
            "url",
        ),
        (json!({"name": name}), "image"),
        (json!({"image": EVERYTHING_IMAGE}), "name"),
        (json!({"name": 5, "image": EVERYTHING_IMAGE}), "name"),
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "transport": "carrier-pigeon"}),
            "transport",
        ),
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "port": 3001}),
            "port",
        ),
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "transport": "streamable_http"}),
            "port",
        ),
        (
            json!({"name": name, "image": EVERYTHING_IMAGE, "args": "stdio"}),
            "args",
        ),
        (
            json!({"name": name, "url": "http://127.0.0.1:1/mcp", "env": {"A": "b"}}),
            "env",
        ),
        (json!({"name": name, "url": "ftp://example"}), "url"),
        (
            json!({"name": "Bad Name!", "image": EVERYTHING_IMAGE}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let (s, b) = d.post("/mcp/servers", &admin, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert!(
            e["details"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["field"] == field)),
            "{body} should name {field}: {e}"
        );
    }
    // An image that does not exist: the services domain refuses; nothing is left.
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "image": "mcpd-test/no-such-image:1"}),
        )
        .await;
    assert!(s.is_client_error(), "{s} {b}");
    // A container that is not an MCP server (busybox sh exits at once without a TTY... or
    // never answers initialize): the create fails and removes its service.
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "image": common::BUSYBOX_IMAGE, "args": ["sleep", "3600"]}),
        )
        .await;
    assert!(s.is_client_error() || s.is_server_error(), "{s} {b}");
    let (_, list) = d.get("/mcp/servers", &admin).await;
    assert_eq!(list["meta"]["pagination"]["total"], 0, "{list}");
    // The failed creates are audited as failures (written just after the reply).
    let audited = "/audit?action=mcp.servers.create&outcome=failure";
    let failures = wait_for(
        "two failed creates audited",
        Duration::from_secs(2),
        async || {
            let (s, b) = d.get(audited, &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let failures = b["meta"]["pagination"]["total"].as_u64().unwrap();
            (failures >= 2).then_some(failures)
        },
    )
    .await;
    assert_eq!(failures, 2);
    let (s, _) = d.get(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());

    // Execution bad inputs.
    for body in [
        json!({"server": name, "tool": "echo", "bogus": true}),
        json!({"tool": "echo"}),
        json!({"server": name, "tool": 5}),
        json!({"server": name, "tool": "echo", "arguments": "not an object"}),
        json!({"server": name, "tool": "echo", "timeout_s": 0}),
    ] {
        let (s, b) = d.post("/mcp/execute/tool", &admin, body.clone()).await;
        assert_error(s, &b, 400, "VALIDATION_ERROR");
    }
    let (s, b) = d.get("/mcp/servers?colour=red", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");

    // Duplicate name → 409; the first server is untouched.
    create_server(&d, &admin, json!({"name": name, "image": EVERYTHING_IMAGE})).await;
    for again in [
        json!({"name": name, "image": EVERYTHING_IMAGE}),
        json!({"name": name, "url": "http://127.0.0.1:1/mcp"}),
    ] {
        let (s, b) = d.post("/mcp/servers", &admin, again).await;
        assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");
    }
    assert_eq!(containers_named(&format!("mcpd-{name}-")).len(), 1);
    // timeout_s above the cap.
    let (s, b) = d
        .post("/mcp/execute/tool", &admin, json!({"server": name, "tool": "echo", "arguments": {"message": "x"}, "timeout_s": 100000}))
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    // PATCH of a managed stdio server's url is refused; unknown fields too.
    let (s, b) = patch_server(&d, &admin, &name, json!({"url": "http://x/mcp"})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = patch_server(&d, &admin, &name, json!({"name": "other"})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    // The managed service cannot be deleted behind the server's back through /services? It
    // can only be removed with the server.
    let (s, b) = tool(&d, &admin, &name, "echo", json!({"message": "last"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());
    let (s, b) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // The call right before does not keep the server alive in memory.
    let (s, b) = tool(&d, &admin, &name, "echo", json!({"message": "gone"})).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d
        .post_anonymous("/mcp/servers", json!({"name": "x", "image": "y"}))
        .await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn request_logs_cap_and_redact_and_sessions_follow_a_container_restart() {
    require_docker!();
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_MCP__REQUEST_LOG_PAYLOAD_CAP_BYTES", "200").await;
    let name = d.name("cap");
    create_server(&d, &admin, json!({"name": name, "image": EVERYTHING_IMAGE})).await;

    // Secret-looking argument values never reach the request log; big payloads are cut.
    let long = "x".repeat(1000);
    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "echo",
        json!({"message": long, "api_key": "k-123-secret", "nested": {"password": "hunter2"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let id = b["data"]["request_log_id"].as_str().unwrap().to_string();
    let (s, row) = d.get(&format!("/logs/requests/{id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{row}");
    let row = &row["data"];
    assert_eq!(row["truncated"], true, "{row}");
    assert!(row["request_bytes"].as_u64().unwrap() > 1000);
    assert!(row["response_bytes"].as_u64().unwrap() > 1000);
    let stored = row.to_string();
    assert!(
        !stored.contains("k-123-secret") && !stored.contains("hunter2"),
        "{stored}"
    );
    assert!(row["arguments"].as_str().unwrap().len() <= 200);
    assert!(row["result"].as_str().unwrap().len() <= 200);

    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "echo",
        json!({"message": "short", "token": "t-456"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let id = b["data"]["request_log_id"].as_str().unwrap();
    let (_, row) = d.get(&format!("/logs/requests/{id}"), &admin).await;
    assert_eq!(row["data"]["truncated"], false);
    assert_eq!(row["data"]["arguments"]["token"], "[REDACTED]");
    assert_eq!(row["data"]["arguments"]["message"], "short");

    // The backing service belongs to the server: /services refuses to delete it.
    let (s, b) = d.delete(&format!("/services/{name}"), &admin).await;
    assert_error(s, &b, 409, "CONFLICT");

    // Restarting the container behind mcpd's back ends the attach; the next calls open
    // a new session on the same container.
    let before = d.container_ids(&admin, &name).await;
    docker(&["restart", "-t", "1", &before[0]]).expect("docker restart");
    let what = "a new session after a container restart";
    let b = wait_for(what, Duration::from_secs(20), async || {
        let (s, b) = tool(&d, &admin, &name, "echo", json!({"message": "again"})).await;
        if s == StatusCode::OK {
            return Some(b);
        }
        assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
        None
    })
    .await;
    assert_eq!(b["data"]["content"][0]["text"], "Echo: again");
    assert_eq!(d.container_ids(&admin, &name).await, before);
}
