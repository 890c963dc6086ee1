//! Organization and workspaces: the built-in `default` workspace keeps access open until
//! an admin narrows it; then non-admin users see and execute only what their
//! workspaces grant (servers, tools, resources, read-only vs execute).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{daemon_with_server, names, stdio_server, tool};
use common::{
    Daemon, EVERYTHING_IMAGE, FILESYSTEM_IMAGE, assert_error, assert_statuses, expect, expect_error,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn echo(d: &Daemon, token: &str, srv: &str) -> (StatusCode, Value) {
    tool(d, token, srv, "echo", json!({"message": "hi"})).await
}

/// The `workspace_id` of the request log row of a successful execution.
async fn logged_workspace(d: &Daemon, admin: &str, (s, b): (StatusCode, Value)) -> Value {
    assert_eq!(s, StatusCode::OK, "{b}");
    let id = b["data"]["request_log_id"].as_str().unwrap();
    let (s, b) = d.get(&format!("/logs/requests/{id}"), admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]["workspace_id"].clone()
}

async fn read(d: &Daemon, token: &str, srv: &str, uri: &str) -> (StatusCode, Value) {
    d.post(
        "/mcp/execute/resource",
        token,
        json!({"server": srv, "uri": uri}),
    )
    .await
}

#[tokio::test]
async fn organization_and_workspace_access() {
    require_docker!();
    let (mut d, admin, every) = daemon_with_server("every", EVERYTHING_IMAGE).await;
    let files = d.name("files");
    stdio_server(&d, &admin, &files, FILESYSTEM_IMAGE).await;
    let dev = d.user_with_roles("ws-dev", &["developer"]).await;
    let other = d.user_with_roles("ws-other", &["developer"]).await;

    // The organization.
    let b = expect(200, d.get("/organization", &dev).await);
    assert_eq!(b["data"]["members"].as_array().unwrap().len(), 3);
    let (s, b) = d.patch("/organization", &dev, json!({"name": "x"})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let org = json!({"name": "Acme Ops", "settings": {"region": "eu"}});
    let b = expect(200, d.patch("/organization", &admin, org).await);
    assert_eq!(b["data"]["settings"]["region"], "eu");

    // Out of the box the default workspace opens everything to everyone.
    let (_, b) = d.get("/workspaces", &dev).await;
    assert_eq!(names(&b), ["default"]);
    let (_, b) = d.get("/mcp/servers", &dev).await;
    assert_eq!(names(&b).len(), 2);
    assert_eq!(
        logged_workspace(&d, &admin, echo(&d, &dev, &every).await).await,
        "wks_default"
    );

    // The admin closes the default workspace's servers: non-admins see nothing.
    let (s, b) = d
        .patch("/workspaces/default", &admin, json!({"all_servers": false}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = d.get("/mcp/servers", &dev).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (s, b) = echo(&d, &dev, &every).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d.get(&format!("/mcp/servers/{every}"), &dev).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (_, b) = d.get("/mcp/servers", &admin).await;
    assert_eq!(names(&b).len(), 2, "admins see everything");

    // A team workspace: `echo` only on everything (execute), files read-only.
    let team = json!({"name": "team-a", "description": "A"});
    let b = expect(201, d.post("/workspaces", &admin, team).await);
    let team_a = b["data"]["id"].as_str().unwrap().to_string();
    let again = d.post("/workspaces", &admin, json!({"name": "team-a"}));
    expect_error(again.await, 409, "RESOURCE_ALREADY_EXISTS");
    let member = d.post(
        "/workspaces/team-a/members",
        &admin,
        json!({"user": "ws-dev"}),
    );
    assert_eq!(expect(200, member.await)["data"][0]["role"], "member");
    let access = "/workspaces/team-a/access";
    for grant in [
        json!({"server": every, "allowed_tools": ["echo"], "allowed_resources": []}),
        json!({"server": files, "permission_level": "read"}),
    ] {
        expect(201, d.post(access, &admin, grant).await);
    }
    let cases = vec![
        (json!({"server": every}), 409, None),
        (json!({"server": "no-such-server"}), 400, Some("server")),
        (
            json!({"server": files, "permission_level": "root"}),
            400,
            Some("permission_level"),
        ),
        (
            json!({"server": files, "colour": "red"}),
            400,
            Some("colour"),
        ),
    ];
    assert_statuses(&d, &admin, Method::POST, access, cases).await;

    let (_, b) = d.get("/mcp/servers", &dev).await;
    let mut listed = names(&b);
    listed.sort();
    assert_eq!(listed, {
        let mut v = vec![every.clone(), files.clone()];
        v.sort();
        v
    });
    let (_, b) = d.get(&format!("/mcp/servers/{every}/tools"), &dev).await;
    assert_eq!(names(&b), ["echo"], "only granted tools are listed");
    // The call is attributed to the workspace that granted it; an admin's call that no
    // workspace of theirs grants is attributed to none.
    assert_eq!(
        logged_workspace(&d, &admin, echo(&d, &dev, &every).await).await,
        team_a
    );
    assert_eq!(
        logged_workspace(&d, &admin, echo(&d, &admin, &every).await).await,
        Value::Null
    );
    let (_, b) = d
        .get(&format!("/logs/requests?workspace_id={team_a}"), &admin)
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    let (s, b) = tool(&d, &dev, &every, "get-sum", json!({"a": 1, "b": 2})).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = tool(&d, &dev, &files, "list_directory", json!({"path": "/data"})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    // Resources: none granted, then one added (`…/add-resource`), then removed.
    let (_, b) = d
        .get(&format!("/mcp/servers/{every}/resources"), &admin)
        .await;
    let uri = b["data"][0]["uri"].as_str().unwrap().to_string();
    assert_error(
        read(&d, &dev, &every, &uri).await.0,
        &read(&d, &dev, &every, &uri).await.1,
        404,
        "RESOURCE_NOT_FOUND",
    );
    let resource = |op: &str| format!("/workspaces/team-a/access/{every}/{op}-resource");
    let add = resource("add");
    expect(200, d.post(&add, &admin, json!({"uri": uri})).await);
    assert_eq!(read(&d, &dev, &every, &uri).await.0, StatusCode::OK);
    let (_, b) = d.get("/mcp/resources", &dev).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    let (s, _) = d
        .post(&resource("remove"), &admin, json!({"uri": uri}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read(&d, &dev, &every, &uri).await.0, StatusCode::NOT_FOUND);

    // A user outside the workspace sees nothing; the workspace is hidden from them.
    let (_, b) = d.get("/mcp/servers", &other).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0);
    let (s, b) = d.get("/workspaces/team-a", &other).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (_, b) = d.get("/workspaces", &other).await;
    assert_eq!(names(&b), ["default"]);

    // Revoking the grant and removing the member close it again.
    let (s, _) = d
        .delete(&format!("/workspaces/team-a/access/{every}"), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(echo(&d, &dev, &every).await.0, StatusCode::NOT_FOUND);
    let (s, _) = d.delete("/workspaces/team-a/members/ws-dev", &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) = d.get("/mcp/servers", &dev).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0);
    // Developers cannot change workspaces.
    let (s, b) = d.post("/workspaces", &dev, json!({"name": "mine"})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, _) = d.delete("/workspaces/team-a", &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}
