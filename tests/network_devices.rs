//! Network devices through the real `mcpd` binary: registering (credentials sealed and
//! never shown, bad input naming the field and changing nothing), and sessions and CLI
//! commands against real SSH servers: PyPI `fake-switches` (a Cisco IOS shell, with
//! `enable`) and a real OpenSSH `sshd` running the scripted NX-OS / IOS shell of
//! `tests/netsim` (host keys, paging, slow output, a session dropped mid-command, a
//! device that goes away). Both are set up by tests/setup/fake-switches.sh and sshd.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::netsim::{self, FakeSwitch, Sshd, SshdOptions};
use common::{Daemon, expect, expect_error};
use serde_json::{Value, json};
use std::time::Duration;

/// A daemon (admin token) without the network rate tier: these tests send more than
/// 30 requests a minute; the tier has its own test.
async fn daemon() -> (Daemon, String) {
    daemon_with(&[]).await
}

/// [`daemon`] with more `[network]` settings (`MCPD_NETWORK__<KEY>` = value).
async fn daemon_with(settings: &[(&str, &str)]) -> (Daemon, String) {
    let mut env = vec![(
        "MCPD_NETWORK__REQUESTS_PER_MINUTE".to_string(),
        "0".to_string(),
    )];
    env.extend(
        settings
            .iter()
            .map(|(k, v)| (format!("MCPD_NETWORK__{k}"), (*v).to_string())),
    );
    let mut d = Daemon::start_with_env(env).await;
    let admin = d.admin().await;
    (d, admin)
}

/// A device body for `sim` at 127.0.0.1:`port`.
fn device(name: &str, kind: &str, port: u16, user: &str, password: &str) -> Value {
    json!({"name": name, "host": "127.0.0.1", "port": port, "device_type": kind,
           "username": user, "password": password})
}

fn sshd_device(name: &str, s: &Sshd) -> Value {
    device(name, "cisco_nxos", s.port(), s.user(), s.password())
}

async fn run(d: &Daemon, token: &str, dev: &str, command: &str) -> (reqwest::StatusCode, Value) {
    d.post(
        &format!("/network/devices/{dev}/command"),
        token,
        json!({"command": command}),
    )
    .await
}

