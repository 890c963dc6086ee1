//! The MCP catalog (`/mcp/registry`) and servers made from it, on the real binary with
//! the real reference server images: built-in entries, admin-managed entries, config
//! checked against the entry's JSON Schema (errors name the JSON pointer, nothing is
//! created), secret fields sealed in the vault and never shown, reconfiguration that
//! restarts the container, and `unconfigured` servers answering 503.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{self, names, text_of};
use common::{Daemon, EVERYTHING_IMAGE, assert_error, containers_named, docker};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn list_dir(d: &Daemon, token: &str, server: &str, path: &str) -> (StatusCode, Value) {
    mcp::tool(d, token, server, "list_directory", json!({"path": path})).await
}

fn fields(err: &Value) -> Vec<String> {
    err["details"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// An entry for the everything server with one secret field mapped to an env var.
fn secret_entry(name: &str) -> Value {
    json!({
        "name": name,
        "title": "Everything with a token",
        "description": "server-everything given a secret token in DEMO_TOKEN",
        "image": EVERYTHING_IMAGE,
        "transport": "stdio",
        "args": ["stdio"],
        "config_schema": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "writeOnly": true, "minLength": 8},
                "greeting": {"type": "string"}
            },
            "required": ["token"],
            "additionalProperties": false
        },
        "config_mapping": {"env": {"DEMO_TOKEN": "/token", "DEMO_GREETING": "/greeting"}}
    })
}

