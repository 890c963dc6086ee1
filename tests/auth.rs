//! Login and token lifecycle, API keys and scopes, users and roles, against the real
//! binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{ADMIN_PASSWORD, Daemon, assert_error, merged};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn login_body(d: &Daemon, username: &str, password: &str) -> (StatusCode, Value) {
    d.post_anonymous(
        "/auth/login",
        json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn login_refresh_rotation_reuse_and_logout() {
    let d = Daemon::start().await;
    let (s, b) = login_body(&d, "admin", ADMIN_PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let data = &b["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["user"]["username"], "admin");
    assert_eq!(data["user"]["roles"], json!(["admin"]));
    assert!(data["user"].get("password_hash").is_none());
    let access = data["access_token"].as_str().unwrap().to_string();
    let refresh1 = data["refresh_token"].as_str().unwrap().to_string();

    // Email works as the login name too.
    let (s, _) = login_body(&d, "admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(s, StatusCode::OK);

    let (s, me) = d.get("/users/me", &access).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert!(
        me["data"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("users:admin"))
    );

    // Rotation: the new pair works, the old refresh token is spent.
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": refresh1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let access2 = b["data"]["access_token"].as_str().unwrap().to_string();
    let refresh2 = b["data"]["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh2);
    assert_eq!(d.get("/users/me", &access2).await.0, StatusCode::OK);

    // Reuse of the rotated token revokes the whole family: refresh2 and both access
    // tokens stop working.
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": refresh1}))
        .await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": refresh2}))
        .await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d.get("/users/me", &access2).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d.get("/users/me", &access).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");

    // Logout revokes the session of a fresh login.
    let (_, b) = login_body(&d, "admin", ADMIN_PASSWORD).await;
    let access3 = b["data"]["access_token"].as_str().unwrap().to_string();
    let refresh3 = b["data"]["refresh_token"].as_str().unwrap().to_string();
    let (s, b) = d.post("/auth/logout", &access3, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_error(
        d.get("/users/me", &access3).await.0,
        &d.get("/users/me", &access3).await.1,
        401,
        "AUTH_TOKEN_INVALID",
    );
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": refresh3}))
        .await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");

    // Garbage tokens.
    let (s, b) = d.get("/users/me", "not-a-jwt").await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": "mcpdr_nope"}))
        .await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d
        .post("/auth/refresh", "", json!({"refresh_token": 42}))
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "refresh_token");
}

#[tokio::test]
async fn failed_logins_are_rejected_then_rate_limited() {
    let d = Daemon::start().await;
    // Unknown user and wrong password answer alike.
    let (s, b) = login_body(&d, "nobody", "whatever-password").await;
    let unknown = assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    let (s, b) = login_body(&d, "admin", "wrong-password-1").await;
    let wrong = assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    assert_eq!(unknown["message"], wrong["message"]);

    // 5 failures per minute per username+address; the 6th is refused with Retry-After,
    // and while blocked even the right password is refused.
    for i in 2..=5 {
        let (s, b) = login_body(&d, "admin", &format!("wrong-password-{i}")).await;
        assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    }
    let resp = d
        .client
        .post(d.url("/auth/login"))
        .json(&json!({"username": "admin", "password": "wrong-password-6"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-limit"], "5");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "RATE_LIMIT_EXCEEDED");
    let (s, b) = login_body(&d, "admin", ADMIN_PASSWORD).await;
    assert_error(s, &b, 429, "RATE_LIMIT_EXCEEDED");
    // Another username from the same address is unaffected.
    let (s, b) = login_body(&d, "someone-else", "wrong-password-x").await;
    assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    assert!(d.log().contains("login failed"), "failures are logged");
}

#[tokio::test]
async fn requests_are_rate_limited_per_user_and_per_api_key() {
    // Six a minute: one bucket per user, one per API key.
    let mut d = Daemon::start_with_var("MCPD_AUTH__REQUESTS_PER_MINUTE", "6").await;
    let dev = d.user_with_roles("rita", &["developer"]).await;
    let admin = d.admin().await;
    let get = |auth: (&'static str, String)| {
        let req = d.client.get(d.url("/users/me")).header(auth.0, auth.1);
        async move {
            let r = req.send().await.unwrap();
            let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
            let standing = (
                header("x-ratelimit-limit"),
                header("x-ratelimit-remaining"),
                header("x-ratelimit-reset"),
                header("retry-after"),
            );
            let status = r.status();
            (status, standing, r.json::<Value>().await.unwrap())
        }
    };
    let bearer = ("authorization", format!("Bearer {dev}"));
    let (_, key) = d.api_key(&dev, "rl", &["*"]).await;
    let key = ("x-api-key", key);
    // The key's creation took one of the user's six.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for left in (0..5).rev() {
        let (s, (limit, remaining, reset, _), b) = get(bearer.clone()).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(limit.as_deref(), Some("6"));
        assert_eq!(remaining, Some(left.to_string()));
        let reset: i64 = reset.unwrap().parse().unwrap();
        assert!(
            (now..=now + 70).contains(&reset),
            "reset {reset}, now {now}"
        );
    }
    let (s, (_, remaining, _, retry), b) = get(bearer.clone()).await;
    assert_error(s, &b, 429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(remaining.as_deref(), Some("0"));
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    // The gateway refuses the same way, without calling the credential invalid.
    let r = d
        .client
        .post(format!("{}/mcp", d.base.trim_end_matches("/api/v1")))
        .header("authorization", format!("Bearer {dev}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers().get("www-authenticate").is_none(),
        "{:?}",
        r.headers()
    );
    assert!(r.headers().get("retry-after").is_some());
    // The API key has its own bucket; other users are unaffected; unauthenticated
    // routes carry no standing.
    let (s, (_, remaining, _, _), b) = get(key).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(remaining.as_deref(), Some("5"));
    let (s, (_, remaining, _, _), _) = get(("authorization", format!("Bearer {admin}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(remaining.is_some());
    let r = d.client.get(d.url("/health")).send().await.unwrap();
    assert!(r.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn users_crud_roles_disable_and_password_change() {
    let (d, admin) = Daemon::start_admin().await;
    let (s, b) = d
        .post(
            "/users",
            &admin,
            json!({"username": "alice", "email": "alice@example.test", "password": "alice-password-1", "roles": ["developer"], "full_name": "Alice A"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let alice_id = b["data"]["id"].as_str().unwrap().to_string();
    assert!(alice_id.starts_with("usr_"));
    assert_eq!(b["data"]["status"], "active");
    assert_eq!(b["data"]["mfa_enabled"], false);

    // Bad input: duplicate, unknown role, short password, unknown field, wrong type;
    // each case is a valid body for bob with one thing changed.
    let bob = json!({"username": "bob", "email": "bob@example.test", "password": "long-enough-pass", "roles": ["viewer"]});
    let mut without_roles = bob.clone();
    without_roles.as_object_mut().unwrap().remove("roles");
    let bob_with = |changes: Value| merged(bob.clone(), changes);
    let (taken, invalid) = ("RESOURCE_ALREADY_EXISTS", "VALIDATION_ERROR");
    let cases = [
        (
            bob_with(json!({"username": "alice", "email": "x@example.test"})),
            409,
            taken,
            "username",
        ),
        (
            bob_with(json!({"email": "alice@example.test"})),
            409,
            taken,
            "email",
        ),
        (bob_with(json!({"roles": ["root"]})), 400, invalid, "roles"),
        (
            bob_with(json!({"password": "short"})),
            400,
            invalid,
            "password",
        ),
        (
            bob_with(json!({"email": "not-an-email"})),
            400,
            invalid,
            "email",
        ),
        (
            bob_with(json!({"username": "b o b"})),
            400,
            invalid,
            "username",
        ),
        (bob_with(json!({"is_root": true})), 400, invalid, "is_root"),
        (bob_with(json!({"roles": "viewer"})), 400, invalid, "roles"),
        (without_roles, 400, invalid, "roles"),
    ];
    for (body, status, code, field) in cases {
        let (s, b) = d.post("/users", &admin, body.clone()).await;
        let e = assert_error(s, &b, status, code);
        assert_eq!(e["details"][0]["field"], field, "{body} → {b}");
    }
    let (_, b) = d.get("/users?username=bob", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "nothing half-created");

    // List with filters, get by id and by name.
    let (s, b) = d
        .get("/users?status=active&sort=username&order=asc", &admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice"]);
    let (s, b) = d.get("/users?colour=blue", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(
        d.get("/users/alice", &admin).await.1["data"]["id"],
        alice_id
    );
    let (s, b) = d.get("/users/usr_nope", &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Alice (developer) may not manage users.
    let alice = d.login("alice", "alice-password-1").await;
    let (s, b) = d.get("/users", &alice).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .post(
            &format!("/users/{alice_id}/roles"),
            &alice,
            json!({"role": "admin"}),
        )
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");

    // Roles: add, remove, patch.
    let (s, b) = d
        .post(
            &format!("/users/{alice_id}/roles"),
            &admin,
            json!({"role": "operator"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["roles"], json!(["developer", "operator"]));
    let (s, _) = d
        .delete(&format!("/users/{alice_id}/roles/operator"), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d
        .delete(&format!("/users/{alice_id}/roles/developer"), &admin)
        .await;
    assert_error(s, &b, 409, "CONFLICT");
    let (s, b) = d
        .patch(
            &format!("/users/{alice_id}"),
            &admin,
            json!({"full_name": "Alice B"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["full_name"], "Alice B");
    assert_eq!(b["data"]["email"], "alice@example.test");

    // The last admin cannot be demoted, disabled or deleted.
    let (s, b) = d.get("/users/me", &admin).await;
    let admin_id = b["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(s, StatusCode::OK);
    let (s, b) = d
        .patch(
            &format!("/users/{admin_id}"),
            &admin,
            json!({"roles": ["viewer"]}),
        )
        .await;
    assert_error(s, &b, 409, "CONFLICT");
    let (s, b) = d.delete(&format!("/users/{admin_id}"), &admin).await;
    assert_error(s, &b, 409, "CONFLICT");

    // Password change: wrong current → 400, right → sessions revoked, new password works.
    let (s, b) = d
        .post(
            "/users/me/password",
            &alice,
            json!({"current_password": "nope-nope-nope", "new_password": "alice-password-2"}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "current_password");
    let (s, b) = d
        .post(
            "/users/me/password",
            &alice,
            json!({"current_password": "alice-password-1", "new_password": "alice-password-2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_error(
        d.get("/users/me", &alice).await.0,
        &d.get("/users/me", &alice).await.1,
        401,
        "AUTH_TOKEN_INVALID",
    );
    let (s, b) = login_body(&d, "alice", "alice-password-1").await;
    assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    let alice = d.login("alice", "alice-password-2").await;

    // An API key of alice's, then disable alice: token and key stop at once.
    let (_, key) = d.api_key(&alice, "ci", &["*"]).await;
    assert_eq!(d.get("/users/me", &key).await.0, StatusCode::OK);
    let (s, b) = d
        .patch(
            &format!("/users/{alice_id}"),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_error(
        d.get("/users/me", &alice).await.0,
        &d.get("/users/me", &alice).await.1,
        401,
        "AUTH_TOKEN_INVALID",
    );
    assert_error(
        d.get("/users/me", &key).await.0,
        &d.get("/users/me", &key).await.1,
        401,
        "AUTH_TOKEN_INVALID",
    );
    let (s, b) = login_body(&d, "alice", "alice-password-2").await;
    assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");

    // Delete.
    let (s, _) = d.delete(&format!("/users/{alice_id}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get(&format!("/users/{alice_id}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Roles are listed for any authenticated caller.
    let (s, b) = d.get("/roles", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let roles: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["admin", "operator", "developer", "viewer"]);
    let viewer = &b["data"][3]["permissions"];
    assert!(viewer.as_array().unwrap().contains(&json!("mcp:read")));
    assert!(!viewer.as_array().unwrap().contains(&json!("mcp:execute")));

    // Registration is off by default.
    let (s, b) = d
        .post(
            "/auth/register",
            "",
            json!({"username": "eve", "email": "eve@example.test", "password": "eve-password-123"}),
        )
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
}

#[tokio::test]
async fn api_keys_scopes_headers_expiry_and_revocation() {
    let mut d = Daemon::start().await;
    let op = d.user_with_roles("olga", &["operator"]).await;

    let (s, b) = d
        .post(
            "/api-keys",
            &op,
            json!({"name": "reader", "scopes": ["services:read", "mcp:read"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    let key_id = b["data"]["id"].as_str().unwrap().to_string();
    let prefix = b["data"]["prefix"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("mcpd_{prefix}_")), "{key}");

    // The list shows the prefix, never the key or its hash.
    let (s, b) = d.get("/api-keys", &op).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["prefix"], prefix.as_str());
    assert!(b["data"][0].get("key").is_none());
    assert!(!b.to_string().contains(&key));

    // Bearer, ApiKey and X-API-Key all work; scopes narrow the owner's permissions.
    let (s, me) = d.get("/users/me", &key).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(
        me["data"]["permissions"],
        json!(["services:read", "mcp:read"])
    );
    let resp = d
        .client
        .get(d.url("/users/me"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    for (value, status) in [
        (format!("ApiKey {key}"), StatusCode::OK),
        (format!("apikey {key}"), StatusCode::OK),
        (format!("ApiKey {op}"), StatusCode::UNAUTHORIZED),
        (format!("Basic {key}"), StatusCode::UNAUTHORIZED),
    ] {
        let resp = d
            .client
            .get(d.url("/users/me"))
            .header("authorization", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{}", &value[..10]);
    }
    let (s, b) = d.get("/users", &key).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    // A key cannot mint keys.
    let (s, b) = d
        .post("/api-keys", &key, json!({"name": "child", "scopes": ["*"]}))
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");

    // Scopes the owner lacks, unknown scopes, duplicates and past expiry are refused.
    for (body, field) in [
        (json!({"name": "a", "scopes": ["users:admin"]}), "scopes"),
        (json!({"name": "a", "scopes": ["services:fly"]}), "scopes"),
        (json!({"name": "a", "scopes": []}), "scopes"),
        (
            json!({"name": "a", "scopes": ["*"], "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"name": "a", "scopes": ["*"], "expires_at": "tomorrow"}),
            "expires_at",
        ),
        (
            json!({"name": "a", "scopes": ["*"], "owner": "admin"}),
            "owner",
        ),
    ] {
        let (s, b) = d.post("/api-keys", &op, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body}");
    }
    let (s, b) = d
        .post("/api-keys", &op, json!({"name": "reader", "scopes": ["*"]}))
        .await;
    assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");

    // OAuth2 client credentials with the key, narrowed further by `scope`.
    let resp = d
        .client
        .post(d.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &key_id),
            ("client_secret", &key),
            ("scope", "mcp:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["data"]["token_type"], "Bearer");
    assert_eq!(b["data"]["scope"], "mcp:read");
    // RFC 6749 §5.1's fields at the top level too, for OAuth2 client libraries.
    assert_eq!(b["access_token"], b["data"]["access_token"]);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], b["data"]["expires_in"]);
    assert!(b["meta"]["request_id"].is_string(), "{b}");
    let machine = b["data"]["access_token"].as_str().unwrap().to_string();
    let (s, me) = d.get("/users/me", &machine).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["data"]["permissions"], json!(["mcp:read"]));
    // HTTP Basic client authentication (RFC 6749 §2.3.1).
    let resp = d
        .client
        .post(d.url("/auth/token"))
        .basic_auth(&key_id, Some(&key))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Wrong secret, wider scope, wrong grant.
    for (form, status, code) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", key_id.as_str()),
                ("client_secret", "mcpd_aaaaaaaa_bbbb"),
            ],
            401,
            "AUTH_INVALID_CREDENTIALS",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", key_id.as_str()),
                ("client_secret", key.as_str()),
                ("scope", "services:write"),
            ],
            400,
            "VALIDATION_ERROR",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", key_id.as_str()),
                ("client_secret", key.as_str()),
            ],
            400,
            "VALIDATION_ERROR",
        ),
    ] {
        let resp = d
            .client
            .post(d.url("/auth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        let b: Value = resp.json().await.unwrap();
        assert_error(s, &b, status, code);
    }

    // Revocation stops the key and the tokens minted from it.
    let (s, _) = d.delete(&format!("/api-keys/{key_id}"), &op).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get("/users/me", &key).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d.get("/users/me", &machine).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (s, b) = d.delete(&format!("/api-keys/{key_id}"), &op).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Expiry: a key that expires in a moment stops working.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, b) = d
        .post(
            "/api-keys",
            &op,
            json!({"name": "short", "scopes": ["*"], "expires_at": soon}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let short = b["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(d.get("/users/me", &short).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (s, b) = d.get("/users/me", &short).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");

    // Someone else's key is invisible.
    let admin = d.admin().await;
    let (admin_key_id, _) = d.api_key(&admin, "admin-key", &["*"]).await;
    let (s, b) = d.delete(&format!("/api-keys/{admin_key_id}"), &op).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // The key's secret never reaches the log.
    assert!(!d.log().contains(&key));
}

#[tokio::test]
async fn totp_enrolment_login_replay_and_admin_reset() {
    let mut d = Daemon::start().await;
    let alice = d.user_with_roles("alice", &["developer"]).await;
    let (s, b) = d.post("/auth/mfa/setup", &alice, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let secret = b["data"]["secret"].as_str().unwrap().to_string();
    assert!(
        b["data"]["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/mcpd:alice?")
    );
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let code = |t: u64| mcpd::auth::mfa::code_at(&secret, t).unwrap();

    // Not on until confirmed with a right code.
    let (s, b) = d
        .post("/auth/mfa/enable", &alice, json!({"code": "12345x"}))
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "code");
    assert_eq!(
        login_body(&d, "alice", "user-password-for-tests").await.0,
        StatusCode::OK
    );
    let first = code(now());
    let (s, b) = d
        .post("/auth/mfa/enable", &alice, json!({"code": first}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        d.get("/users/me", &alice).await.1["data"]["mfa_enabled"],
        true
    );
    let (s, b) = d.post("/auth/mfa/setup", &alice, json!({})).await;
    assert_error(s, &b, 409, "CONFLICT");

    // Login now needs the code; a wrong password still says only that.
    let (s, b) = login_body(&d, "alice", "user-password-for-tests").await;
    assert_error(s, &b, 401, "AUTH_MFA_REQUIRED");
    let (s, b) = login_body(&d, "alice", "wrong-password-xx").await;
    assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    let with_code = |c: String| json!({"username": "alice", "password": "user-password-for-tests", "mfa_code": c});
    // The code used to enable cannot be replayed.
    let (s, b) = d
        .post_anonymous("/auth/login", with_code(first.clone()))
        .await;
    assert_error(s, &b, 401, "AUTH_INVALID_CREDENTIALS");
    // The next step's code is within the allowed skew and not used yet.
    let (s, b) = d
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(with_code(code(now() + 30))),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // An admin resets it (lost device); the password alone works again.
    let admin = d.admin().await;
    let (_, me) = d.get("/users/alice", &admin).await;
    let id = me["data"]["id"].as_str().unwrap().to_string();
    let (s, _) = d.delete(&format!("/users/{id}/mfa"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        login_body(&d, "alice", "user-password-for-tests").await.0,
        StatusCode::OK
    );
    // The audit log has the enrolment and the reset; never the secret.
    let (_, b) = d.get("/audit?limit=100", &admin).await;
    let actions: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"auth.mfa_enable") && actions.contains(&"users.reset_mfa"),
        "{actions:?}"
    );
    assert!(!b.to_string().contains(&secret));
    assert!(!d.log().contains(&secret));
}

#[tokio::test]
async fn sessions_are_listed_and_revocable_by_their_owner() {
    let mut d = Daemon::start().await;
    let bob1 = d.user_with_roles("bob", &["viewer"]).await;
    let bob2 = d.login("bob", "user-password-for-tests").await;
    let (s, b) = d.get("/auth/sessions", &bob1).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sessions = b["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = d.delete(&format!("/auth/sessions/{other}"), &bob1).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get("/users/me", &bob2).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    assert_eq!(d.get("/users/me", &bob1).await.0, StatusCode::OK);
    // Someone else's session is not found.
    let admin = d.admin().await;
    let (_, b) = d.get("/auth/sessions", &admin).await;
    let admin_session = b["data"][0]["id"].as_str().unwrap().to_string();
    let (s, b) = d
        .delete(&format!("/auth/sessions/{admin_session}"), &bob1)
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    // API keys cannot manage MFA.
    let (_, key) = d.api_key(&bob1, "k", &["*"]).await;
    let (s, b) = d.post("/auth/mfa/setup", &key, json!({})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
}

/// An admin sees a user's login sessions (client address and user agent as recorded at
/// login) and ends one or all of them; the user's API keys keep working.
#[tokio::test]
async fn admins_list_and_end_a_users_sessions() {
    let mut d = Daemon::start().await;
    let carol1 = d.user_with_roles("carol", &["operator"]).await;
    let resp = d
        .client
        .post(d.url("/auth/login"))
        .header("user-agent", "seed-client/1.0")
        .json(&json!({"username": "carol", "password": "user-password-for-tests"}))
        .send()
        .await
        .unwrap();
    let carol2 = resp.json::<Value>().await.unwrap()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, key) = d.api_key(&carol1, "carol-key", &["*"]).await;
    let admin = d.admin().await;
    let (s, b) = d.get("/users/carol/sessions", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sessions = b["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{b}");
    assert!(
        sessions
            .iter()
            .all(|s| s["client_addr"] == "127.0.0.1" && s["current"] == false)
    );
    let seeded = sessions
        .iter()
        .find(|s| s["user_agent"] == "seed-client/1.0")
        .expect("the login's user agent");
    let sid = seeded["id"].as_str().unwrap().to_string();

    // Not for an operator (no users:admin), nor for another user's session id.
    let (s, b) = d.get("/users/carol/sessions", &carol1).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (_, mine) = d.get("/auth/sessions", &admin).await;
    let admin_sid = mine["data"][0]["id"].as_str().unwrap();
    let (s, b) = d
        .delete(&format!("/users/carol/sessions/{admin_sid}"), &admin)
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d.get("/users/nobody/sessions", &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // One session ends; then all.
    let (s, _) = d
        .delete(&format!("/users/carol/sessions/{sid}"), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = d.get("/users/me", &carol2).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    assert_eq!(d.get("/users/me", &carol1).await.0, StatusCode::OK);
    let (s, b) = d
        .delete(&format!("/users/carol/sessions/{sid}"), &admin)
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d.delete("/users/carol/sessions", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["revoked"], 1);
    let (s, b) = d.get("/users/me", &carol1).await;
    assert_error(s, &b, 401, "AUTH_TOKEN_INVALID");
    let (_, b) = d.get("/users/carol/sessions", &admin).await;
    assert_eq!(b["data"], json!([]));
    assert_eq!(d.get("/users/me", &key).await.0, StatusCode::OK);
    let (_, b) = d.get("/audit?action=auth.session_revoke", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 2, "{b}");
    let entries = b["data"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["details"]["by"] == "admin"), "{b}");
}

/// Audit rows carry the id of the request that caused them.
#[tokio::test]
async fn audit_entries_carry_the_request_id() {
    let (d, admin) = Daemon::start_admin().await;
    let resp = d
        .client
        .post(d.url("/api-keys"))
        .bearer_auth(&admin)
        .header("X-Request-ID", "chk-audit-123")
        .json(&json!({"name": "traced", "scopes": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (s, b) = d.get("/audit?request_id=chk-audit-123", &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    assert_eq!(b["data"][0]["action"], "api_keys.create");
}
