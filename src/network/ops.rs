//! Operations on a registered device: changing it, its session (connect, disconnect,
//! status), re-pinning its host key, and running CLI commands (each audited, output
//! never stored in the audit log).

use super::cli::Output;
use super::model::{
    AcceptHostKey, CommandResult, CommandsRequest, Credentials, Device, DevicePatch, DeviceRecord,
    SessionStatus,
};
use super::pool::{Link, Live};
use super::session::with_session;
use super::{credentials, record, ssh, store, view};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use serde_json::json;
use std::time::{Duration, Instant};

/// Longest command line mcpd sends, in bytes.
const MAX_COMMAND: usize = 1024;
/// Most commands in one `commands` request.
const MAX_COMMANDS: usize = 100;

/// The credentials after `patch`; `None` when it sends none.
fn patched_credentials(
    app: &App,
    current: &DeviceRecord,
    patch: &DevicePatch,
) -> Result<Option<Credentials>> {
    let sent = patch.password.is_some()
        || patch.private_key.is_some()
        || patch.passphrase.is_some()
        || patch.enable_secret.is_some();
    if !sent {
        return Ok(None);
    }
    let mut c = credentials::open(app, &current.device.id, &current.sealed)?;
    if let Some(p) = &patch.password {
        c.password = Some(p.clone());
        c.private_key = None;
        c.passphrase = None;
    }
    if let Some(k) = &patch.private_key {
        c.private_key = Some(k.clone());
        c.password = None;
        c.passphrase = patch.passphrase.clone();
    } else if let Some(p) = &patch.passphrase {
        c.passphrase = Some(p.clone());
    }
    if let Some(e) = &patch.enable_secret {
        c.enable_secret = Some(e.clone()).filter(|s| !s.is_empty());
    }
    Ok(Some(c))
}

/// Applies a change to `current` (as [`super::update`] and [`super::replace`] describe).
/// A new connection (host, port, user, credentials) closes the pooled session.
pub async fn update(
    app: &App,
    actor: &Actor,
    current: DeviceRecord,
    patch: DevicePatch,
) -> Result<Device> {
    let creds = patched_credentials(app, &current, &patch)?;
    let mut d = current.device.clone();
    let before = (d.host.clone(), d.port, d.username.clone());
    if let Some(v) = &patch.name {
        d.name = v.clone();
    }
    if let Some(v) = &patch.host {
        d.host = v.clone();
    }
    if let Some(v) = patch.port {
        d.port = v;
    }
    if let Some(v) = &patch.username {
        d.username = v.clone();
    }
    if let Some(v) = &patch.tags {
        d.tags = v.clone();
    }
    if let Some(v) = &patch.description {
        d.description = v.clone();
    }
    if let Some(v) = &patch.connection_options {
        d.connection_options = v.clone();
    }
    super::check_device(&d)?;
    let sealed = match &creds {
        Some(c) => {
            credentials::check(app, c).await?;
            d.auth_method = c.auth_method().to_string();
            d.has_enable_secret = c.enable_secret.is_some();
            Some(credentials::seal(app, &d.id, c)?)
        }
        None => None,
    };
    let reconnect = sealed.is_some()
        || patch.connection_options.is_some()
        || before != (d.host.clone(), d.port, d.username.clone());
    d.updated_at = crate::time::now_rfc3339();
    let actor = actor.clone();
    let fields = sent_fields(&patch);
    let updated = app
        .store
        .write(move |tx| {
            if store::name_taken(tx, &d.name, Some(&d.id))? {
                return Err(Error::already_exists("device", &d.name));
            }
            store::update(tx, &d, sealed.as_deref(), reconnect)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("network.devices.update")
                    .on("device", &d.id)
                    .details(json!({"fields": fields})),
            )?;
            super::load(tx, &d.id)
        })
        .await?;
    if reconnect {
        app.network.close(&updated.id).await;
    }
    Ok(view(app, updated))
}

