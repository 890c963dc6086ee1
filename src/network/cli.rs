//! The interactive CLI of Cisco IOS and NX-OS over an SSH shell channel (blocking),
//! driven the way Netmiko does it: a PTY of 511 columns, the prompt detected (never a
//! sleep), paging turned off (`terminal length 0`, `terminal width 511`), privileged
//! EXEC entered with `enable` and the enable secret, the echoed command and the
//! trailing prompt removed from the output, and a `--More--` pager answered with a
//! space if paging could not be turned off. A line starting with `% ` that IOS / NX-OS
//! print for a refused command (`% Invalid input detected at '^' marker.`,
//! `% Incomplete command`, `% Ambiguous command`, `% Invalid command at '^' marker.`)
//! makes the command's result an error carrying the device's text.

use super::ssh::{ReadEnd, connection_error};
use crate::error::{Error, ErrorCode, Result};
use regex::Regex;
use std::io::{ErrorKind, Read, Write};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// How long one read waits before the deadline is looked at again.
pub(super) const READ_SLICE_MS: u32 = 200;
/// Cap on what one command may print (bytes); more is cut and says so.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// A constant pattern (each is compiled by the unit tests, so this cannot fail at run
/// time).
#[expect(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests"
)]
pub(super) fn pattern(re: &str) -> Regex {
    Regex::new(re).expect("a valid constant pattern")
}

/// Any IOS / NX-OS prompt on the last line: host name, optional `(config…)` mode, `>`
/// or `#`.
static ANY_PROMPT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^[A-Za-z0-9][\w.\-/:@]{0,62}(\([\w\-./]+\))?[>#] ?$"));
static REFUSED: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?m)^\s*% ?(Invalid|Incomplete|Ambiguous|Unknown|Unrecognized|Bad|Error|Permission denied)[^\n]*$",
    )
});
static QUESTION: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(\[[^\]\n]*\]\??|\? ?\[[^\]\n]*\]|\[confirm\]|\[yes/no\]:?) ?$"));
static ANSI: LazyLock<Regex> = LazyLock::new(|| pattern(r"\x1b\[[0-9;?]*[A-Za-z]"));
static PAGER: LazyLock<Regex> = LazyLock::new(|| pattern(r"(?i) ?-+ ?more ?-+ ?$"));

/// What a command printed, and whether the device refused it.
#[derive(Debug, Clone)]
pub struct Output {
    /// The output without the echoed command and the prompt; `\r` removed.
    pub text: String,
    /// The device's error line(s), when it refused the command.
    pub refused: Option<String>,
}

impl Output {
    /// The output of `command` in `raw` (echo and prompt removed) and its refusal.
    fn of(raw: &str, command: &str) -> Output {
        let text = strip_echo_and_prompt(raw, command);
        let refused = REFUSED.find(&text).map(|_| text.trim().to_string());
        Output { text, refused }
    }
}

/// An open CLI session in privileged EXEC mode.
pub struct Shell {
    channel: ssh2::Channel,
    /// The device's host name, from its prompt.
    pub hostname: String,
    /// The prompt the last output ended with.
    last_prompt: String,
}

fn dropped(e: impl std::fmt::Display) -> Error {
    connection_error(format!("the device closed the session: {e}"))
}

impl Shell {
    /// Opens a shell channel with a PTY on `session`, waits for the first prompt,
    /// turns paging off and enters privileged EXEC (`enable`, answering its
    /// `Password:` with `enable_secret`). Errors: `NETWORK_CONNECTION_ERROR` (no
    /// prompt within `timeout`, the session closed, `enable` refused).
    pub fn start(
        session: &ssh2::Session,
        enable_secret: Option<&str>,
        timeout: Duration,
    ) -> Result<Shell> {
        session.set_timeout(READ_SLICE_MS);
        let mut channel = session
            .channel_session()
            .map_err(|e| connection_error(format!("opening a channel: {e}")))?;
        channel
            .request_pty("vt100", None, Some((511, 24, 0, 0)))
            .map_err(|e| connection_error(format!("requesting a terminal: {e}")))?;
        channel
            .shell()
            .map_err(|e| connection_error(format!("starting the shell: {e}")))?;
        let mut sh = Shell {
            channel,
            hostname: String::new(),
            last_prompt: String::new(),
        };
        sh.read_to_prompt(Instant::now() + timeout, false)?;
        sh.hostname = host_of(&sh.last_prompt);
        for setup in ["terminal length 0", "terminal width 511"] {
            sh.run(setup, timeout)?;
        }
        if sh.last_prompt.ends_with('>') {
            sh.enable(enable_secret, timeout)?;
        }
        Ok(sh)
    }

