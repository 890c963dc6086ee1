//! Service volumes in backups, against the real binary and Docker engine: a named
//! volume is archived (with the service paused), changed, then restored online (the
//! service stopped and started again), with a dry run that changes nothing first; a
//! backup into a small tmpfs that runs out of space mid-write fails cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{BUSYBOX_IMAGE, Daemon, assert_error, create_service, docker, sleeper, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Runs `script` with `sh -c` in container `c`.
fn sh_in(c: &str, script: &str) {
    docker(&["exec", c, "sh", "-c", script]);
}

/// `POST /backups/{id}/restore` with `body`, asserting 200; the answer.
async fn restore(d: &Daemon, token: &str, id: &str, body: Value) -> Value {
    common::expect(
        200,
        d.post(&format!("/backups/{id}/restore"), token, body).await,
    )
}

/// Removes the named volume even when the test fails, with the containers (of this
/// test's services) still using it: the guard drops before the daemon's own cleanup.
struct VolumeGuard(String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let filter = format!("volume={}", self.0);
        if let Some(ids) = docker(&["ps", "-aq", "--filter", &filter]) {
            for id in ids.split_whitespace() {
                let _ = docker(&["rm", "-f", id]);
            }
        }
        let _ = docker(&["volume", "rm", "-f", &self.0]);
    }
}

/// Waits (up to 60 s) for service `name` to be running.
async fn running(d: &Daemon, token: &str, name: &str) {
    let path = format!("/services/{name}");
    d.get_until(&path, token, Duration::from_secs(60), |b| {
        b["data"]["status"] == "running"
    })
    .await;
}

/// Waits (up to `within`) for `file` in `container` to hold `want`.
async fn file_written(container: &str, file: &str, want: &str, within: Duration) {
    let what = format!("{file} in {container} to hold {want:?}");
    wait_for(what, within, async || {
        (cat(container, file).as_deref() == Some(want)).then_some(())
    })
    .await;
}

/// A tmpfs mounted on a temp dir (we run as root; CI does too), unmounted on drop even
/// when the test fails. `None` (test skipped) when mounting is not permitted outside CI.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new()
            .prefix("mcpd-test-tmpfs-")
            .tempdir()
            .unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root and must be able to mount a tmpfs: {why}"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root): {why}");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .expect("run mount");
        assert!(ok.success(), "remounting the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let p = self.dir.path().to_path_buf();
        let ok = std::process::Command::new("umount")
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a process holding a file): detach it now, freed when released.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&p)
                .status();
        }
    }
}

/// A guard for the named volume `mcpd-test-{kind}-{tag}` of this daemon, and its name.
fn volume(d: &Daemon, kind: &str) -> (VolumeGuard, String) {
    let name = format!("mcpd-test-{kind}-{}", d.tag);
    (VolumeGuard(name.clone()), name)
}

fn cat(container: &str, file: &str) -> Option<String> {
    docker(&["exec", container, "cat", file])
}