async fn output(d: &Daemon, token: &str, dev: &str, command: &str) -> String {
    let r = expect(200, run(d, token, dev, command).await);
    r["data"]["output"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn devices_register_with_sealed_credentials_and_bad_input_changes_nothing() {
    let (d, admin) = daemon().await;
    let secret = "Sup3r-secret-pw";
    let mut body = device("edge-1", "cisco_ios", 2222, "netops", secret);
    body["enable_secret"] = json!("en-secret-123");
    body["tags"] = json!(["dc1", "edge"]);
    let dev = expect(201, d.post("/network/devices", &admin, body.clone()).await)["data"].clone();
    assert!(dev["id"].as_str().unwrap().starts_with("dev_"), "{dev}");
    assert_eq!(
        (
            dev["status"].as_str(),
            dev["auth_method"].as_str(),
            dev["has_enable_secret"].as_bool()
        ),
        (Some("disconnected"), Some("password"), Some(true))
    );
    assert!(dev["host_key_fingerprint"].is_null());
    let shown = expect(200, d.get("/network/devices/edge-1", &admin).await);
    let listed = expect(
        200,
        d.get("/network/devices?device_type=cisco_ios", &admin)
            .await,
    );
    assert_eq!(listed["meta"]["pagination"]["total"], 1);
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    for v in [&dev, &shown, &listed, &audit] {
        let text = v.to_string();
        assert!(
            !text.contains(secret) && !text.contains("en-secret-123"),
            "{text}"
        );
    }
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "network.devices.create")
    );

    // Seed spellings.
    let seed = json!({"name": "seed-1", "hostname": "router.example.test", "type": "cisco_nxos",
                      "username": "u", "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"});
    let s = expect(201, d.post("/network/devices", &admin, seed).await)["data"].clone();
    assert_eq!(
        (s["host"].as_str(), s["auth_method"].as_str()),
        (Some("router.example.test"), Some("private_key"))
    );

    // The seed's nested credentials and connection options.
    let nested = json!({"name": "seed-2", "hostname": "10.0.0.2", "type": "cisco_ios",
        "credentials": {"username": "ops", "password": "nested-pass-1"},
        "connection_options": {"timeout": 5, "keepalive": 30, "auto_connect": false}});
    let n = expect(201, d.post("/network/devices", &admin, nested).await)["data"].clone();
    assert_eq!(
        (n["username"].as_str(), n["auth_method"].as_str()),
        (Some("ops"), Some("password")),
        "{n}"
    );
    assert_eq!(
        n["connection_options"],
        json!({"timeout": 5, "keepalive": 30, "auto_connect": false})
    );
    assert!(!n.to_string().contains("nested-pass-1"));
    expect(204, d.delete("/network/devices/seed-2", &admin).await);

    let with = |extra: Value| common::merged(device("bad", "cisco_ios", 22, "u", "p"), extra);
    let cases = [
        (with(json!({"name": "Bad Name!"})), "name"),
        (with(json!({"host": "a b"})), "host"),
        (with(json!({"host": "user@host"})), "host"),
        (with(json!({"port": 0})), "port"),
        (with(json!({"port": "22"})), "port"),
        (with(json!({"device_type": "hp_procurve"})), "device_type"),
        (with(json!({"username": "two words"})), "username"),
        (with(json!({"password": null})), "password"),
        (with(json!({"private_key": "not a key"})), "private_key"),
        (with(json!({"passphrase": "x"})), "passphrase"),
        (
            with(json!({"password": "${secret:no.such.key}"})),
            "password",
        ),
        (
            with(json!({"host_key_fingerprint": "MD5:aa:bb"})),
            "host_key_fingerprint",
        ),
        (with(json!({"tags": ["ok", ""]})), "tags[1]"),
        (with(json!({"colour": "red"})), "colour"),
        (
            with(json!({"credentials": {"password": "again"}})),
            "credentials.password",
        ),
        (
            with(json!({"connection_options": {"timeout": 0}})),
            "connection_options.timeout",
        ),
        (
            with(json!({"connection_options": {"retries": 3}})),
            "connection_options.retries",
        ),
    ];
    for (body, field) in cases {
        let e = expect_error(
            d.post("/network/devices", &admin, body.clone()).await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], field, "{body}: {e}");
    }
    let dup = d.post("/network/devices", &admin, body).await;
    expect_error(dup, 409, "RESOURCE_ALREADY_EXISTS");
    let all = expect(200, d.get("/network/devices", &admin).await);
    assert_eq!(all["meta"]["pagination"]["total"], 2, "{all}");

    // PATCH and PUT; a viewer reads but cannot change.
    let p = expect(
        200,
        d.patch(
            "/network/devices/edge-1",
            &admin,
            json!({"description": "rack 4", "port": 2200}),
        )
        .await,
    );
    assert_eq!(
        (
            p["data"]["description"].as_str(),
            p["data"]["port"].as_u64()
        ),
        (Some("rack 4"), Some(2200))
    );
    let e = expect_error(
        d.patch("/network/devices/edge-1", &admin, json!({"name": "seed-1"}))
            .await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert!(e["message"].as_str().unwrap().contains("seed-1"));
    let mut put = device("edge-1", "cisco_ios", 22, "netops2", "new-pass-1");
    let r = expect(
        200,
        d.put("/network/devices/edge-1", &admin, put.clone()).await,
    );
    assert_eq!(
        (
            r["data"]["username"].as_str(),
            r["data"]["has_enable_secret"].as_bool()
        ),
        (Some("netops2"), Some(false))
    );
    put["device_type"] = json!("cisco_nxos");
    let e = expect_error(
        d.put("/network/devices/edge-1", &admin, put).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "device_type");
    expect(204, d.delete("/network/devices/edge-1", &admin).await);
    expect_error(
        d.get("/network/devices/edge-1", &admin).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
}

#[tokio::test]
async fn commands_run_on_a_cisco_ios_device_with_enable() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon().await;
    let sw = FakeSwitch::cisco("netops", "fs-pass-1", Some("fs-enable-1")).await;
    let mut body = device("fs-1", "cisco_ios", sw.port(), "netops", "fs-pass-1");
    body["enable_secret"] = json!("fs-enable-1");
    expect(201, d.post("/network/devices", &admin, body).await);

    let c = expect(
        200,
        d.post("/network/devices/fs-1/connect", &admin, json!({}))
            .await,
    )["data"]
        .clone();
    assert_eq!(c["status"], "connected", "{c}");
    assert_eq!(c["host_key_fingerprint"], sw.host_key_sha256());
    assert_eq!(c["system_info"]["hostname"], "switch", "{c}");

    let run_cfg = output(&d, &admin, "fs-1", "show running-config").await;
    assert!(run_cfg.contains("interface FastEthernet0/1"), "{run_cfg}");
    assert!(
        !run_cfg.contains("show running-config") && !run_cfg.trim_end().ends_with('#'),
        "{run_cfg}"
    );

    // A command the device refuses: 502 with its text and the command.
    let e = expect_error(
        run(&d, &admin, "fs-1", "frobnicate now").await,
        502,
        "NETWORK_COMMAND_ERROR",
    );
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("frobnicate now") && msg.contains("% Invalid input"),
        "{e}"
    );
    assert!(
        e["details"][0]["issue"].as_str().unwrap().contains('^'),
        "{e}"
    );

    // A batch: results in order, the refused one stops the rest by default.
    let batch = json!({"commands": ["show version", "frobnicate", "show running-config"]});
    let r = expect(
        200,
        d.post("/network/devices/fs-1/commands", &admin, batch.clone())
            .await,
    )["data"]
        .clone();
    let st: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["success", "error", "skipped"], "{r}");
    let mut go_on = batch;
    go_on["stop_on_error"] = json!(false);
    let r = expect(
        200,
        d.post("/network/devices/fs-1/commands", &admin, go_on)
            .await,
    )["data"]
        .clone();
    assert_eq!(r["results"][2]["status"], "success", "{r}");
    assert!(
        r["results"][2]["output"]
            .as_str()
            .unwrap()
            .contains("interface"),
        "{r}"
    );

    let status = expect(200, d.get("/network/devices/fs-1/status", &admin).await)["data"].clone();
    assert_eq!(status["status"], "connected", "{status}");
    assert!(status["connected_since"].is_string(), "{status}");
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    let commands: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "network.devices.command")
        .collect();
    assert_eq!(commands.len(), 8, "{audit}");
    assert!(
        !audit.to_string().contains("FastEthernet"),
        "no output in the audit log"
    );

    let off = expect(
        200,
        d.post("/network/devices/fs-1/disconnect", &admin, json!({}))
            .await,
    );
    assert_eq!(off["data"]["status"], "disconnected");
    // The next command opens a new session by itself.
    assert!(
        output(&d, &admin, "fs-1", "show version")
            .await
            .contains("Cisco")
    );
}

