//! The seed documents' spellings, accepted beside the API's own so that clients written
//! to them work unchanged: API keys created without `scopes` and with `expires_in`,
//! `POST /auth/token` with a JSON body, `size` for `limit`, dates alone in time
//! filters, `search`, and `created`/`updated` as sort names. Each is checked through the real binary, with its unhappy paths.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::Daemon;
use common::answers::assert_error;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `s` percent-encoded for a query string.
fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Seconds between now and an RFC 3339 time.
fn seconds_from_now(t: &str) -> i64 {
    let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
    (t - time::OffsetDateTime::now_utc()).whole_seconds()
}

#[tokio::test]
async fn api_keys_take_expires_in_and_default_to_every_permission() {
    let (d, admin) = Daemon::start_admin().await;
    let (s, b) = d
        .post(
            "/api-keys",
            &admin,
            json!({"name": "seed", "expires_in": 3600}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["scopes"], json!(["*"]));
    let left = seconds_from_now(b["data"]["expires_at"].as_str().unwrap());
    assert!((3590..=3600).contains(&left), "expires in {left} s");
    let key = b["data"]["key"].as_str().unwrap();
    let (s, me) = d.get("/users/me", key).await;
    assert_eq!(s, StatusCode::OK);
    let (_, admin_me) = d.get("/users/me", &admin).await;
    assert_eq!(me["data"]["permissions"], admin_me["data"]["permissions"]);

    let later = "2999-01-01T00:00:00Z";
    for (body, field) in [
        (json!({"name": "a", "expires_in": 0}), "expires_in"),
        (
            json!({"name": "b", "expires_in": 315_360_001u64}),
            "expires_in",
        ),
        (json!({"name": "c", "expires_in": -5}), "expires_in"),
        (json!({"name": "d", "expires_in": "3600"}), "expires_in"),
        (
            json!({"name": "e", "expires_in": 60, "expires_at": later}),
            "expires_in",
        ),
        (json!({"name": "f", "scopes": []}), "scopes"),
    ] {
        let (s, b) = d.post("/api-keys", &admin, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body}: {b}");
    }
    // Nothing was made by the refused requests.
    let (_, keys) = d.get("/api-keys", &admin).await;
    assert_eq!(keys["meta"]["pagination"]["total"], 1, "{keys}");
}

#[tokio::test]
async fn the_token_endpoint_takes_json_as_seed_clients_send_it() {
    let (d, admin) = Daemon::start_admin().await;
    let (key_id, key) = d.api_key(&admin, "machine", &["mcp:read"]).await;
    let send = |body: String, content_type: &'static str| {
        d.client
            .post(d.url("/auth/token"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let good = json!({"grant_type": "client_credentials", "client_id": key_id,
        "client_secret": key, "extra": "ignored"});
    let resp = send(good.to_string(), "application/json").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["token_type"], "Bearer");
    let token = b["access_token"].as_str().unwrap();
    let (s, me) = d.get("/users/me", token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["data"]["permissions"], json!(["mcp:read"]));

    let wrong_secret = json!({"grant_type": "client_credentials", "client_id": key_id,
        "client_secret": "mcpd_aaaaaaaa_bbbb"});
    let wrong_grant = json!({"grant_type": "password", "client_id": key_id,
        "client_secret": key});
    for (body, content_type, status, code) in [
        (
            wrong_secret.to_string(),
            "application/json",
            401,
            "AUTH_INVALID_CREDENTIALS",
        ),
        (
            wrong_grant.to_string(),
            "application/json",
            400,
            "VALIDATION_ERROR",
        ),
        (
            "[1]".to_string(),
            "application/json",
            400,
            "VALIDATION_ERROR",
        ),
        (
            "{\"grant_type\":".to_string(),
            "application/json",
            400,
            "VALIDATION_ERROR",
        ),
        (good.to_string(), "text/plain", 400, "VALIDATION_ERROR"),
    ] {
        let resp = send(body.clone(), content_type).await.unwrap();
        let s = resp.status();
        let b: Value = resp.json().await.unwrap();
        assert_error(s, &b, status, code);
    }
}

#[tokio::test]
async fn lists_take_size_and_dates_alone() {
    let (mut d, admin) = Daemon::start_admin().await;
    d.user_with_roles("second", &["viewer"]).await;
    let (s, b) = d.get("/users?size=1", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    assert_eq!(b["meta"]["pagination"]["limit"], 1);
    assert_eq!(b["meta"]["pagination"]["total"], 2);
    let (s, b) = d.get("/users?size=0", &admin).await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "limit");

    let (_, b) = d.get("/users?created_at[gte]=2000-01-01", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 2, "{b}");
    let (_, b) = d.get("/users?created_at[gte]=2999-01-01", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (s, b) = d.get("/users?created_at[gte]=2023-13-01", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    for path in ["/audit", "/logs/requests", "/usage"] {
        let (s, b) = d.get(&format!("{path}?from=2000-01-01"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        let (s, b) = d.get(&format!("{path}?from=01/01/2000"), &admin).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], "from", "{path}: {b}");
    }
    // `search`: a case-insensitive substring of the list's text columns; `%` and `_`
    // match themselves; lists without a search refuse it.
    let (_, b) = d.get("/users?search=SECOND@example", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    assert_eq!(b["data"][0]["username"], "second");
    for literal in ["%", "_", "sec%"] {
        let (_, b) = d
            .get(&format!("/users?search={}", urlencode(literal)), &admin)
            .await;
        assert_eq!(b["meta"]["pagination"]["total"], 0, "{literal}: {b}");
    }
    for path in ["/services", "/mcp/servers", "/config"] {
        let (s, b) = d
            .get(&format!("{path}?search=nothing-like-this"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        assert_eq!(b["meta"]["pagination"]["total"], 0, "{path}: {b}");
    }
    let long = "x".repeat(257);
    for bad in [
        "/users?search=",
        &format!("/users?search={long}"),
        "/audit?search=x",
    ] {
        let (s, b) = d.get(bad, &admin).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], "search", "{bad}: {b}");
    }
    // Seed 003's sort names.
    let (_, b) = d.get("/users?sort=created&order=desc", &admin).await;
    assert_eq!(b["data"][0]["username"], "second", "{b}");
    let (_, b) = d.get("/users?sort=created&order=asc", &admin).await;
    assert_eq!(b["data"][0]["username"], "admin", "{b}");
    // The audit log holds the user created today, not one from 2999 on.
    let (_, b) = d.get("/audit?from=2999-01-01", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
}
