//! The OpenAPI contract through the real binary: `GET /api/v1/openapi.json` is served
//! without credentials and is a valid OpenAPI 3.1 document (checked by the reference
//! validator, PyPI `openapi-spec-validator`); every operation in it is answered by a
//! registered route (401 without credentials, or the public route's own answer, never
//! the router's "no such route" or 405); its operations are exactly the route index of
//! docs/api.md; no route is registered outside it; and the browsable page is served
//! from the binary with no asset from elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, repo_path};
use reqwest::Method;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

/// The OpenAPI tools' Python (see tests/setup/python-openapi.sh).
fn openapi_python() -> std::path::PathBuf {
    common::test_cache().join("python-openapi/bin/python")
}

/// The document, fetched without credentials.
async fn document(d: &Daemon) -> Value {
    let resp = d
        .client
        .get(format!("{}/api/v1/openapi.json", origin(d)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `https://127.0.0.1:port`, without the `/api/v1` of [`Daemon::url`].
fn origin(d: &Daemon) -> String {
    d.base.trim_end_matches("/api/v1").to_string()
}

/// Every operation of the document: `(METHOD, path)` → the operation.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    ops
}

/// `path` with every `{param}` written `{}`, so that names may differ.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// The routes of docs/api.md §2 "Route index", as `(METHOD, full path shape)`.
fn route_index() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo_path("docs/api.md")).unwrap();
    let start = text.find("## 2. Route index").expect("route index");
    let end = start
        + text[start..]
            .find("\n## 3.")
            .expect("end of the route index");
    let mut routes = BTreeSet::new();
    for line in text[start..end].lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split(" | ").next().unwrap();
        for quoted in first_cell.split('`').skip(1).step_by(2) {
            let (method, path) = quoted.split_once(' ').expect("METHOD /path");
            let full = if path == "/mcp" {
                path.to_string()
            } else {
                format!("/api/v1{path}")
            };
            routes.insert((method.to_string(), shape(&full)));
        }
    }
    routes
}

fn validate(doc: &Value) {
    let mut child = Command::new(openapi_python())
        .args([
            "-c",
            "import json,sys; from openapi_spec_validator import validate; \
             validate(json.load(sys.stdin)); print('valid')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python-openapi venv (tests/setup/python-openapi.sh)");
    let body = serde_json::to_vec(doc).unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What every operation must carry: a unique id, a tag, a summary, a success answer,
/// a credential requirement, and the error envelope on every error answer.
fn check_operation(key: &(String, String), op: &Value, ids: &mut BTreeSet<String>) {
    let id = op["operationId"].as_str().unwrap_or_default();
    assert!(
        ids.insert(id.to_string()),
        "{key:?}: operationId {id:?} twice"
    );
    assert!(op["tags"][0].is_string(), "{key:?}: no tag");
    assert!(op["summary"].is_string(), "{key:?}: no summary");
    let responses = op["responses"].as_object().unwrap();
    assert!(
        responses.keys().any(|s| s.starts_with('2') || s == "101"),
        "{key:?}: no success answer"
    );
    for s in ["429", "500"] {
        assert!(responses.contains_key(s), "{key:?}: no {s}");
    }
    assert!(op["security"].is_array(), "{key:?}: no security");
    for (status, r) in responses {
        // `GET /health` answers 503 with the health report in the success envelope.
        let health = key.1 == "/api/v1/health" && status == "503";
        if (status.starts_with('4') || status.starts_with('5')) && !health {
            assert!(
                r["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("/ErrorBody")),
                "{key:?}: {status} is not the error envelope"
            );
        }
    }
}

/// Whether `op` needs no credentials (`security: [{}]`).
fn is_public(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|s| {
        s.iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
    })
}

#[tokio::test]
async fn the_document_matches_the_registered_routes_and_the_reference() {
    let d = Daemon::start().await;
    let doc = document(&d).await;
    assert_eq!(doc["openapi"], "3.1.0");
    validate(&doc);
    let ops = operations(&doc);
    let mut ids = BTreeSet::new();
    for (key, op) in &ops {
        check_operation(key, op, &mut ids);
    }

    // The reference's route index and the document list the same operations.
    let documented: BTreeSet<(String, String)> =
        ops.keys().map(|(m, p)| (m.clone(), shape(p))).collect();
    let index = route_index();
    let missing: Vec<_> = index.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&index).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/api.md route index vs the OpenAPI document: only in the index {missing:?}; \
         only in the document {extra:?}"
    );

    // Each documented operation reaches a registered route: without credentials an
    // authenticated one answers 401, a public one its own answer, never the router's
    // "no such route" or 405.
    for ((method, path), op) in &ops {
        let url = format!("{}{}", origin(&d), path.replace('{', "zz").replace('}', ""));
        let resp = d
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let routed = status != 405 && body["error"]["message"] != "no such route";
        assert!(routed, "{method} {path} is not registered: {status} {body}");
        if !is_public(op) {
            assert_eq!(status, 401, "{method} {path} without credentials: {body}");
        }
    }
}