    fn enable(&mut self, secret: Option<&str>, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        self.send("enable")?;
        let seen = self.read_until(deadline, |t| {
            t.trim_end().ends_with(':') || ANY_PROMPT.is_match(last_line(t))
        })?;
        if !ANY_PROMPT.is_match(last_line(&seen)) {
            self.send(secret.unwrap_or(""))?;
            self.read_to_prompt(deadline, false)?;
        }
        if !self.last_prompt.ends_with('#') {
            return Err(connection_error(
                "enable was refused: check the device's enable_secret",
            ));
        }
        Ok(())
    }

    /// Runs one command and waits for the prompt (at most `timeout`). The device
    /// refusing it is not an error here: see [`Output::refused`]. Errors:
    /// `NETWORK_CONNECTION_ERROR` (the session closed), `GATEWAY_TIMEOUT` (no prompt
    /// in time; the session is then unusable).
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<Output> {
        self.run_answering(command, timeout, false)
    }

    /// Runs a command that may ask for confirmation (`Destination filename
    /// [startup-config]? `, `[confirm]`, `[yes/no]: `): each question is answered with
    /// Enter, taking the device's default, as Netmiko does for `copy` and `write`.
    /// Errors as [`Shell::run`].
    pub fn run_confirming(&mut self, command: &str, timeout: Duration) -> Result<Output> {
        self.run_answering(command, timeout, true)
    }

    /// [`Shell::run`], answering questions with Enter when `confirm`.
    fn run_answering(&mut self, command: &str, timeout: Duration, confirm: bool) -> Result<Output> {
        self.send(command)?;
        let raw = self
            .read_to_prompt(Instant::now() + timeout, confirm)
            .map_err(|e| {
                if e.code == ErrorCode::GatewayTimeout {
                    Error::new(
                        ErrorCode::GatewayTimeout,
                        format!(
                            "'{command}' gave no prompt back within {} s",
                            timeout.as_secs()
                        ),
                    )
                } else {
                    e
                }
            })?;
        Ok(Output::of(&raw, command))
    }

    /// Whether the channel is still open: the device did not end it, and a read of
    /// at most 1 ms finds neither the end of the stream nor a broken connection (what
    /// it may find otherwise is dropped: nothing is waiting for it).
    pub fn is_open(&mut self, session: &ssh2::Session) -> bool {
        if self.channel.eof() {
            return false;
        }
        session.set_timeout(1);
        let mut buf = [0u8; 4096];
        let open = match self.channel.read(&mut buf) {
            Ok(0) => !self.channel.eof(),
            Ok(_) => true,
            Err(e) => matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
        };
        session.set_timeout(READ_SLICE_MS);
        open
    }

    fn send(&mut self, line: &str) -> Result<()> {
        self.channel
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.channel.flush())
            .map_err(dropped)
    }

    /// Reads until the last line is a prompt; answers a pager with a space and, when
    /// `confirm`, a question with Enter.
    fn read_to_prompt(&mut self, deadline: Instant, confirm: bool) -> Result<String> {
        let host = self.hostname.clone();
        let asked = |line: &str| confirm && QUESTION.is_match(line);
        let mut out = String::new();
        loop {
            let chunk = self.read_until(deadline, |t| {
                let last = last_line(t);
                PAGER.is_match(last) || asked(last) || is_prompt(last, &host)
            })?;
            let last = last_line(&chunk).to_string();
            if PAGER.is_match(&last) {
                out.push_str(&PAGER.replace(&chunk, ""));
                self.channel.write_all(b" ").map_err(dropped)?;
                continue;
            }
            out.push_str(&chunk);
            if is_prompt(&last, &host) {
                self.last_prompt = last.trim_end().to_string();
                return Ok(out);
            }
            self.send("")?;
        }
    }

    /// Reads until `done` holds for what was read (cleaned of `\r`, escapes and
    /// backspaces), the deadline passes (`GATEWAY_TIMEOUT`) or the channel closes.
    fn read_until(&mut self, deadline: Instant, done: impl Fn(&str) -> bool) -> Result<String> {
        match super::ssh::read_until(&mut self.channel, deadline, MAX_OUTPUT, |raw, _| {
            done(&clean(tail(raw)))
        }) {
            Ok(raw) => Ok(clean(&raw)),
            Err(ReadEnd::Closed(why)) => Err(dropped(why)),
            Err(ReadEnd::TooBig) => Err(Error::new(
                ErrorCode::NetworkCommandError,
                format!("the output is over {MAX_OUTPUT} bytes"),
            )),
            Err(ReadEnd::Late) => Err(Error::new(
                ErrorCode::GatewayTimeout,
                "the device gave no prompt back in time",
            )),
        }
    }
}

