//! The API foundation against the real binary: envelope, request ids, errors for
//! unknown routes, bad bodies and missing auth, health and info.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, assert_error};
use reqwest::{Method, StatusCode};
use std::time::Duration;

#[tokio::test]
async fn health_is_public_and_reports_checks() {
    let d = Daemon::start().await;
    let (s, body) = d.call(Method::GET, "/health", None, None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(["ok", "degraded"].contains(&body["data"]["status"].as_str().unwrap()));
    assert_eq!(body["data"]["checks"]["database"]["status"], "ok");
    assert!(body["data"]["checks"]["docker"]["status"].is_string());
    assert!(body["data"]["uptime_s"].is_u64());
    assert_eq!(body["meta"]["version"], "v1");
    assert!(
        body["meta"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert!(body["meta"]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let d = Daemon::start().await;
    let r = d
        .client
        .get(d.url("/health"))
        .header("X-Request-ID", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["meta"]["request_id"], "trace-123");
    // An id with characters we do not echo is replaced.
    let r = d
        .client
        .get(d.url("/health"))
        .header("X-Request-ID", "bad id<script>")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    // Log lines of a request carry its id (and, once authenticated, the user).
    let mut d = d;
    let token = d.admin().await;
    let r = d
        .client
        .get(d.url("/users/me"))
        .bearer_auth(&token)
        .header("X-Request-ID", "trace-456")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    d.wait_for_log("request_id=trace-456", Duration::from_secs(5))
        .await;
    let line = d
        .log()
        .lines()
        .find(|l| l.contains("request_id=trace-456") && l.contains("request finished"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        line.contains("user=\"admin\"") && line.contains("status=200"),
        "{line}"
    );
}

#[tokio::test]
async fn unknown_routes_and_missing_auth_use_the_envelope() {
    let d = Daemon::start().await;
    let (s, body) = d.call(Method::GET, "/no/such/route", None, None).await;
    assert_error(s, &body, 404, "RESOURCE_NOT_FOUND");
    let (s, body) = d.call(Method::GET, "/info", None, None).await;
    assert_error(s, &body, 401, "UNAUTHORIZED");
    let (s, body) = d
        .call(Method::GET, "/info", Some("not-a-token"), None)
        .await;
    assert_error(s, &body, 401, "AUTH_TOKEN_INVALID");
    let (s, body) = d
        .call(Method::GET, "/info", Some("mcpd_abcdefgh_nosuchkey"), None)
        .await;
    assert_error(s, &body, 401, "AUTH_TOKEN_INVALID");
}

#[tokio::test]
async fn info_reports_build_and_docker() {
    let mut d = Daemon::start().await;
    let token = d.admin().await;
    let (s, body) = d.get("/info", &token).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let info = &body["data"];
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["api_version"], "v1");
    assert!(info["commit"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(info["started_at"].as_str().is_some());
    if common::docker_available() {
        assert!(
            info["docker_version"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{info}"
        );
    }
}

#[tokio::test]
async fn data_dir_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start().await;
    for f in ["master.key", "tls/key.pem", "listen-addr", "mcpd.db"] {
        let mode = std::fs::metadata(d.data_path(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    // MCPD_ADMIN_PASSWORD was given, so no generated password file.
    assert!(!d.data_path("initial-admin-password").exists());
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly() {
    let mut d = Daemon::start().await;
    d.stop().await;
    assert!(d.log().contains("mcpd stopped"), "{}", d.log());
}

#[test]
fn configtest_accepts_the_shipped_config_and_names_unknown_keys() {
    let shipped = common::repo_path("etc/mcpd.toml");
    common::mcpd_ok(["configtest", "--config", shipped.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten_addr = \"x\"\n").unwrap();
    let out = common::mcpd(["configtest", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("listen_addr"));
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let d = Daemon::start_with_var("MCPD_SERVER__MAX_BODY_BYTES", "2048").await;
    let login = d.url("/auth/login");
    // Wrong content type.
    let r = d
        .client
        .post(&login)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (s, body) = (r.status(), r.json::<serde_json::Value>().await.unwrap());
    let err = assert_error(s, &body, 400, "VALIDATION_ERROR");
    assert!(
        err["message"].as_str().unwrap().contains("Content-Type"),
        "{err}"
    );
    // Malformed JSON.
    let r = d
        .client
        .post(&login)
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    let (s, body) = (r.status(), r.json::<serde_json::Value>().await.unwrap());
    assert_error(s, &body, 400, "VALIDATION_ERROR");
    // Unknown field, named in details.
    let (s, body) = d
        .post_anonymous(
            "/auth/login",
            serde_json::json!({"username": "a", "password": "b", "extra": 1}),
        )
        .await;
    let err = assert_error(s, &body, 400, "VALIDATION_ERROR");
    assert_eq!(err["details"][0]["field"], "extra", "{err}");
    // Wrong type.
    let (s, body) = d
        .post_anonymous(
            "/auth/login",
            serde_json::json!({"username": 5, "password": "b"}),
        )
        .await;
    let err = assert_error(s, &body, 400, "VALIDATION_ERROR");
    assert_eq!(err["details"][0]["field"], "username", "{err}");
    // Over the body limit.
    let big = serde_json::json!({"username": "a".repeat(4096), "password": "b"});
    let (s, body) = d.post_anonymous("/auth/login", big).await;
    assert_error(s, &body, 413, "PAYLOAD_TOO_LARGE");
}

/// SIGHUP reloads the certificate: a replaced self-signed pair is served to new
/// connections without a restart, and the daemon keeps answering.
#[tokio::test]
async fn sighup_reloads_the_tls_certificate() {
    let d = Daemon::start().await;
    let tls = d.data_dir.join("tls");
    let old_fp = mcpd::http::tls::fingerprint(&tls.join("cert.pem")).unwrap();
    let old_cert = std::fs::read(tls.join("cert.pem")).unwrap();
    // Removing the pair makes the daemon create a new one on reload, as at first start.
    for f in std::fs::read_dir(&tls).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    d.signal(libc::SIGHUP);
    d.wait_for_log("TLS certificate reloaded", Duration::from_secs(10))
        .await;
    let new_cert = std::fs::read(tls.join("cert.pem")).unwrap();
    let new_fp = mcpd::http::tls::fingerprint(&tls.join("cert.pem")).unwrap();
    assert_ne!(old_fp, new_fp);
    let client = |pem: &[u8]| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let resp = client(&new_cert)
        .get(d.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A fresh connection that trusts only the old certificate is refused.
    assert!(
        client(&old_cert)
            .get(d.url("/health"))
            .send()
            .await
            .is_err()
    );
    assert!(d.log().contains(&new_fp), "new fingerprint logged");
}
