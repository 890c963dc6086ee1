//! Backup schedules against the real binary: validation, an every-two-seconds schedule
//! that fires, prunes by keep_last (never the newest) and reports its status, a run
//! missed while the daemon was down that runs once at start-up, and the health check.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, assert_error, assert_invalid_bodies, expect, expect_error, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

const SCHEDULES: &str = "/backups/schedules";

async fn schedule_backups(d: &Daemon, token: &str, sid: &str) -> Vec<Value> {
    let path = format!("/backups?schedule_id={sid}&limit=100");
    expect(200, d.get(&path, token).await)["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// `POST /backups/schedules` with `body`.
async fn create(d: &Daemon, token: &str, body: Value) -> (StatusCode, Value) {
    d.post(SCHEDULES, token, body).await
}

#[tokio::test]
async fn schedules_validate_fire_prune_and_report() {
    let (mut d, admin) = Daemon::start_admin().await;

    // The scheduler reports in the health check.
    wait_for(
        "the scheduler to be healthy",
        Duration::from_secs(5),
        async || {
            let (_, h) = d.call(Method::GET, "/health", None, None).await;
            (h["data"]["checks"]["scheduler"]["status"] == "ok").then_some(())
        },
    )
    .await;

    // Invalid input is a 400 naming the field; nothing is created.
    let cases = vec![
        (
            json!({"name": "x", "cron_expression": "61 * * * *"}),
            "cron_expression",
        ),
        (
            json!({"name": "x", "cron_expression": "* * *"}),
            "cron_expression",
        ),
        (
            json!({"name": "x", "cron_expression": "@sometimes"}),
            "cron_expression",
        ),
        (
            json!({"name": "x", "cron_expression": "0 2 * * *", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"name": "x", "cron_expression": "0 2 * * *", "retention": "7x"}),
            "retention",
        ),
        // A unit of more than one byte (found by tests/parsers.rs: it was a panic).
        (
            json!({"name": "x", "cron_expression": "0 2 * * *", "retention": "7Ѩ"}),
            "retention",
        ),
        (
            json!({"name": "x", "cron_expression": "0 2 * * *", "keep_last": 0}),
            "keep_last",
        ),
        (
            json!({"name": "x", "cron_expression": "0 2 * * *", "encrypt": true}),
            "passphrase",
        ),
        (json!({"cron_expression": "0 2 * * *"}), "name"),
    ];
    assert_invalid_bodies(&d, &admin, Method::POST, SCHEDULES, cases).await;
    let bogus = json!({"name": "x", "cron_expression": "@daily", "bogus": 1});
    expect_error(create(&d, &admin, bogus).await, 400, "VALIDATION_ERROR");
    let viewer = d.user_with_roles(&d.name("viewer"), &["viewer"]).await;
    let daily = json!({"name": "x", "cron_expression": "@daily"});
    expect_error(create(&d, &viewer, daily).await, 403, "FORBIDDEN");
    let (_, l) = d.get(SCHEDULES, &admin).await;
    assert_eq!(l["meta"]["pagination"]["total"], 0, "{l}");

    // The standard forms are accepted, with next_run_at in the future.
    for expr in ["0 2 * * *", "@daily", "@hourly", "30 4 * * 1-5"] {
        let name = d.name(&format!("f{}", expr.len()));
        let body = json!({"name": name, "cron_expression": expr, "timezone": "Europe/Berlin", "retention": "7d"});
        let (s, b) = create(&d, &admin, body).await;
        assert_eq!(s, StatusCode::CREATED, "{expr}: {b}");
        let data = &b["data"];
        assert!(data["next_run_at"].as_str().unwrap() > data["created_at"].as_str().unwrap());
        let path = format!("{SCHEDULES}/{}", data["id"].as_str().unwrap());
        assert_eq!(d.delete(&path, &admin).await.0, StatusCode::NO_CONTENT);
    }

    // Every two seconds, keep the last two.
    let name = d.name("every2s");
    let often = json!({"name": name, "cron_expression": "*/2 * * * * *", "keep_last": 2, "description": "often"});
    let b = expect(201, create(&d, &admin, often).await);
    let sid = b["data"]["id"].as_str().unwrap().to_string();
    let again = json!({"name": name, "cron_expression": "@daily"});
    expect_error(
        create(&d, &admin, again).await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );

    let seen = RefCell::new(BTreeSet::new());
    let what = fmt::from_fn(|f| write!(f, "5 runs (seen {})", seen.borrow().len()));
    wait_for(what, Duration::from_secs(60), async || {
        for b in schedule_backups(&d, &admin, &sid).await {
            seen.borrow_mut()
                .insert(b["id"].as_str().unwrap().to_string());
        }
        (seen.borrow().len() >= 5).then_some(())
    })
    .await;
    // Stop it (by name), let the last run end, then check pruning and status.
    let (s, b) = d.put(&format!("/backups/schedules/{name}"), &admin, json!({"name": name, "cron_expression": "*/2 * * * * *", "keep_last": 2, "enabled": false}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["next_run_at"], Value::Null);
    let last = RefCell::new(String::new());
    let what = fmt::from_fn(|f| write!(f, "the schedule to settle ({})", last.borrow()));
    let (left, sched) = wait_for(what, Duration::from_secs(30), async || {
        let (_, sc) = d.get(&format!("/backups/schedules/{sid}"), &admin).await;
        let left = schedule_backups(&d, &admin, &sid).await;
        let settled = sc["data"]["last_status"] != "running"
            && left.iter().all(|b| b["status"] == "completed");
        if settled && left.len() <= 2 {
            return Some((left, sc["data"].clone()));
        }
        *last.borrow_mut() = format!("{sc} {left:?}");
        None
    })
    .await;
    assert_eq!(left.len(), 2, "keep_last 2: {left:?}");
    assert_eq!(sched["last_status"], "completed", "{sched}");
    assert!(sched["last_run_at"].is_string());
    assert_eq!(
        left[0]["id"], sched["last_backup_id"],
        "the newest run is kept"
    );
    let files = std::fs::read_dir(d.data_path("backups")).unwrap().count();
    assert_eq!(files, 2, "pruned archives are gone from disk");

    // Deleting the schedule keeps its backups.
    let (s, _) = d.delete(&format!("/backups/schedules/{sid}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let kept = format!("/backups/{}", left[0]["id"].as_str().unwrap());
    let (s, b) = d.get(&kept, &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["schedule_id"], Value::Null);
    let (s, b) = d.get(&format!("/backups/schedules/{sid}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn a_run_missed_while_down_runs_once_at_startup() {
    let (mut d, admin) = Daemon::start_admin().await;
    let nightly = json!({"name": d.name("nightly"), "cron_expression": "0 2 * * *"});
    let b = expect(201, create(&d, &admin, nightly).await);
    let sid = b["data"]["id"].as_str().unwrap().to_string();
    d.stop().await;
    // While down, two nightly runs were due.
    let db = rusqlite::Connection::open(d.data_path("mcpd.db")).unwrap();
    db.execute(
        "UPDATE backup_schedules SET next_run_at = '2020-01-01T02:00:00.000Z' WHERE id = ?1",
        [&sid],
    )
    .unwrap();
    drop(db);
    d.restart().await;
    let admin = d.admin().await;
    let path = format!("/backups/schedules/{sid}");
    let sched = d
        .get_until(&path, &admin, Duration::from_secs(30), |sc| {
            sc["data"]["last_status"] == "completed"
        })
        .await["data"]
        .clone();
    assert!(
        sched["next_run_at"].as_str().unwrap() > "2026-01-01",
        "{sched}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        schedule_backups(&d, &admin, &sid).await.len(),
        1,
        "ran once"
    );
}
