//! MCP servers placed on a registered cluster, through the real `mcpd` binary and the
//! in-repo fake API server (`tests/kube_fake`): the fake runs a real MCP server (the
//! official Python SDK, `tests/kube_fake/echo_mcp.py`) as the main process of the pods
//! of the server's image; mcpd reaches a stdio one through pod attach and a streamable
//! HTTP one through the service proxy: create (a Deployment, a Service, a Secret for
//! `${secret:…}` values), tool calls with request log rows, resources, prompts,
//! workspace grants and the `/mcp` gateway, stop/start/restart, and delete removing
//! exactly what mcpd made.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;
mod kube_fake;

use base64::Engine;
use common::mcp::{python_path, text_of, tool};
use common::{Daemon, expect, expect_error};
use kube_fake::FakeCluster;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const IMAGE: &str = "registry.example.test/mcp/echo:1";

/// A daemon with the fake registered as cluster `lab`, pods of [`IMAGE`] running the
/// echo server; `None` (after a loud message) without the Python SDK off CI.
async fn setup() -> Option<(Daemon, String, FakeCluster)> {
    let py = python_path();
    if !py.exists() {
        let msg = format!(
            "the Python MCP SDK is not installed at {} (run tests/setup/python-mcp.sh)",
            py.display()
        );
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{msg}");
        eprintln!("!!!!! SKIPPING: {msg} !!!!!");
        return None;
    }
    let (d, admin) = Daemon::start_admin().await;
    let fake = FakeCluster::start().await;
    let body = json!({"name": "lab", "server": fake.url(), "token": fake.token(), "ca_cert": fake.ca_pem()});
    expect(201, d.post("/kubernetes/clusters", &admin, body).await);
    let script = common::repo_path("tests/kube_fake/echo_mcp.py");
    fake.run_image(
        IMAGE,
        vec![py.display().to_string(), script.display().to_string()],
    );
    Some((d, admin, fake))
}

fn placed(name: &str) -> Value {
    json!({"name": name, "image": IMAGE, "placement": {"cluster": "lab", "namespace": "default"}})
}

fn pod_names(fake: &FakeCluster, server_id: &str) -> Vec<String> {
    fake.pods_in("default")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["io.mcpd.server"] == server_id)
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

async fn echo(d: &Daemon, token: &str, text: &str) -> String {
    let r = expect(
        200,
        tool(d, token, "echo-k8s", "echo", json!({"text": text})).await,
    );
    text_of(&r["data"])
}

