//! The vault against the real binary: the master key is bound to the database, a wrong
//! or exposed key refuses to start and changes nothing, rotation keeps every value
//! readable even when interrupted, and no secret is stored in clear.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{ADMIN_PASSWORD, Daemon, stderr};
use reqwest::StatusCode;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

/// `mcpd ARGS --data-dir DATA_DIR` with the tests' admin password (the launcher keeps
/// `CREDENTIALS_DIRECTORY` out, so the master key is the data dir's).
fn mcpd(args: &[&str], data_dir: &Path) -> Output {
    common::mcpd_command()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("MCPD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap()
}

/// `mcpd init` on `data_dir` fails with a message containing `needle`.
fn init_fails(data_dir: &Path, needle: &str) {
    let out = mcpd(&["init"], data_dir);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Starting with another key, or a key others can read, fails with a clear message and
/// leaves the database as it was.
#[tokio::test]
async fn wrong_or_exposed_master_key_refuses_to_start() {
    let mut d = Daemon::start().await;
    let token = d.admin().await;
    assert_eq!(d.get("/users/me", &token).await.0, StatusCode::OK);
    d.stop().await;
    let key_file = d.data_path("master.key");
    let good = std::fs::read(&key_file).unwrap();
    let db_before = std::fs::read(d.data_path("mcpd.db")).unwrap();

    // Another key.
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    init_fails(&d.data_dir, "does not match the database");
    assert_eq!(
        std::fs::read(d.data_path("mcpd.db")).unwrap(),
        db_before,
        "nothing changed"
    );

    // The right key, but group-readable.
    std::fs::write(&key_file, &good).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    init_fails(&d.data_dir, "chmod 600");

    // A missing key is not silently replaced by a new one.
    std::fs::remove_file(&key_file).unwrap();
    init_fails(&d.data_dir, "restore that key file");
    assert!(!key_file.exists());

    // Back with the right key, mode 0600: it starts and the old login still works.
    std::fs::write(&key_file, &good).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    d.restart().await;
    let token = d.admin().await;
    let (s, b) = d.get("/health", &token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["checks"]["vault"]["status"], "ok");
}

/// The token signing key found in a pre-vault data dir is sealed into the database and
/// its file removed; the database never holds its bytes in clear.
#[test]
fn legacy_signing_key_is_imported_and_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let legacy: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    std::fs::write(data.join("jwt.key"), &legacy).unwrap();
    let out = mcpd(&["init"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!data.join("jwt.key").exists());
    let mut db = std::fs::read(data.join("mcpd.db")).unwrap();
    if let Ok(wal) = std::fs::read(data.join("mcpd.db-wal")) {
        db.extend(wal);
    }
    assert!(
        !contains(&db, &legacy),
        "the signing key is in the database in clear"
    );
    assert!(contains(&db, b"v1:"), "sealed values are stored");
}

/// Offline rotation re-seals everything; both ways a rotation can be interrupted
/// (before or after the database commit) leave every value readable.
#[tokio::test]
async fn rotation_and_interrupted_rotation_keep_values_readable() {
    let mut d = Daemon::start().await;
    let before = d.admin().await;
    d.stop().await;
    let key_file = d.data_path("master.key");
    let pending = d.data_path("master.key.new");
    let old_key = std::fs::read(&key_file).unwrap();

    let out = mcpd(&["vault", "rotate-key"], &d.data_dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("values re-sealed"));
    let new_key = std::fs::read(&key_file).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!pending.exists());

    // Crash after the commit, before the new key file was renamed into place: the old
    // file is still there and the new one waits as master.key.new.
    std::fs::write(&pending, &new_key).unwrap();
    std::fs::set_permissions(&pending, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key_file, &old_key).unwrap();
    d.restart().await;
    assert!(
        d.log()
            .contains("completed an interrupted master key rotation")
    );
    assert_eq!(std::fs::read(&key_file).unwrap(), new_key);
    assert!(!pending.exists());
    // Access tokens signed before the rotations still verify: the signing key survived.
    assert_eq!(d.get("/users/me", &before).await.0, StatusCode::OK);
    d.stop().await;

    // Crash before the commit: a stray new key that matches nothing is discarded.
    std::fs::write(&pending, format!("{}\n", "cd".repeat(32))).unwrap();
    std::fs::set_permissions(&pending, std::fs::Permissions::from_mode(0o600)).unwrap();
    d.restart().await;
    assert!(!pending.exists());
    assert_eq!(std::fs::read(&key_file).unwrap(), new_key);
    assert_eq!(d.get("/users/me", &before).await.0, StatusCode::OK);
}
