//! Registering remote Kubernetes clusters through the real `mcpd` binary, against the
//! in-repo fake API server (`tests/kube_fake`: TLS with its own CA, a required bearer
//! token, the real REST shapes), so that the real `kube` client inside mcpd is what is
//! tested: credentials sealed and never shown, connection problems named and nothing
//! stored, kubeconfig contexts, a cluster that is down and comes back, the audit trail
//! and the rate tier.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;
mod kube_fake;

use base64::Engine;
use common::{Daemon, assert_error, expect, expect_error};
use kube_fake::FakeCluster;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The body that registers `fake` with a token and its CA.
fn token_body(name: &str, fake: &FakeCluster) -> Value {
    json!({"name": name, "server": fake.url(), "token": fake.token(), "ca_cert": fake.ca_pem()})
}

async fn clusters_total(d: &Daemon, token: &str) -> u64 {
    let b = expect(200, d.get("/kubernetes/clusters", token).await);
    b["meta"]["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_cluster_registers_and_its_credentials_are_never_shown() {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let b = expect(
        201,
        d.post(
            "/kubernetes/clusters",
            &admin,
            json!({
                "name": "edge", "description": "lab cluster",
                "host": fake.url(), "token": fake.token(),
                "ca_cert": base64::engine::general_purpose::STANDARD.encode(fake.ca_pem()),
            }),
        )
        .await,
    );
    let c = &b["data"];
    assert!(c["id"].as_str().unwrap().starts_with("cls_"), "{c}");
    assert_eq!(c["status"], "connected", "{c}");
    assert_eq!(c["version"], "v1.33.2");
    assert_eq!(c["nodes_count"], 2);
    assert_eq!(c["auth_kind"], "token");
    assert_eq!(c["server"], fake.url());
    assert_eq!(c["nodes"][0]["name"], "node-1");
    assert_eq!(c["nodes"][0]["roles"], json!(["control-plane"]));
    assert!(c["last_connected"].is_string());
    let id = c["id"].as_str().unwrap().to_string();

    // By id and by name; listed.
    let by_name = expect(200, d.get("/kubernetes/clusters/edge", &admin).await);
    assert_eq!(by_name["data"]["id"], id.as_str());
    assert_eq!(clusters_total(&d, &admin).await, 1);
    let filtered = expect(
        200,
        d.get("/kubernetes/clusters?status=connected", &admin).await,
    );
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

    // The same name again is a conflict; the fake saw no second check.
    let dup = d
        .post("/kubernetes/clusters", &admin, token_body("edge", &fake))
        .await;
    expect_error(dup, 409, "RESOURCE_ALREADY_EXISTS");

    // A description change keeps the connection.
    let path = format!("/kubernetes/clusters/{id}");
    let p = expect(
        200,
        d.patch(&path, &admin, json!({"description": "moved"}))
            .await,
    );
    assert_eq!(p["data"]["description"], "moved");
    assert_eq!(p["data"]["status"], "connected");

    // Neither the token nor the CA appears in any answer, the audit log or the log.
    let audit = expect(200, d.get("/audit?limit=100", &admin).await).to_string();
    assert!(audit.contains("kubernetes.clusters.create"), "{audit}");
    assert!(audit.contains("kubernetes.clusters.update"), "{audit}");
    for text in [
        b.to_string(),
        by_name.to_string(),
        p.to_string(),
        audit,
        d.log(),
    ] {
        assert!(!text.contains(&fake.token()), "the token leaked: {text}");
        assert!(!text.contains("BEGIN CERTIFICATE"), "the CA leaked: {text}");
    }
    // Nor is it in the database in clear.
    let db = std::fs::read(d.data_path("mcpd.db")).unwrap();
    let wal = std::fs::read(d.data_path("mcpd.db-wal")).unwrap_or_default();
    let token = fake.token();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "token stored in clear"
        );
    }

    expect(204, d.delete(&path, &admin).await);
    expect_error(d.get(&path, &admin).await, 404, "RESOURCE_NOT_FOUND");
    let audit = expect(200, d.get("/audit?limit=100", &admin).await).to_string();
    assert!(audit.contains("kubernetes.clusters.delete"), "{audit}");
}

#[tokio::test]
async fn a_cluster_that_refuses_or_cannot_be_verified_is_named_and_not_stored() {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let other = FakeCluster::start().await;

    let mut wrong_token = token_body("c1", &fake);
    wrong_token["token"] = json!("not-the-token");
    let e = expect_error(
        d.post("/kubernetes/clusters", &admin, wrong_token).await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("401"), "{e}");

    let mut wrong_ca = token_body("c2", &fake);
    wrong_ca["ca_cert"] = json!(other.ca_pem());
    let e = expect_error(
        d.post("/kubernetes/clusters", &admin, wrong_ca).await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("TLS"), "{e}");

    other.stop().await;
    let e = expect_error(
        d.post("/kubernetes/clusters", &admin, token_body("c3", &other))
            .await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("refused"), "{e}");

    let e = expect_error(
        d.post("/kubernetes/clusters", &admin, json!({"name": "c4", "server": "https://no-such-host.invalid:6443", "token": "t", "insecure_skip_tls_verify": true})).await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("DNS"), "{e}");
    assert_eq!(clusters_total(&d, &admin).await, 0, "nothing is stored");
}

