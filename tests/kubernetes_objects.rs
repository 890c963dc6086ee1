//! The objects of a registered cluster through the real `mcpd` binary, against the
//! in-repo fake API server (`tests/kube_fake`): namespaces, pods (list with selectors,
//! read, logs one-shot and followed, exec over the WebSocket channel protocol) and
//! deployments (create, read, scale, delete), with the cluster's errors mapped (403,
//! 404, 409, 422) and every change audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;
mod kube_fake;

use common::{Daemon, expect, expect_error};
use futures::StreamExt;
use kube_fake::FakeCluster;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const C: &str = "/kubernetes/clusters/lab";

/// A daemon with the fake registered as cluster `lab`.
async fn setup() -> (Daemon, String, FakeCluster) {
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let body = json!({"name": "lab", "server": fake.url(), "token": fake.token(), "ca_cert": fake.ca_pem()});
    expect(201, d.post("/kubernetes/clusters", &admin, body).await);
    (d, admin, fake)
}

/// A Running pod with one container `main` and these labels.
fn pod(name: &str, labels: Value) -> Value {
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": "node-2", "containers": [{"name": "main", "image": "busybox:1.36",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]},
        "status": {"phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "", "ready": true,
                "restartCount": 2, "state": {"running": {"startedAt": "2026-12-01T10:00:00Z"}}}]},
    })
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

fn audit_has(audit: &Value, action: &str) -> bool {
    audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == action)
}

