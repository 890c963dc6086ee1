//! Usage aggregated from real executions on server-everything: grouped by tool, user,
//! server and day, the summary, per-user visibility, and bad parameters.

mod common;

use common::{Daemon, EVERYTHING_IMAGE, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn call(d: &Daemon, token: &str, server: &str, tool: &str, args: Value) -> StatusCode {
    d.post(
        "/mcp/execute/tool",
        token,
        json!({"server": server, "tool": tool, "arguments": args}),
    )
    .await
    .0
}

#[tokio::test]
async fn usage_by_tool_user_and_day_with_summary() {
    require_docker!();
    let mut d = Daemon::start().await;
    let admin = d.admin().await;
    let dev = d.user_with_roles("usage-dev", &["developer"]).await;
    let viewer = d.user_with_roles("usage-viewer", &["viewer"]).await;
    let server = d.name("every");
    let (s, b) = d
        .post(
            "/mcp/servers",
            &admin,
            json!({"name": server, "image": EVERYTHING_IMAGE, "transport": "stdio"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // admin: 3 echo + 1 get-sum; developer: 2 echo + 1 unknown tool (an error row).
    for i in 0..3 {
        assert_eq!(
            call(
                &d,
                &admin,
                &server,
                "echo",
                json!({"message": format!("a{i}")})
            )
            .await,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&d, &admin, &server, "get-sum", json!({"a": 1, "b": 2})).await,
        StatusCode::OK
    );
    for i in 0..2 {
        assert_eq!(
            call(
                &d,
                &dev,
                &server,
                "echo",
                json!({"message": format!("d{i}")})
            )
            .await,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&d, &dev, &server, "no-such-tool", json!({})).await,
        StatusCode::NOT_FOUND
    );

    // By tool, largest first.
    let (s, b) = d.get("/usage?group_by=tool", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["data"].as_array().unwrap();
    assert_eq!(rows[0]["name"], "echo");
    assert_eq!(rows[0]["calls"], 5);
    assert_eq!(rows[0]["errors"], 0);
    assert_eq!(rows[0]["server_name"], server.as_str());
    let unknown = rows.iter().find(|r| r["name"] == "no-such-tool").unwrap();
    assert_eq!(unknown["errors"], 1);
    assert_eq!(unknown["error_rate"], 1.0);
    assert_eq!(b["meta"]["pagination"]["total"], 3);

    // By user and by day; filters by server and kind.
    let (_, b) = d.get("/usage?group_by=user", &admin).await;
    let calls: Vec<i64> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_i64().unwrap())
        .collect();
    assert_eq!(calls, [4, 3]);
    let (_, b) = d
        .get(
            &format!("/usage?group_by=day,server&server={server}&kind=tool"),
            &admin,
        )
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["data"][0]["calls"], 7);
    assert_eq!(b["data"][0]["day"].as_str().unwrap().len(), 10);
    // A window before the calls is empty.
    let (_, b) = d
        .get(
            "/usage?from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 0);

    // The summary.
    let (s, b) = d.get("/usage/summary", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sum = &b["data"];
    assert_eq!(sum["calls"], 7);
    assert_eq!(sum["errors"], 1);
    assert_eq!(sum["users"], 2);
    assert_eq!(sum["servers"], 1);
    assert_eq!(sum["tools"], 3);
    assert_eq!(sum["top_tools"][0]["name"], "echo");
    assert_eq!(sum["by_day"][0]["calls"], 7);

    // Without logs:admin a caller sees only their own calls.
    let (_, b) = d.get("/usage/summary", &dev).await;
    assert_eq!(b["data"]["calls"], 3);
    let (_, b) = d.get("/usage?group_by=tool", &viewer).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0);

    // Bad parameters.
    for (q, field) in [
        ("group_by=colour", "group_by"),
        ("from=yesterday", "from"),
        ("from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", "from"),
        ("kind=shell", "kind"),
        ("user_name=x", "user_name"),
    ] {
        let (s, b) = d.get(&format!("/usage?{q}"), &admin).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{q}: {b}");
    }
    let (s, b) = d.call(reqwest::Method::GET, "/usage", None, None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}
