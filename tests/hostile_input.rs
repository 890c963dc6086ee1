//! Input a hostile or careless client sends, against the real daemon: image references
//! that try to escape the engine's `/images/…` path, lists with thousands of filters,
//! huge strings, bodies of the wrong shape, requests hyper refuses before the router,
//! and answers sent before the body was read on a keep-alive connection. Each must be
//! a clear error in the envelope that changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{BUSYBOX_IMAGE, Daemon, assert_error, docker, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A container mcpd does not manage, removed when dropped (even when the test fails).
struct Foreign(String);

impl Foreign {
    fn start(name: String) -> Foreign {
        docker(&["run", "-d", "--name", &name, BUSYBOX_IMAGE, "sleep", "600"])
            .expect("start a foreign container");
        Foreign(name)
    }

    fn running(&self) -> bool {
        docker(&["inspect", "-f", "{{.State.Running}}", &self.0]).as_deref() == Some("true")
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[tokio::test]
async fn image_references_cannot_reach_other_engine_objects() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let victim = Foreign::start(format!("mcpd-foreign-{}", d.tag));
    let name = &victim.0;
    let attacks = [
        format!("..%2Fcontainers%2F{name}"),
        format!("%2e%2e%2Fcontainers%2F{name}"),
        format!("..%2F..%2Fcontainers%2F{name}%2Fjson"),
        format!("mcpd-test%2Fbusybox%3A1%2F..%2F..%2Fcontainers%2F{name}"),
        format!("..%2fcontainers%2f{name}%3Fforce%3Dtrue"),
        "busybox%00".to_string(),
        "%2e%2e".to_string(),
        "a".repeat(600),
    ];
    for attack in &attacks {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::DELETE, ""),
            (Method::DELETE, "?force=true"),
        ] {
            // Sent as written: a URL library would already resolve `%2e%2e` itself.
            let path = format!("/images/{attack}{suffix}");
            let (s, b) = Raw::request(&d, &method, &path, &admin).await;
            let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
            assert_eq!(
                e["details"][0]["field"], "reference",
                "{method} {path}: {b}"
            );
        }
    }
    for image in [format!("../containers/{name}"), "a\u{0}b".to_string()] {
        let (s, b) = d
            .post("/images/pull", &admin, json!({ "image": image }))
            .await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], "image", "{b}");
    }
    // A reference past hyper's URI limit is refused before the router, in the envelope.
    let long = format!("/images/{}", "a".repeat(70_000));
    let (s, b) = Raw::request(&d, &Method::GET, &long, &admin).await;
    assert_error(s, &b, 414, "VALIDATION_ERROR");
    assert!(victim.running(), "the foreign container was touched");
    assert!(
        docker(&["inspect", "-f", "{{.Id}}", name]).is_some(),
        "the foreign container is gone"
    );
    // Nothing was audited as an image change either.
    let (_, audit) = d.get("/audit?action[regex]=^images", &admin).await;
    assert_eq!(audit["meta"]["pagination"]["total"], 0, "{audit}");
    // The ordinary forms still work.
    for ok in ["mcpd-test/busybox:1", "mcpd-test%2Fbusybox%3A1"] {
        let (s, b) = d.get(&format!("/images/{ok}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{ok}: {b}");
    }
}