#[tokio::test]
async fn logins_that_fail_name_the_cause_and_host_keys_are_pinned() {
    if !netsim::ready() {
        return;
    }
    let (mut d, admin) = daemon().await;
    let mut s = Sshd::start(SshdOptions::nxos()).await;
    let mut wrong = sshd_device("nx-wrong", &s);
    wrong["password"] = json!("not-the-password");
    expect(201, d.post("/network/devices", &admin, wrong).await);
    let e = expect_error(
        d.post("/network/devices/nx-wrong/connect", &admin, json!({}))
            .await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{e}"
    );
    let w = expect(200, d.get("/network/devices/nx-wrong", &admin).await)["data"].clone();
    assert_eq!(w["status"], "error", "{w}");

    let closed = device("nx-closed", "cisco_nxos", netsim::free_port(), "u", "p");
    expect(201, d.post("/network/devices", &admin, closed).await);
    let e = expect_error(
        d.post("/network/devices/nx-closed/connect", &admin, json!({}))
            .await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );
    assert!(
        e["message"].as_str().unwrap().contains("cannot connect"),
        "{e}"
    );

    // Trust on first use, then a changed key is refused naming both.
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-1", &s))
            .await,
    );
    let v = output(&d, &admin, "nx-1", "show version").await;
    assert!(v.contains("NXOS: version"), "{v}");
    let first = s.host_key_sha256().to_string();
    let got = expect(200, d.get("/network/devices/nx-1", &admin).await)["data"].clone();
    assert_eq!(got["host_key_fingerprint"], first.as_str());
    assert_eq!(got["system_info"]["os_version"], "9.3(8)", "{got}");
    s.restart_with_new_host_key().await;
    expect(
        200,
        d.post("/network/devices/nx-1/disconnect", &admin, json!({}))
            .await,
    );
    let e = expect_error(
        run(&d, &admin, "nx-1", "show version").await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&first) && msg.contains(s.host_key_sha256()),
        "{e}"
    );

    // Only an admin re-pins it.
    let operator = d.user_with_roles("net-op", &["operator"]).await;
    let e = d
        .post(
            "/network/devices/nx-1/host-key/accept",
            &operator,
            json!({}),
        )
        .await;
    expect_error(e, 403, "FORBIDDEN");
    let a = expect(
        200,
        d.post("/network/devices/nx-1/host-key/accept", &admin, json!({}))
            .await,
    );
    assert_eq!(a["data"]["host_key_fingerprint"], s.host_key_sha256());
    assert!(
        output(&d, &admin, "nx-1", "show version")
            .await
            .contains("NXOS")
    );
    let audit = expect(200, d.get("/audit?limit=100", &admin).await);
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "network.devices.host_key_accepted"
                && e["details"]["previous"] == first.as_str())
    );

    // A key given up front that does not match is refused at once.
    let mut pinned = sshd_device("nx-pinned", &s);
    pinned["host_key_fingerprint"] = json!(first);
    expect(201, d.post("/network/devices", &admin, pinned).await);
    expect_error(
        d.post("/network/devices/nx-pinned/connect", &admin, json!({}))
            .await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );

    // Credentials as ${secret:…} references to config entries, resolved at login.
    let secret = json!({"value": s.password(), "secret": true});
    expect(201, d.put("/config/nx.password", &admin, secret).await);
    let mut by_ref = sshd_device("nx-ref", &s);
    by_ref["password"] = json!("${secret:nx.password}");
    expect(201, d.post("/network/devices", &admin, by_ref).await);
    let c = expect(
        200,
        d.post("/network/devices/nx-ref/connect", &admin, json!({}))
            .await,
    );
    assert_eq!(c["data"]["status"], "connected", "{c}");

    // auto_connect: registered and connected in one request.
    let mut auto = sshd_device("nx-auto", &s);
    auto["connection_options"] = json!({"auto_connect": true, "keepalive": 5});
    let a = expect(201, d.post("/network/devices", &admin, auto).await)["data"].clone();
    assert_eq!(a["status"], "connected", "{a}");

    // A private key login.
    let mut by_key = sshd_device("nx-key", &s);
    by_key.as_object_mut().unwrap().remove("password");
    by_key["private_key"] = json!(s.private_key_pem());
    expect(201, d.post("/network/devices", &admin, by_key).await);
    let c = expect(
        200,
        d.post("/network/devices/nx-key/connect", &admin, json!({}))
            .await,
    );
    assert_eq!(c["data"]["auth_method"], "private_key");

    // The device goes away: the pooled session is found dead and the error says so.
    s.stop();
    let e = expect_error(
        run(&d, &admin, "nx-1", "show version").await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("connect"), "{e}");
    s.resume().await;
    assert!(
        output(&d, &admin, "nx-1", "show version")
            .await
            .contains("NXOS")
    );
}