#[tokio::test]
async fn an_mcp_server_placed_on_a_cluster_answers_through_pod_attach() {
    let Some((d, admin, fake)) = setup().await else {
        return;
    };
    let secret = json!({"value": "pod-secret-value", "secret": true});
    expect(201, d.put("/config/echo.token", &admin, secret).await);
    let mut body = placed("echo-k8s");
    body["env"] = json!({"MODE": "test", "TOKEN": "${secret:echo.token}"});
    let s = expect(201, d.post("/mcp/servers", &admin, body).await)["data"].clone();
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["backend"]["type"], "cluster");
    assert_eq!(s["backend"]["namespace"], "default");
    assert_eq!(s["backend"]["workload"], "mcpd-echo-k8s");
    assert_eq!(s["server_info"]["name"], "fake-pod-echo");
    assert_eq!(s["tools_count"], 1);

    // What mcpd made on the cluster: a labelled Deployment of one replica keeping stdin
    // open, the secret value only in the Secret.
    let dep = fake.deployment("default", "mcpd-echo-k8s").unwrap();
    assert_eq!(
        dep["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "mcpd"
    );
    assert_eq!(dep["metadata"]["labels"]["io.mcpd.server"], id.as_str());
    assert_eq!(dep["spec"]["replicas"], 1);
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["image"].as_str(), c["stdin"].as_bool()),
        (Some(IMAGE), Some(true))
    );
    assert!(!dep.to_string().contains("pod-secret-value"), "{dep}");
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    assert!(
        env.iter()
            .any(|e| e["name"] == "MODE" && e["value"] == "test"),
        "{env:?}"
    );
    assert!(
        env.iter().any(|e| e["name"] == "TOKEN"
            && e["valueFrom"]["secretKeyRef"]["name"] == "mcpd-echo-k8s-env"),
        "{env:?}"
    );
    let sec = fake.secret("default", "mcpd-echo-k8s-env").unwrap();
    assert_eq!(
        secret_value(&sec, "TOKEN").as_deref(),
        Some("pod-secret-value"),
        "{sec}"
    );

    // A tool call through the attach, in the request log like any other.
    assert_eq!(echo(&d, &admin, "hello").await, "pod says: hello");
    let logs = expect(200, d.get("/logs/requests?server=echo-k8s", &admin).await);
    assert_eq!(logs["meta"]["pagination"]["total"], 1, "{logs}");
    let listed = expect(200, d.get("/mcp/servers?backend=cluster", &admin).await);
    assert_eq!(listed["data"][0]["name"], "echo-k8s");

    // Stop scales to 0 (the call is then refused), start brings it back.
    let st = expect(
        200,
        d.post("/mcp/servers/echo-k8s/stop", &admin, json!({}))
            .await,
    );
    assert_eq!(st["data"]["status"], "stopped");
    assert_eq!(
        fake.deployment("default", "mcpd-echo-k8s").unwrap()["spec"]["replicas"],
        0
    );
    assert!(pod_names(&fake, &id).is_empty());
    let r = tool(&d, &admin, "echo-k8s", "echo", json!({"text": "x"})).await;
    expect_error(r, 503, "MCP_SERVICE_UNAVAILABLE");
    let st = expect(
        200,
        d.post("/mcp/servers/echo-k8s/start", &admin, json!({}))
            .await,
    );
    assert_eq!(st["data"]["status"], "running");
    assert_eq!(echo(&d, &admin, "again").await, "pod says: again");

    // Restart rolls the pod: a new pod, a new attach, the same answers.
    let before = pod_names(&fake, &id);
    expect(
        200,
        d.post("/mcp/servers/echo-k8s/restart", &admin, json!({}))
            .await,
    );
    let after = pod_names(&fake, &id);
    assert_eq!(after.len(), 1);
    assert_ne!(before, after);
    assert_eq!(echo(&d, &admin, "rolled").await, "pod says: rolled");

    // PATCH rolls the pod template: new environment (the secret value again only in the
    // Secret) and args; a new pod answers.
    let before = pod_names(&fake, &id);
    let change =
        json!({"env": {"MODE": "patched", "TOKEN": "${secret:echo.token}"}, "args": ["--verbose"]});
    let s = expect(200, d.patch("/mcp/servers/echo-k8s", &admin, change).await)["data"].clone();
    assert_eq!(s["status"], "running", "{s}");
    let dep = fake.deployment("default", "mcpd-echo-k8s").unwrap();
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["args"], json!(["--verbose"]), "{dep}");
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "MODE" && e["value"] == "patched")
    );
    assert!(!dep.to_string().contains("pod-secret-value"), "{dep}");
    assert!(fake.secret("default", "mcpd-echo-k8s-env").is_some());
    assert_ne!(pod_names(&fake, &id), before);
    assert_eq!(echo(&d, &admin, "patched").await, "pod says: patched");

    // An image whose pod has no process to attach to (the fake runs none for it): the
    // cluster's error comes back and the previous template is put back.
    let bad = json!({"image": "registry.example.test/mcp/silent:1"});
    let e = expect_error(
        d.patch("/mcp/servers/echo-k8s", &admin, bad).await,
        502,
        "K8S_OPERATION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("attach"), "{e}");
    let dep = fake.deployment("default", "mcpd-echo-k8s").unwrap();
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        IMAGE
    );
    assert_eq!(echo(&d, &admin, "restored").await, "pod says: restored");
    for (body, field) in [
        (
            json!({"volumes": [{"source": "data", "target": "/data"}]}),
            "volumes",
        ),
        (json!({"url": "https://example.test/mcp"}), "url"),
        (json!({"port": 8080}), "port"),
        (json!({"image": "Not A Reference"}), "image"),
    ] {
        let e = expect_error(
            d.patch("/mcp/servers/echo-k8s", &admin, body).await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], field, "{e}");
    }
    assert_eq!(
        fake.deployment("default", "mcpd-echo-k8s").unwrap()["spec"]["template"]["spec"]["containers"]
            [0]["image"],
        IMAGE
    );

    // The cluster cannot be removed while the server runs there.
    expect_error(
        d.delete("/kubernetes/clusters/lab", &admin).await,
        409,
        "CONFLICT",
    );
    expect(204, d.delete("/mcp/servers/echo-k8s", &admin).await);
    assert!(fake.deployment("default", "mcpd-echo-k8s").is_none());
    assert!(fake.secret("default", "mcpd-echo-k8s-env").is_none());
    assert!(pod_names(&fake, &id).is_empty());
    expect(204, d.delete("/kubernetes/clusters/lab", &admin).await);
}

