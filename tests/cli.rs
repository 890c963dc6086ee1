//! The offline commands of the real binary: version, init, configtest, admin
//! reset-password, and the first-start admin password file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::stderr;
use std::os::unix::fs::PermissionsExt;

/// `mcpd ARGS --data-dir DATA_DIR`, with no admin password given (the launcher clears
/// every `MCPD_*` variable), so that `init` generates one.
fn mcpd(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    common::mcpd_command()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

#[test]
fn version_names_the_build() {
    let out = common::mcpd(["version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("mcpd {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("commit"), "{text}");
}

#[test]
fn init_creates_private_state_and_a_generated_admin_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let out = mcpd(&["init"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let pw_file = data.join("initial-admin-password");
    assert_eq!(mode(&pw_file), 0o600);
    let pw = std::fs::read_to_string(&pw_file).unwrap();
    assert_eq!(pw.trim().len(), 24);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert!(
        !data.join("jwt.key").exists(),
        "the signing key lives in the vault"
    );
    assert_eq!(mode(&data.join("mcpd.db")), 0o600);
    // A second init keeps the existing admin and password.
    let out = mcpd(&["init"], &data);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&pw_file).unwrap(), pw);
}

#[tokio::test]
async fn reset_password_replaces_the_password_and_revokes_sessions() {
    let mut d = common::Daemon::start().await;
    let token = d.admin().await;
    let (s, _) = d.get("/users/me", &token).await;
    assert_eq!(s, 200);
    d.stop().await;
    let out = mcpd(&["admin", "reset-password", "admin"], &d.data_dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let new_pw = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(new_pw.len(), 24);
    d.restart().await;
    // The old session is gone, the old password fails, the new one works.
    let (s, body) = d.get("/users/me", &token).await;
    common::assert_error(s, &body, 401, "AUTH_TOKEN_INVALID");
    let (s, body) = d
        .post_anonymous(
            "/auth/login",
            serde_json::json!({"username": "admin", "password": common::ADMIN_PASSWORD}),
        )
        .await;
    common::assert_error(s, &body, 401, "AUTH_INVALID_CREDENTIALS");
    d.login("admin", &new_pw).await;
    let out = mcpd(&["admin", "reset-password", "nobody"], &d.data_dir);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"));
}