#[tokio::test]
async fn paging_slow_output_timeouts_and_a_dropped_session() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon().await;
    let s = Sshd::start(SshdOptions::nxos()).await;
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-2", &s))
            .await,
    );

    // Paging turned back on: mcpd answers the pager and the output is whole.
    let whole = output(&d, &admin, "nx-2", "show running-config").await;
    expect(200, run(&d, &admin, "nx-2", "terminal length 10").await);
    let paged = output(&d, &admin, "nx-2", "show running-config").await;
    assert!(!paged.contains("--More--"), "{paged}");
    assert_eq!(stable(&paged), stable(&whole));
    expect(200, run(&d, &admin, "nx-2", "terminal length 0").await);

    // Slow output is waited for, by the prompt; a timeout shorter than it is a 504.
    let slow = output(&d, &admin, "nx-2", "show tech-support").await;
    assert!(slow.lines().count() >= 30, "{slow}");
    let r = d
        .post(
            "/network/devices/nx-2/command",
            &admin,
            json!({"command": "show tech-support", "timeout_s": 1}),
        )
        .await;
    expect_error(r, 504, "GATEWAY_TIMEOUT");
    assert!(
        output(&d, &admin, "nx-2", "show version")
            .await
            .contains("NXOS")
    );

    // The device drops the session mid-command: 503, then the next command reconnects.
    let e = expect_error(
        run(&d, &admin, "nx-2", "show crash").await,
        503,
        "NETWORK_CONNECTION_ERROR",
    );
    assert!(e["message"].as_str().unwrap().contains("closed"), "{e}");
    let st = expect(200, d.get("/network/devices/nx-2/status", &admin).await)["data"].clone();
    assert_eq!(st["status"], "error", "{st}");
    assert!(
        output(&d, &admin, "nx-2", "show version")
            .await
            .contains("NXOS")
    );
}

#[tokio::test]
async fn ten_devices_in_parallel_keep_their_results_apart() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon().await;
    let mut sims = Vec::new();
    for i in 0..10 {
        let opts = SshdOptions {
            hostname: format!("leaf-{i:02}"),
            ..SshdOptions::nxos()
        };
        let s = Sshd::start(opts).await;
        expect(
            201,
            d.post(
                "/network/devices",
                &admin,
                sshd_device(&format!("leaf-{i:02}"), &s),
            )
            .await,
        );
        sims.push(s);
    }
    let calls = (0..10).map(|i| {
        let (d, admin) = (&d, &admin);
        async move {
            let name = format!("leaf-{i:02}");
            let body =
                json!({"commands": ["show running-config", "show version", "show running-config"]});
            let r = expect(
                200,
                d.post(&format!("/network/devices/{name}/commands"), admin, body)
                    .await,
            );
            (name, r["data"]["results"].clone())
        }
    });
    for (name, results) in futures::future::join_all(calls).await {
        for r in results.as_array().unwrap() {
            assert_eq!(r["status"], "success", "{r}");
        }
        assert!(
            results[0]["output"]
                .as_str()
                .unwrap()
                .contains(&format!("hostname {name}")),
            "{name}: {results}"
        );
        assert!(
            results[2]["output"]
                .as_str()
                .unwrap()
                .contains(&format!("hostname {name}")),
            "{name}"
        );
        for other in (0..10)
            .map(|j| format!("leaf-{j:02}"))
            .filter(|o| *o != name)
        {
            assert!(
                !results.to_string().contains(&format!("hostname {other}")),
                "{name} saw {other}"
            );
        }
    }
    // Two batches at once on one device: they run one after the other on its one
    // session, each getting its own outputs back.
    let batch = |cmd: &'static str| {
        let body = json!({"commands": [cmd, cmd, cmd]});
        d.post("/network/devices/leaf-00/commands", &admin, body)
    };
    let (a, b) = tokio::join!(batch("show version"), batch("show running-config"));
    for r in expect(200, a)["data"]["results"].as_array().unwrap() {
        assert!(
            r["output"].as_str().unwrap().contains("NXOS: version"),
            "{r}"
        );
    }
    for r in expect(200, b)["data"]["results"].as_array().unwrap() {
        assert!(
            r["output"].as_str().unwrap().contains("hostname leaf-00"),
            "{r}"
        );
    }
    drop(sims);
}

