//! Resource mappings on server-everything: create by URI and by URI template, bad
//! inputs, sync marks present and missing mappings, and roles.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::daemon_with_server;
use common::{EVERYTHING_IMAGE, assert_error, assert_statuses, expect};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn mappings_create_sync_and_permissions() {
    require_docker!();
    let (mut d, admin, every) = daemon_with_server("every", EVERYTHING_IMAGE).await;
    let dev = d.user_with_roles("map-dev", &["developer"]).await;
    let (_, b) = d
        .get(&format!("/mcp/servers/{every}/resources"), &admin)
        .await;
    let uri = b["data"][0]["uri"].as_str().unwrap().to_string();
    let (_, b) = d
        .get(&format!("/mcp/servers/{every}/resource-templates"), &admin)
        .await;
    let template = b["data"][0]["uriTemplate"]
        .as_str()
        .or(b["data"][0]["uri_template"].as_str())
        .map(str::to_string);

    let (s, b) = d
        .post(
            "/mappings",
            &admin,
            json!({
                "workspace": "default", "server": every, "uri": uri, "alias": "docs/first",
                "component_type": "workflow", "component_id": "wf-1",
                "mapping_config": {"field_mappings": {"title": "{{context.title}}"}}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["state"], "unknown");
    assert_eq!(b["data"]["server"]["name"], every.as_str());
    let first = b["data"]["id"].as_str().unwrap().to_string();
    let (s, b) = d
        .post("/mappings", &admin, json!({"workspace": "default", "server": every, "uri": "demo://does/not/exist", "alias": "docs/ghost"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    if let Some(t) = &template {
        let (s, b) = d
            .post("/mappings", &admin, json!({"workspace": "default", "server": every, "uri_template": t, "alias": "docs/any"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    // Bad input changes nothing.
    let cases = vec![
        (
            json!({"workspace": "default", "server": every, "uri": "x", "uri_template": "y", "alias": "a"}),
            400,
            Some("uri"),
        ),
        (
            json!({"workspace": "default", "server": every, "alias": "a"}),
            400,
            Some("uri"),
        ),
        (
            json!({"workspace": "nowhere", "server": every, "uri": "x", "alias": "a"}),
            400,
            Some("workspace"),
        ),
        (
            json!({"workspace": "default", "server": "nothing", "uri": "x", "alias": "a"}),
            400,
            Some("server"),
        ),
        (
            json!({"workspace": "default", "server": every, "uri": "x", "alias": "bad alias"}),
            400,
            Some("alias"),
        ),
        (
            json!({"workspace": "default", "server": every, "uri": "x", "alias": "docs/first"}),
            409,
            None,
        ),
        (
            json!({"workspace": "default", "server": every, "uri": "x", "alias": "b", "mapping_config": [1]}),
            400,
            Some("mapping_config"),
        ),
    ];
    assert_statuses(&d, &admin, Method::POST, "/mappings", cases).await;
    let expected = if template.is_some() { 3 } else { 2 };
    let (_, b) = d.get("/mappings", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], expected, "{b}");

    // Sync re-discovers and marks each mapping.
    let (s, b) = d.post("/mappings/sync", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["servers"][0]["status"], "ok");
    assert_eq!(b["data"]["servers"][0]["server_name"], every.as_str());
    assert_eq!(b["data"]["mappings_missing"], json!(["docs/ghost"]));
    assert_eq!(b["data"]["mappings_present"], expected - 1);
    let (_, b) = d.get(&format!("/mappings/{first}"), &admin).await;
    assert_eq!(b["data"]["state"], "present");
    assert!(b["data"]["last_synced"].is_string());
    let (_, b) = d.get("/mappings?state=missing", &admin).await;
    assert_eq!(b["data"][0]["alias"], "docs/ghost");

    // Developers (members of default) read; they cannot change.
    let (s, b) = d.get("/mappings", &dev).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], expected);
    let (s, b) = d.post("/mappings/sync", &dev, json!({})).await;
    assert_error(s, &b, 403, "FORBIDDEN");

    // Patch and delete.
    let path = format!("/mappings/{first}");
    let change = json!({"alias": "docs/renamed", "is_active": false});
    let b = expect(200, d.patch(&path, &admin, change).await);
    assert_eq!(b["data"]["alias"], "docs/renamed");
    assert_eq!(b["data"]["is_active"], false);
    let (s, _) = d.delete(&path, &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get(&path, &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
}
