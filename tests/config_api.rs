//! The configuration API against the real binary: versions and If-Match, secrets
//! masked everywhere and revealed only to config:admin (audited), bulk all-or-nothing,
//! key rotation through the API, and no secret in clear in the database or the log.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, assert_error, expect, expect_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t-value-for-the-vault-test";

/// PUT /config/{key}, conditional on `if_match`: the answer and its ETag.
async fn put_versioned(
    d: &Daemon,
    token: &str,
    key: &str,
    body: Value,
    if_match: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = d
        .client
        .put(d.url(&format!("/config/{key}")))
        .bearer_auth(token)
        .json(&body);
    if let Some(m) = if_match {
        req = req.header("If-Match", m);
    }
    let resp = req.send().await.unwrap();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = common::read(resp).await;
    (status, body, etag)
}

/// PUT /config/{key} with `body`, unconditionally.
async fn put(d: &Daemon, token: &str, key: &str, body: Value) -> (StatusCode, Value) {
    d.put(&format!("/config/{key}"), token, body).await
}

#[tokio::test]
async fn entries_versions_secrets_bulk_rotation_and_audit() {
    let (mut d, admin) = Daemon::start_admin().await;
    let operator = d.user_with_roles("cfg-op", &["operator"]).await;
    let developer = d.user_with_roles("cfg-dev", &["developer"]).await;
    let viewer = d.user_with_roles("cfg-viewer", &["viewer"]).await;

    // Create, replace, optimistic concurrency.
    let host = "smtp.host";
    let v1 = json!({"value": "mail.example.test", "description": "relay"});
    let (s, b, etag) = put_versioned(&d, &operator, host, v1, None).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(b["data"]["scope"], "global");
    assert_eq!(b["data"]["secret"], false);
    assert_eq!(b["data"]["version"], 1);
    let if_1 = Some("\"1\"");
    let v2 = json!({"value": "mx.example.test"});
    let (s, b, _) = put_versioned(&d, &operator, host, v2, if_1).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["version"], 2);
    let kept = "unsent attributes are kept";
    assert_eq!(b["data"]["description"], "relay", "{kept}");
    let lost = json!({"value": "lost update"});
    let (s, b, _) = put_versioned(&d, &operator, host, lost, if_1).await;
    assert_error(s, &b, 412, "PRECONDITION_FAILED");
    let (_, b) = d.get("/config/smtp.host", &developer).await;
    assert_eq!(b["data"]["value"], "mx.example.test");

    // A secret: masked in every answer, revealed only with config:admin.
    let secret = json!({"value": SECRET, "secret": true});
    let b = expect(201, put(&d, &operator, "smtp.password", secret).await);
    assert_eq!(b["data"]["value"], "********");
    let (_, b) = d.get("/config/smtp.password", &developer).await;
    assert_eq!(b["data"]["value"], "********");
    assert_eq!(b["data"]["secret"], true);
    let (_, b) = d.get("/config?secret=true", &operator).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1);
    assert!(!b.to_string().contains(SECRET));
    let (s, b) = d.get("/config/smtp.password?reveal=true", &operator).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.get("/config/smtp.password?reveal=true", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["value"], SECRET);

    // Roles: viewer cannot read config; developer cannot write.
    let (s, b) = d.get("/config", &viewer).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.put("/config/x", &developer, json!({"value": 1})).await;
    assert_error(s, &b, 403, "FORBIDDEN");

    // Bad input changes nothing.
    for (key, body, field) in [
        ("Bad Key", json!({"value": 1}), "key"),
        ("a..b", json!({"value": 1}), "key"),
        ("ok.key", json!({"value": 1, "colour": "red"}), "colour"),
        ("ok.key", json!({"value": 1, "secret": "yes"}), "secret"),
        (
            "ok.key",
            json!({"value": 1, "scope": "service:svc_doesnotexist"}),
            "scope",
        ),
        ("ok.key", json!({"value": 1, "scope": "team"}), "scope"),
        ("ok.key", json!({"secret": true}), "value"),
    ] {
        let answer = put(&d, &operator, &urlencode(key), body.clone()).await;
        let e = expect_error(answer, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{key} {body}: {e}");
    }
    // Bulk: one bad entry → nothing written.
    let good = [
        json!({"key": "feature.a", "value": true}),
        json!({"key": "feature.b", "value": {"n": 2}, "secret": true}),
    ];
    let bad = json!({"configs": [good[0], good[1], {"key": "BAD", "value": 3}]});
    let e = expect_error(
        d.post("/config/bulk", &operator, bad).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "configs[2].key");
    let (_, b) = d.get("/config", &operator).await;
    assert_eq!(
        b["meta"]["pagination"]["total"], 2,
        "bulk was all-or-nothing: {b}"
    );
    let b = expect(
        200,
        d.post("/config/bulk", &operator, json!({"configs": good}))
            .await,
    );
    assert_eq!(b["data"][1]["value"], "********");
    let (_, b) = d.get("/config?key[regex]=^feature\\.", &operator).await;
    assert_eq!(b["meta"]["pagination"]["total"], 2);
    // Seed 003's search: keys, descriptions and plain values, never secret values.
    let (_, b) = d.get("/config?search=mx.example", &operator).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    let (_, b) = d.get("/config?search=relay", &operator).await;
    assert_eq!(b["data"][0]["key"], "smtp.host");
    let (_, b) = d
        .get(&format!("/config?search={}", &SECRET[..10]), &operator)
        .await;
    assert_eq!(
        b["meta"]["pagination"]["total"], 0,
        "secret values are not searchable"
    );
    let (_, b) = d.get("/config?scope=service", &operator).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0);

    // Rotation through the API keeps every secret readable, also after a restart.
    let (s, b) = d.post("/config/rotate-key", &operator, json!({})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.post("/config/rotate-key", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_ne!(b["data"]["old_key_id"], b["data"]["new_key_id"]);
    assert!(b["data"]["resealed"].as_u64().unwrap() >= 3, "{b}");
    let (_, b) = d.get("/config/feature.b?reveal=true", &admin).await;
    assert_eq!(b["data"]["value"], json!({"n": 2}));
    d.restart().await;
    let admin = d.admin().await;
    let (_, b) = d.get("/config/smtp.password?reveal=true", &admin).await;
    assert_eq!(b["data"]["value"], SECRET);

    // Delete.
    let (s, _) = d.delete("/config/smtp.host", &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get("/config/smtp.host", &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // The audit log has the reveals and the rotation, never the value.
    let (s, b) = d.get("/audit?action=config.reveal", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["meta"]["pagination"]["total"].as_u64().unwrap() >= 3,
        "{b}"
    );
    assert_eq!(b["data"][0]["target_id"], "smtp.password");
    let (_, b) = d.get("/audit?action=config.rotate_key", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1);
    let (_, b) = d.get("/audit?limit=100", &admin).await;
    assert!(!b.to_string().contains(SECRET));
    let (s, b) = d.get("/audit", &operator).await;
    assert_error(s, &b, 403, "FORBIDDEN");

    // Nothing in clear on disk or in the log.
    d.stop().await;
    for f in ["mcpd.db", "mcpd.db-wal"] {
        if let Ok(bytes) = std::fs::read(d.data_path(f)) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{f} holds the secret in clear"
            );
        }
    }
    assert!(!d.log().contains(SECRET));
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20")
}

/// A changed secret can restart the services that use it; a key in use cannot be
/// deleted; a service's scoped entries go with it.
#[tokio::test]
async fn secrets_and_the_services_that_use_them() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let key = format!("t{}.api.token", d.tag);
    let first = json!({"value": "first-token-value", "secret": true});
    expect(201, put(&d, &admin, &key, first).await);
    let name = d.name("tokenuser");
    let mut body = common::sleeper(&name);
    body["env"] = json!({"TOKEN": format!("${{secret:{key}}}")});
    body["start"] = json!(true);
    let svc = common::create_service(&d, &admin, body).await;
    let svc_id = svc["id"].as_str().unwrap().to_string();
    let container = format!("mcpd-{name}-1");
    let env_in =
        |c: &str| common::docker(&["exec", c, "sh", "-c", "echo $TOKEN"]).unwrap_or_default();
    assert_eq!(env_in(&container), "first-token-value");

    // A developer may not ask for restarts (needs services:write); nothing is written.
    let dev = d.user_with_roles("dev", &["developer"]).await;
    let x = json!({"value": "x", "secret": true, "restart_dependents": true});
    expect_error(put(&d, &dev, &key, x).await, 403, "FORBIDDEN");

    // Without restart_dependents the running container keeps the old value; the answer
    // names the dependents.
    let second = json!({"value": "second-token-value", "secret": true});
    let b = expect(200, put(&d, &admin, &key, second).await);
    assert_eq!(b["data"]["dependents"][0]["name"], name.as_str());
    assert_eq!(b["data"]["restarted"], json!([]));
    assert_eq!(env_in(&container), "first-token-value");
    // With it, the service is restarted and gets the new value.
    let third = json!({"value": "third-token-value", "restart_dependents": true});
    let b = expect(200, put(&d, &admin, &key, third).await);
    assert_eq!(b["data"]["restarted"], json!([name]));
    assert_eq!(
        b["data"]["value"], "********",
        "still secret when `secret` is not sent"
    );
    assert_eq!(env_in(&container), "third-token-value");

    // In use → the key cannot be deleted.
    let (s, b) = d.delete(&format!("/config/{key}"), &admin).await;
    let e = assert_error(s, &b, 409, "CONFLICT");
    assert!(e["message"].as_str().unwrap().contains(&name), "{e}");

    // Service-scoped entries are removed with their service.
    let scoped = format!("t{}.scoped", d.tag);
    let scope = json!({"value": 1, "scope": format!("service:{svc_id}")});
    expect(201, put(&d, &admin, &scoped, scope).await);
    let (_, b) = d
        .get(&format!("/config?scope=service:{svc_id}"), &admin)
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 1);
    let (_, b) = d.get(&format!("/config?service={name}"), &admin).await;
    assert_eq!(b["data"][0]["key"], scoped.as_str(), "{b}");
    let (_, b) = d.get("/config?scope=service", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1);
    let (s, _) = d.delete(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get(&format!("/config/{scoped}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // With the service gone the key can be deleted; the secret never reached the log.
    let (s, _) = d.delete(&format!("/config/{key}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for v in [
        "first-token-value",
        "second-token-value",
        "third-token-value",
    ] {
        assert!(!d.log().contains(v));
    }
}