fn sent_fields(p: &DevicePatch) -> Vec<&'static str> {
    [
        ("name", p.name.is_some()),
        ("host", p.host.is_some()),
        ("port", p.port.is_some()),
        ("username", p.username.is_some()),
        ("password", p.password.is_some()),
        ("private_key", p.private_key.is_some()),
        ("passphrase", p.passphrase.is_some()),
        ("enable_secret", p.enable_secret.is_some()),
        ("tags", p.tags.is_some()),
        ("description", p.description.is_some()),
        ("connection_options", p.connection_options.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect()
}

/// `POST …/connect`: opens the device's session (or checks the pooled one). Errors:
/// `NETWORK_CONNECTION_ERROR` naming the cause.
pub async fn connect(app: &App, actor: &Actor, id: &str) -> Result<Device> {
    let rec = record(app, id).await?;
    with_session(app, actor, &rec, |_| Ok(())).await?;
    Ok(view(app, record(app, id).await?.device))
}

/// `POST …/disconnect`: closes the device's session, if it has one.
pub async fn disconnect(app: &App, id: &str) -> Result<Device> {
    let rec = record(app, id).await?;
    app.network.close(&rec.device.id).await;
    let did = rec.device.id.clone();
    app.store
        .write(move |tx| store::record_disconnected(tx, &did, None))
        .await?;
    Ok(view(app, record(app, id).await?.device))
}

/// `GET …/status`: the session as the pool holds it (never waits for a call in
/// progress: a busy session is shown connected, without idle time).
pub async fn status(app: &App, id: &str) -> Result<SessionStatus> {
    let rec = record(app, id).await?;
    let d = view(app, rec.device);
    let slot = app.network.slot(&d.id);
    let (since, idle) = match slot.try_lock() {
        Ok(g) => g.live.as_ref().map_or((None, None), |l| {
            (Some(l.opened_at.clone()), Some(l.used.elapsed().as_secs()))
        }),
        Err(_) => (None, None),
    };
    Ok(SessionStatus {
        id: d.id,
        name: d.name,
        status: d.status,
        error: d.error,
        connected_since: since,
        idle_s: idle,
        idle_timeout_s: app.settings.network.idle_timeout_s,
        last_connected: d.last_connected,
        host_key_fingerprint: d.host_key_fingerprint,
    })
}

/// `POST …/host-key/accept` (admins): pins the given fingerprint, or the key the device
/// presents now (read by an SSH handshake, no login). Closes the session. Audited
/// with the previous and the new fingerprint.
pub async fn accept_host_key(
    app: &App,
    actor: &Actor,
    id: &str,
    req: AcceptHostKey,
) -> Result<Device> {
    let rec = record(app, id).await?;
    let fp = match req.fingerprint {
        Some(fp) => {
            ssh::check_fingerprint("fingerprint", &fp)?;
            fp
        }
        None => presented_key(app, &rec).await?,
    };
    let (did, old, actor) = (
        rec.device.id.clone(),
        rec.device.host_key_fingerprint,
        actor.clone(),
    );
    let f = fp.clone();
    app.store
        .write(move |tx| {
            store::pin_host_key(tx, &did, &f)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("network.devices.host_key_accepted")
                    .on("device", &did)
                    .details(json!({"previous": old, "fingerprint": f})),
            )
        })
        .await?;
    app.network.close(&rec.device.id).await;
    Ok(view(app, record(app, id).await?.device))
}

/// The fingerprint of the host key the device presents now.
async fn presented_key(app: &App, rec: &DeviceRecord) -> Result<String> {
    let (host, port) = (rec.device.host.clone(), rec.device.port);
    let timeout = Duration::from_secs(app.settings.network.connect_timeout_s);
    super::pool::blocking(move || ssh::host_key_of(&host, port, timeout)).await?
}

/// 400 on `field` unless `cmd` is one line of 1–1024 bytes without control characters
/// or `?` (which IOS answers with help at once, without running anything).
fn check_command(field: &str, cmd: &str) -> Result<()> {
    if cmd.trim().is_empty() || cmd.len() > MAX_COMMAND {
        return Err(Error::field(field, format!("1 to {MAX_COMMAND} bytes")));
    }
    if cmd.chars().any(|c| c.is_control() || c == '?') {
        return Err(Error::field(
            field,
            "one line without control characters or '?'",
        ));
    }
    Ok(())
}

fn command_timeout(app: &App, timeout_s: Option<u64>) -> Result<Duration> {
    match timeout_s {
        None => Ok(Duration::from_secs(app.settings.network.command_timeout_s)),
        Some(t @ 1..=600) => Ok(Duration::from_secs(t)),
        Some(_) => Err(Error::field("timeout_s", "must be 1-600 seconds")),
    }
}