#[tokio::test]
async fn huge_or_misshapen_values_are_refused_and_nothing_is_made() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let huge = format!("mcpd-test/{}", "b".repeat(100_000));
    for create in ["/services", "/mcp/servers"] {
        let body = json!({"name": d.name("huge"), "image": huge});
        let (s, b) = d.post(create, &admin, body).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], "image", "{create}: {b}");
    }
    for network in ["..", "a/b", "x".repeat(200).as_str()] {
        let (s, b) = d
            .post(
                "/services",
                &admin,
                json!({"name": d.name("net"), "image": BUSYBOX_IMAGE, "networks": [network]}),
            )
            .await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], "networks[0]", "{b}");
    }
    // A port written as an array is not taken as `container_port`.
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": d.name("ports"), "image": BUSYBOX_IMAGE, "ports": [[1]]}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "ports[0]", "{b}");
    // A body that is not an object at all.
    let (s, b) = d
        .post("/services", &admin, json!(["x", BUSYBOX_IMAGE]))
        .await;
    assert_eq!(
        assert_error(s, &b, 400, "VALIDATION_ERROR")["details"][0]["field"],
        "body"
    );
    // Free text is capped.
    let long = "d".repeat(100_000);
    let (s, b) = d
        .post(
            "/workspaces",
            &admin,
            json!({"name": d.name("ws"), "description": long}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "description");
    assert!(
        e["details"][0]["issue"].as_str().unwrap().contains("1024"),
        "{b}"
    );
    let (s, b) = d.get("/services", &admin).await;
    assert_eq!(
        (s, b["meta"]["pagination"]["total"].clone()),
        (StatusCode::OK, json!(0))
    );
    let (_, b) = d.get("/mcp/servers", &admin).await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (_, b) = d
        .get(&format!("/workspaces?name={}", d.name("ws")), &admin)
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    assert!(common::containers_named(&d.container_prefix()).is_empty());
}

