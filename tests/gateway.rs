//! The MCP gateway at `/mcp`, driven by two independent MCP clients over streamable
//! HTTP on the daemon's TLS port: rmcp's client and the Python MCP SDK (PyPI `mcp`,
//! set up by tests/setup/python-mcp.sh; its client script is tests/gateway/python_client.py).
//! Behind the gateway run the real `server-everything` and `server-filesystem` images.
//! Checked: namespaced listing, tool calls (including a tool's own `isError`), a
//! resource read, a prompt, unknown tools, a stopped server, a viewer who may list but
//! not call, a developer narrowed by workspace grants, 401 without or with bad
//! credentials, an API key, the request log rows with the caller's user id, and a call
//! the client cancels ending behind the gateway too; list-changed notifications (on an
//! `initialize`d session and on a 2026-07-28 `subscriptions/listen` stream) sent when,
//! and only when, what the caller may see changes; cursor pagination of the lists;
//! resource subscriptions relayed from the server (and refused as reads are).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::stdio_server;
use common::{Daemon, EVERYTHING_IMAGE, FILESYSTEM_IMAGE, wait_for};
use reqwest::StatusCode;
use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams,
    SubscribeRequestParams,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceError, ServiceExt};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

type Client = RunningService<RoleClient, ()>;

fn gateway_url(d: &Daemon) -> String {
    d.base.replace("/api/v1", "/mcp")
}

/// An rmcp streamable HTTP client session on `/mcp`, authenticated with `token`.
async fn connect(d: &Daemon, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(gateway_url(d)).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(d.client.clone(), config);
    ().serve(transport)
        .await
        .unwrap_or_else(|e| panic!("initialize through /mcp: {e}\nlog:\n{}", d.log()))
}