#[tokio::test]
async fn registry_lists_builtins_and_admins_manage_entries() {
    let (mut d, admin) = Daemon::start_admin().await;
    let viewer = d.user_with_roles("cat-viewer", &["viewer"]).await;

    let (s, b) = d.get("/mcp/registry", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let all = names(&b);
    assert!(
        all.contains(&"filesystem".to_string()) && all.contains(&"everything".to_string()),
        "{all:?}"
    );
    assert_eq!(b["meta"]["pagination"]["total"], all.len());
    assert!(
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["builtin"] == true)
    );

    let (s, b) = d.get("/mcp/registry?search=file", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(names(&b), vec!["filesystem"]);
    let (s, b) = d
        .get("/mcp/registry?transport=streamable_http", &viewer)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(names(&b).is_empty(), "{b}");
    for (query, field) in [
        ("colour=red", "colour"),
        // Found by the generated requests (tests/openapi_fuzz.rs): an empty or unknown
        // transport used to match nothing instead of being refused.
        ("transport=", "transport"),
        ("transport=grpc", "transport"),
    ] {
        let (s, b) = d.get(&format!("/mcp/registry?{query}"), &viewer).await;
        assert_eq!(
            fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
            vec![field]
        );
    }

    let (s, b) = d.get("/mcp/registry/filesystem", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let fs = &b["data"];
    assert_eq!(fs["image"], "mcpd-test/mcp-filesystem:1");
    assert_eq!(fs["transport"], "stdio");
    assert_eq!(
        fs["config_mapping"]["args"][0]["field"],
        "/allowed_directories"
    );
    let (s, b) = d
        .get("/mcp/registry/filesystem/config-schema", &viewer)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["type"], "object");
    assert_eq!(b["data"]["required"], json!(["allowed_directories"]));
    assert_eq!(
        b["data"]["properties"]["allowed_directories"]["type"],
        "array"
    );
    let (s, b) = d
        .get("/mcp/registry/everything/config-schema", &viewer)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d.get("/mcp/registry/nope/config-schema", &viewer).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Only admins (mcp:admin) change the catalog.
    let entry_name = d.name("evs");
    let entry = secret_entry(&entry_name);
    let (s, b) = d.post("/mcp/registry", &viewer, entry.clone()).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let developer = d.user_with_roles("cat-dev", &["developer"]).await;
    let (s, b) = d.post("/mcp/registry", &developer, entry.clone()).await;
    assert_error(s, &b, 403, "FORBIDDEN");

    let (s, b) = d.post("/mcp/registry", &admin, entry.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["builtin"], false);
    assert_eq!(b["data"]["secret_fields"], json!(["token"]));
    assert!(b["data"]["created_at"].as_str().is_some(), "{b}");
    let (s, b) = d.post("/mcp/registry", &admin, entry.clone()).await;
    assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");
    let mut taken = entry.clone();
    taken["name"] = json!("filesystem");
    let (s, b) = d.post("/mcp/registry", &admin, taken).await;
    assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");

    // Bad entries: invalid schema, unknown field, secret mapped to an argument.
    let mut bad = entry.clone();
    bad["name"] = json!(d.name("bad"));
    bad["config_schema"]["properties"]["greeting"]["type"] = json!(7);
    let (s, b) = d.post("/mcp/registry", &admin, bad.clone()).await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["config_schema"]
    );
    let mut bad2 = entry.clone();
    bad2["name"] = json!(d.name("bad"));
    bad2["colour"] = json!("red");
    let (s, b) = d.post("/mcp/registry", &admin, bad2).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let mut bad3 = entry.clone();
    bad3["name"] = json!(d.name("bad"));
    bad3["config_mapping"]["args"] = json!([{"field": "/token"}]);
    let (s, b) = d.post("/mcp/registry", &admin, bad3).await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["config_mapping.args[0].field"]
    );
    let (s, b) = d.get("/mcp/registry?builtin=false", &admin).await;
    assert_eq!(names(&b), vec![entry_name.clone()], "{s} {b}");

    // Built-in entries are read-only.
    let (s, b) = d.get("/mcp/registry/filesystem", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let mut fs_spec = b["data"].clone();
    for k in ["builtin", "secret_fields", "created_at", "updated_at"] {
        fs_spec.as_object_mut().unwrap().remove(k);
    }
    let (s, b) = d.put("/mcp/registry/filesystem", &admin, fs_spec).await;
    assert_error(s, &b, 409, "CONFLICT");
    let (s, b) = d.delete("/mcp/registry/everything", &admin).await;
    assert_error(s, &b, 409, "CONFLICT");

    // Replace and remove an added entry.
    let mut changed = entry.clone();
    changed["title"] = json!("Renamed");
    let (s, b) = d
        .put(
            &format!("/mcp/registry/{entry_name}"),
            &viewer,
            changed.clone(),
        )
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .put(
            &format!("/mcp/registry/{entry_name}"),
            &admin,
            changed.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["title"], "Renamed");
    let (s, b) = d.put("/mcp/registry/other", &admin, changed).await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["name"]
    );
    let (s, b) = d
        .delete(&format!("/mcp/registry/{entry_name}"), &viewer)
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, _) = d
        .delete(&format!("/mcp/registry/{entry_name}"), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get(&format!("/mcp/registry/{entry_name}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Every change is audited.
    let (s, b) = d.get("/audit?limit=100", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let actions: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "mcp.registry.create",
        "mcp.registry.update",
        "mcp.registry.delete",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}

#[tokio::test]
async fn filesystem_from_registry_checks_config_and_reconfigures() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("fs");
    let server = format!("/mcp/servers/{name}");

    // Invalid config: 400 naming the JSON pointer; nothing created.
    for (config, field) in [
        (
            json!({"allowed_directories": "/data"}),
            "/allowed_directories",
        ),
        (
            json!({"allowed_directories": ["data"]}),
            "/allowed_directories/0",
        ),
        (json!({"allowed_directories": []}), "/allowed_directories"),
    ] {
        let (s, b) = d
            .post(
                "/mcp/servers",
                &admin,
                json!({"name": name, "registry": "filesystem", "config": config}),
            )
            .await;
        let err = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(fields(&err), vec![field], "{config}: {b}");
    }
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "registry": "filesystem", "config": {"allowed_directories": ["/data"], "x": 1}}),
        )
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "registry": "filesystem", "image": "mcpd-test/busybox:1"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["image"]
    );
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "registry": "nope"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["registry"]
    );
    let (s, b) = d.get(&server, &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());

    // Created with the allowed directory as its argument.
    let created = mcp::create_server(
        &d,
        &admin,
        json!({"name": name, "registry": "filesystem", "config": {"allowed_directories": ["/data/notes"]}}),
    )
    .await;
    assert_eq!(created["status"], "running");
    assert_eq!(created["server_info"]["name"], "secure-filesystem-server");
    assert_eq!(created["registry"], "filesystem");
    let (_, b) = d.get(&server, &admin).await;
    assert_eq!(b["data"]["registry"], "filesystem", "{b}");
    let (_, b) = d.get("/mcp/servers?registry=filesystem", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    assert_eq!(b["data"][0]["name"], name.as_str(), "{b}");
    let (_, b) = d.get("/mcp/servers?registry=everything", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (s, b) = list_dir(&d, &admin, &name, "/data/notes").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(text_of(&b["data"]).contains("readme.md"), "{b}");
    let (s, b) = list_dir(&d, &admin, &name, "/data").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["data"]["is_error"], true,
        "outside the allowed directory: {b}"
    );
    let (s, b) = d.get(&format!("{server}/config"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["registry"], "filesystem");
    assert_eq!(
        b["data"]["config"],
        json!({"allowed_directories": ["/data/notes"]})
    );
    assert_eq!(b["data"]["missing"], json!([]));
    let before = containers_named(&format!("mcpd-{name}-"));
    assert_eq!(before.len(), 1);
    let started_before = docker(&["inspect", "-f", "{{.State.StartedAt}}", &before[0]]);

    // Reconfigure: incomplete or invalid config is refused and changes nothing.
    let config = format!("{server}/config");
    let (s, b) = d.put(&config, &admin, json!({"config": {}})).await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["/allowed_directories"]
    );
    let (s, b) = d
        .put(
            &config,
            &admin,
            json!({"config": {"allowed_directories": [5]}}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["/allowed_directories/0"]
    );
    let (s, b) = d.put(&config, &admin, json!({"config": {}, "x": 1})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let viewer = d.user_with_roles("cfg-viewer", &["viewer"]).await;
    let (s, b) = d
        .put(
            &config,
            &viewer,
            json!({"config": {"allowed_directories": ["/data"]}}),
        )
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    assert_eq!(containers_named(&format!("mcpd-{name}-")), before);

    // A new config restarts the server with it.
    let (s, b) = d
        .put(
            &config,
            &admin,
            json!({"config": {"allowed_directories": ["/data"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running");
    let after = containers_named(&format!("mcpd-{name}-"));
    assert_eq!(after.len(), 1);
    let started_after = docker(&["inspect", "-f", "{{.State.StartedAt}}", &after[0]]);
    assert!(
        after != before || started_after != started_before,
        "the container was not restarted"
    );
    let (s, b) = list_dir(&d, &admin, &name, "/data").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["is_error"], false, "{b}");
    assert!(text_of(&b["data"]).contains("hello.txt"), "{b}");

    // The same config again still restarts it.
    let (s, b) = d
        .put(
            &config,
            &admin,
            json!({"config": {"allowed_directories": ["/data"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let again = containers_named(&format!("mcpd-{name}-"));
    let started_again = docker(&["inspect", "-f", "{{.State.StartedAt}}", &again[0]]);
    assert_ne!(started_again, started_after, "not restarted");

    // A server not made from the catalog has no catalog config.
    let plain = d.name("plain");
    mcp::create_server(
        &d,
        &admin,
        json!({"name": plain, "image": EVERYTHING_IMAGE, "args": ["stdio"]}),
    )
    .await;
    let (s, b) = d
        .put(
            &format!("/mcp/servers/{plain}/config"),
            &admin,
            json!({"config": {}}),
        )
        .await;
    assert_error(s, &b, 409, "CONFLICT");

    for n in [&name, &plain] {
        let (s, b) = d.delete(&format!("/mcp/servers/{n}"), &admin).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        assert!(containers_named(&format!("mcpd-{n}-")).is_empty());
    }
}

#[tokio::test]
async fn missing_required_config_is_unconfigured_until_configured() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("uncfg");

    let created =
        mcp::create_server(&d, &admin, json!({"name": name, "registry": "filesystem"})).await;
    assert_eq!(created["status"], "unconfigured");
    assert_eq!(created["backend"]["type"], "container");
    let (s, b) = d.get(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["status"], "unconfigured");
    let (s, b) = d.get(&format!("/mcp/servers/{name}/config"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["missing"], json!(["/allowed_directories"]));

    let (s, b) = list_dir(&d, &admin, &name, "/data").await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNCONFIGURED");
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/start"), &admin, json!({}))
        .await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNCONFIGURED");
    let (s, b) = d
        .post(&format!("/mcp/servers/{name}/test"), &admin, json!({}))
        .await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNCONFIGURED");

    // A daemon restart keeps it unconfigured and its container not running.
    d.restart().await;
    let admin = d.admin().await;
    let (s, b) = d.get(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "unconfigured");
    for c in containers_named(&format!("mcpd-{name}-")) {
        let running = docker(&["inspect", "-f", "{{.State.Running}}", &c]).unwrap();
        assert_eq!(running.trim(), "false", "container {c} runs");
    }
    let (s, b) = list_dir(&d, &admin, &name, "/data").await;
    assert_error(s, &b, 503, "MCP_SERVICE_UNCONFIGURED");

    let (s, b) = d
        .put(
            &format!("/mcp/servers/{name}/config"),
            &admin,
            json!({"config": {"allowed_directories": ["/data"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running");
    assert!(b["data"]["tools_count"].as_u64().unwrap() >= 10, "{b}");
    let (s, b) = list_dir(&d, &admin, &name, "/data").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(text_of(&b["data"]).contains("hello.txt"), "{b}");

    let (s, _) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(containers_named(&format!("mcpd-{name}-")).is_empty());
}

#[tokio::test]
async fn secret_config_is_sealed_and_never_returned() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let entry = d.name("evs");
    let name = d.name("sec");
    let secret = format!("tok-{}-s3cr3t", d.name("x"));

    let (s, b) = d.post("/mcp/registry", &admin, secret_entry(&entry)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // A secret that breaks the schema is refused without echoing it.
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "registry": entry, "config": {"token": "short"}}),
        )
        .await;
    let err = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(fields(&err), vec!["/token"]);
    assert!(!b.to_string().contains("short"), "{b}");

    let mut seen = Vec::new();
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": name, "registry": entry, "config": {"token": secret, "greeting": "hi"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["status"], "running");
    seen.push(b);

    // The container got the value; the server works.
    let containers = containers_named(&format!("mcpd-{name}-"));
    assert_eq!(containers.len(), 1);
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &containers[0]]).unwrap();
    assert!(env.contains(&format!("DEMO_TOKEN={secret}")), "{env}");
    assert!(env.contains("DEMO_GREETING=hi"), "{env}");
    let (s, b) = mcp::tool(&d, &admin, &name, "echo", json!({"message": "ping"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(text_of(&b["data"]).contains("ping"), "{b}");

    for path in [
        format!("/mcp/servers/{name}"),
        format!("/mcp/servers/{name}/config"),
        "/mcp/servers".to_string(),
        format!("/services/{name}"),
        "/config?limit=100".to_string(),
        "/audit?limit=100".to_string(),
    ] {
        let (s, b) = d.get(&path, &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        seen.push(b);
    }
    let (_, cfg) = d.get(&format!("/mcp/servers/{name}/config"), &admin).await;
    assert_eq!(cfg["data"]["config"], json!({"greeting": "hi"}));
    assert_eq!(cfg["data"]["secret_fields"], json!(["token"]));
    for b in &seen {
        assert!(
            !b.to_string().contains(&secret),
            "secret in a response: {b}"
        );
    }
    // Stored sealed: the database files never hold it in clear.
    for file in ["mcpd.db", "mcpd.db-wal"] {
        if let Ok(bytes) = std::fs::read(d.data_path(file)) {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "secret in clear in {file}");
        }
    }
    assert!(!d.log().contains(&secret), "secret in the daemon log");

    // Reconfigure without the secret: 400 naming it (required), and with a new one.
    let (s, b) = d
        .put(
            &format!("/mcp/servers/{name}/config"),
            &admin,
            json!({"config": {"greeting": "hi"}}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, 400, "VALIDATION_ERROR")),
        vec!["/token"]
    );
    let secret2 = format!("{secret}-2");
    let (s, b) = d
        .put(
            &format!("/mcp/servers/{name}/config"),
            &admin,
            json!({"config": {"token": secret2}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(!b.to_string().contains(&secret2));
    let containers = containers_named(&format!("mcpd-{name}-"));
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &containers[0]]).unwrap();
    assert!(env.contains(&format!("DEMO_TOKEN={secret2}")), "{env}");
    assert!(!env.contains("DEMO_GREETING"), "{env}");

    // An entry in use cannot be removed; deleting the server removes its secret.
    let (s, b) = d.delete(&format!("/mcp/registry/{entry}"), &admin).await;
    assert_error(s, &b, 409, "CONFLICT");
    // One secret config entry (the new one), masked.
    let (s, b) = d.get("/config?limit=100", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let held: Vec<&Value> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["key"]
                .as_str()
                .unwrap()
                .starts_with(&format!("mcp.{name}-"))
        })
        .collect();
    assert_eq!(held.len(), 1, "{b}");
    assert_eq!(held[0]["secret"], true);
    assert!(held[0]["key"].as_str().unwrap().ends_with(".token"));
    let (s, _) = d.delete(&format!("/mcp/servers/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get("/config?limit=100", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !b.to_string().contains(&format!("mcp.{name}")),
        "secret config left behind: {b}"
    );
    let (s, _) = d.delete(&format!("/mcp/registry/{entry}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}
