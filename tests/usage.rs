//! Usage aggregated from real executions on server-everything: grouped by tool, user,
//! server and day, the summary, per-user visibility, and bad parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::mcp::{daemon_with_server, tool};
use common::{Daemon, EVERYTHING_IMAGE, assert_error, assert_invalid_queries, expect};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// A daemon with a server-everything and two users of the given (name, role): the
/// daemon, an admin token, the server's name and the users' tokens.
async fn start(users: [(&str, &str); 2]) -> (Daemon, String, String, [String; 2]) {
    let (mut d, admin, server) = daemon_with_server("every", EVERYTHING_IMAGE).await;
    let mut tokens = Vec::new();
    for (name, role) in users {
        tokens.push(d.user_with_roles(name, &[role]).await);
    }
    (d, admin, server, tokens.try_into().unwrap())
}

#[tokio::test]
async fn usage_by_tool_user_and_day_with_summary() {
    require_docker!();
    let (d, admin, server, [dev, viewer]) =
        start([("usage-dev", "developer"), ("usage-viewer", "viewer")]).await;

    // admin: 3 echo + 1 get-sum; developer: 2 echo + 1 unknown tool (an error row).
    let call = async |token: &str, tool_name: &str, args: Value| {
        tool(&d, token, &server, tool_name, args).await.0
    };
    for i in 0..3 {
        let args = json!({"message": format!("a{i}")});
        assert_eq!(call(&admin, "echo", args).await, StatusCode::OK);
    }
    let args = json!({"a": 1, "b": 2});
    assert_eq!(call(&admin, "get-sum", args).await, StatusCode::OK);
    for i in 0..2 {
        let args = json!({"message": format!("d{i}")});
        assert_eq!(call(&dev, "echo", args).await, StatusCode::OK);
    }
    let args = json!({});
    assert_eq!(
        call(&dev, "no-such-tool", args).await,
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
    let calls = calls_of(&b);
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
    let cases = [
        ("group_by=colour", "group_by"),
        ("from=yesterday", "from"),
        ("from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", "from"),
        ("kind=shell", "kind"),
        ("user_name=x", "user_name"),
    ];
    let cases = cases.map(|(q, field)| (format!("/usage?{q}"), field));
    assert_invalid_queries(&d, &admin, cases).await;
    let (s, b) = d.call(reqwest::Method::GET, "/usage", None, None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

/// The `calls` of every row of a usage answer, in order.
fn calls_of(b: &Value) -> Vec<i64> {
    let rows = b["data"].as_array().unwrap();
    rows.iter().map(|r| r["calls"].as_i64().unwrap()).collect()
}

/// `YYYY-MM-DD` of today (UTC) plus `days`.
fn day(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .date()
        .to_string()
}

#[tokio::test]
async fn usage_by_workspace_with_filters_and_period() {
    require_docker!();
    let (d, admin, server, [dev_a, dev_b]) =
        start([("usage-ws-a", "developer"), ("usage-ws-b", "developer")]).await;
    // Team A grants the server to its member usage-ws-a: their calls count there;
    // usage-ws-b's and the admin's count under the built-in `default`.
    let team = json!({"name": "usage-team-a"});
    let b = expect(201, d.post("/workspaces", &admin, team).await);
    let team_a = b["data"]["id"].as_str().unwrap().to_string();
    for (path, body, status) in [
        ("members", json!({"user": "usage-ws-a"}), 200),
        ("access", json!({"server": server}), 201),
    ] {
        let path = format!("/workspaces/usage-team-a/{path}");
        expect(status, d.post(&path, &admin, body).await);
    }
    for (token, n) in [(&dev_a, 2), (&dev_b, 3), (&admin, 1)] {
        for i in 0..n {
            let args = json!({"message": format!("w{i}")});
            assert_eq!(
                tool(&d, token, &server, "echo", args).await.0,
                StatusCode::OK
            );
        }
    }

    // By workspace, with names.
    let (s, b) = d.get("/usage?group_by=workspace", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{b}");
    assert_eq!(rows[0]["workspace_id"], "wks_default");
    assert_eq!(rows[0]["workspace_name"], "default");
    assert_eq!(rows[0]["calls"], 4);
    assert_eq!(rows[1]["workspace_id"], team_a.as_str());
    assert_eq!(rows[1]["workspace_name"], "usage-team-a");
    assert_eq!(rows[1]["calls"], 2);
    assert_eq!(rows[1]["errors"], 0);
    assert!(rows[1]["first_at"].as_str().unwrap() <= rows[1]["last_at"].as_str().unwrap());

    // The workspace filter, by name or id, on both endpoints.
    for w in ["usage-team-a", team_a.as_str()] {
        let (s, b) = d
            .get(&format!("/usage?group_by=user&workspace={w}"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
        assert_eq!(b["data"][0]["calls"], 2);
    }
    let (s, b) = d.get("/usage/summary?workspace=default", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["calls"], 4);
    assert_eq!(b["data"]["users"], 2);
    let (_, b) = d.get("/usage/summary", &admin).await;
    let by_ws = b["data"]["by_workspace"].as_array().unwrap();
    assert_eq!(by_ws.len(), 2, "{b}");
    assert_eq!(by_ws[1]["workspace_name"], "usage-team-a");
    assert_eq!(by_ws[1]["calls"], 2);
    // `connection` (another name for `server`, docs/api.md §15) names the server too.
    let (_, b) = d
        .get(&format!("/usage/summary?connection={server}"), &admin)
        .await;
    assert_eq!(b["data"]["calls"], 6);

    // Period: the last day, week or month before `to`.
    for p in ["day", "week", "month"] {
        let (s, b) = d.get(&format!("/usage/summary?period={p}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["data"]["calls"], 6, "{p}");
    }
    let (_, b) = d
        .get("/usage/summary?period=week&to=2001-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(b["data"]["calls"], 0);
    assert_eq!(b["data"]["from"], "2000-12-25T00:00:00.000Z");

    // A window holding today as a whole day reads the rollups: same answer.
    let (s, b) = d
        .get(
            &format!(
                "/usage?group_by=workspace,user&from={}T00:00:00Z&to={}T00:00:00Z",
                day(-1),
                day(2)
            ),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let calls = calls_of(&b);
    assert_eq!(calls, [3, 2, 1], "{b}");

    // Without logs:admin: only one's own calls, in one's workspace.
    let (_, b) = d.get("/usage?group_by=workspace", &dev_a).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    assert_eq!(b["data"][0]["workspace_name"], "usage-team-a");
    assert_eq!(b["data"][0]["calls"], 2);

    // A deleted workspace keeps its calls, by id, with no name.
    let (s, _) = d.delete("/workspaces/usage-team-a", &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) = d
        .get(
            &format!("/usage?group_by=workspace&workspace={team_a}"),
            &admin,
        )
        .await;
    assert_eq!(b["data"][0]["workspace_id"], team_a.as_str(), "{b}");
    assert_eq!(b["data"][0]["workspace_name"], Value::Null);
    assert_eq!(b["data"][0]["calls"], 2);

    // Bad values name the field and change nothing.
    let cases = [
        ("/usage/summary?period=year", "period"),
        (
            "/usage/summary?period=day&from=2026-01-01T00:00:00Z",
            "period",
        ),
        ("/usage?period=fortnight", "period"),
        ("/usage?workspace=no-such-team", "workspace"),
        ("/usage/summary?workspace=usage-team-a", "workspace"),
        ("/usage?group_by=workspace,colour", "group_by"),
        ("/usage?server=", "server"),
        ("/usage/summary?server=a&connection=b", "connection"),
        ("/usage/summary?group_by=user", "group_by"),
    ];
    let cases = cases.map(|(path, field)| (path.to_string(), field));
    assert_invalid_queries(&d, &admin, cases).await;
    let (s, b) = d
        .get("/usage?period=day&from=2026-01-01T00:00:00Z", &admin)
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][1]["field"], "from", "{b}");
}

/// Old request log rows go after `request_log_retention_days`; usage keeps their days.
#[tokio::test]
async fn retention_purges_old_rows_and_keeps_usage() {
    let (mut d, admin) =
        Daemon::start_admin_with_var("MCPD_MCP__REQUEST_LOG_RETENTION_DAYS", "2").await;
    let old = time::OffsetDateTime::now_utc() - time::Duration::days(10);
    let old_day = old.date();
    {
        let mut c = rusqlite::Connection::open(d.data_dir.join("mcpd.db")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        let tx = c.transaction().unwrap();
        let noon = old_day.with_hms(12, 0, 0).unwrap().assume_utc();
        for (i, at) in [
            noon,
            noon,
            noon + time::Duration::hours(3),
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        ]
        .into_iter()
        .enumerate()
        {
            let log = mcpd::request_log::NewRequestLog {
                user_id: None,
                api_key_id: None,
                workspace_id: None,
                server_id: "mcp_retentiontest01".into(),
                server_name: "retention-test".into(),
                kind: mcpd::request_log::Kind::Tool,
                name: "echo".into(),
                error_code: None,
                error_message: None,
                duration_ms: 10 * i as u64,
                arguments: json!({"i": i}),
                result: None,
            };
            mcpd::request_log::store::insert_at(&tx, &log, 1024, at).unwrap();
        }
        tx.commit().unwrap();
    }
    let (_, b) = d.get("/logs/requests", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 4, "{b}");

    // The purge runs at startup, then hourly.
    d.restart().await;
    let admin = d.admin().await;
    d.get_until("/logs/requests", &admin, Duration::from_secs(20), |b| {
        b["meta"]["pagination"]["total"] == 1
    })
    .await;

    // The old day's usage is still there from the rollups; its raw rows are not.
    let whole = format!(
        "/usage?group_by=tool&from={old_day}T00:00:00Z&to={}T00:00:00Z",
        old_day.next_day().unwrap()
    );
    let (s, b) = d.get(&whole, &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"][0]["calls"], 3, "{b}");
    assert_eq!(b["data"][0]["max_duration_ms"], 20);
    assert_eq!(b["data"][0]["avg_duration_ms"], 10.0);
    let partial = format!("/usage?from={old_day}T06:00:00Z&to={old_day}T18:00:00Z");
    let (_, b) = d.get(&partial, &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (_, b) = d.get("/usage/summary", &admin).await;
    assert_eq!(b["data"]["calls"], 4, "{b}");
}

/// Rows in each table of the database at `db`.
fn counts(db: &std::path::Path, tables: &[&str]) -> Vec<i64> {
    let c = rusqlite::Connection::open(db).unwrap();
    tables
        .iter()
        .map(|t| {
            c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect()
}

/// A backup without logs carries no usage either; one with logs carries both.
#[tokio::test]
async fn backups_without_logs_leave_out_the_usage_rollups() {
    let (d, admin) = Daemon::start_admin().await;
    {
        let c = rusqlite::Connection::open(d.data_path("mcpd.db")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        let log = mcpd::request_log::NewRequestLog {
            user_id: None,
            api_key_id: None,
            workspace_id: Some("wks_default".into()),
            server_id: "mcp_backuptest00001".into(),
            server_name: "backup-test".into(),
            kind: mcpd::request_log::Kind::Tool,
            name: "echo".into(),
            error_code: None,
            error_message: None,
            duration_ms: 5,
            arguments: json!({}),
            result: None,
        };
        mcpd::request_log::store::insert(&c, &log, 1024).unwrap();
    }
    let mut tables = vec!["request_logs"];
    tables.extend(mcpd::usage::rollup::TABLES);
    let work = tempfile::tempdir().unwrap();
    for (include_logs, want) in [(false, [0, 0, 0, 0]), (true, [1, 1, 1, 1])] {
        let done = d
            .backup(&admin, json!({"include_logs": include_logs}))
            .await;
        let id = done["id"].as_str().unwrap().to_string();
        assert_eq!(done["status"], "completed", "{done}");
        let archive = d
            .data_path("backups")
            .join(done["file_name"].as_str().unwrap());
        let out = work.path().join(&id);
        mcpd::backups::archive::verify(
            &archive,
            &mcpd::backups::archive::Unseal::default(),
            Some(&out),
        )
        .unwrap();
        assert_eq!(
            counts(&out.join("data/mcpd.db"), &tables),
            want,
            "include_logs={include_logs}"
        );
    }
}