/// The last two lines of `raw`: all a prompt, pager or question check looks at
/// (`last_line`, or the end of the text), so each read cleans what the device just
/// sent rather than the whole output again.
fn tail(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map_or(0, |(i, _)| i + 1);
    &raw[start..]
}

/// Text without `\r`, ANSI escapes, and backspaces with what they erase.
fn clean(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = ANSI.replace_all(&text, "");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => {}
            '\u{8}' => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn last_line(t: &str) -> &str {
    t.rsplit('\n').next().unwrap_or("")
}

/// Whether `line` is the prompt of `host` (any prompt before the host is known).
fn is_prompt(line: &str, host: &str) -> bool {
    let line = line.trim_end();
    if !ANY_PROMPT.is_match(line) {
        return false;
    }
    host.is_empty() || line.starts_with(host)
}

/// The host name in a prompt (`sw1(config-if)#` → `sw1`).
fn host_of(prompt: &str) -> String {
    prompt
        .trim_end()
        .trim_end_matches(['#', '>'])
        .split('(')
        .next()
        .unwrap_or("")
        .to_string()
}

/// The output of `command` in `raw`: the echoed command line (the first line, when it
/// ends with the command) and the final prompt line removed.
fn strip_echo_and_prompt(raw: &str, command: &str) -> String {
    let mut lines: Vec<&str> = raw.split('\n').collect();
    lines.pop();
    if lines
        .first()
        .is_some_and(|l| l.trim_end().ends_with(command.trim()))
    {
        lines.remove(0);
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_and_host_names() {
        for p in [
            "sw1#",
            "sw1>",
            "sw1(config)#",
            "sw1(config-if)#",
            "core-01.lab#",
            "switch# ",
        ] {
            assert!(ANY_PROMPT.is_match(p), "{p}");
        }
        for p in [
            "interface Gi0/1",
            "  description uplink #",
            "Building configuration...",
        ] {
            assert!(!ANY_PROMPT.is_match(p), "{p}");
        }
        assert_eq!(host_of("sw1(config-if)#"), "sw1");
        assert!(is_prompt("sw1(config)#", "sw1"));
        assert!(!is_prompt("other#", "sw1"));
    }

    #[test]
    fn echo_prompt_pager_and_refusals() {
        let raw = "show version\nCisco IOS Software\nuptime is 1 day\nsw1#";
        assert_eq!(
            strip_echo_and_prompt(raw, "show version"),
            "Cisco IOS Software\nuptime is 1 day\n"
        );
        assert!(PAGER.is_match(" --More-- "));
        for q in [
            "Destination filename [startup-config]? ",
            "Proceed? [confirm]",
            "[yes/no]: ",
        ] {
            assert!(QUESTION.is_match(q), "{q}");
        }
        assert!(!QUESTION.is_match("switch#"));
        assert_eq!(clean(b"ab\x08c\r\n\x1b[2Kd"), "ac\nd");
        assert_eq!(tail(b"one\ntwo\nsw1#"), b"two\nsw1#");
        assert_eq!(tail(b"Password:"), b"Password:");
        assert_eq!(
            last_line(&clean(tail(b"a\nb\r\nsw1(config)#"))),
            "sw1(config)#"
        );
        let refused = "          ^\n% Invalid input detected at '^' marker.\n";
        assert!(REFUSED.is_match(refused));
        assert!(!REFUSED.is_match("interface Gi0/1\n description 100% up\n"));
    }
}