#[tokio::test]
async fn namespaces_are_listed_and_created() {
    let (d, admin, fake) = setup().await;
    let ns = format!("{C}/namespaces");
    assert_eq!(
        names(&expect(200, d.get(&ns, &admin).await)),
        ["default", "kube-system"]
    );
    let made = expect(
        201,
        d.post(
            &ns,
            &admin,
            json!({"name": "team-a", "labels": {"team": "a"}}),
        )
        .await,
    );
    assert_eq!(made["data"]["name"], "team-a");
    assert_eq!(made["data"]["status"], "Active");
    assert_eq!(
        fake.namespace("team-a").unwrap()["metadata"]["labels"]["team"],
        "a"
    );
    let again = d.post(&ns, &admin, json!({"name": "team-a"})).await;
    let e = expect_error(again, 409, "RESOURCE_ALREADY_EXISTS");
    assert!(
        e["message"].as_str().unwrap().contains("already exists"),
        "{e}"
    );
    // Our own checks run first: nothing reaches the cluster.
    let before = fake.requests().len();
    for bad in [
        json!({"name": "Team_A"}),
        json!({"name": "x", "extra": 1}),
        json!({"name": "-a"}),
    ] {
        expect_error(d.post(&ns, &admin, bad).await, 400, "VALIDATION_ERROR");
    }
    assert_eq!(fake.requests().len(), before);
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    assert!(audit_has(&audit, "kubernetes.namespaces.create"), "{audit}");
    // A developer reads but does not create.
    let mut d = d;
    let dev = d.user_with_roles("dev", &["developer"]).await;
    expect(200, d.get(&ns, &dev).await);
    expect_error(
        d.post(&ns, &dev, json!({"name": "team-b"})).await,
        403,
        "FORBIDDEN",
    );
    expect_error(
        d.get("/kubernetes/clusters/nope/namespaces", &admin).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
}

#[tokio::test]
async fn pods_are_listed_with_selectors_read_and_refused_where_forbidden() {
    let (d, admin, fake) = setup().await;
    fake.add_pod("default", pod("web-1", json!({"app": "web"})));
    fake.add_pod(
        "default",
        pod("web-2", json!({"app": "web", "tier": "canary"})),
    );
    fake.add_pod("default", pod("db-1", json!({"app": "db"})));
    let pods = format!("{C}/namespaces/default/pods");
    let all = expect(200, d.get(&pods, &admin).await);
    assert_eq!(names(&all), ["db-1", "web-1", "web-2"]);
    let web = expect(
        200,
        d.get(
            &format!("{pods}?label_selector=app%3Dweb,tier!%3Dcanary"),
            &admin,
        )
        .await,
    );
    assert_eq!(names(&web), ["web-1"]);
    let by_field = expect(
        200,
        d.get(
            &format!("{pods}?field_selector=metadata.name%3Ddb-1"),
            &admin,
        )
        .await,
    );
    assert_eq!(names(&by_field), ["db-1"]);
    let paged = expect(
        200,
        d.get(&format!("{pods}?phase=Running&limit=2&page=2"), &admin)
            .await,
    );
    assert_eq!(names(&paged), ["web-2"]);
    assert_eq!(paged["meta"]["pagination"]["total"], 3);

    let one = expect(200, d.get(&format!("{pods}/web-1"), &admin).await);
    let p = &one["data"];
    assert_eq!(
        (p["phase"].as_str(), p["status"].as_str()),
        (Some("Running"), Some("Running"))
    );
    assert_eq!(p["node"], "node-2");
    assert_eq!(p["ip"], "10.244.1.7");
    let c = &p["containers"][0];
    assert_eq!(
        (
            c["name"].as_str(),
            c["ready"].as_bool(),
            c["restart_count"].as_i64()
        ),
        (Some("main"), Some(true), Some(2))
    );
    assert_eq!(c["state"], "running");
    assert_eq!(c["ports"][0]["container_port"], 8080);
    assert_eq!(c["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(p["conditions"][0]["type"], "Ready");

    let e = expect_error(
        d.get(&format!("{pods}/nope-1"), &admin).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
    assert!(e["message"].as_str().unwrap().contains("nope-1"), "{e}");
    fake.forbid_namespace("secret-ns");
    let e = expect_error(
        d.get(&format!("{C}/namespaces/secret-ns/pods"), &admin)
            .await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("403"), "{e}");
    expect_error(
        d.get(&format!("{pods}?colour=red"), &admin).await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.get(&format!("{C}/namespaces/Bad_NS/pods"), &admin).await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.get(&format!("{pods}/..%2Fsecrets"), &admin).await,
        400,
        "VALIDATION_ERROR",
    );
    // The cluster's own refusal of a selector it does not support.
    let e = expect_error(
        d.get(&format!("{pods}?field_selector=spec.colour%3Dred"), &admin)
            .await,
        502,
        "K8S_OPERATION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("BadRequest"), "{e}");
}

/// GET with a streaming body; the response itself.
async fn stream(d: &Daemon, token: &str, path: &str) -> reqwest::Response {
    let r = d
        .client
        .get(d.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    r
}

/// Reads a streamed body until it holds `want` (or panics after 10 s).
async fn read_until(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    seen: &mut String,
    want: &str,
) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(want) {
            let chunk = body.next().await.expect("stream open").expect("chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {want:?} in {seen:?}"));
}

/// Reads a streamed body to its end; panics on an error or after 10 s.
async fn read_to_end(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
) -> String {
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            rest.push_str(&String::from_utf8_lossy(
                &chunk.expect("a clean end, not a broken body"),
            ));
        }
    })
    .await
    .expect("the stream ends");
    rest
}

#[tokio::test]
async fn pod_logs_are_read_and_followed_until_the_pod_ends_or_the_cluster_drops() {
    let (d, admin, fake) = setup().await;
    fake.add_pod("default", pod("web-1", json!({"app": "web"})));
    for l in ["one", "two", "three"] {
        fake.push_log("default", "web-1", None, l);
    }
    let logs = format!("{C}/namespaces/default/pods/web-1/logs");
    let all = stream(&d, &admin, &logs).await.text().await.unwrap();
    assert_eq!(all, "one\ntwo\nthree\n");
    let tail = stream(&d, &admin, &format!("{logs}?tail_lines=1&timestamps=true"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        tail.ends_with(" three\n") && tail.starts_with("20"),
        "{tail:?}"
    );
    expect_error(
        d.get(&format!("{logs}?tail_lines=0"), &admin).await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.get(&format!("{logs}?tail=1"), &admin).await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.get(&format!("{C}/namespaces/default/pods/gone/logs"), &admin)
            .await,
        404,
        "RESOURCE_NOT_FOUND",
    );

    // Follow: the existing lines, then new ones as they come, until the pod ends.
    let mut body = stream(&d, &admin, &format!("{logs}?follow=true"))
        .await
        .bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "three\n").await;
    fake.push_log("default", "web-1", None, "four");
    read_until(&mut body, &mut seen, "four\n").await;
    fake.end_pod("default", "web-1");
    read_to_end(&mut body).await;

    // A cluster that cuts the stream mid-body: mcpd's answer still ends cleanly.
    fake.add_pod("default", pod("web-2", json!({"app": "web"})));
    fake.push_log("default", "web-2", None, "hello");
    let logs2 = format!("{C}/namespaces/default/pods/web-2/logs?follow=true");
    let mut body = stream(&d, &admin, &logs2).await.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "hello\n").await;
    fake.drop_log_streams("default", "web-2");
    read_to_end(&mut body).await;
}

#[tokio::test]
async fn exec_runs_a_command_and_a_non_zero_exit_is_a_result() {
    let (mut d, admin, fake) = setup().await;
    fake.add_pod("default", pod("web-1", json!({"app": "web"})));
    let exec = format!("{C}/namespaces/default/pods/web-1/exec");
    let r = expect(
        200,
        d.post(
            &exec,
            &admin,
            json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
        )
        .await,
    );
    assert_eq!(r["data"]["exit_code"], 3, "{r}");
    assert_eq!(r["data"]["stdout"], "out\n");
    assert_eq!(r["data"]["stderr"], "err\n");
    assert_eq!(r["data"]["truncated"], false);
    let r = expect(
        200,
        d.post(
            &exec,
            &admin,
            json!({"command": ["cat"], "stdin": "hello from stdin", "container": "main"}),
        )
        .await,
    );
    assert_eq!(
        (
            r["data"]["exit_code"].as_i64(),
            r["data"]["stdout"].as_str()
        ),
        (Some(0), Some("hello from stdin"))
    );

    let e = expect_error(
        d.post(
            &exec,
            &admin,
            json!({"command": ["true"], "container": "nope"}),
        )
        .await,
        502,
        "K8S_OPERATION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    expect_error(
        d.post(&exec, &admin, json!({"command": []})).await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.post(&exec, &admin, json!({"command": ["true"], "timeout_s": 0}))
            .await,
        400,
        "VALIDATION_ERROR",
    );
    let e = expect_error(
        d.post(
            &exec,
            &admin,
            json!({"command": ["sleep", "5"], "timeout_s": 1}),
        )
        .await,
        504,
        "GATEWAY_TIMEOUT",
    );
    assert!(e["message"].as_str().unwrap().contains("1 s"), "{e}");

    // Exec needs kubernetes:execute: an operator has it, a developer does not.
    let dev = d.user_with_roles("dev", &["developer"]).await;
    expect_error(
        d.post(&exec, &dev, json!({"command": ["true"]})).await,
        403,
        "FORBIDDEN",
    );
    let op = d.user_with_roles("op", &["operator"]).await;
    expect(200, d.post(&exec, &op, json!({"command": ["true"]})).await);

    // Audited with the program and exit code, never the arguments or stdin.
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    let execs: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "kubernetes.pods.exec")
        .collect();
    assert!(execs.len() >= 4, "{audit}");
    assert!(
        execs
            .iter()
            .any(|e| e["details"]["program"] == "sh" && e["details"]["exit_code"] == 3),
        "{execs:?}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains("echo out") && !text.contains("hello from stdin"),
        "{text}"
    );
}

