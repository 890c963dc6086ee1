//! Device configuration over the CLI of IOS and NX-OS, the way NAPALM does it: read
//! the running or startup configuration; merge lines in configuration mode after a
//! snapshot kept on the device (IOS: `copy running-config flash:mcpd-rollback.cfg`,
//! NX-OS: `checkpoint mcpd-rollback`), putting the snapshot back when the device
//! refuses a line (IOS `configure replace … force`, NX-OS `rollback running-config
//! checkpoint …`); commit as `copy running-config startup-config`; roll back to the
//! snapshot of the last change. Diffs compare the running configuration before and
//! after without volatile lines (build banners, timestamps), as Oxidized does.

use super::cli::{Shell, pattern};
use super::model::DeviceType;
use crate::error::{Error, ErrorCode, Result};
use regex::Regex;
use std::sync::LazyLock;
use std::time::Duration;

/// Longest configuration line, bytes.
const MAX_LINE: usize = 1024;
/// Most lines in one push.
const MAX_LINES: usize = 10_000;
/// The device-side snapshot: IOS file and NX-OS checkpoint.
const IOS_SNAPSHOT: &str = "flash:mcpd-rollback.cfg";
const NXOS_SNAPSHOT: &str = "mcpd-rollback";

/// Lines left out of comparisons: build banners, sizes, timestamps, clock drift.
static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"^(Building configuration|Current configuration ?:|! Last configuration change|! NVRAM config last updated|!Time:|!Running configuration last done|!Command: show|ntp clock-period)",
    )
});

/// `NETWORK_CONFIG_ERROR` with `message`.
pub fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::NetworkConfigError, message)
}

/// The configuration without volatile and empty lines, each line's end trimmed.
pub fn comparable(config: &str) -> String {
    config
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !VOLATILE.is_match(l))
        .fold(String::new(), |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        })
}

/// Unified diff (3 lines of context) of two configurations' comparable lines; empty
/// when they are the same.
pub fn unified_diff(before: &str, after: &str, labels: (&str, &str)) -> String {
    let (a, b) = (comparable(before), comparable(after));
    if a == b {
        return String::new();
    }
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(labels.0, labels.1)
        .to_string()
}

/// The lines of a push: `\r` removed, empty lines and `!` comments left out, a leading
/// `configure terminal` and a trailing `end` dropped. Errors: 400 on `config` (empty,
/// over 10 000 lines, a line over 1024 bytes or with control characters, `end` or
/// `exit` at the top level elsewhere, which would leave configuration mode).
pub fn lines_of(config: &str) -> Result<Vec<String>> {
    let mut lines: Vec<String> = config
        .lines()
        .map(|l| l.trim_end_matches('\r').trim_end().to_string())
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('!'))
        .collect();
    if lines
        .first()
        .is_some_and(|l| matches!(l.trim(), "configure terminal" | "conf t" | "config t"))
    {
        lines.remove(0);
    }
    if lines.last().is_some_and(|l| l.trim() == "end") {
        lines.pop();
    }
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(Error::field(
            "config",
            format!("1 to {MAX_LINES} configuration lines"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        if l.len() > MAX_LINE || l.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::field(
                "config",
                format!("line {n}: at most {MAX_LINE} bytes, no control characters"),
            ));
        }
        if matches!(l.trim(), "end" | "configure terminal") || l.contains('?') {
            return Err(Error::field(
                "config",
                format!(
                    "line {n}: '{}' cannot be part of a configuration push",
                    l.trim()
                ),
            ));
        }
    }
    Ok(lines)
}

/// Runs `cmd`; a refusal is `NETWORK_CONFIG_ERROR` saying what `what` was for.
fn must(sh: &mut Shell, cmd: &str, what: &str, t: Duration, confirm: bool) -> Result<String> {
    let out = if confirm {
        sh.run_confirming(cmd, t)?
    } else {
        sh.run(cmd, t)?
    };
    match out.refused {
        Some(text) => Err(config_error(format!(
            "{what}: the device refused '{cmd}': {text}"
        ))),
        None => Ok(out.text),
    }
}

