//! Backups against the real binary: an encrypted backup taken under a concurrent write
//! load restores (offline, one command) into a fresh data dir with every table and
//! every vault value intact; online dry run changes nothing; damaged archives are
//! refused with nothing changed; permissions, unknown fields, free space refused up front;
//! the daemon's log files (log.file) travel only with include_logs; SIGHUP changes their level.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, assert_error, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const PASSPHRASE: &str = "a long backup passphrase for tests";

/// Every row of every table (each row rendered as text), ordered, minus `skip`.
fn dump(db: &Path, skip: &[&str]) -> Vec<(String, Vec<String>)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.retain(|t| !skip.contains(&t.as_str()));
    tables
        .into_iter()
        .map(|t| {
            let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = st.column_count();
            let mut rows: Vec<String> = st
                .query_map([], |r| {
                    let mut cols = Vec::new();
                    for i in 0..n {
                        cols.push(format!("{:?}", r.get_ref(i)?));
                    }
                    Ok(cols.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            (t, rows)
        })
        .collect()
}

/// `POST /backups/{id}/restore` with `body`.
async fn restore(d: &Daemon, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    d.post(&format!("/backups/{id}/restore"), token, body).await
}

#[tokio::test]
async fn encrypted_backup_under_write_load_restores_into_a_fresh_data_dir() {
    let (d, admin) = Daemon::start_admin().await;
    let secrets: Vec<(String, String)> = (0..5)
        .map(|i| {
            (
                format!("app.secret-{i}"),
                format!("secret-value-{i}-{}", d.tag),
            )
        })
        .collect();
    for (k, v) in &secrets {
        let (s, b) = d
            .put(
                &format!("/config/{k}"),
                &admin,
                json!({"value": v, "secret": true}),
            )
            .await;
        assert!(s.is_success(), "{b}");
    }
    // A concurrent write load through the API for the whole backup.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (client, url, token) = (d.client.clone(), d.url(""), admin.clone());
        let (stop, writes) = (stop.clone(), writes.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 20_000 {
                let s = client
                    .put(format!("{url}/config/load.k{}", n % 50))
                    .bearer_auth(&token)
                    .json(&json!({"value": n}))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert!(s.is_success(), "write during backup: {s}");
                writes.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = writes.load(Ordering::Relaxed);
    let (s, b) = d
        .post(
            "/backups",
            &admin,
            json!({"encrypt": true, "passphrase": PASSPHRASE, "include_master_key": true, "description": "load test"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("bkp_"), "{id}");
    let done = d.backup_done(&admin, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        writes.load(Ordering::Relaxed) > before,
        "writes went on during the backup"
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress_pct"], 100);
    let m = &done["manifest"];
    let paths: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"data/mcpd.db") && paths.contains(&"keys/master.key"),
        "{m}"
    );
    assert!(m["schema_version"].as_i64().unwrap() >= 4, "{m}");
    assert_eq!(m["included"]["master_key"], true);
    let file_name = done["file_name"].as_str().unwrap();
    assert!(file_name.ends_with(".tar.zst.age"), "{file_name}");
    // The archive on disk is age-encrypted: no secret and no SQLite header in clear.
    let on_disk = std::fs::read(d.data_path("backups").join(file_name)).unwrap();
    assert!(on_disk.starts_with(b"age-encryption.org/v1"));
    assert!(!on_disk.windows(16).any(|w| w == b"SQLite format 3\0"));

    // Download: streamed with its size and checksum headers.
    let resp = d
        .client
        .get(d.url(&format!("/backups/{id}/download")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let len: u64 = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sum = resp.headers()["x-checksum-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(len, bytes.len() as u64);
    assert_eq!(Some(len), done["size_bytes"].as_u64());
    assert_eq!(sum, done["sha256"].as_str().unwrap());
    assert_eq!(sum, sha256_hex(&bytes));
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join(file_name);
    std::fs::write(&archive, &bytes).unwrap();
    let pass_file = work.path().join("pass");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();

    // Offline: verify, then restore onto a fresh machine (another data dir, another key).
    common::mcpd_ok([
        "backup",
        "verify",
        archive.to_str().unwrap(),
        "--passphrase-file",
        pass_file.to_str().unwrap(),
    ]);
    let mut fresh = Daemon::start().await;
    fresh.stop().await;
    let fresh_dir = fresh.data_dir.clone();
    let db_before = std::fs::read(fresh_dir.join("mcpd.db")).unwrap();
    let dd = fresh_dir.to_str().unwrap().to_string();
    let restore_args = |dry: bool| {
        let mut a = vec![
            "backup".to_string(),
            "restore".into(),
            archive.to_str().unwrap().into(),
            "--data-dir".into(),
            dd.clone(),
            "--passphrase-file".into(),
            pass_file.to_str().unwrap().into(),
        ];
        if dry {
            a.push("--dry-run".into());
        }
        a
    };
    let dry = common::mcpd_ok(restore_args(true));
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(report["applied"], false);
    let added: Vec<&str> = report["config_keys"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(added.contains(&"app.secret-0"), "{report}");
    assert_eq!(
        std::fs::read(fresh_dir.join("mcpd.db")).unwrap(),
        db_before,
        "dry run changed nothing"
    );
    common::mcpd_ok(restore_args(false));
    assert_eq!(
        std::fs::read(fresh_dir.join("master.key")).unwrap(),
        std::fs::read(d.data_path("master.key")).unwrap(),
        "the archive's master key was installed"
    );
    // Every table equals the archive's copy (the backups bookkeeping is the target's own).
    let extracted = work.path().join("x");
    let unseal = mcpd::backups::archive::Unseal {
        passphrase: Some(PASSPHRASE.to_string().into()),
        identity: None,
    };
    mcpd::backups::archive::verify(&archive, &unseal, Some(&extracted)).unwrap();
    let skip = ["backups", "backup_schedules"];
    let want = dump(&extracted.join("data/mcpd.db"), &skip);
    let got = dump(&fresh_dir.join("mcpd.db"), &skip);
    assert!(
        want.iter()
            .any(|(t, rows)| t == "config_entries" && rows.len() >= 5)
    );
    assert_eq!(got, want);
    // The restored daemon opens every vault value.
    fresh.restart().await;
    let token = fresh.admin().await;
    for (k, v) in &secrets {
        let (s, b) = fresh.get(&format!("/config/{k}?reveal=true"), &token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["data"]["value"], json!(v), "{k}");
    }
    assert!(!d.log().contains(PASSPHRASE) && !d.log().contains("secret-value-0"));
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test]
async fn online_dry_run_then_restore_refuses_damage_and_checks_permissions() {
    let (mut d, admin) = Daemon::start_admin().await;
    for (key, body) in [
        ("app.a", json!({"value": 1})),
        ("app.s", json!({"value": "sealed-one", "secret": true})),
    ] {
        let (s, b) = d.put(&format!("/config/{key}"), &admin, body).await;
        assert!(s.is_success(), "{b}");
    }
    // Unknown fields and bad combinations are 400 and create nothing.
    let (s, b) = d.post("/backups", &admin, json!({"bogus": 1})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d
        .post("/backups", &admin, json!({"include_master_key": true}))
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d.post("/backups", &admin, json!({"encrypt": true})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d
        .post("/backups", &admin, json!({"include_data": "yes"}))
        .await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (_, list) = d.get("/backups", &admin).await;
    assert_eq!(list["meta"]["pagination"]["total"], 0, "{list}");

    let done = d.backup(&admin, json!({"description": "before"})).await;
    let id = done["id"].as_str().unwrap().to_string();
    assert_eq!(done["status"], "completed", "{done}");
    let file = d
        .data_path("backups")
        .join(done["file_name"].as_str().unwrap());

    // Change things after the backup.
    for (key, body) in [
        ("app.a", json!({"value": 2})),
        ("app.b", json!({"value": "new"})),
    ] {
        let (s, b) = d.put(&format!("/config/{key}"), &admin, body).await;
        assert!(s.is_success(), "{b}");
    }
    let viewer = d.user_with_roles(&d.name("viewer"), &["viewer"]).await;
    let operator = d.user_with_roles(&d.name("op"), &["operator"]).await;

    // Permissions: 403 before the body is read.
    let (s, b) = d.post("/backups", &viewer, json!({"bogus": 1})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d.get("/backups", &viewer).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = restore(&d, &operator, &id, json!({})).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .post(
            "/backups",
            &operator,
            json!({"encrypt": true, "passphrase": PASSPHRASE, "include_master_key": true}),
        )
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, _) = d.get(&format!("/backups/{id}"), &operator).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = restore(&d, &admin, &id, json!({"nope": true})).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    let (s, b) = d
        .post("/backups/bkp_doesnotexist0000/restore", &admin, json!({}))
        .await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Dry run reports and changes nothing.
    let (s, b) = restore(&d, &admin, &id, json!({"dry_run": true})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = &b["data"];
    assert_eq!(r["applied"], false);
    assert_eq!(r["config_keys"]["changed"], json!(["app.a"]), "{r}");
    assert_eq!(r["config_keys"]["removed"], json!(["app.b"]), "{r}");
    let removed_users = r["users"]["removed"].as_array().unwrap();
    assert!(removed_users.contains(&json!(d.name("viewer"))), "{r}");
    let (_, a) = d.get("/config/app.a", &admin).await;
    assert_eq!(a["data"]["value"], 2);

    // A corrupted and a truncated archive are refused; nothing changes.
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    for damaged in [bad, good[..good.len() / 2].to_vec()] {
        std::fs::write(&file, &damaged).unwrap();
        let (s, b) = restore(&d, &admin, &id, json!({})).await;
        assert_error(s, &b, 412, "PRECONDITION_FAILED");
        let (_, a) = d.get("/config/app.a", &admin).await;
        assert_eq!(a["data"]["value"], 2, "nothing changed");
        let (s, _) = d.get("/config/app.b", &admin).await;
        assert_eq!(s, StatusCode::OK);
    }
    std::fs::write(&file, &good).unwrap();

    // A real restore: back to the state of the backup, audited, backups remembered.
    let (s, b) = restore(&d, &admin, &id, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["applied"], true);
    let (_, a) = d.get("/config/app.a", &admin).await;
    assert_eq!(a["data"]["value"], 1);
    let (s, _) = d.get("/config/app.b", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, sv) = d.get("/config/app.s?reveal=true", &admin).await;
    assert_eq!(sv["data"]["value"], "sealed-one");
    let (_, list) = d.get("/backups", &admin).await;
    assert_eq!(list["data"][0]["id"], json!(id));
    let (_, audit) = d.get("/audit?action=backups.restore", &admin).await;
    assert_eq!(audit["data"][0]["target_id"], json!(id), "{audit}");

    // Delete removes the row and the file.
    let (s, _) = d.delete(&format!("/backups/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!file.exists());
    let (s, b) = d.get(&format!("/backups/{id}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn not_enough_free_space_is_refused_up_front() {
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_BACKUPS__MIN_FREE_BYTES", "1000000000000000000").await;
    let (s, b) = d.post("/backups", &admin, json!({})).await;
    let e = assert_error(s, &b, 503, "SERVICE_UNAVAILABLE");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not enough free space"),
        "{b}"
    );
    // Nothing was recorded or written.
    let (_, list) = d.get("/backups", &admin).await;
    assert_eq!(list["meta"]["pagination"]["total"], 0, "{list}");
    let (_, audit) = d.get("/audit?action=backups.create", &admin).await;
    assert_eq!(audit["data"], json!([]), "{audit}");
    let left: Vec<PathBuf> = std::fs::read_dir(d.data_path("backups"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[tokio::test]
async fn every_backups_route_by_role() {
    let mut d = Daemon::start().await;
    let bad = || Some(json!({"bogus": 1}));
    // (method, path, body, needed: 0 read, 1 write, 2 admin)
    let routes: Vec<(Method, &str, Option<Value>, u8)> = vec![
        (Method::GET, "/backups", None, 0),
        (Method::POST, "/backups", bad(), 1),
        (Method::GET, "/backups/bkp_doesnotexist0000", None, 0),
        (Method::DELETE, "/backups/bkp_doesnotexist0000", None, 1),
        (
            Method::GET,
            "/backups/bkp_doesnotexist0000/download",
            None,
            1,
        ),
        (
            Method::POST,
            "/backups/bkp_doesnotexist0000/restore",
            bad(),
            2,
        ),
        (Method::GET, "/backups/schedules", None, 0),
        (Method::POST, "/backups/schedules", bad(), 1),
        (
            Method::GET,
            "/backups/schedules/bks_doesnotexist0000",
            None,
            0,
        ),
        (
            Method::PUT,
            "/backups/schedules/bks_doesnotexist0000",
            bad(),
            1,
        ),
        (
            Method::DELETE,
            "/backups/schedules/bks_doesnotexist0000",
            None,
            1,
        ),
    ];
    // Highest level each role holds in the backups domain (-1: none).
    let roles: [(&str, i8); 4] = [
        ("viewer", -1),
        ("developer", -1),
        ("operator", 1),
        ("admin", 2),
    ];
    for (role, level) in roles {
        let token = d.user_with_roles(&d.name(role), &[role]).await;
        for (m, path, body, need) in &routes {
            let (s, b) = d.call(m.clone(), path, Some(&token), body.clone()).await;
            if level >= *need as i8 {
                assert!(
                    [200, 400, 404].contains(&s.as_u16()),
                    "{role} {m} {path}: allowed call should end in 200/400/404, got {s} {b}"
                );
            } else {
                assert_error(s, &b, 403, "FORBIDDEN");
            }
        }
    }
    for (m, path, body, _) in &routes {
        let (s, b) = d.call(m.clone(), path, None, body.clone()).await;
        assert_error(s, &b, 401, "UNAUTHORIZED");
    }
    let admin = d.admin().await;
    let (_, list) = d.get("/backups", &admin).await;
    assert_eq!(
        list["meta"]["pagination"]["total"], 0,
        "nothing was created"
    );
}

#[tokio::test]
async fn offline_create_list_verify_and_wrong_passphrase() {
    let mut d = Daemon::start().await;
    d.stop().await;
    let dd = d.data_dir.to_str().unwrap().to_string();
    let work = tempfile::tempdir().unwrap();
    let pass = work.path().join("pass");
    std::fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
    let wrong = work.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase at all\n").unwrap();
    let out = common::mcpd_ok([
        "backup",
        "create",
        "--data-dir",
        &dd,
        "--encrypt",
        "--passphrase-file",
        pass.to_str().unwrap(),
        "--include-master-key",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = stdout.split_whitespace().next().unwrap().to_string();
    assert!(
        file.ends_with(".tar.zst.age") && Path::new(&file).is_file(),
        "{stdout}"
    );
    let out = common::mcpd_ok(["backup", "list", "--data-dir", &dd]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("\tcompleted\t"), "{listed}");
    let out = common::mcpd_ok([
        "backup",
        "verify",
        &file,
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK: backup bkp_"));
    let out = common::mcpd([
        "backup",
        "verify",
        &file,
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "a wrong passphrase must fail");
    // The restore refuses too, and changes nothing.
    let db = std::fs::read(d.data_path("mcpd.db")).unwrap();
    let out = common::mcpd([
        "backup",
        "restore",
        &file,
        "--data-dir",
        &dd,
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(d.data_path("mcpd.db")).unwrap(), db);
    // The daemon still starts on the data dir, and the API lists the offline backup.
    d.restart().await;
    let admin = d.admin().await;
    let (_, list) = d.get("/backups", &admin).await;
    assert_eq!(list["data"][0]["status"], "completed", "{list}");
}

#[tokio::test]
async fn an_archive_from_a_newer_schema_is_refused() {
    use mcpd::backups::archive;
    let mut d = Daemon::start().await;
    d.stop().await;
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("copy.db");
    mcpd::backups::copy_database(&d.data_path("mcpd.db"), &db).unwrap();
    let (sha256, size_bytes) = archive::hash_file(&db).unwrap();
    let manifest = archive::Manifest {
        format: archive::FORMAT.into(),
        backup_id: "bkp_fromthefuture00".into(),
        r#type: "full".into(),
        created_at: "2030-01-01T00:00:00.000Z".into(),
        mcpd_version: "99.0.0".into(),
        schema_version: 99,
        vault_key_id: "k".into(),
        included: archive::Included {
            data: true,
            config: false,
            logs: false,
            master_key: false,
            services: vec![],
        },
        files: vec![archive::FileEntry {
            path: archive::DB_ENTRY.into(),
            size_bytes,
            sha256,
        }],
        volumes: vec![],
        base_backup_id: None,
    };
    let file = work.path().join("future.tar.zst");
    archive::write(
        &file,
        &manifest,
        &[(archive::DB_ENTRY.into(), db)],
        true,
        &archive::Seal::None,
        Default::default(),
    )
    .unwrap();
    let before = std::fs::read(d.data_path("mcpd.db")).unwrap();
    let out = common::mcpd([
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        d.data_dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer than this mcpd"), "{err}");
    assert_eq!(std::fs::read(d.data_path("mcpd.db")).unwrap(), before);
}

/// Downloads a backup's archive into `dir` and extracts it (verifying every file).
async fn download_and_extract(
    d: &Daemon,
    token: &str,
    id: &str,
    dir: &Path,
) -> mcpd::backups::archive::Manifest {
    let bytes = d
        .client
        .get(d.url(&format!("/backups/{id}/download")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = dir.join(format!("{id}.tar.zst"));
    std::fs::write(&file, &bytes).unwrap();
    let out = dir.join(id);
    mcpd::backups::archive::verify(&file, &Default::default(), Some(&out)).unwrap()
}

#[tokio::test]
async fn daemon_log_files_travel_with_include_logs_only() {
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("mcpd.log");
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_LOG__FILE", log_file.to_str().unwrap()).await;
    // A request whose path ends up in the (debug) "request finished" line.
    let marker = format!("bkp_logmarker{}", d.tag);
    let (s, b) = d.get(&format!("/backups/{marker}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");
    let day_file = wait_for(
        "the log file to get the line",
        Duration::from_secs(10),
        async || {
            std::fs::read_dir(logs.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| std::fs::read_to_string(p).is_ok_and(|s| s.contains(&marker)))
        },
    )
    .await;
    let name = day_file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("mcpd.")
            && name.ends_with(".log")
            && name.len() == "mcpd.2026-01-31.log".len(),
        "daily file name: {name}"
    );

    let work = tempfile::tempdir().unwrap();
    let done = d.backup(&admin, json!({"include_logs": true})).await;
    assert_eq!(done["status"], "completed");
    let with = done["id"].as_str().unwrap().to_string();
    let m = download_and_extract(&d, &admin, &with, work.path()).await;
    let entry = format!("logs/daemon/{name}");
    let listed = m.files.iter().find(|f| f.path == entry);
    assert!(listed.is_some_and(|f| f.size_bytes > 0), "{:?}", m.files);
    assert!(m.included.logs);
    let copied = std::fs::read_to_string(work.path().join(&with).join(&entry)).unwrap();
    assert!(copied.contains(&marker), "the archived log holds the line");
    // The offline verify lists the log files with the rest.
    let file = work.path().join(format!("{with}.tar.zst"));
    let out = common::mcpd_ok(["backup", "verify", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&entry));

    let done = d.backup(&admin, json!({})).await;
    assert_eq!(done["status"], "completed");
    let without = done["id"].as_str().unwrap().to_string();
    let m = download_and_extract(&d, &admin, &without, work.path()).await;
    assert!(!m.included.logs);
    assert!(
        !m.files.iter().any(|f| f.path.starts_with("logs/")),
        "{:?}",
        m.files
    );

    // An online restore of the archive with logs leaves the live log files alone.
    let before = std::fs::read(&day_file).unwrap();
    let (s, b) = restore(&d, &admin, &with, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let after = std::fs::read(&day_file).unwrap();
    assert!(
        after.len() >= before.len() && after.starts_with(&before),
        "the live log only grew"
    );
    for id in [&with, &without] {
        let (s, _) = d.delete(&format!("/backups/{id}"), &admin).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn sighup_changes_the_level_of_the_log_file_too() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mcpd.toml");
    let logs = tmp.path().join("logs");
    let config = |level: &str| {
        format!(
            "[log]\nlevel = \"{level}\"\nfile = \"{}\"\n",
            logs.join("mcpd.log").display()
        )
    };
    std::fs::write(&cfg, config("warn")).unwrap();
    // The level is the config file's: the harness sets no `RUST_LOG`, which a reload
    // never overrides.
    let d = Daemon::start_with_config(&cfg).await;
    let logged = || {
        std::fs::read_dir(&logs)
            .map(|rd| {
                rd.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let get = async |path: &str| d.call(Method::GET, path, None, None).await.0;
    // At "warn" the per-request debug line is not written.
    let quiet = format!("/backups/bkp_hupquiet{}", d.tag);
    assert_eq!(get(&quiet).await, StatusCode::UNAUTHORIZED);
    std::fs::write(&cfg, config("info,mcpd=debug")).unwrap();
    d.signal(libc::SIGHUP);
    let what = std::fmt::from_fn(|f| write!(f, "a reload logged: {}", logged()));
    wait_for(what, Duration::from_secs(20), async || {
        logged().contains("configuration reloaded").then_some(())
    })
    .await;
    let loud = format!("/backups/bkp_huploud{}", d.tag);
    assert_eq!(get(&loud).await, StatusCode::UNAUTHORIZED);
    wait_for(
        "the debug line after the reload",
        Duration::from_secs(10),
        async || logged().contains(&loud).then_some(()),
    )
    .await;
    assert!(
        !logged().contains(&quiet),
        "logged before the reload at warn"
    );
}
