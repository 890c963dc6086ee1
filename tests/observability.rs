//! Observability through the real binary: `GET /stats` counts what the daemon holds,
//! `GET /metrics` reports the host, the process, the last minute of HTTP traffic and the
//! engine, and the Prometheus exposition (`/metrics/prometheus` and the plain exporter
//! on `metrics.listen`) parses with the reference Python parser, labels routes by
//! template and has counters that only grow.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::answers::{expect, expect_error};
use common::mcp::{python_path, tool};
use common::observed::observed;
use common::{Daemon, repo_path};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The exposition as the reference parser reads it: family → {type, samples}.
fn parse_exposition(text: &str) -> Value {
    let mut child = Command::new(python_path())
        .arg(repo_path("tests/observability/check_prometheus.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `GET /metrics/prometheus` as text, asserting 200 and the 0.0.4 content type.
async fn scrape(d: &Daemon, token: &str) -> String {
    let resp = d
        .client
        .get(d.url("/metrics/prometheus"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    resp.text().await.unwrap()
}

/// The samples of `family` named `sample` whose labels include `labels`.
fn values(m: &Value, family: &str, sample: &str, labels: &Value) -> Vec<f64> {
    let Some(f) = m.get(family) else {
        return Vec::new();
    };
    f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0] == sample)
        .filter(|s| {
            labels
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| s[1].get(k) == Some(v))
        })
        .map(|s| s[2].as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn counter_total(m: &Value, family: &str, labels: Value) -> f64 {
    values(m, family, &format!("{family}_total"), &labels)
        .iter()
        .sum()
}

#[tokio::test]
async fn stats_metrics_and_the_exposition_report_what_happened() {
    let o = observed(&[], 3).await;
    let (d, admin, viewer, server, sleeper_id) =
        (&o.d, &o.admin, &o.viewer, &o.server, &o.service_id);
    d.api_key(admin, "metrics", &["system:read"]).await;
    expect_error(
        tool(d, admin, server, "no-such-tool", json!({})).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
    let backup = d.backup(admin, json!({})).await;
    assert_eq!(backup["status"], "completed", "{backup}");

    // Stats: the viewer may read them; counts are what was created.
    let s = expect(200, d.get("/stats", viewer).await)["data"].clone();
    assert_eq!(s["services"]["by_status"]["running"], 2, "{s}");
    assert_eq!(s["mcp_servers"]["total"], 1, "{s}");
    assert_eq!(s["users"]["by_status"]["active"], 2, "{s}");
    assert_eq!(s["api_keys"]["by_status"]["active"], 1, "{s}");
    assert_eq!(s["workspaces"]["total"], 1, "the default workspace: {s}");
    assert_eq!(s["backups"]["by_status"]["completed"], 1, "{s}");
    assert!(
        s["backups"]["last_success_at"].is_string() && s["backups"]["last_failure_at"].is_null(),
        "{s}"
    );
    assert_eq!(
        (
            s["clusters"]["total"].clone(),
            s["devices"]["total"].clone()
        ),
        (json!(0), json!(0))
    );
    let calls = &s["tool_calls"];
    assert_eq!(calls["today"]["total"], calls["last_hour"]["total"], "{s}");
    // The call of a tool the server does not offer is logged as a failed call.
    assert_eq!(
        (
            calls["today"]["total"].clone(),
            calls["today"]["errors"].clone()
        ),
        (json!(4), json!(1)),
        "{s}"
    );
    assert_eq!(calls["today"]["error_rate"], 0.25, "{s}");
    expect_error(
        d.call(reqwest::Method::GET, "/stats", None, None).await,
        401,
        "UNAUTHORIZED",
    );

    // JSON metrics: host, process, last minute of HTTP by group, engine, sampled services.
    let m = d
        .get_until("/metrics", admin, Duration::from_secs(20), |b| {
            b["data"]["services"].get(sleeper_id).is_some()
                && !b["data"]["host"]["cpu_percent"].is_null()
        })
        .await["data"]
        .clone();
    assert!(
        m["host"]["cpus"].as_u64().unwrap() >= 1
            && m["host"]["memory_total_bytes"].as_u64().unwrap() > 0,
        "{m}"
    );
    assert!(
        m["host"]["disks"]["data"]["free_bytes"].as_u64().unwrap() > 0,
        "{m}"
    );
    assert!(
        m["process"]["rss_bytes"].as_u64().unwrap() > 1 << 20
            && m["process"]["threads"].as_u64().unwrap() >= 2,
        "{m}"
    );
    assert!(m["mcp_sessions"].as_u64().unwrap() >= 1, "{m}");
    assert_eq!(m["docker"]["reachable"], true, "{m}");
    let mcp = &m["http"]["mcp"];
    assert!(mcp["requests"].as_u64().unwrap() >= 4, "{m}");
    let (p50, p99) = (
        mcp["p50_ms"].as_f64().unwrap(),
        mcp["p99_ms"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "{m}");
    assert!(
        m["services"][&sleeper_id]["memory_bytes"].as_u64().unwrap() > 0,
        "{m}"
    );
    assert_eq!(m["services"][&sleeper_id]["containers"], 1, "{m}");

    // The exposition parses, with the standard types and bounded labels.
    let first = parse_exposition(&scrape(d, viewer).await);
    for (family, kind) in [
        ("mcpd_http_requests", "counter"),
        ("mcpd_http_request_duration_seconds", "histogram"),
        ("mcpd_mcp_calls", "counter"),
        ("mcpd_mcp_call_duration_seconds", "histogram"),
        ("mcpd_mcp_sessions", "gauge"),
        ("mcpd_container_cpu_seconds", "counter"),
        ("mcpd_container_memory_bytes", "gauge"),
        ("mcpd_backup_last_success_timestamp_seconds", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert_eq!(first[family]["type"], kind, "{family} in {first}");
    }
    let routes: Vec<String> = first["mcpd_http_requests"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1]["route"].as_str().unwrap().to_string())
        .collect();
    assert!(
        routes.iter().any(|r| r == "/api/v1/mcp/execute/tool"),
        "{routes:?}"
    );
    assert!(
        routes.iter().all(|r| !r.contains(&d.tag)),
        "raw paths leaked into labels: {routes:?}"
    );
    let ok_calls = json!({"server": server, "tool": "echo", "status": "success"});
    assert_eq!(
        counter_total(&first, "mcpd_mcp_calls", ok_calls.clone()),
        3.0
    );
    let sleeper_name = d.name("sleeper");
    let mem = values(
        &first,
        "mcpd_container_memory_bytes",
        "mcpd_container_memory_bytes",
        &json!({"service": sleeper_name}),
    );
    assert!(mem.len() == 1 && mem[0] > 0.0, "{mem:?}");
    let last_backup = values(
        &first,
        "mcpd_backup_last_success_timestamp_seconds",
        "mcpd_backup_last_success_timestamp_seconds",
        &json!({}),
    );
    assert!(last_backup[0] > 1.7e9, "{last_backup:?}");
    assert!(
        values(
            &first,
            "mcpd_http_request_duration_seconds",
            "mcpd_http_request_duration_seconds_count",
            &json!({"route": "/api/v1/mcp/execute/tool"})
        )[0] >= 4.0
    );

    // Counters only grow between scrapes.
    expect(
        200,
        tool(d, admin, server, "echo", json!({"message": "again"})).await,
    );
    let second = parse_exposition(&scrape(d, viewer).await);
    assert_eq!(counter_total(&second, "mcpd_mcp_calls", ok_calls), 4.0);
    for family in [
        "mcpd_http_requests",
        "mcpd_mcp_calls",
        "process_cpu_seconds",
        "mcpd_container_cpu_seconds",
    ] {
        for s in first[family]["samples"].as_array().unwrap() {
            let after = values(&second, family, s[0].as_str().unwrap(), &s[1]);
            assert!(
                after.len() == 1 && after[0] >= s[2].as_f64().unwrap(),
                "{family} {s} went down: {after:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_exporter_serves_plain_metrics_without_auth_and_the_api_requires_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_METRICS__LISTEN", format!("127.0.0.1:{port}")).await;
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    let m = parse_exposition(&plain.text().await.unwrap());
    assert_eq!(m["process_resident_memory_bytes"]["type"], "gauge", "{m}");
    assert_eq!(m["mcpd_build_info"]["type"], "gauge", "{m}");
    // Nothing else is served there.
    let other = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/stats"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RESOURCE_NOT_FOUND", "{body}");
    // On the API port every route needs a credential.
    for path in ["/stats", "/metrics", "/metrics/prometheus"] {
        expect_error(
            d.call(reqwest::Method::GET, path, None, None).await,
            401,
            "UNAUTHORIZED",
        );
        expect(200, d.get(path, &admin).await);
    }
    // A key without system:read is refused.
    let (_, key) = d.api_key(&admin, "no-system", &["services:read"]).await;
    expect_error(d.get("/metrics/prometheus", &key).await, 403, "FORBIDDEN");
}

#[test]
fn an_exporter_address_equal_to_the_api_address_is_refused_by_configtest() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mcpd.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:18443\"\n[metrics]\nlisten = \"127.0.0.1:18443\"\n",
    )
    .unwrap();
    let out = common::mcpd(["--config", cfg.to_str().unwrap(), "configtest"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("metrics.listen must differ"),
        "{}",
        common::stderr(&out)
    );
    std::fs::write(&cfg, "[metrics]\nsample_interval_s = 0\n").unwrap();
    let out = common::mcpd(["--config", cfg.to_str().unwrap(), "configtest"]);
    assert!(
        common::stderr(&out).contains("metrics.sample_interval_s"),
        "{}",
        common::stderr(&out)
    );
}