#[tokio::test]
async fn bad_placements_are_refused_and_leave_nothing_on_the_cluster() {
    let Some((d, admin, fake)) = setup().await else {
        return;
    };
    let with = |p: Value| common::merged(placed("bad"), p);
    let cases = [
        (
            with(json!({"placement": {"cluster": "nope", "namespace": "default"}})),
            "placement.cluster",
        ),
        (
            with(json!({"placement": {"cluster": "lab", "namespace": "Bad_NS"}})),
            "placement.namespace",
        ),
        (
            with(json!({"placement": {"cluster": "lab"}})),
            "placement.namespace",
        ),
        (
            with(json!({"placement": {"cluster": "lab", "namespace": "default", "zone": "a"}})),
            "placement.zone",
        ),
        (with(json!({"transport": "streamable_http"})), "port"),
        (
            with(json!({"volumes": [{"source": "data", "target": "/data"}]})),
            "volumes",
        ),
        (
            json!({"name": "bad", "url": "https://example.test/mcp", "placement": {"cluster": "lab", "namespace": "default"}}),
            "placement",
        ),
        (
            with(json!({"env": {"A": "${secret:missing.key}"}})),
            "env.A",
        ),
    ];
    for (body, field) in cases {
        let e = expect_error(
            d.post("/mcp/servers", &admin, body.clone()).await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], field, "{body}: {e}");
    }
    // An image the cluster cannot start: no pod gets ready; what was made is removed.
    let mut body = placed("never-ready");
    body["placement"]["namespace"] = json!("secret-ns");
    fake.forbid_namespace("secret-ns");
    expect_error(
        d.post("/mcp/servers", &admin, body).await,
        503,
        "K8S_CONNECTION_ERROR",
    );
    assert!(fake.deployment("default", "mcpd-bad").is_none());
    let all = expect(200, d.get("/mcp/servers", &admin).await);
    assert_eq!(all["meta"]["pagination"]["total"], 0, "{all}");
    let audit = expect(200, d.get("/audit?limit=50", &admin).await);
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "mcp.servers.create" && e["outcome"] == "failure"),
        "{audit}"
    );
}

/// A free local port (the fake's pods are local processes, so the Service's target port
/// is a port on 127.0.0.1).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_streamable_http_server_placed_on_a_cluster_answers_through_the_service_proxy() {
    let Some((d, admin, fake)) = setup().await else {
        return;
    };
    let port = free_port();
    let image = "registry.example.test/mcp/echo-http:1";
    let script = common::repo_path("tests/kube_fake/echo_mcp.py");
    fake.run_image(
        image,
        vec![
            python_path().display().to_string(),
            script.display().to_string(),
            port.to_string(),
        ],
    );
    let mut body = placed("echo-http");
    body["image"] = json!(image);
    body["transport"] = json!("streamable_http");
    body["port"] = json!(port);
    let s = expect(201, d.post("/mcp/servers", &admin, body).await)["data"].clone();
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["transport"], "streamable_http");
    assert_eq!(s["server_info"]["name"], "fake-pod-echo");
    let svc = fake.service("default", "mcpd-echo-http").unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], port, "{svc}");
    let dep = fake.deployment("default", "mcpd-echo-http").unwrap();
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"], port, "{dep}");

    let r = expect(
        200,
        tool(
            &d,
            &admin,
            "echo-http",
            "echo",
            json!({"text": "over http"}),
        )
        .await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: over http");
    let proxied = fake
        .requests()
        .iter()
        .filter(|l| l.contains("/services/mcpd-echo-http:") && l.contains("/proxy/mcp"))
        .count();
    assert!(proxied >= 2, "{:?}", fake.requests());

    // A restart rolls the pod; the next call opens a new session through the proxy.
    expect(
        200,
        d.post("/mcp/servers/echo-http/restart", &admin, json!({}))
            .await,
    );
    let r = expect(
        200,
        tool(&d, &admin, "echo-http", "echo", json!({"text": "after"})).await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: after");

    // A new image listening on another port: PATCH moves the container and the Service.
    let port2 = free_port();
    let image2 = "registry.example.test/mcp/echo-http:2";
    fake.run_image(
        image2,
        vec![
            python_path().display().to_string(),
            script.display().to_string(),
            port2.to_string(),
        ],
    );
    let change = json!({"image": image2, "port": port2});
    let s = expect(200, d.patch("/mcp/servers/echo-http", &admin, change).await)["data"].clone();
    assert_eq!(s["backend"]["port"], port2, "{s}");
    let svc = fake.service("default", "mcpd-echo-http").unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], port2, "{svc}");
    let r = expect(
        200,
        tool(&d, &admin, "echo-http", "echo", json!({"text": "moved"})).await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: moved");

    // Stopped: the Service has no endpoints and calls are refused in the envelope.
    expect(
        200,
        d.post("/mcp/servers/echo-http/stop", &admin, json!({}))
            .await,
    );
    let r = tool(&d, &admin, "echo-http", "echo", json!({"text": "x"})).await;
    expect_error(r, 503, "MCP_SERVICE_UNAVAILABLE");

    expect(204, d.delete("/mcp/servers/echo-http", &admin).await);
    assert!(fake.deployment("default", "mcpd-echo-http").is_none());
    assert!(fake.service("default", "mcpd-echo-http").is_none());
}