/// `show running-config` or `show startup-config`.
pub fn show(sh: &mut Shell, source: &str, t: Duration) -> Result<String> {
    let cmd = format!("show {source}-config");
    let out = sh.run(&cmd, t)?;
    match out.refused {
        Some(text) => Err(Error::new(
            ErrorCode::NetworkCommandError,
            format!("the device refused '{cmd}': {text}"),
        )),
        None => Ok(out.text),
    }
}

/// Takes the device-side snapshot the next rollback goes back to.
fn snapshot(sh: &mut Shell, kind: DeviceType, t: Duration) -> Result<()> {
    let what = "taking a rollback snapshot";
    match kind {
        DeviceType::CiscoNxos => {
            // A previous snapshot is replaced; its absence is fine.
            sh.run(&format!("no checkpoint {NXOS_SNAPSHOT}"), t)?;
            must(sh, &format!("checkpoint {NXOS_SNAPSHOT}"), what, t, false)?;
        }
        _ => {
            let cmd = format!("copy running-config {IOS_SNAPSHOT}");
            must(sh, &cmd, what, t, true)?;
        }
    }
    Ok(())
}

/// Puts the device-side snapshot back as the running configuration.
pub fn restore_snapshot(sh: &mut Shell, kind: DeviceType, t: Duration) -> Result<()> {
    let what = "putting the snapshot back";
    let cmd = match kind {
        DeviceType::CiscoNxos => format!("rollback running-config checkpoint {NXOS_SNAPSHOT}"),
        _ => format!("configure replace {IOS_SNAPSHOT} force"),
    };
    must(sh, &cmd, what, t, true).map(drop)
}

/// Saves the running configuration as the startup configuration.
pub fn save(sh: &mut Shell, t: Duration) -> Result<()> {
    must(
        sh,
        "copy running-config startup-config",
        "saving the configuration",
        t,
        true,
    )
    .map(drop)
}

/// What a merge did: the running configuration before and after.
pub struct Merged {
    /// Before the change.
    pub before: String,
    /// After it.
    pub after: String,
}

impl Merged {
    /// The unified diff from before to after ([`unified_diff`]).
    pub fn diff(&self) -> String {
        unified_diff(
            &self.before,
            &self.after,
            ("running (before)", "running (after)"),
        )
    }
}

/// Merges `lines` into the running configuration (snapshot first). A refused line
/// stops the push and puts the snapshot back: `NETWORK_CONFIG_ERROR` naming the line
/// and the device's text, and whether the device is as it was.
pub fn merge(sh: &mut Shell, kind: DeviceType, lines: &[String], t: Duration) -> Result<Merged> {
    let before = show(sh, "running", t)?;
    snapshot(sh, kind, t)?;
    must(
        sh,
        "configure terminal",
        "entering configuration mode",
        t,
        false,
    )?;
    let mut refused = None;
    for (i, line) in lines.iter().enumerate() {
        let out = sh.run(line, t)?;
        if let Some(text) = out.refused {
            refused = Some((i + 1, line.clone(), text));
            break;
        }
    }
    sh.run("end", t)?;
    let Some((n, line, text)) = refused else {
        let after = show(sh, "running", t)?;
        return Ok(Merged { before, after });
    };
    let put_back = restore_snapshot(sh, kind, t).and_then(|()| show(sh, "running", t));
    let outcome = match put_back {
        Ok(now) if comparable(&now) == comparable(&before) => {
            "nothing was changed: the device was put back as it was".to_string()
        }
        Ok(_) => "putting the device back left it different from before: check it".to_string(),
        Err(e) => format!("putting the device back failed ({}): check it", e.message),
    };
    Err(config_error(format!(
        "line {n} '{line}' was refused: {}; {outcome}",
        text.trim()
    )))
}

/// The file a replace loads the candidate from.
fn candidate_path(kind: DeviceType) -> &'static str {
    match kind {
        DeviceType::CiscoNxos => "bootflash:mcpd-candidate.cfg",
        _ => "flash:mcpd-candidate.cfg",
    }
}

