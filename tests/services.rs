//! Services on Docker, against the real binary and the real engine: create, read,
//! list, start/stop/restart, scale, patch, delete, the bad inputs, and reconcile
//! across a daemon restart. Every name comes from `d.name()` so the harness removes
//! the containers even when a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{BUSYBOX_IMAGE, Daemon, assert_error, create_service, docker, sleeper, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long events from Docker may take to show in what the API answers.
const EVENTS: Duration = Duration::from_secs(20);

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, container])
        .unwrap_or_else(|| panic!("docker inspect {container} failed"))
}

fn container_ids(svc: &Value) -> Vec<String> {
    svc["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_read_and_bad_inputs() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("web");

    let svc = create_service(
        &d,
        &admin,
        json!({
            "name": name, "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"],
            "env": {"GREETING": "hi"}, "labels": {"team": "a"},
            "ports": [{"container_port": 8080}],
            "resources": {"cpu_millicores": 250, "memory_mb": 64},
            "restart_policy": "on-failure",
        }),
    )
    .await;
    assert!(svc["id"].as_str().unwrap().starts_with("svc_"), "{svc}");
    assert_eq!(svc["name"], name);
    assert_eq!(svc["image"], BUSYBOX_IMAGE);
    assert_eq!(svc["command"], json!(["sleep", "3600"]));
    assert_eq!(svc["env"], json!({"GREETING": "hi"}));
    assert_eq!(svc["replicas"], 1);
    assert_eq!(svc["restart_policy"], "on-failure");
    assert_eq!(svc["status"], "created");
    assert_eq!(svc["desired_state"], "stopped");
    assert_eq!(svc["managed_by"], Value::Null);
    for key in [
        "volumes",
        "networks",
        "health_check",
        "created_at",
        "updated_at",
    ] {
        assert!(svc.get(key).is_some(), "{key} missing: {svc}");
    }
    let container = format!("mcpd-{name}-1");
    assert_eq!(svc["containers"][0]["name"], container);
    assert_eq!(svc["containers"][0]["status"], "created");

    // The container as Docker has it.
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"io.mcpd.managed\"}}"),
        "true"
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"io.mcpd.service\"}}"),
        svc["id"].as_str().unwrap()
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"io.mcpd.replica\"}}"),
        "1"
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"team\"}}"),
        "a"
    );
    assert_eq!(inspect(&container, "{{.HostConfig.Init}}"), "true");
    assert_eq!(inspect(&container, "{{.HostConfig.NanoCpus}}"), "250000000");
    assert_eq!(inspect(&container, "{{.HostConfig.Memory}}"), "67108864");
    assert_eq!(
        inspect(&container, "{{.HostConfig.NetworkMode}}"),
        d.network
    );
    assert_eq!(
        inspect(
            &container,
            "{{range $p, $b := .HostConfig.PortBindings}}{{$p}} {{(index $b 0).HostIp}}{{end}}"
        ),
        "8080/tcp 127.0.0.1"
    );
    let nets = common::networks_named(&d.network);
    assert_eq!(nets.len(), 1, "networks named {}: {nets:?}", d.network);
    assert_eq!(
        docker(&[
            "network",
            "inspect",
            "-f",
            "{{index .Labels \"io.mcpd.managed\"}}",
            &d.network
        ])
        .as_deref(),
        Some("true")
    );

    // Read by id and by name.
    let id = svc["id"].as_str().unwrap().to_string();
    for key in [&id, &name] {
        let (s, b) = d.get(&format!("/services/{key}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["data"]["id"], id.as_str());
    }
    let (s, b) = d.get("/services/does-not-exist", &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Duplicate name.
    let (s, b) = d.post("/services", &admin, sleeper(&name)).await;
    assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");

    // Image not present locally.
    let bad = d.name("noimage");
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": bad, "image": "mcpd-test/absent:0"}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "image", "{b}");

    // Unknown field, wrong type, missing field, bad values: 400 naming the field.
    for (body, field) in [
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "replicas": "two"}),
            "replicas",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "replicas": 21}),
            "replicas",
        ),
        (json!({"name": bad}), "image"),
        (
            json!({"name": "Not_A_Slug", "image": BUSYBOX_IMAGE}),
            "name",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "restart_policy": "sometimes"}),
            "restart_policy",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "env": {"1BAD": "x"}}),
            "env.1BAD",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "ports": [{"container_port": 80, "host_ip": "localhost"}]}),
            "ports[0].host_ip",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "resources": {"memory_mb": 1}}),
            "resources.memory_mb",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "labels": {"io.mcpd.service": "x"}}),
            "labels.io.mcpd.service",
        ),
        (
            json!({"name": bad, "image": BUSYBOX_IMAGE, "managed_by": "mcp_x"}),
            "managed_by",
        ),
    ] {
        let (s, b) = d.post("/services", &admin, body.clone()).await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body} → {b}");
    }
    // Nothing was created by any of them.
    assert!(common::containers_named(&format!("mcpd-{bad}")).is_empty());
    let (s, b) = d.get(&format!("/services/{bad}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Auth: none → 401; a viewer reads but cannot create or change.
    let (s, b) = d.call(Method::GET, "/services", None, None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
    let viewer = d
        .user_with_roles(&format!("viewer{}", d.tag), &["viewer"])
        .await;
    let (s, b) = d.post("/services", &viewer, sleeper(&d.name("v"))).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .post(&format!("/services/{id}/start"), &viewer, json!({}))
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.delete(&format!("/services/{id}"), &viewer).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.get(&format!("/services/{id}"), &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(common::containers_named(&format!("mcpd-{}", d.name("v"))).is_empty());

    // Delete removes the container and the row.
    let (s, b) = d.delete(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert!(
        docker(&["inspect", &container]).is_none(),
        "container left behind"
    );
    let (s, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn list_filters_and_pagination() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    for n in ["a", "b", "c"] {
        create_service(&d, &admin, sleeper(&d.name(n))).await;
    }
    let prefix = format!("^t{}-", d.tag);
    let (s, b) = d
        .get(
            &format!("/services?name[regex]={prefix}&limit=2&sort=name&order=asc"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 3, "{b}");
    assert_eq!(b["meta"]["pagination"]["pages"], 2);
    let names: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [d.name("a"), d.name("b")]);
    assert_eq!(b["data"][0]["containers"].as_array().unwrap().len(), 1);
    let (_, b) = d
        .get(
            &format!("/services?name[regex]={prefix}&limit=2&page=2&sort=name&order=asc"),
            &admin,
        )
        .await;
    assert_eq!(b["data"][0]["name"], d.name("c"));

    let (_, b) = d
        .get(&format!("/services?name={}", d.name("b")), &admin)
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 1);
    let (_, b) = d
        .get(
            &format!("/services?name[regex]={prefix}&status=created&image={BUSYBOX_IMAGE}"),
            &admin,
        )
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 3, "{b}");
    let (_, b) = d
        .get(
            &format!("/services?name[regex]={prefix}&status=running"),
            &admin,
        )
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 0, "{b}");
    let (_, b) = d
        .get(
            &format!("/services?name[regex]={prefix}&created_at[gte]=2000-01-01T00:00:00Z"),
            &admin,
        )
        .await;
    assert_eq!(b["meta"]["pagination"]["total"], 3, "{b}");

    // Rename through PATCH: the container follows the new name; a taken name is a 409.
    let (old, new) = (d.name("c"), d.name("c2"));
    let (s, b) = d
        .patch(&format!("/services/{old}"), &admin, json!({"name": new}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["containers"][0]["name"], format!("mcpd-{new}-1"));
    assert!(common::containers_named(&format!("mcpd-{old}-")).is_empty());
    let (s, _) = d.get(&format!("/services/{new}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = d
        .patch(
            &format!("/services/{new}"),
            &admin,
            json!({"name": d.name("a")}),
        )
        .await;
    assert_error(s, &b, 409, "RESOURCE_ALREADY_EXISTS");

    let (s, b) = d.get("/services?colour=red", &admin).await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "colour");
    let (s, b) = d.get("/services?created_at[gt]=yesterday", &admin).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn start_stop_restart_scale_patch_delete() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("run");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    let svc = create_service(&d, &admin, body).await;
    let id = svc["id"].as_str().unwrap().to_string();
    let c1 = format!("mcpd-{name}-1");
    assert_eq!(svc["status"], "running", "{svc}");
    assert_eq!(svc["desired_state"], "running");
    assert!(svc["containers"][0]["started_at"].as_str().is_some());
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "true");

    // Stop: the container stops promptly (init process) and the status says so.
    let t = Instant::now();
    let (s, b) = d
        .post(&format!("/services/{name}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(b["data"]["status"], "stopped");
    assert_eq!(b["data"]["desired_state"], "stopped");
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "false");

    // Start again: same container, running.
    let (s, b) = d
        .post(&format!("/services/{id}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running");
    assert_eq!(container_ids(&b["data"]), container_ids(&svc));
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "true");
    let started = inspect(&c1, "{{.State.StartedAt}}");

    // Restart: running again with a later start time.
    let (s, b) = d
        .post(&format!("/services/{id}/restart"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running");
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "true");
    assert_ne!(inspect(&c1, "{{.State.StartedAt}}"), started);

    // Scale up to 3, then down to 1: the highest-numbered containers go.
    let (s, b) = d
        .post(
            &format!("/services/{id}/scale"),
            &admin,
            json!({"replicas": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["replicas"], 3);
    assert_eq!(b["data"]["containers"].as_array().unwrap().len(), 3);
    for n in 1..=3 {
        assert_eq!(
            inspect(&format!("mcpd-{name}-{n}"), "{{.State.Running}}"),
            "true"
        );
    }
    assert_eq!(common::containers_named(&format!("mcpd-{name}-")).len(), 3);
    let (s, b) = d
        .post(
            &format!("/services/{id}/scale"),
            &admin,
            json!({"replicas": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        common::containers_named(&format!("mcpd-{name}-")),
        std::slice::from_ref(&c1)
    );
    assert_eq!(
        container_ids(&b["data"]),
        container_ids(&svc),
        "replica 1 kept"
    );
    let (s, b) = d
        .post(
            &format!("/services/{id}/scale"),
            &admin,
            json!({"replicas": -1}),
        )
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d
        .post(
            &format!("/services/{id}/scale"),
            &admin,
            json!({"replicas": 21}),
        )
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");

    // PATCH env: the running container is recreated with the new environment; other
    // fields stay.
    let (s, b) = d
        .patch(
            &format!("/services/{id}"),
            &admin,
            json!({"env": {"COLOUR": "blue"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["env"], json!({"COLOUR": "blue"}));
    assert_eq!(b["data"]["command"], json!(["sleep", "3600"]));
    assert_eq!(b["data"]["status"], "running");
    assert_ne!(
        container_ids(&b["data"]),
        container_ids(&svc),
        "container not recreated"
    );
    let env = inspect(&c1, "{{json .Config.Env}}");
    assert!(env.contains("COLOUR=blue"), "{env}");
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "true");
    let recreated = container_ids(&b["data"]);

    // PATCH with nothing that shapes the container keeps it; bad PATCH changes nothing.
    let (s, b) = d
        .patch(&format!("/services/{id}"), &admin, json!({"replicas": 1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(container_ids(&b["data"]), recreated);
    for (body, field) in [
        (json!({"image": "mcpd-test/absent:0"}), "image"),
        (json!({"bogus": 1}), "bogus"),
        (json!({"env": {"X": 1}}), "env.X"),
    ] {
        let (s, b) = d
            .patch(&format!("/services/{id}"), &admin, body.clone())
            .await;
        let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body} → {b}");
    }
    let (_, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(container_ids(&b["data"]), recreated);
    assert_eq!(b["data"]["env"], json!({"COLOUR": "blue"}));

    // A PATCH whose new container dies at once is refused and the previous
    // configuration is back, running.
    let (s, b) = d
        .patch(
            &format!("/services/{id}"),
            &admin,
            json!({"command": ["/no/such/program"]}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "command", "{b}");
    let (_, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(b["data"]["command"], json!(["sleep", "3600"]));
    assert_eq!(b["data"]["status"], "running", "{b}");
    assert_eq!(inspect(&c1, "{{json .Config.Cmd}}"), r#"["sleep","3600"]"#);
    assert_eq!(inspect(&c1, "{{.State.Running}}"), "true");

    // PUT replaces: the command and env go back to defaults given.
    let (s, b) = d
        .put(
            &format!("/services/{id}"),
            &admin,
            json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sleep", "1000"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["env"], json!({}));
    assert_eq!(inspect(&c1, "{{json .Config.Cmd}}"), r#"["sleep","1000"]"#);

    // Delete a running service: containers gone, row gone.
    let (s, _) = d.delete(&format!("/services/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(common::containers_named(&format!("mcpd-{name}-")).is_empty());
    let (s, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let (s, b) = d
        .post(&format!("/services/{id}/start"), &admin, json!({}))
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Every change is in the audit log, attributed to the admin, without env values.
    let db = rusqlite::Connection::open_with_flags(
        d.data_path("mcpd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare(
            "SELECT a.action, a.outcome, u.username, coalesce(a.details, '') FROM audit_log a
             LEFT JOIN users u ON u.id = a.actor_user_id
             WHERE a.target_id = ?1 ORDER BY a.timestamp, a.rowid",
        )
        .unwrap();
    let rows: Vec<(String, String, Option<String>, String)> = stmt
        .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let actions: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "success")
        .map(|r| r.0.as_str())
        .collect();
    for want in [
        "services.create",
        "services.stop",
        "services.start",
        "services.restart",
        "services.scale",
        "services.update",
        "services.delete",
    ] {
        assert!(actions.contains(&want), "{want} not audited: {rows:?}");
    }
    assert!(
        rows.iter().all(|r| r.2.as_deref() == Some("admin")),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|r| r.3.contains("blue")),
        "env value in audit: {rows:?}"
    );
}

#[tokio::test]
async fn failed_create_leaves_nothing_behind() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;

    // A host port already bound by someone else: the start fails, nothing remains.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let name = d.name("port");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    body["ports"] = json!([{"container_port": 80, "host_port": port}]);
    let (s, b) = d.post("/services", &admin, body).await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "ports", "{b}");
    assert!(common::containers_named(&format!("mcpd-{name}-")).is_empty());
    let (s, b) = d.get(&format!("/services/{name}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // A command that does not exist in the image, with two replicas.
    let name = d.name("cmd");
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["/no/such/program"], "replicas": 2, "start": true}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "command", "{b}");
    assert!(common::containers_named(&format!("mcpd-{name}-")).is_empty());
    let (s, b) = d.get(&format!("/services/{name}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    drop(taken);

    // The name is free again afterwards.
    create_service(&d, &admin, sleeper(&name)).await;
}

#[tokio::test]
async fn status_follows_docker_and_reconcile_restores_after_daemon_restart() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("keep");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    body["replicas"] = json!(2);
    let svc = create_service(&d, &admin, body).await;
    let id = svc["id"].as_str().unwrap().to_string();
    let before = container_ids(&svc);

    // Killed behind mcpd's back: the events watcher records the failure (the list's
    // status filter reads the stored status).
    docker(&["kill", &format!("mcpd-{name}-2")]).unwrap();
    d.get_until(
        &format!("/services?name={name}&status=failed"),
        &admin,
        EVENTS,
        |b| b["meta"]["pagination"]["total"] == 1,
    )
    .await;

    // Daemon restart: reconcile starts the killed container again, the other keeps running.
    d.restart().await;
    let admin = d.admin().await;
    let b = d
        .get_until(&format!("/services/{id}"), &admin, EVENTS, |b| {
            b["data"]["status"] == "running"
        })
        .await;
    assert_eq!(
        container_ids(&b["data"]),
        before,
        "running containers must be kept"
    );
    assert_eq!(
        inspect(&format!("mcpd-{name}-2"), "{{.State.Running}}"),
        "true"
    );

    // A container removed behind mcpd's back is recreated by the reconcile at start.
    docker(&["rm", "-f", &format!("mcpd-{name}-1")]).unwrap();
    d.restart().await;
    let admin = d.admin().await;
    let b = d
        .get_until(&format!("/services/{id}"), &admin, EVENTS, |b| {
            b["data"]["status"] == "running"
                && b["data"]["containers"].as_array().unwrap().len() == 2
        })
        .await;
    assert_ne!(
        container_ids(&b["data"])[0],
        before[0],
        "replica 1 must be a new container"
    );
    assert_eq!(
        inspect(&format!("mcpd-{name}-1"), "{{.State.Running}}"),
        "true"
    );
    // The stored status (what list filters read) catches up once the reconcile is done.
    d.get_until(
        &format!("/services?name={name}&status=running"),
        &admin,
        EVENTS,
        |b| b["meta"]["pagination"]["total"] == 1,
    )
    .await;

    // A stopped service stays stopped across a restart, even when one of its containers
    // was started behind mcpd's back (as restart policy `always` does when dockerd
    // restarts).
    let (s, _) = d
        .post(&format!("/services/{id}/stop"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    docker(&["start", &format!("mcpd-{name}-1")]).unwrap();
    d.restart().await;
    let admin = d.admin().await;
    d.get_until(&format!("/services/{id}"), &admin, EVENTS, |b| {
        b["data"]["status"] == "stopped"
    })
    .await;
    for n in 1..=2 {
        assert_eq!(
            inspect(&format!("mcpd-{name}-{n}"), "{{.State.Running}}"),
            "false"
        );
    }
}

/// Removes a Docker network this test made when dropped, even when the test fails.
struct NetworkGuard(String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

#[tokio::test]
async fn health_checks_volumes_and_extra_networks() {
    require_docker!();
    // Declared before the daemon so it drops after the daemon's cleanup has removed
    // the containers attached to it.
    let extra = NetworkGuard(format!("mcpd-test-extra-{}", std::process::id()));
    let (d, admin) = Daemon::start_admin().await;

    // A failing health check makes the service unhealthy (stored from Docker's
    // health_status events, so the list filter sees it); a passing one, running.
    let sick = d.name("sick");
    let well = d.name("well");
    for (name, test) in [(&sick, json!(["CMD", "false"])), (&well, json!(["true"]))] {
        let mut body = sleeper(name);
        body["start"] = json!(true);
        body["health_check"] = json!({"test": test, "interval_s": 1, "timeout_s": 1, "retries": 1});
        create_service(&d, &admin, body).await;
    }
    d.get_until(
        &format!("/services?name={sick}&status=unhealthy"),
        &admin,
        EVENTS,
        |b| b["meta"]["pagination"]["total"] == 1,
    )
    .await;
    let b = d
        .get_until(&format!("/services/{well}"), &admin, EVENTS, |b| {
            b["data"]["status"] == "running"
        })
        .await;
    assert_eq!(b["data"]["health_check"]["test"], json!(["CMD", "true"]));
    assert_eq!(
        inspect(&format!("mcpd-{well}-1"), "{{.State.Health.Status}}"),
        "healthy"
    );
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": d.name("nohc"), "image": BUSYBOX_IMAGE, "health_check": {"test": []}}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "health_check.test");

    // A read-only bind mount.
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("f.txt"), "from the host").unwrap();
    let vol = d.name("vol");
    let mut body = sleeper(&vol);
    body["start"] = json!(true);
    body["volumes"] = json!([{"source": host_dir.path().to_str().unwrap(), "target": "/data", "read_only": true}]);
    create_service(&d, &admin, body).await;
    let c = format!("mcpd-{vol}-1");
    assert_eq!(
        docker(&["exec", &c, "cat", "/data/f.txt"]).as_deref(),
        Some("from the host")
    );
    assert!(
        docker(&["exec", &c, "touch", "/data/new"]).is_none(),
        "read-only mount was writable"
    );

    // Extra networks must exist; the container joins them besides the managed one.
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": d.name("nonet"), "image": BUSYBOX_IMAGE, "networks": [format!("{}-absent", d.network)]}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "networks[0]");
    docker(&["network", "create", &extra.0]).expect("create extra network");
    let net = d.name("net");
    let mut body = sleeper(&net);
    body["networks"] = json!([extra.0]);
    body["start"] = json!(true);
    create_service(&d, &admin, body).await;
    let nets = inspect(
        &format!("mcpd-{net}-1"),
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(
        nets.contains(&d.network) && nets.contains(&extra.0),
        "{nets}"
    );
    let (s, _) = d.delete(&format!("/services/{net}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_services_route_enforces_its_permission() {
    require_docker!();
    let (mut d, admin) = Daemon::start_admin().await;
    let name = d.name("perm");
    let id = create_service(&d, &admin, sleeper(&name)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tag = d.tag.clone();
    let viewer = d.user_with_roles(&format!("v{tag}"), &["viewer"]).await;
    let developer = d
        .user_with_roles(&format!("dev{tag}"), &["developer"])
        .await;
    let operator = d.user_with_roles(&format!("op{tag}"), &["operator"]).await;

    let reads = [
        (Method::GET, "/services".to_string(), None),
        (Method::GET, format!("/services/{id}"), None),
    ];
    let writes = [
        (
            Method::POST,
            "/services".to_string(),
            Some(sleeper(&d.name("other"))),
        ),
        (Method::PUT, format!("/services/{id}"), Some(sleeper(&name))),
        (
            Method::PATCH,
            format!("/services/{id}"),
            Some(json!({"env": {"A": "1"}})),
        ),
        (
            Method::POST,
            format!("/services/{id}/start"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/services/{id}/stop"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/services/{id}/restart"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/services/{id}/scale"),
            Some(json!({"replicas": 2})),
        ),
        (Method::DELETE, format!("/services/{id}"), None),
    ];
    for token in [&viewer, &developer, &operator] {
        for (m, path, body) in &reads {
            let (s, b) = d.call(m.clone(), path, Some(token), body.clone()).await;
            assert_eq!(s, StatusCode::OK, "{m} {path}: {b}");
        }
    }
    for token in [&viewer, &developer] {
        for (m, path, body) in &writes {
            let (s, b) = d.call(m.clone(), path, Some(token), body.clone()).await;
            let e = assert_error(s, &b, 403, "FORBIDDEN");
            assert!(
                e["message"].as_str().unwrap().contains("services:write"),
                "{m} {path}: {b}"
            );
        }
    }
    // Nothing changed by the denied calls.
    let (_, b) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(b["data"]["status"], "created");
    assert_eq!(b["data"]["env"], json!({}));
    assert!(common::containers_named(&format!("mcpd-{}", d.name("other"))).is_empty());
    for (m, path, body) in &writes {
        let (s, b) = d.call(m.clone(), path, Some(&operator), body.clone()).await;
        assert!(s.is_success(), "operator {m} {path}: {s} {b}");
    }
    let (s, _) = d.get(&format!("/services/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = d
        .delete(&format!("/services/{}", d.name("other")), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_create_abandoned_by_its_client_leaves_all_or_nothing() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let name = d.name("gone");
    // Five replicas take over a second to start; the client gives up long before.
    let r = d
        .client
        .post(d.url("/services"))
        .bearer_auth(&admin)
        .timeout(Duration::from_millis(300))
        .json(&json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"], "replicas": 5, "start": true}))
        .send()
        .await;
    assert!(r.is_err(), "the request was expected to time out: {r:?}");
    // Settled state: either the whole service exists with its five containers, or
    // neither the service nor any container does.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (s, b) = d.get(&format!("/services/{name}"), &admin).await;
    let containers = common::containers_named(&format!("mcpd-{name}-"));
    if s == StatusCode::OK {
        assert_eq!(b["data"]["containers"].as_array().unwrap().len(), 5, "{b}");
        assert_eq!(containers.len(), 5, "{containers:?}");
    } else {
        assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
        assert!(
            containers.is_empty(),
            "orphaned: {containers:?}\n{}",
            d.log()
        );
    }
    eprintln!("abandoned create ended with {s}");
}

#[tokio::test]
async fn stop_and_delete_abandoned_by_their_client_still_finish() {
    require_docker!();
    // Containers that ignore SIGTERM take the whole stop timeout (2 s) each to stop.
    let (d, admin) = Daemon::start_admin_with_var("MCPD_DOCKER__STOP_TIMEOUT_S", "2").await;
    let name = d.name("stubborn");
    create_service(
        &d,
        &admin,
        json!({"name": name, "image": BUSYBOX_IMAGE, "replicas": 2, "start": true,
                   "command": ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]}),
    )
    .await;
    let abandon = |method: reqwest::Method, path: String| {
        let req = d
            .client
            .request(method, d.url(&path))
            .bearer_auth(&admin)
            .timeout(Duration::from_millis(500));
        async move {
            let r = req.send().await;
            assert!(r.is_err(), "the request was expected to time out: {r:?}");
        }
    };
    // Two replicas stopped one after the other, each taking the whole timeout.
    let settle = Duration::from_secs(45);

    // The stop goes on after the client left: every replica ends up stopped.
    abandon(Method::POST, format!("/services/{name}/stop")).await;
    let path = format!("/services/{name}");
    let b = d
        .get_until(&path, &admin, settle, |b| b["data"]["status"] == "stopped")
        .await;
    assert_eq!(b["data"]["desired_state"], "stopped", "{b}");
    for c in b["data"]["containers"].as_array().unwrap() {
        assert_ne!(c["status"], "running", "{b}");
    }

    // So does a delete: the service and all its containers are gone.
    let (s, b) = d
        .post(&format!("/services/{name}/start"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    abandon(Method::DELETE, format!("/services/{name}")).await;
    wait_for("the abandoned delete to finish", settle, async || {
        let (s, _) = d.get(&path, &admin).await;
        (s == StatusCode::NOT_FOUND
            && common::containers_named(&format!("mcpd-{name}-")).is_empty())
        .then_some(())
    })
    .await;
    // The delete is in the audit log as done by the admin.
    let (_, b) = d.get("/audit?action=services.delete", &admin).await;
    assert_eq!(b["data"][0]["outcome"], "success", "{b}");
}

#[tokio::test]
async fn secret_references_in_env_resolve_only_inside_the_container() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    const SECRET: &str = "s3cret-value-for-services-test";
    let key = format!("t{}.db.password", d.tag);
    let (s, b) = d
        .put(
            &format!("/config/{key}"),
            &admin,
            json!({"value": SECRET, "secret": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // An unknown key is refused, naming the variable; nothing is created.
    let bad = d.name("badref");
    let (s, b) = d
        .post(
            "/services",
            &admin,
            json!({"name": bad, "image": BUSYBOX_IMAGE, "env": {"PW": "${secret:no.such.key}"}}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "env.PW", "{b}");
    assert!(common::containers_named(&format!("mcpd-{bad}-")).is_empty());

    let name = d.name("withsecret");
    let reference = format!("${{secret:{key}}}");
    let mut body = sleeper(&name);
    body["start"] = json!(true);
    body["env"] = json!({"PW": reference, "URL": format!("pg://app:{reference}@db/app")});
    let svc = create_service(&d, &admin, body).await;
    // The API shows the reference, never the value.
    assert_eq!(svc["env"]["PW"], reference.as_str());
    let (_, b) = d.get(&format!("/services/{name}"), &admin).await;
    assert!(!b.to_string().contains(SECRET), "{b}");
    // The process inside gets the value.
    let c = format!("mcpd-{name}-1");
    assert_eq!(
        docker(&["exec", &c, "sh", "-c", "echo \"$PW|$URL\""]).as_deref(),
        Some(format!("{SECRET}|pg://app:{SECRET}@db/app").as_str())
    );
    // Nowhere in the daemon's log.
    assert!(!d.log().contains(SECRET), "secret in the log");

    // A changed secret reaches the container at its next restart.
    let (s, b) = d
        .put(
            &format!("/config/{key}"),
            &admin,
            json!({"value": "rotated-value", "secret": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = d
        .post(&format!("/services/{name}/restart"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "running", "{b}");
    assert_eq!(
        docker(&["exec", &c, "sh", "-c", "echo \"$PW\""]).as_deref(),
        Some("rotated-value")
    );

    // PATCH to an unknown key is refused and changes nothing.
    let (s, b) = d
        .patch(
            &format!("/services/{name}"),
            &admin,
            json!({"env": {"PW": "${secret:missing}"}}),
        )
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "env.PW", "{b}");
    let (_, b) = d.get(&format!("/services/{name}"), &admin).await;
    assert_eq!(b["data"]["env"]["PW"], reference.as_str());
}
