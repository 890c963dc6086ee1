//! Stamps the binary with the git commit and build date shown by `/api/v1/info` and
//! `mcpd version`. Outside a git checkout (a source tarball) the commit is `unknown`.

use std::process::Command;

fn main() {
    let commit = std::env::var("MCPD_GIT_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=MCPD_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    // SOURCE_DATE_EPOCH makes the date reproducible for package builds.
    let mut date = Command::new("date");
    date.arg("-u");
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        date.arg(format!("--date=@{epoch}"));
    }
    let date = date
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=MCPD_BUILD_DATE={date}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=MCPD_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
