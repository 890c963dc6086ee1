//! Proves the network-device simulators of `tests/common/netsim.rs` with the field's
//! own clients (`tests/netsim/check_clients.py` in the fake-switches venv): netmiko
//! `cisco_ios` against fake-switches' Cisco shell, ncclient against its Juniper NETCONF
//! server, netmiko `cisco_nxos` / `cisco_ios` and raw shell channels against the real
//! sshd serving `tests/netsim/device_shell.py`, and OpenSSH's client limited to the
//! algorithms libssh2 1.10 (the `ssh2` crate) negotiates against all of them. The
//! devices' SCP server (`tests/netsim/check_scp.py`: `scp -O` in and out, a candidate
//! loaded by IOS `configure replace` / NX-OS `rollback running-config file`, refusals,
//! libssh2's raw exchanges; and libssh2 itself through the `ssh2` crate). The Junos
//! RPCs `tests/netsim/fake_junos.py` adds (`tests/netsim/check_junos.py`: software
//! information, `<command>`, commit history and rollback, confirmed commits). Then the
//! lifecycle the daemon's tests rely on: stop/resume on the same port, a new host key,
//! and every process gone on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::netsim::{self, FakeSwitch, Sshd, SshdOptions};
use tokio::io::AsyncBufReadExt as _;

/// Runs check_clients.py with `args`; returns its output, asserting it passed.
async fn check_clients(args: &[&str]) -> String {
    run_check("check_clients.py", args).await
}