#[tokio::test]
async fn filter_counts_are_capped_on_every_list() {
    let (d, admin) = Daemon::start_admin().await;
    let terms = |n: usize| vec!["name[ne]=x"; n].join("&");
    for list in ["/services", "/mcp/servers", "/api-keys", "/workspaces"] {
        let (s, b) = d.get(&format!("{list}?{}", terms(32)), &admin).await;
        assert_eq!(s, StatusCode::OK, "{list} with 32 filters: {b}");
        for n in [33, 1000] {
            let (s, b) = d.get(&format!("{list}?{}", terms(n)), &admin).await;
            let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
            assert!(
                e["message"].as_str().unwrap().contains("at most 32"),
                "{list}: {b}"
            );
        }
    }
    let many = vec!["status=success"; 1000].join("&");
    let (s, b) = d.get(&format!("/logs/requests?{many}"), &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let values = (0..101)
        .map(|i| format!("v{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (s, b) = d
        .get(&format!("/workspaces?name[in]={values}"), &admin)
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert!(
        e["message"].as_str().unwrap().contains("at most 100"),
        "{b}"
    );
}

#[tokio::test]
async fn errors_below_the_handlers_are_in_the_envelope() {
    let d = Daemon::start().await;
    // A form body far over the limit on the OAuth token endpoint (read as raw bytes):
    // the answer comes while the client is still sending, and must still reach it
    // (the connection drains what it did not read before closing).
    let resp = d
        .client
        .post(d.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 6 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_error(s, &b, 413, "PAYLOAD_TOO_LARGE");
    // More headers than hyper takes: hyper answers before the router.
    let mut req = d.client.get(d.url("/health"));
    for i in 0..120 {
        req = req.header(format!("x-filler-{i}"), "1");
    }
    let (s, b) = read(req.send().await.unwrap()).await;
    assert_error(s, &b, 431, "VALIDATION_ERROR");
    // A method the route does not have.
    let (s, b) = d.call(Method::PUT, "/health", None, None).await;
    assert_error(s, &b, 405, "VALIDATION_ERROR");
    // The gateway's transport refuses a client that takes no event stream.
    let resp = d
        .client
        .post(format!("{}/mcp", d.base.trim_end_matches("/api/v1")))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert!(s.is_client_error(), "{s} {b}");
    assert!(
        b["error"]["code"].is_string(),
        "gateway refusal not in the envelope: {s} {b}"
    );
}

/// A raw HTTP/1.1 client on one TLS connection, to see what a keep-alive client sees.
struct Raw {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Raw {
    async fn connect(d: &Daemon) -> Raw {
        let cert = std::fs::read(d.data_path("tls/cert.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut cert.as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let addr = d
            .base
            .trim_start_matches("https://")
            .trim_end_matches("/api/v1");
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap();
        Raw { tls }
    }

    /// One request on a new connection, the path sent byte for byte as given.
    async fn request(d: &Daemon, method: &Method, path: &str, token: &str) -> (StatusCode, Value) {
        let mut c = Raw::connect(d).await;
        let req = format!(
            "{method} /api/v1{path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\r\n"
        );
        c.send(req.as_bytes()).await.unwrap();
        let (head, body) = c.response().await.expect("an answer");
        let status = head[9..12].parse().unwrap();
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (StatusCode::from_u16(status).unwrap(), v)
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.tls.write_all(bytes).await?;
        self.tls.flush().await
    }

    /// One response: its head (lower-cased) and body, or `None` when the connection
    /// ended first.
    async fn response(&mut self) -> Option<(String, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            match self.tls.read(&mut byte).await {
                Ok(1) => buf.push(byte[0]),
                _ => return None,
            }
        }
        let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        self.tls.read_exact(&mut body).await.ok()?;
        Some((head, body))
    }
}

#[tokio::test]
async fn early_refusals_tell_a_keep_alive_client_to_reconnect() {
    let d = Daemon::start().await;
    let body = vec![b'x'; 64 * 1024];
    let health = b"GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\n\r\n";
    // Refused before the body is read (no credentials): headers and body in separate
    // writes, then a 64 KiB body in one go.
    for split in [true, false] {
        let mut c = Raw::connect(&d).await;
        let head = format!(
            "POST /api/v1/services HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if split {
            c.send(head.as_bytes()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let _ = c.send(&body).await;
        } else {
            let _ = c.send(&[head.as_bytes(), &body].concat()).await;
        }
        let (head, answer) = c.response().await.expect("an answer");
        assert!(head.starts_with("http/1.1 401"), "{head}");
        let v: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(v["error"]["code"], "UNAUTHORIZED");
        // Either the server says it closes, or the connection still serves requests.
        if !head.contains("connection: close") {
            c.send(health).await.expect("the connection is still open");
            let (next, _) = c
                .response()
                .await
                .expect("a second answer on the connection");
            assert!(next.starts_with("http/1.1 200"), "{next}");
        }
        assert!(head.contains("connection: close"), "split={split}: {head}");
    }
    // A request whose body is read keeps the connection for the next one.
    let mut c = Raw::connect(&d).await;
    let login = br#"{"username":"admin","password":"wrong-password-here"}"#;
    let req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        login.len()
    );
    c.send(&[req.as_bytes(), login].concat()).await.unwrap();
    let (head, _) = c.response().await.unwrap();
    assert!(
        head.starts_with("http/1.1 401") && !head.contains("connection: close"),
        "{head}"
    );
    c.send(health).await.unwrap();
    let (next, _) = c.response().await.expect("kept alive");
    assert!(next.starts_with("http/1.1 200"), "{next}");
}

#[tokio::test]
async fn an_empty_backup_request_is_a_full_backup() {
    let (d, admin) = Daemon::start_admin().await;
    let (s, b) = d.post("/backups", &admin, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["data"]["type"], "full", "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_string();
    let data = d.backup_done(&admin, &id).await;
    assert_eq!(data["status"], "completed", "{data}");
    assert_eq!(
        (
            &data["include_data"],
            &data["include_config"],
            &data["encrypt"]
        ),
        (&json!(true), &json!(true), &json!(false)),
        "{data}"
    );
}

#[tokio::test]
async fn a_body_with_text_after_its_json_value_is_refused_and_changes_nothing() {
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("trailing");
    for (method, path, body) in [
        (
            Method::POST,
            "/workspaces",
            format!(r#"{{"name":"{name}"}} x"#),
        ),
        (
            Method::POST,
            "/workspaces",
            format!(r#"{{"name":"{name}"}}{{}}"#),
        ),
        (
            Method::PATCH,
            "/users/me",
            r#"{"full_name":"Changed"} ]"#.to_string(),
        ),
    ] {
        let resp = d
            .client
            .request(method, d.url(path))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let (s, b) = read(resp).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(
            e["message"], "malformed JSON body: trailing characters",
            "{body}"
        );
    }
    let (s, b) = d.get(&format!("/workspaces?name={name}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"].as_array().map(Vec::len), Some(0), "{b}");
    let (_, me) = d.get("/users/me", &admin).await;
    assert_ne!(me["data"]["full_name"], "Changed", "{me}");
}