#[tokio::test]
async fn deployments_are_created_scaled_and_deleted() {
    let (d, admin, fake) = setup().await;
    let deps = format!("{C}/namespaces/default/deployments");
    let body = json!({"name": "web", "image": "nginx:1.27", "replicas": 2, "env": {"MODE": "prod"},
        "ports": [80, {"container_port": 9090, "protocol": "TCP", "name": "metrics"}],
        "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}, "labels": {"team": "a"}});
    let made = expect(201, d.post(&deps, &admin, body.clone()).await);
    assert_eq!(made["data"]["name"], "web");
    assert_eq!(made["data"]["replicas"], 2);
    let stored = fake.deployment("default", "web").unwrap();
    assert_eq!(
        stored["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "web"
    );
    let container = &stored["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(
        container["env"][0],
        json!({"name": "MODE", "value": "prod"})
    );
    assert_eq!(container["ports"][1]["containerPort"], 9090);

    let got = expect(200, d.get(&format!("{deps}/web"), &admin).await);
    assert_eq!(
        (
            got["data"]["ready_replicas"].as_i64(),
            got["data"]["available_replicas"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(got["data"]["containers"][0]["image"], "nginx:1.27");
    assert_eq!(names(&expect(200, d.get(&deps, &admin).await)), ["web"]);
    expect_error(
        d.post(&deps, &admin, body).await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );

    // A manifest the cluster finds invalid: its 422 causes come back as details.
    let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let e = expect_error(
        d.post(&deps, &admin, json!({"manifest": manifest})).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "spec.selector", "{e}");
    assert!(fake.deployment("default", "bad").is_none());
    // A whole manifest the cluster accepts.
    let good = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "busybox:1.36"}]}}}});
    expect(201, d.post(&deps, &admin, json!({"manifest": good})).await);
    for bad in [
        json!({"image": "x"}),
        json!({"name": "w", "image": "Bad Image"}),
        json!({"name": "w", "image": "x", "replicas": -1}),
        json!({"manifest": {"kind": "Pod", "metadata": {"name": "p"}}}),
        json!({"manifest": {"metadata": {"name": "p", "namespace": "other"}}}),
    ] {
        expect_error(d.post(&deps, &admin, bad).await, 400, "VALIDATION_ERROR");
    }

    let scaled = expect(
        200,
        d.put(&format!("{deps}/web/scale"), &admin, json!({"replicas": 3}))
            .await,
    );
    assert_eq!(
        (
            scaled["data"]["replicas"].as_i64(),
            scaled["data"]["ready_replicas"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let web_pods = fake
        .pods_in("default")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/name"] == "web")
        .count();
    assert_eq!(web_pods, 3);
    expect_error(
        d.put(
            &format!("{deps}/web/scale"),
            &admin,
            json!({"replicas": -1}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        d.put(
            &format!("{deps}/nope/scale"),
            &admin,
            json!({"replicas": 1}),
        )
        .await,
        404,
        "RESOURCE_NOT_FOUND",
    );

    expect(204, d.delete(&format!("{deps}/web"), &admin).await);
    assert!(fake.deployment("default", "web").is_none());
    expect_error(
        d.get(&format!("{deps}/web"), &admin).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    for action in [
        "kubernetes.deployments.create",
        "kubernetes.deployments.scale",
        "kubernetes.deployments.delete",
    ] {
        assert!(audit_has(&audit, action), "{action}: {audit}");
    }
}