/// An rmcp streamable HTTP session on the daemon's `/mcp` gateway.
async fn gateway(d: &Daemon, token: &str) -> RunningService<RoleClient, ()> {
    let url = d.base.replace("/api/v1", "/mcp");
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(d.client.clone(), config);
    ().serve(transport).await.expect("initialize through /mcp")
}

#[tokio::test]
async fn a_placed_server_serves_resources_prompts_workspaces_and_the_gateway() {
    let Some((mut d, admin, _fake)) = setup().await else {
        return;
    };
    expect(201, d.post("/mcp/servers", &admin, placed("echo-gw")).await);

    // Resources and prompts through REST, like a local server's.
    let res = expect(200, d.get("/mcp/servers/echo-gw/resources", &admin).await);
    assert_eq!(res["data"][0]["uri"], "echo://motd", "{res}");
    let read = json!({"server": "echo-gw", "uri": "echo://motd"});
    let r = expect(200, d.post("/mcp/execute/resource", &admin, read).await);
    assert_eq!(
        r["data"]["contents"][0]["text"], "hello from the pod",
        "{r}"
    );
    let get = json!({"server": "echo-gw", "prompt": "greet", "arguments": {"name": "Ada"}});
    let p = expect(200, d.post("/mcp/execute/prompt", &admin, get).await);
    let said = p["data"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(said.contains("Ada") && said.contains("pod"), "{p}");

    // The gateway lists and calls it under its namespaced name.
    let c = gateway(&d, &admin).await;
    let tools = c.peer().list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo-gw__echo"), "{tools:?}");
    let args = json!({"text": "via gateway"}).as_object().cloned().unwrap();
    let r = c
        .peer()
        .call_tool(CallToolRequestParams::new("echo-gw__echo").with_arguments(args))
        .await
        .unwrap();
    let v = serde_json::to_value(&r.content).unwrap();
    assert_eq!(v[0]["text"], "pod says: via gateway", "{v}");
    c.cancel().await.ok();

    // A developer sees it only through a workspace grant, as any other server.
    let dev_name = d.name("dev");
    let dev = d.user_with_roles(&dev_name, &["developer"]).await;
    let close = json!({"all_servers": false});
    expect(200, d.patch("/workspaces/default", &admin, close).await);
    expect(
        201,
        d.post("/workspaces", &admin, json!({"name": "k8s-team"}))
            .await,
    );
    let member = json!({"user": dev_name});
    expect(
        200,
        d.post("/workspaces/k8s-team/members", &admin, member).await,
    );
    let r = tool(&d, &dev, "echo-gw", "echo", json!({"text": "no"})).await;
    expect_error(r, 404, "RESOURCE_NOT_FOUND");
    let grant = json!({"server": "echo-gw", "allowed_tools": ["echo"]});
    expect(
        201,
        d.post("/workspaces/k8s-team/access", &admin, grant).await,
    );
    let w = gateway(&d, &dev).await;
    let names: Vec<String> = w
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["echo-gw__echo"]);
    let r = expect(
        200,
        tool(&d, &dev, "echo-gw", "echo", json!({"text": "yes"})).await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: yes");
    w.cancel().await.ok();
    let rows = expect(200, d.get("/logs/requests?server=echo-gw", &admin).await);
    assert_eq!(rows["meta"]["pagination"]["total"], 4, "{rows}");
    expect(204, d.delete("/mcp/servers/echo-gw", &admin).await);
}

/// The decoded value of `key` in a Secret (`data` base64, or `stringData`).
fn secret_value(sec: &Value, key: &str) -> Option<String> {
    let data = sec["data"][key].as_str().map(|b| {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap()
    });
    data.or_else(|| sec["stringData"][key].as_str().map(str::to_string))
}

#[tokio::test]
async fn a_catalog_server_is_placed_on_a_cluster_and_reconfigured_there() {
    let Some((d, admin, fake)) = setup().await else {
        return;
    };
    let entry = json!({
        "name": "pod-echo",
        "title": "Echo in a pod",
        "description": "the fake's echo server, configured through env",
        "image": IMAGE,
        "transport": "stdio",
        "config_schema": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "writeOnly": true, "minLength": 8},
                "mode": {"type": "string"}
            },
            "required": ["token"],
            "additionalProperties": false
        },
        "config_mapping": {"env": {"TOKEN": "/token", "MODE": "/mode"}}
    });
    expect(201, d.post("/mcp/registry", &admin, entry).await);
    let place = json!({"cluster": "lab", "namespace": "default"});

    // Placed, it must be complete: nothing is made without the token.
    let incomplete = json!({"name": "cat-k8s", "registry": "pod-echo", "placement": place});
    let e = expect_error(
        d.post("/mcp/servers", &admin, incomplete).await,
        400,
        "VALIDATION_ERROR",
    );
    assert!(
        e["details"][0]["field"].as_str().unwrap().contains("token"),
        "{e}"
    );
    assert!(fake.deployment("default", "mcpd-cat-k8s").is_none());

    let body = json!({"name": "cat-k8s", "registry": "pod-echo", "placement": place,
        "config": {"token": "first-token-value", "mode": "one"}});
    let s = expect(201, d.post("/mcp/servers", &admin, body).await)["data"].clone();
    assert_eq!(
        (s["status"].as_str(), s["registry"].as_str()),
        (Some("running"), Some("pod-echo")),
        "{s}"
    );
    assert_eq!(s["backend"]["type"], "cluster");
    let env_of = |fake: &FakeCluster| {
        let dep = fake.deployment("default", "mcpd-cat-k8s").unwrap();
        assert!(!dep.to_string().contains("-token-value"), "{dep}");
        dep["spec"]["template"]["spec"]["containers"][0]["env"].clone()
    };
    assert!(
        env_of(&fake)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "MODE" && e["value"] == "one")
    );
    let sec = fake.secret("default", "mcpd-cat-k8s-env").unwrap();
    assert_eq!(
        secret_value(&sec, "TOKEN").as_deref(),
        Some("first-token-value")
    );
    let r = expect(
        200,
        tool(&d, &admin, "cat-k8s", "echo", json!({"text": "c"})).await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: c");

    // A new configuration rolls the pod with the new values.
    let cfg = json!({"config": {"token": "second-token-value", "mode": "two"}});
    let s = expect(200, d.put("/mcp/servers/cat-k8s/config", &admin, cfg).await)["data"].clone();
    assert_eq!(s["status"], "running", "{s}");
    assert!(
        env_of(&fake)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "MODE" && e["value"] == "two")
    );
    let sec = fake.secret("default", "mcpd-cat-k8s-env").unwrap();
    assert_eq!(
        secret_value(&sec, "TOKEN").as_deref(),
        Some("second-token-value")
    );
    let r = expect(
        200,
        tool(&d, &admin, "cat-k8s", "echo", json!({"text": "d"})).await,
    );
    assert_eq!(text_of(&r["data"]), "pod says: d");

    expect(204, d.delete("/mcp/servers/cat-k8s", &admin).await);
    assert!(fake.deployment("default", "mcpd-cat-k8s").is_none());
    assert!(fake.secret("default", "mcpd-cat-k8s-env").is_none());
}
