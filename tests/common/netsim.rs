//! Network-device simulators for the tests, each started on a free loopback port with
//! its own temp dir and stopped on drop (its processes killed; nothing else touched):
//!
//! - [`FakeSwitch`]: PyPI `fake-switches` through `tests/netsim/fake_switches.py` — a
//!   Cisco IOS-like SSH shell ([`FakeSwitch::cisco`]) or a Juniper Junos NETCONF server
//!   on the `netconf` SSH subsystem ([`FakeSwitch::juniper`]), password login.
//! - [`Sshd`]: a real OpenSSH `sshd` whose only user, [`NETSIM_USER`], gets the scripted
//!   NX-OS / IOS shell `tests/netsim/device_shell.py` (its docstring says exactly what a
//!   client sees) as ForceCommand; login by the generated key or [`NETSIM_PASSWORD`].
//!   The device keeps its config and files in a state file in the temp dir, across
//!   sessions and [`Sshd::stop`]/[`Sshd::resume`]. It takes and serves files by SCP
//!   (the legacy rcp protocol of `scp -O` and libssh2's `scp_send`/`scp_recv`,
//!   `tests/netsim/device_scp.py`) on its `flash:` / `bootflash:` file system.
//!
//! Both present a generated 2048-bit RSA host key (libssh2 1.10 only knows `ssh-rsa`)
//! and accept what libssh2 1.10 negotiates (curve25519, aes128-ctr, hmac-sha2-256,
//! SHA-1 `ssh-rsa` signatures). Everything comes from `tests/setup/fake-switches.sh`
//! (which runs `tests/setup/sshd.sh`: OpenSSH, the `netsim` user). A test first calls
//! [`ready`]: off CI it skips loudly when something is missing, on CI it fails.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

mod sshd;
// Test crates use some of these.
#[allow(unused_imports)]
pub use sshd::{Platform, Sshd, SshdOptions};

/// The local user the [`Sshd`] device accepts (created by `tests/setup/sshd.sh`).
pub const NETSIM_USER: &str = "netsim";
/// [`NETSIM_USER`]'s password (set by `tests/setup/sshd.sh`).
pub const NETSIM_PASSWORD: &str = "netsim-password-for-tests";

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
/// Debian's Python runs the device shell (standard library only).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// The device shell and the modules it imports, copied into each [`Sshd`]'s temp dir.
const SHELL_FILES: [&str; 5] = [
    "device_shell.py",
    "device_commands.py",
    "device_config.py",
    "device_data.py",
    "device_scp.py",
];
/// How long a simulator may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The Python of the venv with fake-switches, netmiko and ncclient, built by
/// `tests/setup/fake-switches.sh`.
pub fn fake_switches_python() -> PathBuf {
    super::test_cache().join("fake-switches/bin/python")
}

/// What keeps the simulators from running here, if anything.
pub fn missing() -> Option<String> {
    let py = fake_switches_python();
    if !py.exists() {
        return Some(format!(
            "the fake-switches venv is not installed at {} (run tests/setup/fake-switches.sh)",
            py.display()
        ));
    }
    for bin in [
        SSHD,
        SSH_KEYGEN,
        SYSTEM_PYTHON,
        "/usr/bin/ssh",
        "/usr/bin/sshpass",
    ] {
        if !Path::new(bin).exists() {
            return Some(format!("{bin} is missing (run tests/setup/sshd.sh)"));
        }
    }
    if !matches!(nix::unistd::User::from_name(NETSIM_USER), Ok(Some(_))) {
        return Some(format!(
            "no local user {NETSIM_USER} (run tests/setup/sshd.sh)"
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("the test sshd must run as root".into());
    }
    None
}

/// Whether the simulators can run: `true`, or on CI (`CI=true`) a panic naming what is
/// missing, elsewhere a loud SKIPPING message and `false` (the test then returns).
pub fn ready() -> bool {
    let Some(msg) = missing() else {
        return true;
    };
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{msg}");
    eprintln!("!!!!! SKIPPING: {msg} !!!!!");
    false
}

/// A running fake-switches device; dropping it kills the process.
pub struct FakeSwitch {
    child: Child,
    port: u16,
    host_key: PathBuf,
    host_key_sha256: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeSwitch {
    /// A Cisco IOS-like shell (fake-switches `cisco_generic`, hostname `switch`,
    /// FastEthernet0/1-12) logging in `user`/`password`. With `enable`, a session starts
    /// at `switch>` and `enable` asks for that password; without, it starts at `switch#`.
    pub async fn cisco(user: &str, password: &str, enable: Option<&str>) -> FakeSwitch {
        let mut args = vec!["--model", "cisco"];
        if let Some(e) = enable {
            args.extend(["--enable-password", e]);
        }
        Self::start(user, password, &args).await
    }

    /// A Juniper Junos NETCONF server (fake-switches `juniper_generic`, subsystem
    /// `netconf`, base 1.0 framing, candidate datastore + commit) for `user`/`password`.
    pub async fn juniper(user: &str, password: &str) -> FakeSwitch {
        Self::start(user, password, &["--model", "juniper"]).await
    }

    async fn start(user: &str, password: &str, model: &[&str]) -> FakeSwitch {
        let dir = temp_dir("mcpd-fakeswitch-");
        let host_key = dir.path().join("host_key");
        keygen(&host_key);
        let log = dir.path().join("fake_switches.log");
        let mut child = Command::new(fake_switches_python())
            .arg(super::repo_path("tests/netsim/fake_switches.py"))
            .args(model)
            .args(["--port", "0", "--username", user, "--password", password])
            .arg("--host-key")
            .arg(&host_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&log))
            .spawn()
            .expect("start tests/netsim/fake_switches.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let port = loop {
            if let Ok(line) = rx.try_recv() {
                break line
                    .strip_prefix("READY ")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                    .unwrap_or_else(|| panic!("fake_switches.py said {line:?}"));
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "fake_switches.py did not start ({exited:?}):\n{}",
                    read(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        FakeSwitch {
            child,
            port,
            host_key_sha256: fingerprint(&host_key),
            host_key,
            log,
            _dir: dir,
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host key's OpenSSH fingerprint, `SHA256:<base64 without padding>`.
    pub fn host_key_sha256(&self) -> &str {
        &self.host_key_sha256
    }

    /// The host key's private key file (its public key is beside it, `.pub`).
    pub fn host_key_path(&self) -> &Path {
        &self.host_key
    }

    /// The device's hostname (in its prompts).
    pub fn hostname(&self) -> &str {
        "switch"
    }

    /// The simulator process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the simulator logged (warnings and errors).
    pub fn log(&self) -> String {
        read(&self.log)
    }
}

impl Drop for FakeSwitch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp dir for one simulator.
fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create temp dir")
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A new 2048-bit RSA key pair at `path` and `path.pub`, private key in traditional
/// PEM (what libssh2 1.10 with OpenSSL 3 reads most surely).
fn keygen(path: &Path) {
    let out = Command::new(SSH_KEYGEN)
        .args([
            "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "netsim", "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen: {}", super::stderr(&out));
}

/// The OpenSSH fingerprint of the public key beside the private key `path`.
fn fingerprint(path: &Path) -> String {
    let text = read(&path.with_extension("pub"));
    let blob = text.split_whitespace().nth(1).expect("public key blob");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .expect("base64 public key");
    let digest = Sha256::digest(&raw);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file")
}

fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `s` as one word for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
