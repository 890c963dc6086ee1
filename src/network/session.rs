//! Opening a device's session for the pool and running work on it: credentials opened
//! and resolved, the host key checked (or pinned on first use, audited), the CLI
//! started in privileged EXEC, `show version` read for the device's facts. A pooled
//! session that died since its last use (the device closed it, the TCP connection is
//! gone) is reopened once before the work runs; work that fails with the session
//! leaves the pool without it.

use super::cli::Shell;
use super::model::{DeviceRecord, DeviceType, SystemInfo};
use super::netconf::Netconf;
use super::pool::{Link, Live, blocking};
use super::ssh::{self, Target};
use super::{credentials, facts, store};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use serde_json::json;
use std::time::{Duration, Instant};

fn connect_timeout(app: &App) -> Duration {
    Duration::from_secs(app.settings.network.connect_timeout_s)
}

/// The link of a new session: the CLI in privileged EXEC with what `show version` says
/// (IOS, NX-OS), or NETCONF with what `<get-software-information/>` says, when the
/// device answers it (Junos).
fn start_link(
    o: &ssh::Opened,
    kind: DeviceType,
    enable_secret: Option<&str>,
    timeout: std::time::Duration,
) -> Result<(Link, SystemInfo)> {
    if kind == DeviceType::JuniperJunos {
        let mut nc = Netconf::start(&o.session, timeout)?;
        let sw = nc.rpc(
            "<get-software-information/>",
            ErrorCode::NetworkCommandError,
            timeout,
        );
        let info = sw.map(|r| facts::from_junos(&r)).unwrap_or_default();
        return Ok((Link::Netconf(nc), info));
    }
    let mut shell = Shell::start(&o.session, enable_secret, timeout)?;
    let version = shell.run("show version", timeout)?;
    let info = facts::from_show_version(&version.text, &shell.hostname);
    Ok((Link::Cli(shell), info))
}

/// Opens a new session to `rec`'s device. A first connection pins the host key it saw
/// (audited as `network.devices.host_key_pinned`). Errors: `NETWORK_CONNECTION_ERROR`
/// (connect, handshake, changed host key, login, no prompt, enable refused).
async fn open(app: &App, actor: &Actor, rec: &DeviceRecord) -> Result<Live> {
    let d = &rec.device;
    let kind = d.device_type;
    let creds = credentials::resolved(app, &d.id, &rec.sealed).await?;
    let timeout = d
        .connection_options
        .timeout
        .map_or_else(|| connect_timeout(app), std::time::Duration::from_secs);
    let keepalive = d.connection_options.keepalive.filter(|k| *k > 0);
    let (host, user, pinned) = (
        d.host.clone(),
        d.username.clone(),
        d.host_key_fingerprint.clone(),
    );
    let port = d.port;
    let opened = blocking(move || {
        let t = Target {
            host: &host,
            port,
            username: &user,
            credentials: &creds,
            pinned: pinned.as_deref(),
            timeout,
        };
        let o = ssh::open(&t)?;
        if let Some(k) = keepalive {
            o.session.set_keepalive(false, k);
        }
        let (link, info) = start_link(&o, kind, creds.enable_secret.as_deref(), timeout)?;
        Ok::<_, Error>((o, link, info))
    })
    .await?;
    let (o, link, info) = match opened {
        Ok(x) => x,
        Err(e) => {
            let (id, msg) = (d.id.clone(), e.message.clone());
            app.store
                .write(move |tx| store::record_disconnected(tx, &id, Some(&msg)))
                .await?;
            return Err(e);
        }
    };
    let now = crate::time::now_rfc3339();
    let (id, fp, first) = (
        d.id.clone(),
        o.fingerprint.clone(),
        d.host_key_fingerprint.is_none(),
    );
    let (actor, at) = (actor.clone(), now.clone());
    app.store
        .write(move |tx| {
            if first {
                store::pin_host_key(tx, &id, &fp)?;
                audit::record(
                    tx,
                    &actor,
                    &Entry::new("network.devices.host_key_pinned")
                        .on("device", &id)
                        .details(json!({"fingerprint": fp, "how": "first connection"})),
                )?;
            }
            store::record_connected(tx, &id, Some(&info), &at)
        })
        .await?;
    Ok(Live {
        session: o.session,
        link,
        generation: rec.generation,
        keepalive: keepalive.is_some(),
        opened_at: now,
        used: Instant::now(),
    })
}

/// Whether a pooled session still answers (a keepalive goes out, the channel is open).
fn alive(live: &mut Live) -> bool {
    live.session.keepalive_send().is_ok()
        && match &mut live.link {
            Link::Cli(shell) => shell.is_open(&live.session),
            Link::Netconf(nc) => nc.is_open(),
        }
}

/// Runs `work` on device `rec`'s session, opening one when there is none (or the
/// pooled one is stale or dead). Work on one device waits for the work before it.
/// The session goes back to the pool unless the work failed with the session
/// (`NETWORK_CONNECTION_ERROR`, `GATEWAY_TIMEOUT`).
pub async fn with_session<T, F>(app: &App, actor: &Actor, rec: &DeviceRecord, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Live) -> Result<T> + Send + 'static,
{
    let slot = app.network.slot(&rec.device.id);
    let mut guard = slot.lock().await;
    let pooled = guard.live.take().filter(|l| l.generation == rec.generation);
    let pooled = match pooled {
        Some(mut l) => blocking(move || alive(&mut l).then_some(l)).await?,
        None => None,
    };
    let live = match pooled {
        Some(l) => l,
        None => open(app, actor, rec).await?,
    };
    let (mut live, result) = blocking(move || {
        let mut live = live;
        let r = work(&mut live);
        (live, r)
    })
    .await?;
    live.used = Instant::now();
    let broken = matches!(
        &result,
        Err(e) if matches!(e.code, ErrorCode::NetworkConnectionError | ErrorCode::GatewayTimeout)
    );
    if broken {
        let (id, msg) = (
            rec.device.id.clone(),
            result.as_ref().err().map(|e| e.message.clone()),
        );
        app.store
            .write(move |tx| store::record_disconnected(tx, &id, msg.as_deref()))
            .await?;
    } else {
        guard.live = Some(live);
    }
    result
}