/// A configuration without the lines that change by themselves (timestamps).
fn stable(config: &str) -> String {
    let volatile = [
        "!Time",
        "!Running",
        "! Last configuration change",
        "! NVRAM",
    ];
    config
        .lines()
        .filter(|l| !volatile.iter().any(|v| l.starts_with(v)))
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a unified diff has a `sign` (`+`/`-`) line holding `text`.
fn diff_has(diff: &Value, sign: char, text: &str) -> bool {
    diff.as_str()
        .unwrap()
        .lines()
        .any(|l| l.starts_with(sign) && !l.starts_with("+++") && l.contains(text))
}

/// Reads, merges, commits, rolls back and survives a refused line on `s`'s platform,
/// whose interfaces are named `{ifname}N`.
async fn configuration_round(d: &Daemon, admin: &str, dev: &str, ifname: &str) {
    let path = |p: &str| format!("/network/devices/{dev}/config{p}");
    let running = async |d: &Daemon| {
        let r = expect(200, d.get(&path("?source=running"), admin).await)["data"].clone();
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64, "{r}");
        r["config"].as_str().unwrap().to_string()
    };
    assert!(running(d).await.contains("hostname switch"));
    let e = expect_error(
        d.get(&path("?source=candidate"), admin).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "source");
    let e = expect_error(
        d.get(&path("?colour=red"), admin).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "colour");

    // Merge, then roll back to the snapshot taken before it.
    let a = format!("interface {ifname}1\n description mcpd-first\n");
    let r = expect(200, d.put(&path(""), admin, json!({"config": a})).await)["data"].clone();
    assert_eq!(
        (r["changed"].as_bool(), r["lines_applied"].as_u64()),
        (Some(true), Some(2)),
        "{r}"
    );
    assert!(diff_has(&r["diff"], '+', "description mcpd-first"), "{r}");
    assert!(running(d).await.contains("description mcpd-first"));
    let rb = expect(200, d.post(&path("/rollback"), admin, json!({})).await)["data"].clone();
    assert!(diff_has(&rb["diff"], '-', "description mcpd-first"), "{rb}");
    assert!(!running(d).await.contains("mcpd-first"));

    // Merge with commit: the startup configuration has it too.
    let b = format!("configure terminal\ninterface {ifname}2\n description mcpd-saved\nend\n");
    let r = expect(
        200,
        d.put(
            &path(""),
            admin,
            json!({"config": b, "commit": true, "comment": "ticket 42"}),
        )
        .await,
    );
    assert_eq!(r["data"]["committed"], true);
    let startup =
        expect(200, d.get(&path("?source=startup"), admin).await)["data"]["config"].clone();
    assert!(
        startup.as_str().unwrap().contains("description mcpd-saved"),
        "{startup}"
    );

    // Replace: what GET answered, with one line changed, becomes the running config.
    let current = running(d).await;
    let target = current.replacen("description mcpd-saved", "description mcpd-replaced", 1);
    let r = expect(
        200,
        d.put(
            &path(""),
            admin,
            json!({"config": target, "mode": "replace"}),
        )
        .await,
    )["data"]
        .clone();
    assert!(
        diff_has(&r["diff"], '+', "description mcpd-replaced"),
        "{r}"
    );
    assert!(diff_has(&r["diff"], '-', "description mcpd-saved"), "{r}");
    assert_eq!(r["mode"], "replace");
    assert!(running(d).await.contains("description mcpd-replaced"));
    // A candidate the device refuses: it is put back as it was.
    let before = running(d).await;
    // (IOS files end at `end`: the bad line goes before it.)
    let broken = match before.rfind("\nend") {
        Some(at) => format!("{}\nfrobnicate badly{}", &before[..at], &before[at..]),
        None => format!("{before}\nfrobnicate badly\n"),
    };
    let e = expect_error(
        d.put(
            &path(""),
            admin,
            json!({"config": broken, "mode": "replace"}),
        )
        .await,
        502,
        "NETWORK_CONFIG_ERROR",
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("put back as it was"),
        "{e}"
    );
    assert_eq!(stable(&running(d).await), stable(&before));

    // A refused line: the device is put back as it was and the answer says so.
    let before = running(d).await;
    let bad = format!("interface {ifname}3\n description half-done\nfrobnicate badly\n");
    let e = expect_error(
        d.put(&path(""), admin, json!({"config": bad})).await,
        502,
        "NETWORK_CONFIG_ERROR",
    );
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("line 3")
            && msg.contains("frobnicate badly")
            && msg.contains("put back as it was"),
        "{e}"
    );
    let after = running(d).await;
    assert!(!after.contains("half-done"), "{after}");
    assert_eq!(stable(&after), stable(&before));

    // Bad bodies change nothing.
    for (body, field) in [
        (json!({"config": ""}), "config"),
        (json!({"config": "hostname x\nend\nreload"}), "config"),
        (json!({"config": "\u{7}", "mode": "replace"}), "config"),
        (json!({"config": "hostname x", "mode": "sideways"}), "mode"),
        (json!({"config": 5}), "config"),
    ] {
        let e = expect_error(
            d.put(&path(""), admin, body.clone()).await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], field, "{body}: {e}");
    }
    let e = expect_error(
        d.post(&path("/commit"), admin, json!({"confirm_timeout_s": 60}))
            .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "confirm_timeout_s");
    assert_eq!(stable(&running(d).await), stable(&before));
    let id =
        expect(200, d.get(&format!("/network/devices/{dev}"), admin).await)["data"]["id"].clone();
    let audit = expect(200, d.get("/audit?limit=100", admin).await);
    let pushes: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "network.devices.config_push" && e["target_id"] == id)
        .collect();
    assert_eq!(pushes.len(), 5, "{audit}");
    assert!(pushes.iter().any(|e| e["outcome"] == "failure"), "{audit}");
    assert!(
        !audit.to_string().contains("mcpd-saved"),
        "no configuration text in the audit log"
    );
}