/// `POST …/commands` (and `…/command`, one command with `stop_on_error`): runs the
/// commands in order on the device's session. Every command is audited
/// (`network.devices.command`, with its status, never its output).
pub async fn commands(
    app: &App,
    actor: &Actor,
    id: &str,
    req: CommandsRequest,
) -> Result<Vec<CommandResult>> {
    if req.commands.is_empty() || req.commands.len() > MAX_COMMANDS {
        return Err(Error::field(
            "commands",
            format!("1 to {MAX_COMMANDS} commands"),
        ));
    }
    for (i, c) in req.commands.iter().enumerate() {
        check_command(&format!("commands[{i}]"), c)?;
    }
    let timeout = command_timeout(app, req.timeout_s)?;
    let rec = record(app, id).await?;
    let stop = req.stop_on_error.unwrap_or(true);
    let cmds = req.commands.clone();
    let results = with_session(app, actor, &rec, move |live| {
        let mut out = Vec::with_capacity(cmds.len());
        let mut stopped = false;
        for c in cmds {
            if stopped {
                out.push(skipped(c));
                continue;
            }
            let start = Instant::now();
            let executed_at = crate::time::now_rfc3339();
            let o = run_one(live, &c, timeout)?;
            stopped = stop && o.refused.is_some();
            out.push(CommandResult {
                command: c,
                status: if o.refused.is_some() {
                    "error"
                } else {
                    "success"
                },
                error: o.refused,
                output: o.text,
                duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
                executed_at,
            });
        }
        Ok(out)
    })
    .await;
    audit_commands(app, actor, &rec.device.id, &req.commands, &results).await;
    results
}

/// One command on the device's CLI, or through Junos's `<command>` RPC (whose
/// `rpc-error` is the device refusing it).
fn run_one(live: &mut Live, command: &str, timeout: Duration) -> Result<Output> {
    match &mut live.link {
        Link::Cli(sh) => sh.run(command, timeout),
        Link::Netconf(nc) => match super::junos::command(nc, command, timeout) {
            Ok(text) => Ok(Output {
                text,
                refused: None,
            }),
            Err(e) if e.code == ErrorCode::NetworkCommandError => Ok(Output {
                text: String::new(),
                refused: Some(e.message),
            }),
            Err(e) => Err(e),
        },
    }
}

fn skipped(command: String) -> CommandResult {
    CommandResult {
        command,
        output: String::new(),
        status: "skipped",
        error: None,
        duration_ms: 0,
        executed_at: crate::time::now_rfc3339(),
    }
}

async fn audit_commands(
    app: &App,
    actor: &Actor,
    device: &str,
    sent: &[String],
    results: &Result<Vec<CommandResult>>,
) {
    for (i, c) in sent.iter().enumerate() {
        let (status, failed) = match results {
            Ok(r) => (
                r.get(i).map_or("skipped", |r| r.status),
                r.get(i).is_some_and(|r| r.status == "error"),
            ),
            Err(e) => (e.code.as_str(), true),
        };
        let mut entry = Entry::new("network.devices.command")
            .on("device", device.to_string())
            .details(json!({"command": c, "status": status}));
        if failed {
            entry = entry.failed();
        }
        audit::record_alone(&app.store, actor.clone(), entry).await;
    }
}

/// `POST …/command`: one command; the device refusing it is `NETWORK_COMMAND_ERROR`
/// (502) with its text and the command.
pub async fn command(
    app: &App,
    actor: &Actor,
    id: &str,
    command: String,
    timeout_s: Option<u64>,
) -> Result<CommandResult> {
    check_command("command", &command)?;
    let req = CommandsRequest {
        commands: vec![command],
        stop_on_error: Some(true),
        timeout_s,
    };
    let mut r = commands(app, actor, id, req).await?;
    let one = r
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no result")))?;
    if let Some(text) = &one.error {
        return Err(Error::new(
            ErrorCode::NetworkCommandError,
            format!("the device refused '{}': {}", one.command, text.trim()),
        )
        .with_detail("command", text.trim().to_string()));
    }
    Ok(one)
}
