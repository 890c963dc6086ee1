//! Opening an SSH session to a device (blocking: callers run it off the async runtime):
//! TCP connect with a timeout, the SSH handshake, the host key checked against the
//! pinned fingerprint (or pinned on first use), then login by private key or password
//! (keyboard-interactive answered with the password when plain password login is not
//! offered, as many network OSes do).
//!
//! Fingerprints are `SHA256:<base64 without padding>` of the host key blob, the form
//! `ssh-keygen -lf` prints (OpenSSH, `sshkey_fingerprint`).

use super::model::Credentials;
use crate::error::{Error, ErrorCode, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where and how to log in.
pub struct Target<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Login user.
    pub username: &'a str,
    /// Resolved credentials (no `${secret:…}` left).
    pub credentials: &'a Credentials,
    /// The pinned host key fingerprint; `None`: accept and report the one seen.
    pub pinned: Option<&'a str>,
    /// Bound on connect, handshake and login together.
    pub timeout: Duration,
}

/// An authenticated session and the host key fingerprint it saw.
pub struct Opened {
    /// The libssh2 session (blocking, timeout set to the target's).
    pub session: ssh2::Session,
    /// `SHA256:…` of the host key.
    pub fingerprint: String,
}

/// `NETWORK_CONNECTION_ERROR` with `message`.
pub fn connection_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::NetworkConnectionError, message)
}

/// The OpenSSH SHA-256 fingerprint of a host key blob.
pub fn fingerprint(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// 400 on `field` unless `fp` is `SHA256:` and 43 base64 characters (a SHA-256).
pub fn check_fingerprint(field: &str, fp: &str) -> Result<()> {
    let ok = fp.strip_prefix("SHA256:").is_some_and(|b| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b)
            .is_ok_and(|d| d.len() == 32)
    });
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be SHA256:<base64>, as `ssh-keygen -lf` prints it",
        ))
    }
}

fn tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| connection_error(format!("cannot resolve '{host}': {e}")))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
    Err(connection_error(format!(
        "cannot connect to {host}:{port}: {why}"
    )))
}

/// Connects and runs the SSH handshake (no login): the session (blocking, `timeout` on
/// every call) and the fingerprint of the host key the device presents. Errors (all
/// `NETWORK_CONNECTION_ERROR`): cannot resolve or connect, the handshake failed.
fn handshake(host: &str, port: u16, timeout: Duration) -> Result<(ssh2::Session, String)> {
    let stream = tcp(host, port, timeout)?;
    let mut session =
        ssh2::Session::new().map_err(|e| connection_error(format!("SSH session: {e}")))?;
    session.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
    session.set_tcp_stream(stream);
    session
        .handshake()
        .map_err(|e| connection_error(format!("SSH handshake with {host}:{port} failed: {e}")))?;
    let seen = session
        .host_key()
        .map(|(key, _)| fingerprint(key))
        .ok_or_else(|| connection_error("the device sent no host key"))?;
    Ok((session, seen))
}

/// Opens and authenticates a session. Errors (all `NETWORK_CONNECTION_ERROR`): those
/// of the handshake, the host key differs from the pinned one (naming both
/// fingerprints), login refused.
pub fn open(t: &Target<'_>) -> Result<Opened> {
    let (session, seen) = handshake(t.host, t.port, t.timeout)?;
    if let Some(pinned) = t.pinned
        && pinned != seen
    {
        return Err(connection_error(format!(
            "the device's host key changed: pinned {pinned}, the device presents {seen}; \
             if the change is expected, an admin accepts the new key with POST …/host-key/accept"
        )));
    }
    login(&session, t)?;
    Ok(Opened {
        session,
        fingerprint: seen,
    })
}

/// Answers every keyboard-interactive prompt with the password.
struct PasswordPrompt<'a>(&'a str);

impl ssh2::KeyboardInteractivePrompt for PasswordPrompt<'_> {
    fn prompt<'b>(
        &mut self,
        _username: &str,
        _instructions: &str,
        prompts: &[ssh2::Prompt<'b>],
    ) -> Vec<String> {
        prompts.iter().map(|_| self.0.to_string()).collect()
    }
}

fn login(session: &ssh2::Session, t: &Target<'_>) -> Result<()> {
    let c = t.credentials;
    let refused = |method: &str, e: Option<ssh2::Error>| {
        let why = e.map(|e| format!(": {e}")).unwrap_or_default();
        connection_error(format!(
            "authentication failed for user '{}' ({method}){why}",
            t.username
        ))
    };
    if let Some(key) = &c.private_key {
        let pem = super::credentials::pem_text(key);
        return session
            .userauth_pubkey_memory(t.username, None, &pem, c.passphrase.as_deref())
            .map_err(|e| refused("private key", Some(e)));
    }
    let password = c.password.as_deref().unwrap_or_default();
    let methods = session.auth_methods(t.username).unwrap_or("password");
    if methods.split(',').any(|m| m == "password") {
        return session
            .userauth_password(t.username, password)
            .map_err(|e| refused("password", Some(e)));
    }
    if methods.split(',').any(|m| m == "keyboard-interactive") {
        let mut p = PasswordPrompt(password);
        session
            .userauth_keyboard_interactive(t.username, &mut p)
            .map_err(|e| refused("keyboard-interactive", Some(e)))?;
        if session.authenticated() {
            return Ok(());
        }
    }
    Err(refused(&format!("the device offers {methods}"), None))
}

/// The fingerprint of the host key `host:port` presents (a handshake, no login).
/// Errors: `NETWORK_CONNECTION_ERROR`.
pub fn host_key_of(host: &str, port: u16, timeout: Duration) -> Result<String> {
    let (session, fp) = handshake(host, port, timeout)?;
    let _ = session.disconnect(None, "host key read", None);
    Ok(fp)
}

/// Why [`read_until`] stopped without what it waited for.
pub enum ReadEnd {
    /// The device closed the channel, or the connection broke (the reason).
    Closed(String),
    /// The deadline passed.
    Late,
    /// More than the cap arrived.
    TooBig,
}

/// Reads `channel` (its session's timeout bounding each read) until `done(raw, fresh)`
/// holds for everything read so far (`fresh`: where the bytes of the last read begin,
/// so a check need not scan the whole output again), the deadline passes, more than
/// `cap` bytes arrive, or the channel ends; the bytes read.
pub fn read_until(
    channel: &mut ssh2::Channel,
    deadline: Instant,
    cap: usize,
    done: impl Fn(&[u8], usize) -> bool,
) -> std::result::Result<Vec<u8>, ReadEnd> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match channel.read(&mut buf) {
            Ok(0) if channel.eof() => return Err(ReadEnd::Closed("end of stream".into())),
            Ok(n) => {
                let fresh = raw.len();
                raw.extend_from_slice(&buf[..n]);
                if done(&raw, fresh) {
                    return Ok(raw);
                }
                if raw.len() > cap {
                    return Err(ReadEnd::TooBig);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {}
            Err(e) => return Err(ReadEnd::Closed(e.to_string())),
        }
        if Instant::now() > deadline {
            return Err(ReadEnd::Late);
        }
    }
}