#[tokio::test]
async fn named_volume_is_backed_up_and_restored_online() {
    require_docker!();
    let mut d = Daemon::start().await;
    let (_vol_guard, vol) = volume(&d, "vol");
    let admin = d.admin().await;
    let svc = d.name("data");
    create_service(&d, &admin, json!({
                "name": svc, "image": BUSYBOX_IMAGE, "start": true,
                "command": ["sh", "-c", "[ -f /data/f.txt ] || { echo v1 > /data/f.txt; mkdir -p /data/sub; echo deep > /data/sub/g.txt; }; sleep 3600"],
                "volumes": [{"source": vol, "target": "/data"}],
            })).await;
    running(&d, &admin, &svc).await;
    let c = format!("mcpd-{svc}-1");
    file_written(&c, "/data/sub/g.txt", "deep", Duration::from_secs(20)).await;

    // Unknown services and services without volumes are refused up front.
    let (s, b) = d
        .post("/backups", &admin, json!({"services": ["nope"]}))
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let plain = d.name("plain");
    create_service(&d, &admin, sleeper(&plain)).await;
    let (s, b) = d
        .post("/backups", &admin, json!({"services": [plain]}))
        .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "services");

    let body = json!({"services": [svc], "pause_services": true});
    let done = d.backup(&admin, body).await;
    let id = done["id"].as_str().unwrap().to_string();
    assert_eq!(done["status"], "completed", "{done}");
    let m = &done["manifest"];
    assert_eq!(m["volumes"][0]["source"], json!(vol), "{m}");
    assert_eq!(m["volumes"][0]["kind"], "volume");
    assert_eq!(m["included"]["services"], json!([svc]));
    // Unpaused afterwards.
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &c]).as_deref(),
        Some("running")
    );

    sh_in(
        &c,
        "echo v2 > /data/f.txt; rm -r /data/sub; echo x > /data/new.txt",
    );
    assert_eq!(cat(&c, "/data/f.txt").as_deref(), Some("v2"));

    let b = restore(
        &d,
        &admin,
        &id,
        json!({"dry_run": true, "include_data": false, "services": [svc]}),
    )
    .await;
    assert_eq!(
        b["data"]["volumes"]["changed"],
        json!([format!("{svc}:{vol}")])
    );
    assert_eq!(
        cat(&c, "/data/f.txt").as_deref(),
        Some("v2"),
        "dry run changed nothing"
    );

    let online = json!({"include_data": false, "services": [svc]});
    let b = restore(&d, &admin, &id, online.clone()).await;
    assert_eq!(b["data"]["applied"], true);
    running(&d, &admin, &svc).await;
    // The service writes its files only when f.txt is missing, so all of this is the
    // restore's doing.
    let c = format!("mcpd-{svc}-1");
    assert_eq!(cat(&c, "/data/sub/g.txt").as_deref(), Some("deep"));
    assert_eq!(
        cat(&c, "/data/new.txt"),
        None,
        "files made after the backup are gone"
    );
    assert_eq!(cat(&c, "/data/f.txt").as_deref(), Some("v1"));

    // Incremental: only what changed since the full one, deletions included.
    sh_in(
        &c,
        "echo v3 > /data/f.txt; rm /data/sub/g.txt; echo inc > /data/inc.txt",
    );
    let done = d.backup(&admin, json!({"type": "incremental", "services": [svc], "include_data": false, "include_config": true})).await;
    let inc = done["id"].as_str().unwrap().to_string();
    assert_eq!(done["status"], "completed", "{done}");
    let m = &done["manifest"];
    assert_eq!(m["base_backup_id"], json!(id), "{m}");
    assert!(m["volumes"][0]["listing"].is_string(), "{m}");
    let (s, b) = d.delete(&format!("/backups/{id}"), &admin).await;
    assert_error(s, &b, 409, "CONFLICT");

    sh_in(&c, "echo v4 > /data/f.txt; echo later > /data/later.txt");
    restore(&d, &admin, &inc, online).await;
    running(&d, &admin, &svc).await;
    assert_eq!(cat(&c, "/data/f.txt").as_deref(), Some("v3"));
    assert_eq!(cat(&c, "/data/inc.txt").as_deref(), Some("inc"));
    assert_eq!(
        cat(&c, "/data/sub/g.txt"),
        None,
        "deleted before the increment"
    );
    assert_eq!(cat(&c, "/data/later.txt"), None, "made after the increment");
    assert!(docker(&["exec", &c, "test", "-d", "/data/sub"]).is_some());

    for s in [&svc, &plain] {
        let (st, _) = d.delete(&format!("/services/{s}"), &admin).await;
        assert!(st.is_success(), "delete {s}: {st}");
    }
}

