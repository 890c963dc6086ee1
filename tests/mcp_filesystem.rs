//! The main job on the real filesystem MCP server (`@modelcontextprotocol/server-filesystem`
//! in `mcpd-test/mcp-filesystem:1`): create a managed stdio server through the API, call
//! `list_directory` and `read_text_file`, and find both calls in the request log; then
//! delete it and see its container gone.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{self, patch_server, text_of, tool, tool_names};
use common::{Daemon, EVERYTHING_IMAGE, FILESYSTEM_IMAGE, assert_error, containers_named, docker};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn filesystem_server_lists_and_reads_files_and_logs_both_calls() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("fs");

    let server = mcp::stdio_server(&d, &admin, &name, FILESYSTEM_IMAGE).await;
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
    let names = mcp::names(&tools);
    assert!(
        ["list_directory", "read_text_file"]
            .iter()
            .all(|t| names.iter().any(|n| n == t)),
        "{names:?}"
    );
    assert_eq!(tools["meta"]["pagination"]["total"], names.len());

    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "list_directory",
        json!({"path": "/data"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "list_directory: {b}");
    let listing = text_of(&b["data"]);
    assert!(listing.contains("hello.txt"), "{listing}");
    assert_eq!(b["data"]["is_error"], false);
    let list_log = b["data"]["request_log_id"].as_str().unwrap().to_string();

    let (s, b) = tool(
        &d,
        &admin,
        &id,
        "read_text_file",
        json!({"path": "/data/hello.txt"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "read_text_file: {b}");
    assert_eq!(text_of(&b["data"]), "hello from mcpd\n");
    let read_log = b["data"]["request_log_id"].as_str().unwrap().to_string();
    assert!(b["data"]["execution_time_ms"].is_u64());

    // A file outside the allowed directory: the tool's own failure, a 200 with is_error.
    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "read_text_file",
        json!({"path": "/etc/passwd"}),
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

/// The output of the filesystem server's `list_allowed_directories`.
async fn allowed_dirs(d: &Daemon, token: &str, server: &str) -> String {
    let (s, b) = tool(d, token, server, "list_allowed_directories", json!({})).await;
    assert_eq!(s, StatusCode::OK, "list_allowed_directories: {b}");
    text_of(&b["data"])
}

#[tokio::test]
async fn patch_changes_a_managed_servers_container_and_failures_change_nothing() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("fsp");
    let path = format!("/mcp/servers/{name}");

    mcp::create_server(
        &d,
        &admin,
        json!({"name": name, "image": FILESYSTEM_IMAGE, "args": ["/data"]}),
    )
    .await;
    let allowed = allowed_dirs(&d, &admin, &name).await;
    assert!(
        allowed.contains("/data") && !allowed.contains("/data/notes"),
        "{allowed}"
    );
    let first = d.container_ids(&admin, &name).await;
    assert_eq!(first.len(), 1);

    // args (and a secret env value): a new container serving the new directory.
    let secret = "patch-secret-value-5c1e";
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"args": ["/data/notes"], "env": {"API_TOKEN": secret}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "patch args: {b}\nlog:\n{}", d.log());
    assert_eq!(b["data"]["status"], "running", "{b}");
    assert!(!b.to_string().contains(secret), "{b}");
    let second = d.container_ids(&admin, &name).await;
    assert_eq!(second.len(), 1);
    assert_ne!(second, first, "the container was recreated");
    let allowed = allowed_dirs(&d, &admin, &name).await;
    assert!(allowed.contains("/data/notes"), "{allowed}");
    let (s, b) = tool(
        &d,
        &admin,
        &name,
        "read_text_file",
        json!({"path": "/data/hello.txt"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["data"]["is_error"], true,
        "/data is no longer allowed: {b}"
    );
    let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &second[0]])
        .expect("docker inspect");
    assert!(env.contains(&format!("API_TOKEN={secret}")), "{env}");

    // The audit entry names the fields, never the env value.
    let (s, audit) = d
        .get("/audit?action=mcp.servers.update&limit=10", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let entry = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "success")
        .unwrap_or_else(|| panic!("no update audited: {audit}"));
    assert_eq!(
        entry["details"]["fields"],
        json!(["args", "env"]),
        "{entry}"
    );
    assert!(!audit.to_string().contains(secret), "{audit}");
    assert!(
        !d.log().contains(secret),
        "the secret reached the daemon log"
    );

    // An image that is not present locally: 400 on `image`, the container untouched.
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"image": "mcpd-test/does-not-exist:9"}),
        )
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(b["error"]["details"][0]["field"], "image", "{b}");
    assert_eq!(d.container_ids(&admin, &name).await, second);
    assert!(
        allowed_dirs(&d, &admin, &name)
            .await
            .contains("/data/notes")
    );

    // A new container that exits at once: the services domain puts the old settings back.
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"image": common::BUSYBOX_IMAGE, "command": ["false"]}),
        )
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert!(
        allowed_dirs(&d, &admin, &name)
            .await
            .contains("/data/notes")
    );
    // (in a new container: the failed one replaced the old before it exited)
    let second = d.container_ids(&admin, &name).await;
    assert_eq!(second.len(), 1);

    // A new container that runs but does not speak MCP (exits cleanly at once): 503,
    // and the previous settings are put back and answer calls.
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"image": common::BUSYBOX_IMAGE, "command": ["true"]}),
        )
        .await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNAVAILABLE");
    assert!(
        allowed_dirs(&d, &admin, &name)
            .await
            .contains("/data/notes")
    );
    let (s, b) = d.get(&path, &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running", "{b}");
    assert_eq!(
        b["data"]["server_info"]["name"], "secure-filesystem-server",
        "{b}"
    );
    let (s, audit) = d
        .get("/audit?action=mcp.servers.update&limit=20", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let failed = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] != "success")
        .count();
    assert!(failed >= 2, "failed updates are audited: {audit}");
    let second = d.container_ids(&admin, &name).await;
    assert_eq!(second.len(), 1);

    // Wrong types and unknown fields name the field; nothing changes.
    for (body, field) in [
        (json!({"image": 5}), "image"),
        (json!({"args": "/data"}), "args"),
        (json!({"env": {"A": 1}}), "env"),
        (
            json!({"volumes": [{"source": "./rel", "target": "/x"}]}),
            "volumes[0].source",
        ),
        (json!({"env": {"1BAD": "x"}}), "env.1BAD"),
        (
            json!({"env": {"TOKEN": "${secret:no-such-key}"}}),
            "env.TOKEN",
        ),
        (json!({"replicas": 2}), "replicas"),
    ] {
        let (s, b) = d.patch(&path, &admin, body.clone()).await;
        assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert!(
            b["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["field"].as_str().unwrap_or("").starts_with(field)),
            "{body} → {b}"
        );
    }
    assert_eq!(d.container_ids(&admin, &name).await, second);

    // Without mcp write: 403, nothing changes.
    let dev = d.user_with_roles("patchdev", &["developer"]).await;
    let (s, b) = d.patch(&path, &dev, json!({"args": ["/data"]})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    assert_eq!(d.container_ids(&admin, &name).await, second);

    // Another image: discovery runs again, the tool list is the everything server's.
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"image": EVERYTHING_IMAGE, "args": ["stdio"], "env": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "patch image: {b}\nlog:\n{}", d.log());
    assert_eq!(
        b["data"]["server_info"]["name"], "mcp-servers/everything",
        "{b}"
    );
    let tools = tool_names(&d, &admin, &name).await;
    assert!(tools.iter().any(|t| t == "echo"), "{tools:?}");
    assert!(
        !tools.iter().any(|t| t == "list_allowed_directories"),
        "{tools:?}"
    );
    let (s, b) = tool(&d, &admin, &name, "echo", json!({"message": "patched"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(text_of(&b["data"]), "Echo: patched");

    // A stopped server stays stopped; its next start runs the new settings.
    let (s, b) = d.post(&format!("{path}/stop"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d
        .patch(
            &path,
            &admin,
            json!({"image": FILESYSTEM_IMAGE, "args": ["/data"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "patch stopped: {b}");
    assert_eq!(b["data"]["status"], "stopped", "{b}");
    let (s, b) = d.post(&format!("{path}/start"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d.post(&format!("{path}/discover"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["data"]["server_info"]["name"], "secure-filesystem-server",
        "{b}"
    );
    let allowed = allowed_dirs(&d, &admin, &name).await;
    assert!(
        allowed.contains("/data") && !allowed.contains("/data/notes"),
        "{allowed}"
    );

    // Container fields on a remote server, and on a server made from the catalog.
    let remote = d.name("fsp-remote");
    mcp::create_server(
        &d,
        &admin,
        json!({"name": remote, "url": "http://127.0.0.1:9/mcp"}),
    )
    .await;
    let (s, b) = patch_server(&d, &admin, &remote, json!({"image": FILESYSTEM_IMAGE})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(b["error"]["details"][0]["field"], "image", "{b}");
    assert!(b.to_string().contains("only for managed servers"), "{b}");

    let cat = d.name("fsp-cat");
    mcp::create_server(&d, &admin, json!({"name": cat, "registry": "filesystem", "config": {"allowed_directories": ["/data"]}})).await;
    let cat_containers = d.container_ids(&admin, &cat).await;
    let (s, b) = patch_server(&d, &admin, &cat, json!({"env": {"X": "y"}})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(b["error"]["details"][0]["field"], "env", "{b}");
    assert!(b.to_string().contains("/config"), "{b}");
    assert_eq!(d.container_ids(&admin, &cat).await, cat_containers);

    for n in [&name, &remote, &cat] {
        let (s, b) = d.delete(&format!("/mcp/servers/{n}"), &admin).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    }
}
