//! MCP servers and executions over the REST API: create a server, call a tool, list
//! tool names, and read names and text out of answers.

use super::Daemon;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Creates an MCP server (`POST /mcp/servers` with `body`: an image, a URL or a
/// catalog entry), asserting 201; its data.
pub async fn create_server(d: &Daemon, token: &str, body: Value) -> Value {
    let (s, b) = d.post("/mcp/servers", token, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "create MCP server {body}: {b}");
    b["data"].clone()
}

/// Creates a managed stdio MCP server `name` from `image`, asserting 201; its data.
pub async fn stdio_server(d: &Daemon, token: &str, name: &str, image: &str) -> Value {
    let body = json!({"name": name, "image": image, "transport": "stdio"});
    create_server(d, token, body).await
}

/// Starts a daemon with a managed stdio MCP server from `image` named
/// [`Daemon::name`]`(name)`: the daemon, an admin token and the server's name.
pub async fn daemon_with_server(name: &str, image: &str) -> (Daemon, String, String) {
    let mut d = Daemon::start().await;
    let admin = d.admin().await;
    let server = d.name(name);
    stdio_server(&d, &admin, &server, image).await;
    (d, admin, server)
}

/// `PATCH /mcp/servers/{name}` with `body`.
pub async fn patch_server(d: &Daemon, token: &str, name: &str, body: Value) -> (StatusCode, Value) {
    d.patch(&format!("/mcp/servers/{name}"), token, body).await
}

/// Calls tool `name` of `server` with `args` through `POST /mcp/execute/tool`.
pub async fn tool(
    d: &Daemon,
    token: &str,
    server: &str,
    name: &str,
    args: Value,
) -> (StatusCode, Value) {
    let body = json!({"server": server, "tool": name, "arguments": args});
    d.post("/mcp/execute/tool", token, body).await
}

/// The names of `server`'s cached tools (`GET /mcp/servers/{server}/tools`, up to 100).
pub async fn tool_names(d: &Daemon, token: &str, server: &str) -> Vec<String> {
    let (s, b) = d
        .get(&format!("/mcp/servers/{server}/tools?limit=100"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    names(&b)
}

/// The `name` of every item of a list answer's `data`, in order.
pub fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {list}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// The text parts of a tool result's `content`, joined by newlines.
pub fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .expect("content array")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Python of the venv with the MCP SDK (PyPI `mcp`), installed by
/// tests/setup/python-mcp.sh.
pub fn python_path() -> std::path::PathBuf {
    super::test_cache().join("python-mcp/bin/python")
}
