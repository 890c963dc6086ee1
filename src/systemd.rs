//! systemd integration beyond READY/STOPPING: the watchdog and SIGHUP reload.
//!
//! Protocol: sd_notify(3). The watchdog is kept alive only while the database answers,
//! so a wedged daemon is restarted by systemd (`WatchdogSec=` in the unit).

use crate::app::App;
use crate::settings::Settings;
use std::sync::Arc;
use std::time::Duration;

/// Sends `RELOADING=1` with `MONOTONIC_USEC=` (sd_notify(3): required by
/// `Type=notify-reload`, accepted by `Type=notify`) and a status line.
fn notify_reloading() {
    let mut states = vec![
        sd_notify::NotifyState::Reloading,
        sd_notify::NotifyState::Status("reloading the configuration"),
    ];
    if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    let _ = sd_notify::notify(false, &states);
}

/// Re-reads the configuration from the same file, environment and flags as at start.
pub type SettingsLoader = Box<dyn Fn() -> anyhow::Result<Settings> + Send + Sync>;

/// When systemd asked for a watchdog (`WATCHDOG_USEC`), pings it at half the interval
/// as long as the database answers a trivial query.
pub fn spawn_watchdog(app: &Arc<App>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match tokio::time::timeout(every, app2.store.ping()).await {
                Ok(Ok(())) => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                    tracing::debug!("database answered; watchdog ping sent");
                }
                _ => tracing::warn!("database did not answer; withholding the watchdog ping"),
            }
        }
    });
}

/// On SIGHUP: re-reads the configuration; when it is valid, reloads the TLS
/// certificate and key (from the configured files, or the self-signed pair in the data
/// dir) and the log level, and names the changed settings that need a restart. An
/// invalid configuration is logged and changes nothing. `hup` is installed before the
/// listener binds; `listening` is the `STATUS=` line restored after each reload.
pub fn spawn_reload(
    app: &Arc<App>,
    tls: axum_server::tls_rustls::RustlsConfig,
    load: SettingsLoader,
    mut hup: tokio::signal::unix::Signal,
    listening: String,
) {
    let app2 = app.clone();
    app.tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            notify_reloading();
            match reload(&app2.settings, &tls, &load).await {
                Ok(needs_restart) if needs_restart.is_empty() => {
                    tracing::info!("configuration reloaded");
                }
                Ok(needs_restart) => tracing::warn!(
                    "configuration reloaded; changes to {} take effect after a restart",
                    needs_restart.join(", ")
                ),
                Err(e) => {
                    tracing::error!("reload failed, keeping the running configuration: {e:#}")
                }
            }
            let _ = sd_notify::notify(
                false,
                &[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Status(&listening),
                ],
            );
        }
    });
}

async fn reload(
    running: &Settings,
    tls: &axum_server::tls_rustls::RustlsConfig,
    load: &SettingsLoader,
) -> anyhow::Result<Vec<&'static str>> {
    let new = load()?;
    let files = crate::http::tls::resolve(&new.server)?;
    let server_config = crate::http::tls::server_config(&files)?;
    tls.reload_from_config(server_config);
    let fp = crate::http::tls::fingerprint(&files.cert)?;
    tracing::info!(tls_sha256 = %fp, "TLS certificate reloaded");
    crate::telemetry::set_level(&new.log.level)?;
    Ok(restart_needed(running, &new))
}

/// Sections whose changes are read only at start.
fn restart_needed(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let (o, n) = (&old.server, &new.server);
    if o.listen != n.listen {
        out.push("server.listen");
    }
    if o.data_dir != n.data_dir {
        out.push("server.data_dir");
    }
    if o.max_body_bytes != n.max_body_bytes || o.shutdown_grace_s != n.shutdown_grace_s {
        out.push("server");
    }
    if old.log.format != new.log.format {
        out.push("log.format");
    }
    if old.log.file != new.log.file || old.log.max_files != new.log.max_files {
        out.push("log.file");
    }
    if old.auth != new.auth {
        out.push("auth");
    }
    if old.docker != new.docker {
        out.push("docker");
    }
    if old.mcp != new.mcp {
        out.push("mcp");
    }
    let sections = [
        ("kubernetes", old.kubernetes != new.kubernetes),
        ("network", old.network != new.network),
        ("metrics", old.metrics != new.metrics),
        ("events", old.events != new.events),
        ("monitoring", old.monitoring != new.monitoring),
        ("resources", old.resources != new.resources),
        ("billing", old.billing != new.billing),
    ];
    out.extend(
        sections
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(s, _)| s),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_reloadable_changes_need_no_restart() {
        let old = Settings::default();
        let mut new = old.clone();
        new.log.level = "debug".into();
        new.server.tls_cert_file = Some("/etc/mcpd/tls/cert.pem".into());
        assert!(restart_needed(&old, &new).is_empty());
    }

    #[test]
    fn start_time_settings_are_named() {
        let old = Settings::default();
        let mut new = old.clone();
        new.server.listen = "127.0.0.1:9443".parse().unwrap();
        new.docker.network = "other".into();
        new.auth.allow_registration = !old.auth.allow_registration;
        new.log.file = Some("/var/log/mcpd/mcpd.log".into());
        assert_eq!(
            restart_needed(&old, &new),
            vec!["server.listen", "log.file", "auth", "docker"]
        );
    }
}