/// Runs `tests/netsim/<script>` with `args` in the fake-switches venv; returns its
/// output, asserting it passed.
async fn run_check(script: &str, args: &[&str]) -> String {
    let out = tokio::process::Command::new(netsim::fake_switches_python())
        .arg(common::repo_path("tests/netsim").join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run check_clients.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{script} {}:\n{text}", args.join(" "));
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

/// The arguments that point check_clients.py at an [`Sshd`].
fn sshd_args<'a>(target: &'a str, sshd: &'a Sshd, key: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        target,
        "--port",
        port,
        "--username",
        sshd.user(),
        "--password",
        sshd.password(),
        "--key-file",
        key,
        "--hostname",
        sshd.hostname(),
        "--host-key-sha256",
        sshd.host_key_sha256(),
    ]
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn fake_cisco_is_driven_by_netmiko() {
    if !netsim::ready() {
        return;
    }
    let sw = FakeSwitch::cisco("admin", "cisco-pw", Some("enable-pw")).await;
    let port = sw.port().to_string();
    let out = check_clients(&[
        "cisco",
        "--port",
        &port,
        "--username",
        "admin",
        "--password",
        "cisco-pw",
        "--enable",
        "enable-pw",
        "--host-key-sha256",
        sw.host_key_sha256(),
    ])
    .await;
    assert!(
        out.contains("ok   netmiko enable() reaches enable mode"),
        "{out}"
    );
    assert!(
        out.contains("ok   the interface description changed"),
        "{out}"
    );
    assert!(out.contains(&format!("host-key ssh-rsa {}", sw.host_key_sha256())));
    assert!(sw.host_key_path().with_extension("pub").exists());
    let pid = sw.pid();
    drop(sw);
    assert!(
        process_gone(pid),
        "fake_switches.py {pid} outlived its FakeSwitch"
    );
}

#[tokio::test]
async fn fake_juniper_is_driven_by_ncclient() {
    if !netsim::ready() {
        return;
    }
    let sw = FakeSwitch::juniper("admin", "junos-pw").await;
    let port = sw.port().to_string();
    let out = check_clients(&[
        "juniper",
        "--port",
        &port,
        "--username",
        "admin",
        "--password",
        "junos-pw",
        "--host-key-sha256",
        sw.host_key_sha256(),
    ])
    .await;
    assert!(out.contains("ok   ncclient commit"), "{out}");
    assert!(
        out.contains("ok   the committed description is running"),
        "{out}"
    );
}

/// The Junos RPCs `tests/netsim/fake_junos.py` adds (`tests/netsim/check_junos.py`).
#[tokio::test]
async fn fake_juniper_answers_junos_rpcs_history_and_confirmed_commits() {
    if !netsim::ready() {
        return;
    }
    let sw = FakeSwitch::juniper("admin", "junos-pw").await;
    let port = sw.port().to_string();
    let out = run_check(
        "check_junos.py",
        &[
            "--port",
            &port,
            "--username",
            "admin",
            "--password",
            "junos-pw",
            "--hostname",
            sw.hostname(),
        ],
    )
    .await;
    for want in [
        "ok   get-software-information: host-name, qfx5100-48s-6q, 21.4R3-S5.4",
        "ok   command show version (text): <output> with Hostname, Model, Junos",
        "ok   unknown command: rpc-error 'syntax error, expecting <command>: show bogus <x>'",
        "ok   the error-message is escaped XML text",
        "ok   rollback 1 is commit one, in the candidate",
        "ok   commit: rollback 1 runs",
        "ok   load-configuration rollback=\"49\": rpc-error Cannot find rollback file 49",
        "ok   unconfirmed: rolled back by itself (",
        "ok   the previous configuration runs again",
        "ok   the confirmed commit stays after its timeout",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    let log = sw.log();
    assert!(
        log.contains("confirmed commit not confirmed in time: rolled back"),
        "{log}"
    );
    assert!(!log.contains("Traceback"), "{log}");
}

#[tokio::test]
async fn sshd_nxos_shell_is_driven_by_netmiko() {
    if !netsim::ready() {
        return;
    }
    let sshd = Sshd::start(SshdOptions::nxos()).await;
    assert!(
        sshd.private_key_pem()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "{}",
        sshd.private_key_pem()
    );
    let key = sshd.private_key_path().display().to_string();
    let port = sshd.port().to_string();
    let out = check_clients(&sshd_args("nxos", &sshd, &key, &port)).await;
    for want in [
        "ok   no-PTY shell: banner then the 'switch# ' prompt",
        "ok   the --More-- pager continues on space up to the prompt",
        "ok   show crash drops the session mid-output",
        "ok   netmiko send_config_set changed the description",
        "ok   the rollback restored the description",
        "ok   a new session sees the saved config (state file)",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    let state = std::fs::read_to_string(sshd.state_path()).unwrap();
    assert!(state.contains("set-by-netmiko-"), "{state}");
    assert!(sshd.log().contains("Accepted publickey for netsim"));
    assert!(sshd.log().contains("Accepted password for netsim"));
}

#[tokio::test]
async fn sshd_ios_shell_with_enable_is_driven_by_netmiko() {
    if !netsim::ready() {
        return;
    }
    let mut opts = SshdOptions::ios(Some("enable-secret"));
    opts.hostname = "edge-1".into();
    let sshd = Sshd::start(opts).await;
    let key = sshd.private_key_path().display().to_string();
    let port = sshd.port().to_string();
    let mut args = sshd_args("ios", &sshd, &key, &port);
    args.extend(["--enable", "enable-secret"]);
    let out = check_clients(&args).await;
    assert!(
        out.contains("ok   IOS enable: the secret is not echoed"),
        "{out}"
    );
    assert!(
        out.contains("ok   configure replace restored the description"),
        "{out}"
    );
}

/// Runs check_scp.py against `sshd` (netmiko logs in with the key; `enable` for IOS).
async fn check_scp(target: &str, sshd: &Sshd, enable: Option<&str>) -> String {
    let (key, port) = (
        sshd.private_key_path().display().to_string(),
        sshd.port().to_string(),
    );
    let mut args = vec![
        target,
        "--port",
        &port,
        "--username",
        sshd.user(),
        "--password",
        sshd.password(),
        "--key-file",
        &key,
        "--hostname",
        sshd.hostname(),
    ];
    if let Some(e) = enable {
        args.extend(["--enable", e]);
    }
    let out = run_check("check_scp.py", &args).await;
    for want in [
        "ok   scp -O FILE netsim@127.0.0.1:flash:cand.cfg",
        "ok   dir lists cand.cfg with its ",
        "ok   show running-config has the candidate's line",
        "ok   the line the candidate left out is gone (a replace)",
        "cand.cfg reads it back",
        "ok   scp to flash:../evil.cfg is refused",
        "ok   over 4 MiB: File too large",
        "ok   libssh2's scp_send: scp -pt 'flash:raw.cfg'",
        "ok   libssh2's scp_recv: scp -pf 'bootflash:raw.cfg'",
        "ok   a candidate with a bad line: ",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    out
}

/// libssh2 itself (the `ssh2` crate mcpd uses), logged in with the test key:
/// `scp_send` of `data` to `to`, then `scp_recv` of `from`. Returns what came back
/// and the sending channel's exit status.
fn libssh2_scp(port: u16, key: PathBuf, to: &str, from: &str, data: &[u8]) -> (Vec<u8>, i32) {
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut session = ssh2::Session::new().unwrap();
    session.set_timeout(20_000);
    session.set_tcp_stream(tcp);
    session.handshake().unwrap();
    session
        .userauth_pubkey_file(netsim::NETSIM_USER, None, &key, None)
        .unwrap();
    let size = data.len() as u64;
    let mut ch = session.scp_send(Path::new(to), 0o644, size, None).unwrap();
    ch.write_all(data).unwrap();
    ch.send_eof().unwrap();
    ch.wait_eof().unwrap();
    ch.close().unwrap();
    ch.wait_close().unwrap();
    let status = ch.exit_status().unwrap();
    let (mut ch, stat) = session.scp_recv(Path::new(from)).unwrap();
    assert_eq!(stat.size(), size);
    let mut back = Vec::new();
    ch.read_to_end(&mut back).unwrap();
    ch.send_eof().unwrap();
    ch.wait_eof().unwrap();
    ch.close().unwrap();
    ch.wait_close().unwrap();
    let refused = session.scp_send(Path::new("flash:../x.cfg"), 0o644, size, None);
    assert!(refused.is_err(), "scp_send to flash:../x.cfg was accepted");
    (back, status)
}

/// [`libssh2_scp`] off the async runtime.
async fn libssh2_round_trip(sshd: &Sshd, to: &'static str, from: &'static str) {
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let (port, key, sent) = (sshd.port(), sshd.private_key_path(), data.clone());
    let (back, status) =
        tokio::task::spawn_blocking(move || libssh2_scp(port, key, to, from, &sent))
            .await
            .unwrap();
    assert_eq!(status, 0, "scp -t exit status");
    assert!(back == data, "{from} came back different");
}

#[tokio::test]
async fn sshd_nxos_takes_a_candidate_by_scp_and_rolls_back_to_it() {
    if !netsim::ready() {
        return;
    }
    let sshd = Sshd::start(SshdOptions::nxos()).await;
    let out = check_scp("nxos", &sshd, None).await;
    assert!(
        out.contains("ok   rollback running-config file bootflash:cand.cfg"),
        "{out}"
    );
    assert!(out.contains("ok   NX-OS left the running config as it was"));
    let state = std::fs::read_to_string(sshd.state_path()).unwrap();
    assert!(state.contains("\"bootflash:cand.cfg\""), "{state}");
    libssh2_round_trip(&sshd, "flash:libssh2.bin", "bootflash:/libssh2.bin").await;
}

#[tokio::test]
async fn sshd_ios_takes_a_candidate_by_scp_and_replaces_its_config() {
    if !netsim::ready() {
        return;
    }
    let sshd = Sshd::start(SshdOptions::ios(Some("enable-secret"))).await;
    let out = check_scp("ios", &sshd, Some("enable-secret")).await;
    assert!(
        out.contains("ok   configure replace flash:cand.cfg force"),
        "{out}"
    );
    assert!(out.contains("ok   IOS applied the candidate's other lines"));
    let state = std::fs::read_to_string(sshd.state_path()).unwrap();
    assert!(state.contains("\"flash:cand.cfg\""), "{state}");
    libssh2_round_trip(&sshd, "libssh2.bin", "flash:libssh2.bin").await;
}

/// An interactive `ssh` session (password login through sshpass) waiting at the prompt.
async fn open_session(sshd: &Sshd) -> tokio::process::Child {
    let mut child = tokio::process::Command::new("sshpass")
        .args([
            "-p",
            sshd.password(),
            "ssh",
            "-T",
            "-p",
            &sshd.port().to_string(),
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR"])
        .arg(format!("{}@127.0.0.1", sshd.user()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run ssh");
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.ends_with(b"switch# ") {
        assert!(Instant::now() < deadline, "no prompt: {seen:?}");
        let buf = tokio::time::timeout(Duration::from_secs(20), out.fill_buf())
            .await
            .expect("prompt in time")
            .unwrap()
            .to_vec();
        assert!(
            !buf.is_empty(),
            "ssh ended: {}",
            String::from_utf8_lossy(&seen)
        );
        out.consume(buf.len());
        seen.extend(buf);
    }
    child
}

async fn login_fingerprint(sshd: &Sshd, key: &str) -> String {
    let port = sshd.port().to_string();
    let mut args = sshd_args("nxos", sshd, key, &port);
    args.push("--login-only");
    let out = check_clients(&args).await;
    let line = out.lines().find(|l| l.starts_with("host-key ")).unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

#[tokio::test]
async fn sshd_stops_resumes_and_changes_host_key() {
    if !netsim::ready() {
        return;
    }
    let mut sshd = Sshd::start(SshdOptions::nxos()).await;
    let key = sshd.private_key_path().display().to_string();
    let (port, first) = (sshd.port(), sshd.host_key_sha256().to_string());
    assert_eq!(login_fingerprint(&sshd, &key).await, first);

    let mut session = open_session(&sshd).await;
    sshd.stop();
    assert!(!sshd.is_running());
    let ended = tokio::time::timeout(Duration::from_secs(10), session.wait()).await;
    assert!(ended.is_ok(), "the open session outlived stop()");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    sshd.resume().await;
    assert_eq!(sshd.port(), port);
    assert_eq!(login_fingerprint(&sshd, &key).await, first);

    sshd.restart_with_new_host_key().await;
    let second = sshd.host_key_sha256().to_string();
    assert_ne!(second, first);
    assert_eq!(sshd.port(), port);
    assert_eq!(login_fingerprint(&sshd, &key).await, second);

    let _session = open_session(&sshd).await;
    let pid = sshd.pid().unwrap();
    drop(sshd);
    assert!(process_gone(pid), "sshd {pid} outlived its Sshd");
}