/// Copies `text` to the device's candidate file by SCP (the devices' own SCP server,
/// `ip scp server enable` on IOS), with `t` as the bound on the transfer.
fn copy_candidate(
    session: &ssh2::Session,
    kind: DeviceType,
    text: &str,
    t: Duration,
) -> Result<()> {
    let path = candidate_path(kind);
    let fail = |e: &dyn std::fmt::Display| {
        config_error(format!(
            "copying the candidate to {path} by SCP failed: {e}"
        ))
    };
    session.set_timeout(u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
    let sent = (|| {
        let size = u64::try_from(text.len()).map_err(|e| fail(&e))?;
        let mut ch = session
            .scp_send(std::path::Path::new(path), 0o644, size, None)
            .map_err(|e| fail(&e))?;
        std::io::Write::write_all(&mut ch, text.as_bytes()).map_err(|e| fail(&e))?;
        ch.send_eof().map_err(|e| fail(&e))?;
        ch.wait_eof().map_err(|e| fail(&e))?;
        ch.close().map_err(|e| fail(&e))?;
        ch.wait_close().map_err(|e| fail(&e))
    })();
    session.set_timeout(super::cli::READ_SLICE_MS);
    sent
}

/// Whether the answer of `configure replace` / `rollback running-config file` reports
/// a failure (the markers NAPALM checks for).
fn replace_failed(output: &str) -> bool {
    let o = output.to_lowercase();
    [
        "error",
        "failed",
        "aborted",
        "not a valid config file",
        "successfully restored",
    ]
    .iter()
    .any(|m| o.contains(m))
}

/// Replaces the running configuration with `text`: the candidate is copied to the
/// device, a snapshot taken, then IOS `configure replace <file> force` / NX-OS
/// `rollback running-config file <file>`. A replace the device reports as failed is
/// undone with the snapshot: `NETWORK_CONFIG_ERROR` with the device's text.
pub fn replace(
    (sh, session): (&mut Shell, &ssh2::Session),
    kind: DeviceType,
    text: &str,
    t: Duration,
) -> Result<Merged> {
    let before = show(sh, "running", t)?;
    copy_candidate(session, kind, text, t)?;
    snapshot(sh, kind, t)?;
    let file = candidate_path(kind);
    let cmd = match kind {
        DeviceType::CiscoNxos => format!("rollback running-config file {file}"),
        _ => format!("configure replace {file} force"),
    };
    let out = sh.run_confirming(&cmd, t)?;
    if out.refused.is_none() && !replace_failed(&out.text) {
        let after = show(sh, "running", t)?;
        return Ok(Merged { before, after });
    }
    let put_back = restore_snapshot(sh, kind, t).and_then(|()| show(sh, "running", t));
    let outcome = match put_back {
        Ok(now) if comparable(&now) == comparable(&before) => "the device was put back as it was",
        _ => "putting the device back did not restore it exactly: check it",
    };
    Err(config_error(format!(
        "the device refused the replacement: {}; {outcome}",
        out.text.trim()
    )))
}

/// A whole configuration for a replace: `\r` removed, and the banner lines `show
/// running-config` prints before the configuration (`Building configuration...`,
/// `Current configuration : N bytes`) left out, so what `GET …/config` answered can be
/// sent back. Errors: 400 on `config` (empty, over 1 MiB, control characters other
/// than tabs).
pub fn replacement(config: &str) -> Result<String> {
    if config.trim().is_empty() || config.len() > 1024 * 1024 {
        return Err(Error::field("config", "1 byte to 1 MiB"));
    }
    if config
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::field("config", "no control characters"));
    }
    let banner =
        |l: &str| l.starts_with("Building configuration") || l.starts_with("Current configuration");
    let mut out: String = config
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| l.trim().is_empty() || banner(l))
        .fold(String::new(), |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        });
    if out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_volatile_and_diff() {
        let lines = lines_of(
            "configure terminal\r\n! a comment\ninterface Gi0/1\n description up\n\nend\n",
        )
        .unwrap();
        assert_eq!(lines, ["interface Gi0/1", " description up"]);
        for bad in [
            "",
            "!\n",
            "end\ninterface x\nend\nhostname y",
            "hostname a\u{7}",
            "show ?",
        ] {
            assert!(lines_of(bad).is_err(), "{bad:?}");
        }
        let a = "Building configuration...\n!Time: Mon 10:00\nhostname a\n";
        let b = "Building configuration...\n!Time: Mon 11:00\nhostname a\n";
        assert_eq!(unified_diff(a, b, ("before", "after")), "");
        let d = unified_diff(a, "hostname b\n", ("before", "after"));
        assert!(
            d.contains("-hostname a") && d.contains("+hostname b"),
            "{d}"
        );
    }
}