#[tokio::test]
async fn configuration_is_merged_committed_and_rolled_back_on_nxos_and_ios() {
    if !netsim::ready() {
        return;
    }
    let (mut d, admin) = daemon().await;
    let nx = Sshd::start(SshdOptions::nxos()).await;
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-cfg", &nx))
            .await,
    );
    configuration_round(&d, &admin, "nx-cfg", "Ethernet1/").await;

    let ios = Sshd::start(SshdOptions::ios(Some("ios-enable-1"))).await;
    let mut body = device(
        "ios-cfg",
        "cisco_ios",
        ios.port(),
        ios.user(),
        ios.password(),
    );
    body["enable_secret"] = json!("ios-enable-1");
    expect(201, d.post("/network/devices", &admin, body).await);
    configuration_round(&d, &admin, "ios-cfg", "GigabitEthernet0/").await;

    // A viewer reads the configuration but does not change it.
    let viewer = d.user_with_roles("net-viewer", &["viewer"]).await;
    expect(200, d.get("/network/devices/ios-cfg/config", &viewer).await);
    let r = d
        .put(
            "/network/devices/ios-cfg/config",
            &viewer,
            json!({"config": "hostname x"}),
        )
        .await;
    expect_error(r, 403, "FORBIDDEN");
}

#[tokio::test]
async fn network_routes_have_their_own_rate_tier() {
    let (d, admin) = Daemon::start_admin_with_var("MCPD_NETWORK__REQUESTS_PER_MINUTE", "2").await;
    let get = |path: &'static str| {
        let req = d.client.get(d.url(path)).bearer_auth(&admin);
        async move { req.send().await.unwrap() }
    };
    for left in ["1", "0"] {
        let r = get("/network/devices").await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        assert_eq!(r.headers()["x-ratelimit-limit"], "2");
        assert_eq!(r.headers()["x-ratelimit-remaining"], left);
    }
    let r = get("/network/devices").await;
    assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // Other domains are not in this tier.
    let r = get("/kubernetes/clusters").await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn config_backups_are_versioned_diffed_restored_and_polled() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon_with(&[("BACKUP_INTERVAL_S", "2")]).await;
    let s = Sshd::start(SshdOptions::nxos()).await;
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-bk", &s))
            .await,
    );

    // A manual version; the poller adds none while nothing changes (timestamps aside).
    let body = json!({"comment": "before the change"});
    let first = expect(
        201,
        d.post("/network/devices/nx-bk/config/backup", &admin, body)
            .await,
    )["data"]
        .clone();
    assert!(first["id"].as_str().unwrap().starts_with("cfb_"), "{first}");
    assert_eq!(
        (first["trigger"].as_str(), first["source"].as_str()),
        (Some("manual"), Some("running"))
    );
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    assert!(first.get("config").is_none(), "{first}");
    let listed = async |d: &Daemon| {
        expect(
            200,
            d.get("/network/devices/nx-bk/config/backups", &admin).await,
        )
    };

    // A change on the device: the poller stores a new version by itself.
    let change = json!({"config": "interface Ethernet1/4\n description polled-change\n"});
    expect(
        200,
        d.put("/network/devices/nx-bk/config", &admin, change).await,
    );
    let polled = common::wait_for(
        "the poller storing the changed configuration",
        Duration::from_secs(30),
        async || {
            let l = listed(&d).await;
            let items = l["data"].as_array().unwrap().clone();
            items.iter().find(|b| b["trigger"] == "schedule").cloned()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let all = listed(&d).await;
    let schedule = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["trigger"] == "schedule")
        .count();
    assert_eq!(schedule, 1, "unchanged polls store nothing: {all}");

    // A version with its text, and the diff between two.
    let id = polled["id"].as_str().unwrap();
    let v = expect(
        200,
        d.get(
            &format!(
                "/network/config-backups/{id}?diff_to={}",
                first["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await,
    )["data"]
        .clone();
    assert!(
        v["config"]
            .as_str()
            .unwrap()
            .contains("description polled-change"),
        "{v}"
    );
    assert!(
        diff_has(&v["diff"], '+', "description polled-change"),
        "{v}"
    );
    let e = expect_error(
        d.get(
            &format!("/network/config-backups/{id}?diff_to=cfb_nope"),
            &admin,
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "diff_to");
    expect_error(
        d.get("/network/config-backups/cfb_nope", &admin).await,
        404,
        "RESOURCE_NOT_FOUND",
    );

    // Restore the first version: the change is gone from the device.
    let first_id = first["id"].as_str().unwrap();
    let r = expect(
        200,
        d.post(
            &format!("/network/config-backups/{first_id}/restore"),
            &admin,
            json!({}),
        )
        .await,
    )["data"]
        .clone();
    assert!(
        diff_has(&r["diff"], '-', "description polled-change"),
        "{r}"
    );
    let run = expect(200, d.get("/network/devices/nx-bk/config", &admin).await);
    assert!(
        !run["data"]["config"]
            .as_str()
            .unwrap()
            .contains("polled-change")
    );
    // …and rollback `to` a version does the same through the device's route.
    let r = expect(
        200,
        d.post(
            "/network/devices/nx-bk/config/rollback",
            &admin,
            json!({"to": id}),
        )
        .await,
    )["data"]
        .clone();
    assert!(
        diff_has(&r["diff"], '+', "description polled-change"),
        "{r}"
    );
    let e = expect_error(
        d.post(
            "/network/devices/nx-bk/config/rollback",
            &admin,
            json!({"to": "cfb_nope"}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "to");

    // The text is sealed at rest: the database file does not hold it.
    for file in ["mcpd.db", "mcpd.db-wal"] {
        let bytes = std::fs::read(d.data_dir.join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("description polled-change"),
            "{file}"
        );
    }
    assert!(d.data_dir.join("mcpd.db").exists());
    // Removing the device removes its versions.
    expect(204, d.delete("/network/devices/nx-bk", &admin).await);
    expect_error(
        d.get(&format!("/network/config-backups/{id}"), &admin)
            .await,
        404,
        "RESOURCE_NOT_FOUND",
    );
}

#[tokio::test]
async fn junos_configuration_over_netconf() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon().await;
    let sw = FakeSwitch::juniper("netops", "jn-pass-1").await;
    let body = device("jn-1", "juniper_junos", sw.port(), "netops", "jn-pass-1");
    expect(201, d.post("/network/devices", &admin, body).await);
    let c = expect(
        200,
        d.post("/network/devices/jn-1/connect", &admin, json!({}))
            .await,
    )["data"]
        .clone();
    assert_eq!(c["status"], "connected", "{c}");
    assert_eq!(c["host_key_fingerprint"], sw.host_key_sha256());

    let get = async |source: &str| {
        let r = expect(
            200,
            d.get(
                &format!("/network/devices/jn-1/config?source={source}"),
                &admin,
            )
            .await,
        )["data"]
            .clone();
        assert_eq!(r["format"], "xml", "{r}");
        r["config"].as_str().unwrap().to_string()
    };
    let running = get("running").await;
    assert!(running.starts_with("<configuration>"), "{running:?}");
    for (q, field) in [("source=startup", "source"), ("format=text", "format")] {
        let e = expect_error(
            d.get(&format!("/network/devices/jn-1/config?{q}"), &admin)
                .await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], field, "{e}");
    }

    // A merge into the candidate: running unchanged until the commit.
    let xml = "<configuration><interfaces><interface><name>ge-0/0/1</name><description>mcpd-junos</description></interface></interfaces></configuration>";
    let r = expect(
        200,
        d.put(
            "/network/devices/jn-1/config",
            &admin,
            json!({"config": xml}),
        )
        .await,
    )["data"]
        .clone();
    assert!(diff_has(&r["diff"], '+', "mcpd-junos"), "{r}");
    assert_eq!(r["committed"], false);
    assert!(get("candidate").await.contains("mcpd-junos"));
    assert!(!get("running").await.contains("mcpd-junos"));
    // Rollback discards the uncommitted change.
    let rb = expect(
        200,
        d.post("/network/devices/jn-1/config/rollback", &admin, json!({}))
            .await,
    );
    assert_eq!(rb["data"]["rolled_back"], true);
    assert!(!get("candidate").await.contains("mcpd-junos"));
    // Again, then a confirmed commit.
    expect(
        200,
        d.put(
            "/network/devices/jn-1/config",
            &admin,
            json!({"config": xml}),
        )
        .await,
    );
    let body = json!({"confirm_timeout_s": 120, "comment": "CHG-7"});
    expect(
        200,
        d.post("/network/devices/jn-1/config/commit", &admin, body)
            .await,
    );
    assert!(get("running").await.contains("mcpd-junos"));
    // …or in one step with commit.
    let xml2 = xml.replace("mcpd-junos", "mcpd-junos-2");
    let r = expect(
        200,
        d.put(
            "/network/devices/jn-1/config",
            &admin,
            json!({"config": xml2, "commit": true}),
        )
        .await,
    )["data"]
        .clone();
    assert_eq!(r["committed"], true);
    assert!(get("running").await.contains("mcpd-junos-2"));

    // A version of it, kept and diffable like the CLI platforms'.
    let b = expect(
        201,
        d.post("/network/devices/jn-1/config/backup", &admin, json!({}))
            .await,
    )["data"]
        .clone();
    let v = expect(
        200,
        d.get(
            &format!("/network/config-backups/{}", b["id"].as_str().unwrap()),
            &admin,
        )
        .await,
    );
    assert!(
        v["data"]["config"]
            .as_str()
            .unwrap()
            .contains("mcpd-junos-2")
    );

    // Not XML, or not a configuration: 400, nothing sent.
    for bad in ["interface ge-0/0/1", "<configuration>", "<system/>"] {
        let e = expect_error(
            d.put(
                "/network/devices/jn-1/config",
                &admin,
                json!({"config": bad}),
            )
            .await,
            400,
            "VALIDATION_ERROR",
        );
        assert_eq!(e["details"][0]["field"], "config", "{e}");
    }
    // Commands through the <command> RPC; one Junos refuses is a 502 with its text.
    let v = output(&d, &admin, "jn-1", "show version").await;
    assert!(v.contains("Junos:"), "{v}");
    let e = expect_error(
        run(&d, &admin, "jn-1", "show nonsense").await,
        502,
        "NETWORK_COMMAND_ERROR",
    );
    assert!(
        e["message"].as_str().unwrap().contains("syntax error"),
        "{e}"
    );
    let dev = expect(200, d.get("/network/devices/jn-1", &admin).await)["data"].clone();
    assert_eq!(dev["system_info"]["os_version"], "21.4R3-S5.4", "{dev}");

    // Junos `rollback 1`: the commit before the last one comes back.
    let r = expect(
        200,
        d.post(
            "/network/devices/jn-1/config/rollback",
            &admin,
            json!({"to": 1}),
        )
        .await,
    )["data"]
        .clone();
    assert!(diff_has(&r["diff"], '-', "mcpd-junos-2"), "{r}");
    assert!(!get("running").await.contains("mcpd-junos-2"));
    let e = expect_error(
        d.post(
            "/network/devices/jn-1/config/rollback",
            &admin,
            json!({"to": 50}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"][0]["field"], "to");

    // A confirmed commit that nobody confirms is rolled back by the device.
    let xml3 = xml.replace("mcpd-junos", "mcpd-unconfirmed");
    expect(
        200,
        d.put(
            "/network/devices/jn-1/config",
            &admin,
            json!({"config": xml3}),
        )
        .await,
    );
    expect(
        200,
        d.post(
            "/network/devices/jn-1/config/commit",
            &admin,
            json!({"confirm_timeout_s": 2}),
        )
        .await,
    );
    assert!(get("running").await.contains("mcpd-unconfirmed"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!get("running").await.contains("mcpd-unconfirmed"));
}

#[tokio::test]
async fn idle_sessions_close_and_a_device_that_stops_answering_times_out() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon_with(&[("IDLE_TIMEOUT_S", "2"), ("CONNECT_TIMEOUT_S", "2")]).await;
    let s = Sshd::start(SshdOptions::nxos()).await;
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-idle", &s))
            .await,
    );
    let st = expect(
        200,
        d.post("/network/devices/nx-idle/connect", &admin, json!({}))
            .await,
    );
    assert_eq!(st["data"]["status"], "connected");
    let status = async || {
        let r = expect(200, d.get("/network/devices/nx-idle/status", &admin).await)["data"].clone();
        (r["status"] == "disconnected").then_some(r)
    };
    let r = common::wait_for("the idle session closed", Duration::from_secs(20), status).await;
    assert!(r["connected_since"].is_null(), "{r}");

    // The device's SSH server stops answering (the process is stopped, the port stays
    // open): the connection times out with the envelope, and works again after.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(s.pid().unwrap()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let started = std::time::Instant::now();
    let r = d
        .post("/network/devices/nx-idle/connect", &admin, json!({}))
        .await;
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let e = expect_error(r, 503, "NETWORK_CONNECTION_ERROR");
    assert!(started.elapsed() < Duration::from_secs(15), "{e}");
    expect(
        200,
        d.post("/network/devices/nx-idle/connect", &admin, json!({}))
            .await,
    );
}

#[tokio::test]
async fn config_backups_travel_with_the_daemons_backups() {
    if !netsim::ready() {
        return;
    }
    let (d, admin) = daemon().await;
    let s = Sshd::start(SshdOptions::nxos()).await;
    expect(
        201,
        d.post("/network/devices", &admin, sshd_device("nx-db", &s))
            .await,
    );
    let v = expect(
        201,
        d.post("/network/devices/nx-db/config/backup", &admin, json!({}))
            .await,
    );
    let version = v["data"]["id"].as_str().unwrap().to_string();
    let done = d
        .backup(&admin, json!({"description": "with device configs"}))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let backup = done["id"].as_str().unwrap().to_string();

    // The device and its versions go; restoring the daemon's backup brings both back,
    // the version's sealed text readable again.
    expect(204, d.delete("/network/devices/nx-db", &admin).await);
    let path = format!("/network/config-backups/{version}");
    expect_error(d.get(&path, &admin).await, 404, "RESOURCE_NOT_FOUND");
    let r = d
        .post(&format!("/backups/{backup}/restore"), &admin, json!({}))
        .await;
    assert_eq!(expect(200, r)["data"]["applied"], true);
    let back = expect(200, d.get(&path, &admin).await)["data"].clone();
    assert!(
        back["config"].as_str().unwrap().contains("hostname switch"),
        "{back}"
    );
    expect(200, d.get("/network/devices/nx-db", &admin).await);
}
