//! The main job on the real filesystem MCP server (`@modelcontextprotocol/server-filesystem`
//! in `mcpd-test/mcp-filesystem:1`): create a managed stdio server through the API, call
//! `list_directory` and `read_text_file`, and find both calls in the request log; then
//! delete it and see its container gone.

mod common;

use common::{Daemon, FILESYSTEM_IMAGE, assert_error, containers_named};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .expect("content array")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn filesystem_server_lists_and_reads_files_and_logs_both_calls() {
    require_docker!();
    let mut d = Daemon::start().await;
    let admin = d.admin().await;
    let name = d.name("fs");

    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "image": FILESYSTEM_IMAGE, "transport": "stdio"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "create: {b}");
    let server = &b["data"];
    let id = server["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("mcp_"), "{server}");
    assert_eq!(server["name"], name.as_str());
    assert_eq!(server["transport"], "stdio");
    assert_eq!(server["backend"]["type"], "container");
    assert_eq!(server["status"], "running");
    assert_eq!(server["server_info"]["name"], "secure-filesystem-server");
    assert!(server["tools_count"].as_u64().unwrap() >= 10, "{server}");
    assert_eq!(containers_named(&format!("mcpd-{name}-")).len(), 1);

    // The backing service shares the name and is marked as managed by the server.
    let (s, svc) = d.get(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{svc}");
    assert_eq!(svc["data"]["id"], server["backend"]["service_id"]);

    let (s, tools) = d
        .get(&format!("/mcp/servers/{name}/tools?limit=100"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{tools}");
    let names: Vec<&str> = tools["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"list_directory") && names.contains(&"read_text_file"),
        "{names:?}"
    );
    assert_eq!(tools["meta"]["pagination"]["total"], names.len());

    let (s, b) = d
        .post(
            "/mcp/execute/tool",
            &admin,
            json!({"server": name, "tool": "list_directory", "arguments": {"path": "/data"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "list_directory: {b}");
    let listing = text_of(&b["data"]);
    assert!(listing.contains("hello.txt"), "{listing}");
    assert_eq!(b["data"]["is_error"], false);
    let list_log = b["data"]["request_log_id"].as_str().unwrap().to_string();

    let (s, b) = d
        .post(
            "/mcp/execute/tool",
            &admin,
            json!({"server": id, "tool": "read_text_file", "arguments": {"path": "/data/hello.txt"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "read_text_file: {b}");
    assert_eq!(text_of(&b["data"]), "hello from mcpd\n");
    let read_log = b["data"]["request_log_id"].as_str().unwrap().to_string();
    assert!(b["data"]["execution_time_ms"].is_u64());

    // A file outside the allowed directory: the tool's own failure, a 200 with is_error.
    let (s, b) = d
        .post(
            "/mcp/execute/tool",
            &admin,
            json!({"server": name, "tool": "read_text_file", "arguments": {"path": "/etc/passwd"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["is_error"], true, "{b}");

    // Both calls are in the request log, filtered by server and name.
    let (s, logs) = d
        .get(
            &format!("/logs/requests?server={name}&kind=tool&limit=100"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    let rows = logs["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{logs}");
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&list_log.as_str()) && ids.contains(&read_log.as_str()));
    for r in rows {
        assert_eq!(r["server_id"], id.as_str());
        assert_eq!(r["status"], "success");
        assert!(r["request_bytes"].as_u64().unwrap() > 0);
        assert!(r["response_bytes"].as_u64().unwrap() > 0);
    }
    let (s, one) = d
        .get(
            &format!("/logs/requests?name=read_text_file&server={id}"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["meta"]["pagination"]["total"], 2, "{one}");

    let (s, detail) = d.get(&format!("/logs/requests/{read_log}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    assert_eq!(detail["data"]["name"], "read_text_file");
    assert_eq!(detail["data"]["kind"], "tool");
    assert_eq!(detail["data"]["arguments"]["path"], "/data/hello.txt");
    assert!(
        detail["data"]["result"]
            .to_string()
            .contains("hello from mcpd")
    );

    let (s, b) = d.get("/logs/requests/rlog_doesnotexist00", &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d.get("/logs/requests?bogus=1", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d.get("/logs/requests?from=yesterday", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");

    // filesystem has no resources capability: the cached list is empty, not an error.
    let (s, b) = d
        .get(&format!("/mcp/servers/{name}/resources"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"], json!([]));

    // Delete: session closed, service and container gone.
    let (s, _) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get(&format!("/mcp/servers/{id}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d.get(&format!("/services/{name}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());
    // The request log outlives the server.
    let (s, _) = d.get(&format!("/logs/requests/{read_log}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
}
