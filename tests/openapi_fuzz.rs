//! Generated requests against a live daemon: schemathesis (PyPI, see
//! tests/setup/python-openapi.sh) reads `GET /api/v1/openapi.json` and sends what it
//! derives from it (valid requests, boundary values, and requests that break the schema)
//! to every operation, once as an admin and once as a viewer, each through an API key.
//! Every answer must be documented for its operation (status, content type, headers)
//! and valid against its schema; invalid input must be refused with a 4xx; and no
//! request may end in a 500. The other 5xx are the documented answers for an upstream
//! that is not there (502 an MCP server's error, 503 an image registry this machine
//! cannot reach, 504 a timeout), allowed in tests/openapi/schemathesis.toml.
//!
//! Operations that act on the Docker host beyond what the daemon owns (deleting,
//! pruning, loading or pulling images) are left out of the admin run: the fuzzer would
//! otherwise remove images other tests need.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, repo_path};
use serde_json::Value;
use std::process::Command;

/// How many examples schemathesis draws per operation and phase.
const EXAMPLES: &str = "20";

/// Operations left out of the admin run (see the module docs): schemathesis'
/// `--exclude-path-regex` for every `/images` route.
const HOST_WIDE: &str = "^/api/v1/images";

fn openapi_bin(name: &str) -> std::path::PathBuf {
    common::test_cache().join("python-openapi/bin").join(name)
}

/// Runs schemathesis as the holder of `key`; returns the requests it sent. Panics with
/// its report when it found a failure.
fn fuzz(d: &Daemon, key: &str, role: &str, extra: &[&str]) -> usize {
    let report = d.data_path(&format!("schemathesis-{role}.ndjson"));
    let origin = d.base.trim_end_matches("/api/v1").to_string();
    let out = Command::new(openapi_bin("schemathesis"))
        .arg("--config-file")
        .arg(repo_path("tests/openapi/schemathesis.toml"))
        .arg("run")
        .arg(format!("{origin}/api/v1/openapi.json"))
        .arg("--tls-verify")
        .arg(d.data_path("tls/cert.pem"))
        .args(["-H", &format!("X-API-Key: {key}")])
        .args(["--max-examples", EXAMPLES, "--workers", "2", "--seed", "1"])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(&report)
        .args(extra)
        .output()
        .expect("schemathesis (tests/setup/python-openapi.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis as {role} found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    requests_sent(&std::fs::read_to_string(&report).unwrap())
}

/// The requests recorded in a schemathesis NDJSON report.
fn requests_sent(ndjson: &str) -> usize {
    ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| {
            e["ScenarioFinished"]["recorder"]["interactions"]
                .as_object()
                .map(|i| i.len())
        })
        .sum()
}

/// An API key of the caller of `token` with every permission they hold (a key cannot
/// log out or change the password, so the run cannot end its own credential).
async fn key_with_every_permission(d: &Daemon, token: &str, name: &str) -> String {
    let (_, me) = d.get("/users/me", token).await;
    let all: Vec<&str> = me["data"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    d.api_key(token, name, &all).await.1
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_generated_requests_find_no_server_error_and_no_undocumented_answer() {
    let mut d = Daemon::start_with_env(vec![
        ("MCPD_KUBERNETES__REQUESTS_PER_MINUTE".into(), "0".into()),
        ("MCPD_NETWORK__REQUESTS_PER_MINUTE".into(), "0".into()),
        (
            "MCPD_AUTH__LOGIN_FAILURES_PER_MINUTE".into(),
            "100000".into(),
        ),
    ])
    .await;
    let admin = d.admin().await;
    let admin_key = key_with_every_permission(&d, &admin, "fuzz-admin").await;
    let viewer = d.user_with_roles("fuzz-viewer", &["viewer"]).await;
    let viewer_key = key_with_every_permission(&d, &viewer, "fuzz-viewer").await;

    let started = std::time::Instant::now();
    let as_admin = tokio::task::block_in_place(|| {
        fuzz(
            &d,
            &admin_key,
            "admin",
            &["--exclude-path-regex", HOST_WIDE],
        )
    });
    let as_viewer = tokio::task::block_in_place(|| fuzz(&d, &viewer_key, "viewer", &[]));
    let total = as_admin + as_viewer;
    eprintln!(
        "schemathesis: {as_admin} requests as admin, {as_viewer} as viewer, {total} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert!(total >= 10_000, "only {total} requests were generated");
    // The daemon is still up and answers.
    let (s, _) = d.get("/health", &admin).await;
    assert_eq!(s, 200);
}
