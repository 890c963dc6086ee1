//! Service operations against the real binary and the real engine: logs (tail,
//! timestamps, since, follow until the client leaves or the container stops), exec
//! (output, exit codes, stderr, truncation, timeout with the process killed, stopped
//! service), stats, health with real health checks, and permissions. Every name
//! comes from `d.name()` so the harness removes the containers even when a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{
    BUSYBOX_IMAGE, Daemon, assert_error, create_service, docker, merged, upload_image, wait_for,
};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TICKER: &str = "echo hello; echo err >&2; while true; do echo tick; sleep 1; done";

/// Creates and starts a busybox service running [`TICKER`] (plus `extra` fields).
async fn ticker(d: &Daemon, token: &str, name: &str, extra: Value) -> Value {
    let body = json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sh", "-c", TICKER], "start": true});
    create_service(d, token, merged(body, extra)).await
}

/// GET returning the raw text body.
async fn text(d: &Daemon, path: &str, token: &str) -> (StatusCode, String, Option<String>) {
    let resp = d
        .client
        .get(d.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.text().await.unwrap(), ctype)
}

/// `secs` as a [`Duration`].
fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test]
async fn logs_tail_timestamps_since_and_bad_parameters() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("logs");
    ticker(&d, &admin, &name, json!({})).await;
    let path = format!("/services/{name}/logs");

    let all = wait_for("three ticks", secs(20), async || {
        let (s, body, _) = text(&d, &path, &admin).await;
        (s == StatusCode::OK && body.matches("tick").count() >= 3).then_some(body)
    })
    .await;
    // stdout and stderr, demultiplexed (no Docker frame headers); the two pipes are
    // read separately, so their relative order is not fixed.
    let stdout: Vec<&str> = all.lines().filter(|l| *l != "err").collect();
    assert_eq!(stdout[..2], ["hello", "tick"], "{all:?}");
    assert_eq!(all.matches("err\n").count(), 1, "{all:?}");
    assert!(!all.contains('\u{1}') && !all.contains('\u{2}'), "{all:?}");

    let (s, one, ctype) = text(&d, &format!("{path}?tail=1"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.unwrap().starts_with("text/plain"));
    assert_eq!(one, "tick\n");

    let (_, stamped, _) = text(&d, &format!("{path}?tail=2&timestamps=true"), &admin).await;
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 2, "{stamped:?}");
    for l in lines {
        let (ts, rest) = l.split_once(' ').unwrap();
        assert!(
            ts.starts_with("20") && ts.contains('T') && ts.ends_with('Z'),
            "{l}"
        );
        assert_eq!(rest, "tick");
    }

    let future = (std::time::SystemTime::now() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (s, none, _) = text(&d, &format!("{path}?since={future}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(none, "");
    let (s, body, _) = text(
        &d,
        &format!("{path}?since=2000-01-01T00:00:00Z&tail=10000"),
        &admin,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("hello\n"), "{body:?}");

    for (q, field) in [
        ("tail=abc", "tail"),
        ("tail=10001", "tail"),
        ("since=yesterday", "since"),
        ("follow=maybe", "follow"),
        ("timestamps=2", "timestamps"),
        ("replica=0", "replica"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = d.get(&format!("{path}?{q}"), &admin).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{q}: {b}");
    }
    let (s, b) = d.get(&format!("{path}?replica=2"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d
        .get(&format!("/services/{}/logs", d.name("nope")), &admin)
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn follow_streams_new_lines_and_ends_with_the_client_or_the_container() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("follow");
    ticker(&d, &admin, &name, json!({})).await;
    let url = d.url(&format!("/services/{name}/logs?follow=true&tail=0"));

    // New lines arrive while the request is open.
    let resp = d.client.get(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    let started = Instant::now();
    while seen.matches("tick").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("a new line within 10s")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !seen.contains("hello"),
        "tail=0 must skip history: {seen:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "ticks are 1s apart"
    );

    // The client leaves: the daemon drops its engine stream.
    drop(body);
    d.wait_for_log("log follow stream closed", secs(10)).await;

    // The container stops: the stream ends on its own.
    let resp = d.client.get(&url).bearer_auth(&admin).send().await.unwrap();
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), body.next()).await;
    assert!(first.is_ok(), "no line within 10s");
    let (s, b) = d
        .post(&format!("/services/{name}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "follow stream did not end after the container stopped"
    );
    wait_for("the second follow stream to close", secs(10), async || {
        (d.log().matches("log follow stream closed").count() >= 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn exec_output_exit_codes_truncation_and_timeout() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("exec");
    ticker(&d, &admin, &name, json!({})).await;
    let path = format!("/services/{name}/exec");

    let (s, b) = d
        .post(&path, &admin, json!({"command": ["echo", "hi"]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = &b["data"];
    assert_eq!(r["exit_code"], 0, "{b}");
    assert_eq!(r["stdout"], "hi\n");
    assert_eq!(r["stderr"], "");
    assert_eq!(r["truncated"], false);
    assert_eq!(r["container"], format!("mcpd-{name}-1"));
    assert!(r["duration_ms"].as_u64().is_some());

    let (s, b) = d
        .post(
            &path,
            &admin,
            json!({"command": ["sh", "-c", "echo out; echo \"bad $X in $PWD\" >&2; exit 3"],
                   "env": {"X": "value"}, "workdir": "/tmp", "timeout_s": 10, "replica": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["exit_code"], 3, "{b}");
    assert_eq!(b["data"]["stdout"], "out\n");
    assert_eq!(b["data"]["stderr"], "bad value in /tmp\n");

    // Output past 1 MiB is cut and flagged.
    let (s, b) = d
        .post(
            &path,
            &admin,
            json!({"command": ["sh", "-c", "yes | head -c 1500000"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["truncated"], true);
    assert_eq!(b["data"]["stdout"].as_str().unwrap().len(), 1024 * 1024);

    // Past the timeout: 504, and the process is gone from the container.
    let t = Instant::now();
    let (s, b) = d
        .post(
            &path,
            &admin,
            json!({"command": ["sleep", "417"], "timeout_s": 1}),
        )
        .await;
    let e = assert_error(s, &b, 504, "GATEWAY_TIMEOUT");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(e["message"].as_str().unwrap().contains("killed"), "{b}");
    let container = format!("mcpd-{name}-1");
    wait_for("the timed-out process to be gone", secs(10), async || {
        let ps = docker(&["exec", &container, "ps"]).unwrap_or_default();
        (!ps.contains("sleep 417")).then_some(())
    })
    .await;

    // The client gives up first: the command is killed with the request.
    let gone = d
        .client
        .post(d.url(&path))
        .bearer_auth(&admin)
        .json(&json!({"command": ["sleep", "418"], "timeout_s": 120}))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        gone.is_err(),
        "the request should have timed out client-side"
    );
    wait_for("the abandoned process to be killed", secs(15), async || {
        let ps = docker(&["exec", &container, "ps"]).unwrap_or_default();
        (!ps.contains("sleep 418")).then_some(())
    })
    .await;
    assert!(d.log().contains("exec request dropped by its client"));

    // Bad bodies are 400s naming the field; nothing runs.
    for (body, field) in [
        (json!({"command": []}), "command"),
        (json!({"command": ["true"], "timeout_s": 601}), "timeout_s"),
        (json!({"command": ["true"], "tty": true}), "tty"),
        (json!({"command": "echo hi"}), "command"),
        (
            json!({"command": ["true"], "workdir": "relative"}),
            "workdir",
        ),
    ] {
        let (s, b) = d.post(&path, &admin, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body}: {b}");
    }
    let (s, b) = d
        .post(&path, &admin, json!({"command": ["true"], "replica": 3}))
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // A stopped service has nothing to run in.
    let (s, b) = d
        .post(&format!("/services/{name}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d
        .post(&path, &admin, json!({"command": ["echo", "hi"]}))
        .await;
    assert_error(s, &b, 409, "CONFLICT");

    // Every exec is audited: program and outcome, never the arguments.
    let (s, b) = d.get("/audit?action=services.exec&limit=100", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["data"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["outcome"] == "success" && r["details"]["exit_code"] == 3),
        "{b}"
    );
    assert!(rows.iter().any(|r| r["outcome"] == "failure"), "{b}");
    assert!(
        !b.to_string().contains("bad $X"),
        "arguments must not be audited: {b}"
    );
}

#[tokio::test]
async fn stats_and_health() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let plain = d.name("plain");
    ticker(&d, &admin, &plain, json!({"resources": {"memory_mb": 64}})).await;

    let (s, b) = d.get(&format!("/services/{plain}/stats"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let data = &b["data"];
    let c = &data["containers"][0];
    assert_eq!(c["name"], format!("mcpd-{plain}-1"));
    assert!(c["memory_bytes"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(c["memory_limit_bytes"], 64 * 1024 * 1024, "{b}");
    assert!(c["memory_percent"].as_f64().unwrap() > 0.0, "{b}");
    assert!(c["cpu_percent"].as_f64().unwrap() >= 0.0, "{b}");
    assert!(c["pids"].as_u64().unwrap() >= 2, "sh and sleep: {b}");
    for k in [
        "network_rx_bytes",
        "network_tx_bytes",
        "block_read_bytes",
        "block_write_bytes",
    ] {
        assert!(c[k].as_u64().is_some(), "{k}: {b}");
    }
    assert_eq!(data["total"]["memory_bytes"], c["memory_bytes"]);

    let (s, b) = d.get(&format!("/services/{plain}/health"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running", "no health check: {b}");
    assert_eq!(b["data"]["containers"][0]["health"], "none");

    let good = d.name("good");
    ticker(
        &d,
        &admin,
        &good,
        json!({"health_check": {"test": ["CMD-SHELL", "echo ok"], "interval_s": 1, "timeout_s": 2, "retries": 1}}),
    )
    .await;
    let bad = d.name("bad");
    ticker(
        &d,
        &admin,
        &bad,
        json!({"health_check": {"test": ["CMD", "false"], "interval_s": 1, "timeout_s": 2, "retries": 1}}),
    )
    .await;
    let h = d
        .get_until(&format!("/services/{good}/health"), &admin, secs(30), |b| {
            b["data"]["status"] == "healthy"
        })
        .await;
    let c = &h["data"]["containers"][0];
    assert_eq!(c["health"], "healthy");
    assert_eq!(c["failing_streak"], 0);
    let check = &c["checks"].as_array().unwrap()[0];
    assert_eq!(check["exit_code"], 0);
    assert_eq!(check["output"], "ok\n");
    assert!(check["started_at"].as_str().unwrap().ends_with('Z'));

    let h = d
        .get_until(&format!("/services/{bad}/health"), &admin, secs(30), |b| {
            b["data"]["status"] == "unhealthy"
        })
        .await;
    let c = &h["data"]["containers"][0];
    assert_eq!(c["health"], "unhealthy");
    assert!(c["failing_streak"].as_i64().unwrap() >= 1, "{h}");
    assert_eq!(c["checks"][0]["exit_code"], 1);

    // A stopped service has no stats and reports itself stopped.
    let (s, b) = d
        .post(&format!("/services/{plain}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = d.get(&format!("/services/{plain}/stats"), &admin).await;
    assert_eq!(b["data"]["containers"], json!([]), "{b}");
    assert_eq!(b["data"]["total"]["memory_bytes"], 0);
    let (_, b) = d.get(&format!("/services/{plain}/health"), &admin).await;
    assert_eq!(b["data"]["status"], "stopped", "{b}");
}

#[tokio::test]
async fn permissions() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let developer = d.user_with_roles(&d.name("dev"), &["developer"]).await;
    let viewer = d.user_with_roles(&d.name("viewer"), &["viewer"]).await;
    let operator = d.user_with_roles(&d.name("op"), &["operator"]).await;
    let name = d.name("perm");
    ticker(&d, &admin, &name, json!({})).await;

    for token in [&developer, &viewer] {
        let (s, b) = d
            .post(
                &format!("/services/{name}/exec"),
                token,
                json!({"command": ["echo", "hi"]}),
            )
            .await;
        assert_error(s, &b, 403, "FORBIDDEN");
        let (s, _, _) = text(&d, &format!("/services/{name}/logs?tail=1"), token).await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = d.get(&format!("/services/{name}/health"), token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = d
        .post(
            &format!("/services/{name}/exec"),
            &operator,
            json!({"command": ["echo", "hi"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d
        .call(
            reqwest::Method::GET,
            &format!("/services/{name}/stats"),
            None,
            None,
        )
        .await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn replicas_are_prefixed_in_logs_and_chosen_for_exec() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("multi");
    ticker(&d, &admin, &name, json!({"replicas": 2})).await;
    let (c1, c2) = (format!("mcpd-{name}-1"), format!("mcpd-{name}-2"));

    let all = wait_for(
        "hello and three ticks from both replicas",
        secs(20),
        async || {
            let (_, body, _) = text(&d, &format!("/services/{name}/logs"), &admin).await;
            [&c1, &c2]
                .iter()
                .all(|c| {
                    body.contains(&format!("{c} | hello"))
                        && body.matches(&format!("{c} | tick")).count() >= 3
                })
                .then_some(body)
        },
    )
    .await;
    assert!(
        all.lines()
            .all(|l| l.starts_with(&format!("{c1} | ")) || l.starts_with(&format!("{c2} | "))),
        "{all:?}"
    );
    let (_, only2, _) = text(
        &d,
        &format!("/services/{name}/logs?replica=2&tail=1"),
        &admin,
    )
    .await;
    assert_eq!(only2, "tick\n", "one replica: no prefix");

    let (s, b) = d
        .post(
            &format!("/services/{name}/exec"),
            &admin,
            json!({"command": ["hostname"], "replica": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["container"], c2);

    // A program that does not exist: the engine's answer, as Docker's CLI shows it.
    let (s, b) = d
        .post(
            &format!("/services/{name}/exec"),
            &admin,
            json!({"command": ["no-such-program"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["exit_code"], 126, "{b}");
    let out = format!("{}{}", b["data"]["stdout"], b["data"]["stderr"]);
    assert!(out.contains("no-such-program"), "{b}");

    let (s, b) = d.get(&format!("/services/{name}/stats"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let cs = b["data"]["containers"].as_array().unwrap();
    assert_eq!(cs.len(), 2, "{b}");
    let sum: u64 = cs.iter().map(|c| c["memory_bytes"].as_u64().unwrap()).sum();
    assert_eq!(b["data"]["total"]["memory_bytes"], sum);
}

#[tokio::test]
async fn docker_down_is_503_for_every_operation() {
    require_docker!();
    let (_dir, proxy, d, admin) = Daemon::start_behind_proxy("engine.sock").await;
    let name = d.name("outage");
    ticker(&d, &admin, &name, json!({})).await;
    let (s, _, _) = text(&d, &format!("/services/{name}/logs?tail=1"), &admin).await;
    assert_eq!(s, StatusCode::OK);

    proxy.stop().await;
    let (s, b) = d.get(&format!("/services/{name}/logs"), &admin).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d
        .post(
            &format!("/services/{name}/exec"),
            &admin,
            json!({"command": ["true"]}),
        )
        .await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d.get(&format!("/services/{name}/stats"), &admin).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d.get(&format!("/services/{name}/health"), &admin).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d.get("/images", &admin).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    let (s, b) = d.get(&format!("/images/{BUSYBOX_IMAGE}"), &admin).await;
    assert_error(s, &b, 503, "DOCKER_UNAVAILABLE");
    // The container was never touched: the harness removes it by name.
    assert_eq!(common::containers_named(&format!("mcpd-{name}-")).len(), 1);
}

#[tokio::test]
async fn follow_of_a_quiet_container_ends_when_the_client_leaves() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("quiet");
    create_service(
        &d,
        &admin,
        json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sh", "-c", "echo once; exec sleep 3600"], "start": true}),
    )
    .await;
    let url = d.url(&format!("/services/{name}/logs?follow=true"));
    let resp = d.client.get(&url).bearer_auth(&admin).send().await.unwrap();
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), body.next())
        .await
        .expect("the first line")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"once\n");
    drop(body);
    // Nothing more is ever written, yet the daemon notices the client is gone.
    d.wait_for_log("log follow stream closed", secs(15)).await;
}

/// Every operations and images route × every role: allowed requests get past
/// authorization (to a 200, 400 or 404 that changes nothing), denied ones are 403.
#[tokio::test]
async fn role_matrix_for_operations_and_images() {
    require_docker!();
    let mut d = Daemon::start().await;
    let missing_service = d.name("absent");
    let missing_image = format!("mcpd-test/absent-{}:1", d.tag);
    // (method, path, body, roles allowed)
    let all = ["viewer", "developer", "operator", "admin"];
    let ops = ["operator", "admin"];
    let routes: Vec<(&str, String, Option<Value>, &[&str])> = vec![
        (
            "GET",
            format!("/services/{missing_service}/logs"),
            None,
            &all,
        ),
        (
            "GET",
            format!("/services/{missing_service}/health"),
            None,
            &all,
        ),
        (
            "GET",
            format!("/services/{missing_service}/stats"),
            None,
            &all,
        ),
        (
            "POST",
            format!("/services/{missing_service}/exec"),
            Some(json!({"command": ["true"]})),
            &ops,
        ),
        ("GET", "/images".to_string(), None, &all),
        ("GET", format!("/images/{missing_image}"), None, &all),
        ("DELETE", format!("/images/{missing_image}"), None, &ops),
        (
            "POST",
            "/images/pull".to_string(),
            Some(json!({"image": ""})),
            &ops,
        ),
    ];
    for role in all {
        let token = if role == "admin" {
            d.admin().await
        } else {
            d.user_with_roles(&d.name(role), &[role]).await
        };
        for (method, path, body, allowed) in &routes {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let (s, b) = d.call(m, path, Some(&token), body.clone()).await;
            if allowed.contains(&role) {
                assert!(
                    [200, 400, 404].contains(&s.as_u16()),
                    "{role} {method} {path}: {s} {b}"
                );
            } else {
                assert_error(s, &b, 403, "FORBIDDEN");
            }
        }
        let (s, b) = upload_image(&d, &token, "application/x-tar", b"not a tar".to_vec()).await;
        if ops.contains(&role) {
            assert_error(s, &b, 400, "VALIDATION_ERROR");
        } else {
            assert_error(s, &b, 403, "FORBIDDEN");
        }
    }
}

#[tokio::test]
async fn an_open_follow_does_not_hold_up_shutdown() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("shut");
    ticker(&d, &admin, &name, json!({})).await;
    let url = d.url(&format!("/services/{name}/logs?follow=true"));
    let resp = d.client.get(&url).bearer_auth(&admin).send().await.unwrap();
    let mut body = resp.bytes_stream();
    tokio::time::timeout(Duration::from_secs(10), body.next())
        .await
        .expect("a first line")
        .unwrap()
        .unwrap();
    let t = Instant::now();
    d.stop().await;
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} on the follow stream",
        t.elapsed()
    );
    assert!(d.log().contains("log follow stream closed"));
}