#[tokio::test]
async fn a_full_backups_directory_fails_cleanly_and_the_daemon_goes_on() {
    require_docker!();
    // Declared before the daemon: dropped (unmounted) after it has stopped.
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    let mut d = Daemon::start_with_env(vec![
        (
            "MCPD_BACKUPS__DIR".into(),
            fs.path().to_str().unwrap().into(),
        ),
        ("MCPD_BACKUPS__MIN_FREE_BYTES".into(), "0".into()),
    ])
    .await;
    let admin = d.admin().await;
    // 40,000 files of 64 bytes: 2.5 MB of file bytes, which the free-space estimate
    // counts, but ~40 MB as a tar (a 512-byte header and a padded block per file), so
    // the pre-check passes and the staged copy really runs out of the 24 MB.
    let data = tempfile::Builder::new()
        .prefix("mcpd-test-small-files-")
        .tempdir()
        .unwrap();
    for i in 0..40_000 {
        std::fs::write(data.path().join(format!("f{i:05}")), [b'x'; 64]).unwrap();
    }
    let svc = d.name("many");
    create_service(&d, &admin, json!({"name": svc, "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"],
                   "volumes": [{"source": data.path().to_str().unwrap(), "target": "/data", "read_only": true}]})).await;

    let (s, b) = d.post("/backups", &admin, json!({"services": [svc]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "the pre-check passes: {b}");
    let id = b["data"]["id"].as_str().unwrap().to_string();
    let done = d.backup_done(&admin, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let reason = done["error"].as_str().unwrap();
    assert!(
        reason.contains("ran out of space") && reason.contains("ENOSPC"),
        "{reason}"
    );
    // Nothing partial is left, and the space is free again.
    let left: Vec<String> = std::fs::read_dir(fs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let (s, b) = d.get(&format!("/backups/{id}/download"), &admin).await;
    assert_error(s, &b, 409, "CONFLICT");

    // The daemon keeps serving reads and writes.
    let (s, _) = d.get("/health", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = d
        .put(
            "/config/app.after_full",
            &admin,
            json!({"value": "still writable"}),
        )
        .await;
    assert!(s.is_success(), "{s} {b}");

    // With room, the same backup succeeds.
    fs.resize("256m");
    let done = d.backup(&admin, json!({"services": [svc]})).await;
    let id2 = done["id"].as_str().unwrap().to_string();
    assert_eq!(done["status"], "completed", "{done}");
    let file = fs.path().join(done["file_name"].as_str().unwrap());
    assert!(file.is_file());
    let (s, _) = d.delete(&format!("/backups/{id2}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = d.delete(&format!("/backups/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = d.delete(&format!("/services/{svc}"), &admin).await;
    assert!(s.is_success());
}

#[tokio::test]
async fn offline_restore_brings_volumes_back_with_the_daemon_stopped() {
    require_docker!();
    let mut d = Daemon::start().await;
    let (_vol_guard, vol) = volume(&d, "offvol");
    let bind = tempfile::Builder::new()
        .prefix("mcpd-test-bind-")
        .tempdir()
        .unwrap();
    std::fs::create_dir(bind.path().join("conf")).unwrap();
    std::fs::write(bind.path().join("conf/app.ini"), "mode=original\n").unwrap();
    let admin = d.admin().await;
    let svc = d.name("offline");
    create_service(
        &d,
        &admin,
        json!({
            "name": svc, "image": BUSYBOX_IMAGE, "start": true,
            "command": ["sh", "-c", "[ -f /data/f.txt ] || echo v1 > /data/f.txt; sleep 3600"],
            "volumes": [{"source": vol, "target": "/data"},
                        {"source": bind.path().to_str().unwrap(), "target": "/etc/app"}],
        }),
    )
    .await;
    let c = format!("mcpd-{svc}-1");
    file_written(&c, "/data/f.txt", "v1", Duration::from_secs(30)).await;
    let done = d.backup(&admin, json!({"services": [svc]})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let file = d
        .data_path("backups")
        .join(done["file_name"].as_str().unwrap());

    // Disaster: the daemon is down and both volumes' data is changed or gone.
    d.stop().await;
    let mountpoint = docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]).unwrap();
    let mountpoint = std::path::Path::new(&mountpoint);
    std::fs::write(mountpoint.join("f.txt"), "damaged\n").unwrap();
    std::fs::write(mountpoint.join("junk.txt"), "junk\n").unwrap();
    std::fs::remove_dir_all(bind.path().join("conf")).unwrap();
    let dd = d.data_dir.to_str().unwrap().to_string();
    let (vol_name, bind_name) = (
        format!("{svc}:{vol}"),
        format!("{svc}:{}", bind.path().display()),
    );

    // `mcpd backup restore` of the archive with `flags`; its JSON report.
    let restore = |flags: &[&str]| -> Value {
        let mut args = vec![
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            &dd,
        ];
        args.extend(flags);
        serde_json::from_slice(&common::mcpd_ok(args).stdout).unwrap()
    };

    // --no-volumes leaves them alone; a dry run reports them and changes nothing.
    let r = restore(&["--dry-run"]);
    assert_eq!(r["volumes"]["changed"], json!([vol_name, bind_name]), "{r}");
    assert_eq!(r["applied"], false);
    let r = restore(&["--no-volumes"]);
    assert_eq!(r["volumes"]["changed"], json!([]), "{r}");
    assert_eq!(
        std::fs::read_to_string(mountpoint.join("f.txt")).unwrap(),
        "damaged\n"
    );
    assert!(!bind.path().join("conf").exists());

    let r = restore(&[]);
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(r["volumes"]["changed"], json!([vol_name, bind_name]), "{r}");
    // The service's container was running on the volume: stopped for the swap and
    // started again.
    let cid = docker(&["inspect", "-f", "{{.Id}}", &c]).unwrap();
    assert_eq!(r["containers_restarted"], json!([cid]), "{r}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &c]).as_deref(),
        Some("running")
    );
    assert_eq!(
        std::fs::read_to_string(mountpoint.join("f.txt")).unwrap(),
        "v1\n"
    );
    assert!(
        !mountpoint.join("junk.txt").exists(),
        "files made after the backup are gone"
    );
    assert_eq!(
        std::fs::read_to_string(bind.path().join("conf/app.ini")).unwrap(),
        "mode=original\n"
    );
    assert_eq!(
        cat(&c, "/etc/app/conf/app.ini").as_deref(),
        Some("mode=original")
    );
    // Nothing staged is left behind.
    let staged: Vec<_> = std::fs::read_dir(d.data_path("backups"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    let left: Vec<_> = std::fs::read_dir(mountpoint.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("mcpd-restore"))
        .collect();
    assert!(left.is_empty(), "old contents removed: {left:?}");
}