#[tokio::test]
async fn bad_cluster_requests_name_the_field_and_change_nothing() {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let base = token_body("ok-name", &fake);
    let with = |patch: Value| common::merged(base.clone(), patch);
    let cases = [
        (with(json!({"tokn": "x"})), "tokn"),
        (with(json!({"name": "Bad Name"})), "name"),
        (with(json!({"server": "http://127.0.0.1:1"})), "server"),
        (with(json!({"server": "not a url"})), "server"),
        (
            with(
                json!({"ca_cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}),
            ),
            "ca_cert",
        ),
        (with(json!({"ca_cert": null})), "ca_cert"),
        (with(json!({"token": null})), "token"),
        (with(json!({"client_cert": fake.ca_pem()})), "token"),
        (with(json!({"context": "x"})), "context"),
        (with(json!({"kubeconfig": fake.kubeconfig("k")})), "server"),
        (
            json!({"name": "k", "kubeconfig": "clusters: [oops"}),
            "kubeconfig",
        ),
        (
            json!({"name": "k", "kubeconfig": fake.kubeconfig("k"), "context": "nope"}),
            "context",
        ),
        (
            json!({"name": "k", "kubeconfig": exec_kubeconfig(&fake)}),
            "kubeconfig",
        ),
        (
            json!({"name": "k", "kubeconfig": fake.kubeconfig("k"), "description": "x".repeat(2000)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let (s, b) = d.post("/kubernetes/clusters", &admin, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body}: {b}");
    }
    assert_eq!(clusters_total(&d, &admin).await, 0);
    // The checks ran before any request reached the cluster.
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

/// A kubeconfig whose user runs a program for its credential (refused).
fn exec_kubeconfig(fake: &FakeCluster) -> String {
    let mut k: Value = serde_json::from_str(&fake.kubeconfig("k")).unwrap();
    k["users"][0]["user"] =
        json!({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh"}});
    k.to_string()
}

#[tokio::test]
async fn a_kubeconfig_context_is_used_as_sent_or_base64_encoded() {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let b = expect(
        201,
        d.post(
            "/kubernetes/clusters",
            &admin,
            json!({"name": "from-kubeconfig", "kubeconfig": fake.kubeconfig("lab")}),
        )
        .await,
    );
    assert_eq!(b["data"]["context"], "lab");
    assert_eq!(b["data"]["status"], "connected");
    let encoded = base64::engine::general_purpose::STANDARD.encode(fake.kubeconfig("lab"));
    let b = expect(
        201,
        d.post(
            "/kubernetes/clusters",
            &admin,
            json!({"name": "encoded", "kubeconfig": encoded, "context": "lab"}),
        )
        .await,
    );
    assert_eq!(b["data"]["nodes_count"], 2);
    // PUT replaces the connection: a wrong token is refused and the old one kept.
    let mut body = token_body("encoded", &fake);
    body["token"] = json!("wrong");
    expect_error(
        d.put("/kubernetes/clusters/encoded", &admin, body).await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    let ns = d
        .get("/kubernetes/clusters/encoded/namespaces", &admin)
        .await;
    expect(200, ns);
}

#[tokio::test]
async fn a_cluster_down_at_registration_is_kept_when_allowed_and_comes_back() {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    fake.stop().await;
    let mut body = token_body("later", &fake);
    body["allow_unreachable"] = json!(true);
    let b = expect(201, d.post("/kubernetes/clusters", &admin, body).await);
    assert_eq!(b["data"]["status"], "unreachable");
    assert!(
        b["data"]["error"].as_str().unwrap().contains("refused"),
        "{b}"
    );
    assert!(b["data"]["version"].is_null());

    let ns = "/kubernetes/clusters/later/namespaces";
    expect_error(d.get(ns, &admin).await, 503, "K8S_CONNECTION_ERROR");
    expect_error(
        d.post("/kubernetes/clusters/later/test", &admin, json!({}))
            .await,
        503,
        "K8S_CONNECTION_ERROR",
    );

    fake.resume().await;
    let t = expect(
        200,
        d.post("/kubernetes/clusters/later/test", &admin, json!({}))
            .await,
    );
    assert_eq!(t["data"]["status"], "connected", "{t}");
    assert_eq!(t["data"]["version"], "v1.33.2");
    assert!(t["data"].get("error").is_none(), "{t}");
    let names = expect(200, d.get(ns, &admin).await);
    assert_eq!(names["meta"]["pagination"]["total"], 2, "{names}");

    // Down again mid-life: calls fail with the cause, the record says so after a test.
    fake.stop().await;
    expect_error(d.get(ns, &admin).await, 503, "K8S_CONNECTION_ERROR");
    expect_error(
        d.post("/kubernetes/clusters/later/test", &admin, json!({}))
            .await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    let c = expect(200, d.get("/kubernetes/clusters/later", &admin).await);
    assert_eq!(c["data"]["status"], "unreachable");
    assert_eq!(
        c["data"]["version"], "v1.33.2",
        "the last good version is kept"
    );
}

#[tokio::test]
async fn kubernetes_routes_have_their_own_rate_tier() {
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_KUBERNETES__REQUESTS_PER_MINUTE", "3").await;
    let get = |path: &'static str| {
        let req = d.client.get(d.url(path)).bearer_auth(&admin);
        async move { req.send().await.unwrap() }
    };
    for left in ["2", "1", "0"] {
        let r = get("/kubernetes/clusters").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3");
        assert_eq!(r.headers()["x-ratelimit-remaining"], left);
    }
    let r = get("/kubernetes/clusters").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "RATE_LIMIT_EXCEEDED");
    // Other routes are not in the tier (the harness turns the general limit off).
    let r = get("/users/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-ratelimit-limit").is_none());
}