/// Registering a route with axum's `.route(` would leave it out of the document: every
/// API route is registered with `utoipa_axum::routes!`, which takes its path from the
/// handler's `#[utoipa::path]`. The only `.route(` calls are outside the API.
#[test]
fn no_route_is_registered_outside_the_document() {
    const OUTSIDE_THE_API: &[(&str, &str)] = &[
        // The plain Prometheus exporter on its own listener (`metrics.listen`).
        ("src/metrics/api.rs", "\"/metrics\""),
        // The connection guard's unit tests.
        ("src/http/guard.rs", "\"/raw\""),
        ("src/http/guard.rs", "\"/refuse\""),
        ("src/http/guard.rs", "\"/early\""),
    ];
    let mut found = Vec::new();
    for (rel, text) in sources() {
        for (i, line) in text.lines().enumerate() {
            let allowed = OUTSIDE_THE_API
                .iter()
                .any(|(f, p)| rel == *f && line.contains(p));
            if line.contains(".route(") && !allowed {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "routes outside the document: {found:#?}");
}

/// Every `.rs` file under `src/`, as (path relative to the repository, text).
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![repo_path("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(repo_path("")).unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((rel.to_string_lossy().to_string(), text));
            }
        }
    }
    out
}

/// The document names a schema after its type (or its `#[schema(as = …)]`), and two
/// types of one name would silently share one entry: every name is used once.
#[test]
fn every_schema_name_is_used_once() {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (file, text) in sources() {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let derived = line.starts_with("#[derive(") && line.contains("ToSchema");
            if !derived {
                continue;
            }
            let mut renamed = None;
            for next in &lines[i + 1..] {
                if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                    let name = rest.split([')', '<']).next().unwrap();
                    renamed = Some(name.rsplit("::").next().unwrap().to_string());
                }
                let item = [
                    "pub struct ",
                    "pub enum ",
                    "struct ",
                    "enum ",
                    "pub(crate) struct ",
                ]
                .iter()
                .find_map(|k| next.strip_prefix(k));
                if let Some(item) = item {
                    let ty = item.split(['<', ' ', '{', '(', ';']).next().unwrap();
                    let name = renamed.take().unwrap_or_else(|| ty.to_string());
                    let here = format!("{file}:{}", i + 1);
                    if let Some(first) = seen.insert(name.clone(), here.clone()) {
                        clashes.push(format!("{name}: {first} and {here}"));
                    }
                    break;
                }
            }
        }
    }
    assert!(clashes.is_empty(), "schema names used twice: {clashes:#?}");
}

#[tokio::test]
async fn the_browsable_page_is_served_from_the_binary() {
    let d = Daemon::start().await;
    let page = d
        .client
        .get(format!("{}/api/v1/docs/", origin(&d)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page loads something from elsewhere: {html}"
    );
    let init = d
        .client
        .get(format!("{}/api/v1/docs/swagger-initializer.js", origin(&d)))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/v1/openapi.json"));
    let bundle = d
        .client
        .get(format!("{}/api/v1/docs/swagger-ui-bundle.js", origin(&d)))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}