/// A developer who sees only what workspace `team` grants: the default workspace is
/// closed (`all_servers: false`), `team` is created with the developer as its member.
/// Returns the developer's name and token.
async fn team_developer(d: &mut Daemon, admin: &str, team: &str) -> (String, String) {
    let dev_name = d.name("dev");
    let dev = d.user_with_roles(&dev_name, &["developer"]).await;
    let (s, b) = d
        .patch("/workspaces/default", admin, json!({"all_servers": false}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d.post("/workspaces", admin, json!({"name": team})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = d
        .post(
            &format!("/workspaces/{team}/members"),
            admin,
            json!({"user": dev_name}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    (dev_name, dev)
}

fn text(content: &Value) -> String {
    content[0]["text"].as_str().unwrap_or_default().to_string()
}

/// The names of every tool `c` lists through the gateway.
async fn listed_tools(c: &Client) -> Vec<String> {
    let tools = c.peer().list_all_tools().await.expect("tools/list");
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// The JSON-RPC error of a failed call.
fn rpc_error(r: Result<impl std::fmt::Debug, ServiceError>) -> rmcp::ErrorData {
    match r {
        Err(ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

async fn tool(
    c: &Client,
    name: &str,
    args: Value,
) -> Result<rmcp::model::CallToolResult, ServiceError> {
    let args = args.as_object().cloned().unwrap_or_default();
    c.peer()
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(args))
        .await
}

/// The request log rows of `server` (newest first).
async fn log_rows(d: &Daemon, admin: &str, server: &str) -> Vec<Value> {
    let (s, b) = d
        .get(&format!("/logs/requests?server={server}&limit=100"), admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"].as_array().unwrap().clone()
}

async fn user_id(d: &Daemon, token: &str) -> String {
    let (s, me) = d.get("/users/me", token).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    me["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn rmcp_and_python_clients_use_the_running_servers_through_the_gateway() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let every = d.name("every");
    let fs = d.name("fs");
    stdio_server(&d, &admin, &every, EVERYTHING_IMAGE).await;
    stdio_server(&d, &admin, &fs, FILESYSTEM_IMAGE).await;
    let admin_id = user_id(&d, &admin).await;

    // rmcp's client.
    let c = connect(&d, &admin).await;
    let info = c.peer().peer_info().expect("initialize result");
    assert_eq!(info.server_info.as_ref().unwrap().name, "mcpd");
    assert!(info.capabilities.tools.is_some(), "{info:?}");

    let tools = c.peer().list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for want in [
        format!("{every}__echo"),
        format!("{fs}__read_text_file"),
        format!("{fs}__list_directory"),
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(&format!("{every}__")) || n.starts_with(&format!("{fs}__"))),
        "{names:?}"
    );
    let echo_def = tools
        .iter()
        .find(|t| t.name == format!("{every}__echo"))
        .unwrap();
    assert!(
        echo_def.input_schema.contains_key("properties"),
        "{echo_def:?}"
    );
    let meta = serde_json::to_value(&echo_def.meta).unwrap();
    assert_eq!(meta["io.mcpd/server"], every.as_str(), "{meta}");

    let r = tool(
        &c,
        &format!("{every}__echo"),
        json!({"message": "via gateway"}),
    )
    .await
    .expect("echo");
    let content = serde_json::to_value(&r.content).unwrap();
    assert_eq!(text(&content), "Echo: via gateway");
    assert_eq!(r.is_error, Some(false));

    let r = tool(
        &c,
        &format!("{fs}__read_text_file"),
        json!({"path": "/data/hello.txt"}),
    )
    .await
    .expect("read_text_file");
    assert_eq!(
        text(&serde_json::to_value(&r.content).unwrap()),
        "hello from mcpd\n"
    );

    // The tool's own failure stays a result with isError.
    let r = tool(
        &c,
        &format!("{fs}__read_text_file"),
        json!({"path": "/etc/passwd"}),
    )
    .await
    .expect("a tool failure is a result");
    assert_eq!(r.is_error, Some(true), "{r:?}");

    // Resources keep their URIs and are read from the server that listed them.
    let resources = c.peer().list_all_resources().await.expect("resources/list");
    let uri = resources
        .iter()
        .map(|r| r.uri.clone())
        .filter(|u| u.starts_with("demo://resource/static/document/"))
        .min()
        .expect("a static document resource");
    let read = c
        .peer()
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .expect("resources/read");
    let contents = serde_json::to_value(&read.contents).unwrap();
    assert_eq!(contents[0]["uri"], uri.as_str(), "{contents}");
    assert!(
        contents[0]["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{contents}"
    );
    let e = rpc_error(
        c.peer()
            .read_resource(ReadResourceRequestParams::new("nowhere://x"))
            .await,
    );
    assert_eq!(e.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND, "{e:?}");

    // Prompts are namespaced like tools.
    let prompts = c.peer().list_all_prompts().await.expect("prompts/list");
    let prompt = format!("{every}__args-prompt");
    assert!(prompts.iter().any(|p| p.name == prompt), "{prompts:?}");
    let args = json!({"city": "Paris"}).as_object().cloned().unwrap();
    let got = c
        .peer()
        .get_prompt(GetPromptRequestParams::new(prompt).with_arguments(args))
        .await
        .expect("prompts/get");
    let messages = serde_json::to_value(&got.messages).unwrap();
    assert!(
        text(&json!([messages[0]["content"]])).contains("Paris"),
        "{messages}"
    );

    // Unknown tools: an unknown name on a known server, an unknown server, no namespace.
    for name in [
        format!("{every}__no-such-tool"),
        "nosuchserver__echo".to_string(),
        "echo".to_string(),
    ] {
        let e = rpc_error(tool(&c, &name, json!({})).await);
        assert_eq!(
            e.code,
            rmcp::model::ErrorCode::INVALID_PARAMS,
            "{name}: {e:?}"
        );
        assert_eq!(
            e.data.as_ref().unwrap()["code"],
            "RESOURCE_NOT_FOUND",
            "{e:?}"
        );
    }

    // An API key works as X-API-Key, and the Python SDK is an independent client.
    let (key_id, key) = d.api_key(&admin, "gateway", &["mcp:execute"]).await;
    if let Some(out) = python(&d, &[("MCPD_API_KEY", &key)], &["full", &every, &fs]) {
        assert!(
            out.get("failed").is_none(),
            "python client: {out}\nlog:\n{}",
            d.log()
        );
        eprintln!("python client saw: {out}");
        assert_eq!(out["server_info"]["name"], "mcpd", "{out}");
        assert!(out["protocol_version"].is_string(), "{out}");
        let names: Vec<&str> = out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(names.contains(&format!("{every}__echo").as_str()), "{out}");
        assert!(
            names.contains(&format!("{fs}__read_text_file").as_str()),
            "{out}"
        );
        assert_eq!(text(&out["echo"]["content"]), "Echo: from python", "{out}");
        assert_eq!(
            text(&out["read_text_file"]["content"]),
            "hello from mcpd\n",
            "{out}"
        );
        assert_eq!(out["read_outside"]["isError"], true, "{out}");
        assert!(out["resource"]["contents"][0]["text"].is_string(), "{out}");
        assert!(
            out["prompts"]
                .as_array()
                .unwrap()
                .contains(&json!(format!("{every}__args-prompt"))),
            "{out}"
        );
        assert!(
            text(&json!([out["prompt"]["messages"][0]["content"]])).contains("Paris"),
            "{out}"
        );
        assert_eq!(out["unknown_tool_error"]["code"], -32602, "{out}");
    }

    // Every call made through the gateway is in the request log, with the caller.
    let rows = log_rows(&d, &admin, &every).await;
    let echo_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["kind"] == "tool" && r["name"] == "echo")
        .collect();
    assert!(!echo_rows.is_empty(), "{rows:?}");
    assert!(
        echo_rows.iter().all(|r| r["user_id"] == admin_id.as_str()),
        "{echo_rows:?}"
    );
    assert!(
        echo_rows.iter().any(|r| r["api_key_id"].is_null()),
        "{echo_rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "resource" && r["name"] == uri.as_str()),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "prompt" && r["name"] == "args-prompt"),
        "{rows:?}"
    );
    let fs_rows = log_rows(&d, &admin, &fs).await;
    let reads: Vec<&Value> = fs_rows
        .iter()
        .filter(|r| r["name"] == "read_text_file")
        .collect();
    assert!(reads.len() >= 2, "{fs_rows:?}");
    assert!(
        reads
            .iter()
            .all(|r| r["user_id"] == admin_id.as_str() && r["status"] == "success"),
        "{reads:?}"
    );
    if python_available() {
        assert!(
            echo_rows.iter().any(|r| r["api_key_id"] == key_id.as_str()),
            "the Python client's call was logged with its API key: {echo_rows:?}"
        );
    }

    // A viewer may list but not call (and the refusal is logged nowhere as a call).
    let viewer = d.user_with_roles(&d.name("viewer"), &["viewer"]).await;
    let v = connect(&d, &viewer).await;
    let listed = v.peer().list_all_tools().await.expect("viewer lists tools");
    assert!(listed.iter().any(|t| t.name == format!("{every}__echo")));
    let e = rpc_error(tool(&v, &format!("{every}__echo"), json!({"message": "no"})).await);
    assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_REQUEST, "{e:?}");
    assert_eq!(e.data.as_ref().unwrap()["code"], "FORBIDDEN", "{e:?}");
    assert!(e.message.contains("mcp:execute"), "{e:?}");
    if let Some(out) = python(&d, &[("MCPD_TOKEN", &viewer)], &["viewer", &every]) {
        assert!(out.get("failed").is_none(), "python client: {out}");
        assert!(!out["tools"].as_array().unwrap().is_empty(), "{out}");
        assert!(out.get("echo").is_none(), "{out}");
        assert_eq!(out["echo_error"]["data"]["code"], "FORBIDDEN", "{out}");
    }
    let viewer_id = user_id(&d, &viewer).await;
    assert!(
        log_rows(&d, &admin, &every)
            .await
            .iter()
            .all(|r| r["user_id"] != viewer_id.as_str()),
        "a refused call is not executed"
    );
    v.cancel().await.ok();

    // Workspaces narrow what a non-admin sees and uses through the gateway as well:
    // close the default workspace, grant a team only `echo` on everything.
    let (_, dev) = team_developer(&mut d, &admin, "gw-team").await;
    let (s, b) = d
        .post(
            "/workspaces/gw-team/access",
            &admin,
            json!({"server": every, "allowed_tools": ["echo"], "allowed_resources": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let w = connect(&d, &dev).await;
    let names = listed_tools(&w).await;
    assert_eq!(names, [format!("{every}__echo")]);
    assert!(w.peer().list_all_resources().await.unwrap().is_empty());
    let r = tool(&w, &format!("{every}__echo"), json!({"message": "granted"}))
        .await
        .expect("granted echo");
    assert_eq!(
        text(&serde_json::to_value(&r.content).unwrap()),
        "Echo: granted"
    );
    for name in [format!("{every}__get-sum"), format!("{fs}__read_text_file")] {
        let e = rpc_error(tool(&w, &name, json!({"path": "/data/hello.txt"})).await);
        assert_eq!(
            e.code,
            rmcp::model::ErrorCode::INVALID_PARAMS,
            "{name}: {e:?}"
        );
    }
    let e = rpc_error(
        w.peer()
            .read_resource(ReadResourceRequestParams::new(uri.clone()))
            .await,
    );
    assert_eq!(e.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND, "{e:?}");
    // Subscribing is reading over time: refused exactly as the read was.
    #[allow(deprecated)] // resources/subscribe is legacy-only in rmcp (before 2026-07-28)
    let refused = w
        .peer()
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await;
    let sub_e = rpc_error(refused);
    assert_eq!(
        (sub_e.code, &sub_e.message, &sub_e.data),
        (e.code, &e.message, &e.data)
    );
    w.cancel().await.ok();

    // A stopped server's tools leave the list; calling one says it is not running.
    let (s, b) = d
        .post(&format!("/mcp/servers/{fs}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let names = listed_tools(&c).await;
    assert!(
        names.iter().all(|n| !n.starts_with(&format!("{fs}__"))),
        "{names:?}"
    );
    assert!(names.contains(&format!("{every}__echo")));
    let e = rpc_error(
        tool(
            &c,
            &format!("{fs}__read_text_file"),
            json!({"path": "/data/hello.txt"}),
        )
        .await,
    );
    assert_eq!(e.code, rmcp::model::ErrorCode::INTERNAL_ERROR, "{e:?}");
    assert_eq!(
        e.data.as_ref().unwrap()["code"],
        "MCP_SERVICE_UNAVAILABLE",
        "{e:?}"
    );
    assert!(e.message.contains("not running"), "{e:?}");
    c.cancel().await.ok();
}

#[tokio::test]
async fn gateway_requires_credentials() {
    let (mut d, admin) = Daemon::start_admin().await;
    let viewer = d.user_with_roles("gw-viewer", &["viewer"]).await;
    let (_, services_key) = d.api_key(&admin, "services-only", &["services:read"]).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let send = |token: Option<&str>| {
        let mut req = d
            .client
            .post(gateway_url(&d))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    for (token, code, challenge) in [
        (None, "UNAUTHORIZED", r#"Bearer realm="mcpd""#),
        (
            Some("not-a-token"),
            "AUTH_TOKEN_INVALID",
            r#"Bearer realm="mcpd", error="invalid_token""#,
        ),
        (
            Some("mcpd_abcdefgh_wrongsecret"),
            "AUTH_TOKEN_INVALID",
            r#"Bearer realm="mcpd", error="invalid_token""#,
        ),
    ] {
        let resp = send(token).await.expect("request");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(
            resp.headers()["www-authenticate"].to_str().unwrap(),
            challenge
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{token:?}: {body}");
    }
    if let Some(out) = python(&d, &[], &["connect"]) {
        assert!(
            out.get("failed").is_some(),
            "connected without credentials: {out}"
        );
    }
    // With credentials the same request initialises a session.
    let resp = send(Some(&admin)).await.expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();

    // The session belongs to the user who opened it: another user gets 404 with it.
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let with_session = |token: &str| {
        d.client
            .post(gateway_url(&d))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .bearer_auth(token)
            .json(&initialized)
            .send()
    };
    let resp = with_session(&viewer).await.expect("request");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RESOURCE_NOT_FOUND", "{body}");
    let resp = with_session(&admin).await.expect("request");
    assert!(resp.status().is_success(), "{}", resp.status());

    // A key without MCP scopes connects (it is a valid credential) but may not list.
    let c = connect(&d, &services_key).await;
    let e = rpc_error(c.peer().list_all_tools().await);
    assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_REQUEST, "{e:?}");
    assert_eq!(e.data.as_ref().unwrap()["code"], "FORBIDDEN", "{e:?}");
    c.cancel().await.ok();

    // An open MCP session does not hold up the daemon's shutdown.
    let _open = connect(&d, &admin).await;
    let started = std::time::Instant::now();
    d.stop().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "stopping took {:?} with a gateway session open",
        started.elapsed()
    );
}

use common::mcp::python_path;

fn python_available() -> bool {
    python_path().exists()
}

/// The command running tests/gateway/python_client.py against `d` (script, URL and CA
/// certificate given, no credentials), or `None` (after a loud message) when the SDK
/// is not installed on a developer machine. Under CI=true a missing SDK fails the test.
fn python_command(d: &Daemon) -> Option<Command> {
    let py = python_path();
    if !py.exists() {
        let msg = format!(
            "the Python MCP SDK is not installed at {} (run tests/setup/python-mcp.sh)",
            py.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("!!!!! SKIPPING the Python MCP client checks: {msg} !!!!!");
        return None;
    }
    let script = common::repo_path("tests/gateway/python_client.py");
    let cert = d.data_path("tls/cert.pem");
    let mut cmd = Command::new(py);
    cmd.arg(script)
        .arg(gateway_url(d))
        .arg(cert)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("MCPD_TOKEN")
        .env_remove("MCPD_API_KEY");
    Some(cmd)
}

/// Runs tests/gateway/python_client.py with `env` and `args`; its JSON output, or
/// `None` when the SDK is not installed (see [`python_command`]).
fn python(d: &Daemon, env: &[(&str, &str)], args: &[&str]) -> Option<Value> {
    let mut cmd = python_command(d)?;
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the Python MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client exited {}: {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "python client printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
}

/// Waits for the request log row of `tool` on `server` (the execution ended), at most
/// `within` from `started`.
async fn wait_for_row(
    d: &Daemon,
    admin: &str,
    server: &str,
    tool: &str,
    started: Instant,
    within: Duration,
) -> Value {
    let what = format!("the request log row for {tool} on {server}");
    wait_for(what, within.saturating_sub(started.elapsed()), async || {
        let rows = log_rows(d, admin, server).await;
        rows.into_iter().find(|r| r["name"] == tool)
    })
    .await
}

/// One raw JSON-RPC POST to `/mcp` (streamable HTTP as a minimal client sends it).
async fn raw_post(
    d: &Daemon,
    token: &str,
    session: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = d
        .client
        .post(gateway_url(d))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    req.send().await.expect("POST /mcp")
}

/// A call its MCP client gives up on ends behind the gateway at once, whether the
/// client cancels it (rmcp sends `notifications/cancelled` when the call future is
/// dropped) or just goes away (closes the connection carrying the call): the execution
/// stops waiting for the slow tool, logs the call as cancelled, and the shared
/// upstream session keeps serving calls.
#[tokio::test]
async fn a_call_cancelled_by_its_client_ends_behind_the_gateway() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let every = d.name("every");
    stdio_server(&d, &admin, &every, EVERYTHING_IMAGE).await;
    let c = connect(&d, &admin).await;
    let long = format!("{every}__trigger-long-running-operation");
    let slow = tool(&c, &long, json!({"duration": 30, "steps": 30}));
    let started = Instant::now();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), slow)
            .await
            .is_err(),
        "the 30 s operation cannot have finished within 1 s"
    );
    // The row is written when the execution ends: long before the tool would finish.
    let long_name = "trigger-long-running-operation";
    let within = Duration::from_secs(15);
    let row = wait_for_row(&d, &admin, &every, long_name, started, within).await;
    assert_eq!(row["status"], "error", "{row}");
    assert_eq!(row["error_code"], "CANCELLED", "{row}");
    assert!(row["duration_ms"].as_u64().unwrap() < 15_000, "{row}");
    let r = tool(&c, &format!("{every}__echo"), json!({"message": "after"}))
        .await
        .unwrap();
    assert_eq!(
        text(&serde_json::to_value(&r.content).unwrap()),
        "Echo: after"
    );
    c.cancel().await.ok();

    // A client that closes the connection without a word: a raw session whose call's
    // response stream is dropped after a second.
    let init = raw_post(
        &d,
        &admin,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await;
    assert_eq!(init.status(), StatusCode::OK);
    let session = init
        .headers()
        .get("mcp-session-id")
        .expect("session id")
        .to_str()
        .unwrap()
        .to_string();
    init.text().await.unwrap();
    let ready = raw_post(
        &d,
        &admin,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!(ready.status().is_success(), "{}", ready.status());
    let other = d.name("every2");
    stdio_server(&d, &admin, &other, EVERYTHING_IMAGE).await;
    let started = Instant::now();
    let mut call = raw_post(
        &d,
        &admin,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": format!("{other}__{long_name}"),
            "arguments": {"duration": 30, "steps": 30}}}),
    )
    .await;
    assert_eq!(call.status(), StatusCode::OK);
    // Read until the first second has passed (progress events may arrive), then go away.
    while let Ok(chunk) = tokio::time::timeout(
        Duration::from_secs(1).saturating_sub(started.elapsed()),
        call.chunk(),
    )
    .await
    {
        let chunk = chunk.expect("stream");
        assert!(
            chunk.is_some(),
            "the call ended within a second: the 30 s operation cannot have"
        );
    }
    drop(call);
    let row = wait_for_row(&d, &admin, &other, long_name, started, within).await;
    assert_eq!(row["error_code"], "CANCELLED", "{row}");
}

/// One `python_client.py watch …` process: a Python MCP SDK client that stays connected
/// and answers commands (see the script's docs), one JSON line each.
struct Watcher {
    what: String,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    /// Its first line: the session and the lists it saw.
    ready: Value,
}

impl Watcher {
    /// Starts the client with `credential` (`MCPD_TOKEN` or `MCPD_API_KEY`, value)
    /// (`legacy`: an `initialize`d session; `modern`: `server/discover` and
    /// `subscriptions/listen`); `None` where the SDK is not installed (see [`python`]).
    async fn start(d: &Daemon, credential: (&str, &str), lifecycle: &str) -> Option<Watcher> {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::from(python_command(d)?);
        cmd.args(["watch", lifecycle])
            .env(credential.0, credential.1)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start the Python MCP client");
        let stdin = child.stdin.take().unwrap();
        let lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut w = Watcher {
            what: format!("python {lifecycle} client"),
            child,
            stdin,
            lines,
            ready: Value::Null,
        };
        w.ready = w.next(d).await;
        assert!(w.ready.get("ready").is_some(), "{}: {}", w.what, w.ready);
        Some(w)
    }

    async fn next(&mut self, d: &Daemon) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{}: no answer within 90 s\nlog:\n{}", self.what, d.log()))
            .expect("read the client's stdout")
            .unwrap_or_else(|| panic!("{}: exited\nlog:\n{}", self.what, d.log()));
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.what));
        assert!(
            v.get("failed").is_none(),
            "{}: {v}\nlog:\n{}",
            self.what,
            d.log()
        );
        v
    }

    async fn ask(&mut self, d: &Daemon, command: &str) -> Value {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("write to the client");
        self.stdin.flush().await.unwrap();
        self.next(d).await
    }

    /// Waits (up to 30 s) for `method`, then gives every notification seen and the lists.
    async fn wait(&mut self, d: &Daemon, method: &str) -> (Vec<String>, Value) {
        let v = self.ask(d, &format!("wait {method} 30")).await;
        (strings(&v["notifications"]), v["lists"].clone())
    }

    /// The notifications that arrive within `seconds`.
    async fn quiet(&mut self, d: &Daemon, seconds: f64) -> Vec<String> {
        strings(&self.ask(d, &format!("quiet {seconds}")).await["notifications"])
    }

    async fn end(mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.stdin.write_all(b"\n").await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

const TOOLS_CHANGED: &str = "notifications/tools/list_changed";
const RESOURCES_CHANGED: &str = "notifications/resources/list_changed";
const PROMPTS_CHANGED: &str = "notifications/prompts/list_changed";

/// How long a client waits to be sure nothing is coming: well beyond the forwarder's
/// settle time plus a recomputation.
const QUIET_S: f64 = 2.0;

fn has_prefix(names: &Value, prefix: &str) -> bool {
    strings(names).iter().any(|n| n.starts_with(prefix))
}

/// Gateway clients are told when what *they* may see changes, and only then: through
/// an `initialize`d session (legacy lifecycle, notifications on the GET stream) and
/// through a 2026-07-28 `subscriptions/listen` stream, both driven by the Python SDK.
/// A server starting reaches the admin but not a developer whose workspaces do not
/// grant it; granting it to another workspace reaches nobody; granting it to the
/// developer's workspace reaches the developer; revoking a grant shrinks their lists;
/// a disabled user's notifications end.
#[tokio::test]
async fn python_clients_are_told_when_their_lists_change() {
    require_docker!();
    let mut d = Daemon::start().await;
    if !python_available() {
        python(&d, &[], &["connect"]); // fails under CI, else says why it skips
        return;
    }
    let admin = d.admin().await;
    let every = d.name("every");
    let fs = d.name("fs");
    stdio_server(&d, &admin, &every, EVERYTHING_IMAGE).await;

    // A developer who sees only what the team workspace grants: everything, for now.
    let (dev_name, dev) = team_developer(&mut d, &admin, "lc-team").await;
    let (s, b) = d
        .post("/workspaces", &admin, json!({"name": "lc-other"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let grant = |ws: &'static str, server: String| {
        let d = &d;
        let admin = admin.clone();
        async move {
            let (s, b) = d
                .post(
                    &format!("/workspaces/{ws}/access"),
                    &admin,
                    json!({"server": server}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let every_grant = grant("lc-team", every.clone()).await;

    let (key_id, key) = d.api_key(&admin, "lc-watch", &["mcp:read"]).await;

    let mut admin_w = Watcher::start(&d, ("MCPD_TOKEN", &admin), "legacy")
        .await
        .unwrap();
    let mut key_w = Watcher::start(&d, ("MCPD_API_KEY", &key), "legacy")
        .await
        .unwrap();
    let mut dev_w = Watcher::start(&d, ("MCPD_TOKEN", &dev), "legacy")
        .await
        .unwrap();
    let mut dev_m = Watcher::start(&d, ("MCPD_TOKEN", &dev), "modern")
        .await
        .unwrap();
    assert_eq!(
        dev_m.ready["ready"]["protocol_version"], "2026-07-28",
        "{}",
        dev_m.ready
    );
    for list in [
        "toolsListChanged",
        "resourcesListChanged",
        "promptsListChanged",
    ] {
        assert_eq!(dev_m.ready["honored"][list], true, "{}", dev_m.ready);
    }
    for w in [&admin_w, &dev_w, &dev_m] {
        let lists = &w.ready["lists"];
        assert!(
            has_prefix(&lists["tools"], &format!("{every}__")),
            "{lists}"
        );
        assert!(!has_prefix(&lists["tools"], &format!("{fs}__")), "{lists}");
    }

    // (a) A second server starts: the admin is told and lists its tools; the
    // developer, whose workspaces do not grant it, hears nothing.
    stdio_server(&d, &admin, &fs, FILESYSTEM_IMAGE).await;
    let (got, lists) = admin_w.wait(&d, TOOLS_CHANGED).await;
    assert!(got.contains(&TOOLS_CHANGED.to_string()), "{got:?}");
    let tools = strings(&lists["tools"]);
    assert!(
        tools.contains(&format!("{fs}__read_text_file")),
        "{tools:?}"
    );
    assert!(tools.contains(&format!("{every}__echo")), "{tools:?}");
    let (got, lists) = key_w.wait(&d, TOOLS_CHANGED).await;
    assert!(got.contains(&TOOLS_CHANGED.to_string()), "{got:?}");
    assert!(has_prefix(&lists["tools"], &format!("{fs}__")), "{lists}");
    assert_eq!(dev_w.quiet(&d, QUIET_S).await, Vec::<String>::new());
    assert_eq!(dev_m.quiet(&d, 0.1).await, Vec::<String>::new());

    // (c) Granting it to a workspace the developer is not in changes nothing for them
    // (nor for the admin, who sees everything anyway).
    grant("lc-other", fs.clone()).await;
    assert_eq!(dev_w.quiet(&d, QUIET_S).await, Vec::<String>::new());
    assert_eq!(dev_m.quiet(&d, 0.1).await, Vec::<String>::new());
    assert_eq!(admin_w.quiet(&d, 0.1).await, Vec::<String>::new());
    // Nor does rediscovering a server that offers what it offered before.
    let (s, b) = d
        .post(&format!("/mcp/servers/{every}/discover"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(admin_w.quiet(&d, QUIET_S).await, Vec::<String>::new());

    // Granting it to the developer's workspace: both their clients are told, and the
    // filesystem's tools appear in their lists.
    grant("lc-team", fs.clone()).await;
    for w in [&mut dev_w, &mut dev_m] {
        let (got, lists) = w.wait(&d, TOOLS_CHANGED).await;
        assert!(
            got.contains(&TOOLS_CHANGED.to_string()),
            "{}: {got:?}",
            w.what
        );
        assert!(
            strings(&lists["tools"]).contains(&format!("{fs}__read_text_file")),
            "{}: {lists}",
            w.what
        );
    }

    // (b) Revoking the everything grant: told that tools, resources and prompts
    // changed; the lists shrink to the filesystem's.
    let (s, b) = d
        .delete(&format!("/workspaces/lc-team/access/{every_grant}"), &admin)
        .await;
    assert!(s.is_success(), "{s}: {b}");
    for w in [&mut dev_w, &mut dev_m] {
        let (got, lists) = w.wait(&d, TOOLS_CHANGED).await;
        for want in [TOOLS_CHANGED, RESOURCES_CHANGED, PROMPTS_CHANGED] {
            assert!(
                got.contains(&want.to_string()),
                "{}: {want} not in {got:?}",
                w.what
            );
        }
        assert!(
            !has_prefix(&lists["tools"], &format!("{every}__")),
            "{}: {lists}",
            w.what
        );
        assert!(
            has_prefix(&lists["tools"], &format!("{fs}__")),
            "{}: {lists}",
            w.what
        );
        assert!(
            strings(&lists["resources"]).is_empty(),
            "{}: {lists}",
            w.what
        );
        assert!(strings(&lists["prompts"]).is_empty(), "{}: {lists}", w.what);
    }
    assert_eq!(admin_w.quiet(&d, 0.1).await, Vec::<String>::new());

    // A stopped server leaves the admin's lists: told again.
    let (s, b) = d
        .post(&format!("/mcp/servers/{fs}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (got, lists) = admin_w.wait(&d, TOOLS_CHANGED).await;
    assert!(got.contains(&TOOLS_CHANGED.to_string()), "{got:?}");
    assert!(!has_prefix(&lists["tools"], &format!("{fs}__")), "{lists}");
    for w in [&mut key_w, &mut dev_w, &mut dev_m] {
        let (got, _) = w.wait(&d, TOOLS_CHANGED).await;
        assert!(
            got.contains(&TOOLS_CHANGED.to_string()),
            "{}: {got:?}",
            w.what
        );
    }

    // A disabled user's forwarders end without a word, although their view changed;
    // so does the forwarder of a revoked API key.
    let (s, b) = d.delete(&format!("/api-keys/{key_id}"), &admin).await;
    assert!(s.is_success(), "{s}: {b}");
    let (s, b) = d
        .patch(
            &format!("/users/{dev_name}"),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d
        .post(&format!("/mcp/servers/{fs}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    admin_w.wait(&d, TOOLS_CHANGED).await;
    assert_eq!(dev_w.quiet(&d, QUIET_S).await, Vec::<String>::new());
    assert_eq!(dev_m.quiet(&d, 0.1).await, Vec::<String>::new());
    assert_eq!(key_w.quiet(&d, 0.1).await, Vec::<String>::new());
    let ended = d
        .log()
        .matches("credential no longer valid; list-changed notifications end")
        .count();
    assert_eq!(
        ended,
        3,
        "the developer's two forwarders and the key's ended\nlog:\n{}",
        d.log()
    );
    for w in [admin_w, key_w, dev_w, dev_m] {
        w.end().await;
    }
}

/// Every item of `/mcp/servers/{server}/{list}` over the REST API (all its pages).
async fn rest_list(d: &Daemon, token: &str, server: &str, list: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let (s, b) = d
            .get(
                &format!("/mcp/servers/{server}/{list}?limit=100&page={page}"),
                token,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let items = b["data"].as_array().unwrap().clone();
        let n = items.len();
        out.extend(items);
        if n < 100 {
            return out;
        }
    }
    unreachable!()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// With `mcp.gateway_page_size` set small, the gateway's lists come in pages: the
/// Python SDK following `nextCursor` gets exactly what the servers offer (as the REST
/// API lists it), each item once; a garbage cursor, and a cursor of a list that has
/// changed since, are -32602 (spec "Pagination": invalid cursors are invalid params).
#[tokio::test]
async fn gateway_lists_are_paginated_with_opaque_cursors() {
    require_docker!();
    let (d, admin) = Daemon::start_admin_with_var("MCPD_MCP__GATEWAY_PAGE_SIZE", "3").await;
    let every = d.name("every");
    let fs = d.name("fs");
    stdio_server(&d, &admin, &every, EVERYTHING_IMAGE).await;
    stdio_server(&d, &admin, &fs, FILESYSTEM_IMAGE).await;

    // What the servers offer, by the REST API, named as the gateway names them.
    let mut tools = Vec::new();
    let mut prompts = Vec::new();
    let mut resources = Vec::new();
    let mut templates = Vec::new();
    for server in [&every, &fs] {
        for t in rest_list(&d, &admin, server, "tools").await {
            tools.push(format!("{server}__{}", t["name"].as_str().unwrap()));
        }
        for p in rest_list(&d, &admin, server, "prompts").await {
            prompts.push(format!("{server}__{}", p["name"].as_str().unwrap()));
        }
        for r in rest_list(&d, &admin, server, "resources").await {
            resources.push(r["uri"].as_str().unwrap().to_string());
        }
        for t in rest_list(&d, &admin, server, "resource-templates").await {
            templates.push(t["uriTemplate"].as_str().unwrap().to_string());
        }
    }
    assert!(
        tools.len() > 6 && resources.len() > 6,
        "{tools:?} {resources:?}"
    );

    if let Some(out) = python(&d, &[("MCPD_TOKEN", &admin)], &["pages"]) {
        assert!(
            out.get("failed").is_none(),
            "python client: {out}\nlog:\n{}",
            d.log()
        );
        for (name, want) in [
            ("tools", &tools),
            ("prompts", &prompts),
            ("resources", &resources),
            ("templates", &templates),
        ] {
            let got = strings(&out[name]);
            assert_eq!(sorted(got.clone()), sorted(want.clone()), "{name}: {out}");
            let pages = out[format!("{name}_pages")].as_u64().unwrap() as usize;
            assert_eq!(pages, want.len().div_ceil(3).max(1), "{name}: {out}");
        }
        let e = &out["garbage_cursor_error"];
        assert_eq!(e["code"], -32602, "{out}");
        assert_eq!(e["data"]["code"], "VALIDATION_ERROR", "{out}");
    }

    // rmcp's client: the same union; a cursor outlives no change of the list.
    let c = connect(&d, &admin).await;
    let all = c.peer().list_all_tools().await.unwrap();
    let names: Vec<String> = all.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(sorted(names), sorted(tools.clone()));
    let first = c.peer().list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), 3);
    let next = first.next_cursor.clone().expect("a next page");
    let second = c
        .peer()
        .list_tools(Some(
            rmcp::model::PaginatedRequestParams::default().with_cursor(Some(next.clone())),
        ))
        .await
        .unwrap();
    assert_eq!(second.tools.len(), 3);
    assert!(second.tools.iter().all(|t| !first.tools.contains(t)));
    let (s, b) = d
        .post(&format!("/mcp/servers/{fs}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let e = rpc_error(
        c.peer()
            .list_tools(Some(
                rmcp::model::PaginatedRequestParams::default().with_cursor(Some(next)),
            ))
            .await,
    );
    assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{e:?}");
    assert_eq!(
        e.data.as_ref().unwrap()["code"],
        "VALIDATION_ERROR",
        "{e:?}"
    );
    assert!(
        e.message.contains("cursor") || format!("{:?}", e.data).contains("cursor"),
        "{e:?}"
    );
    c.cancel().await.ok();
}

/// A Python SDK client subscribes to a static document of the everything server and
/// switches on the server's simulated updates (every 5 s for subscribed URIs): the
/// server's `notifications/resources/updated` reach it through the gateway, again after
/// the server restarts (mcpd subscribes again on the new session), and stop after it
/// unsubscribes; an unknown URI cannot be subscribed to.
#[tokio::test]
async fn python_clients_receive_updates_of_subscribed_resources() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let every = d.name("every");
    stdio_server(&d, &admin, &every, EVERYTHING_IMAGE).await;
    let c = connect(&d, &admin).await;
    let caps = c.peer().peer_info().unwrap().capabilities.clone();
    assert_eq!(
        caps.resources.as_ref().and_then(|r| r.subscribe),
        Some(true),
        "{caps:?}"
    );
    c.cancel().await.ok();

    let Some(out) = python(&d, &[("MCPD_TOKEN", &admin)], &["subscribe", &every]) else {
        return;
    };
    assert!(
        out.get("failed").is_none(),
        "python client: {out}\nlog:\n{}",
        d.log()
    );
    let uri = out["uri"].as_str().unwrap();
    assert!(
        text(&out["toggle"]["content"]).starts_with("Started"),
        "{out}"
    );
    let got = strings(&out["while_subscribed"]);
    assert!(
        !got.is_empty(),
        "no update within 12 s: {out}\nlog:\n{}",
        d.log()
    );
    assert!(got.iter().all(|u| u == uri), "{out}");
    assert_eq!(out["restart_status"], 200, "{out}");
    assert!(
        text(&out["toggle_after_restart"]["content"]).starts_with("Started"),
        "{out}"
    );
    let got = strings(&out["after_restart"]);
    assert!(
        !got.is_empty() && got.iter().all(|u| u == uri),
        "no update after the restart: {out}\nlog:\n{}",
        d.log()
    );
    assert_eq!(out["after_unsubscribe"], json!([]), "{out}");
    assert_eq!(
        out["unknown_error"]["code"],
        json!(rmcp::model::ErrorCode::RESOURCE_NOT_FOUND.0),
        "{out}"
    );
    assert_eq!(
        out["unknown_error"]["data"]["code"], "RESOURCE_NOT_FOUND",
        "{out}"
    );
}
