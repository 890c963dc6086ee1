//! Logging: to journald when its socket exists (running under systemd), else
//! human-readable or JSON lines on stderr. `RUST_LOG` overrides the configured level.

use crate::config::{LogConfig, LogFormat};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Lets SIGHUP change the level without restarting.
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Replaces the level filter (`log.level` syntax, e.g. `info,mcpd=debug`). Ignored
/// when `RUST_LOG` is set, which always wins.
pub fn set_level(level: &str) -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        return Ok(());
    }
    let filter = EnvFilter::try_new(level)?;
    if let Some(h) = FILTER.get() {
        h.reload(filter)?;
    }
    Ok(())
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let _ = FILTER.set(handle);
    let registry = tracing_subscriber::registry().with(filter);
    // Under systemd stderr also goes to the journal; prefer the native protocol there
    // (structured fields), and fall back to stderr when the socket is absent or refuses.
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    if under_systemd
        && std::path::Path::new(JOURNAL_SOCKET).exists()
        && let Ok(layer) = tracing_journald::layer()
    {
        let _ = registry
            .with(layer.with_syslog_identifier("mcpd".into()))
            .try_init();
        return;
    }
    match cfg.format {
        LogFormat::Json => {
            let _ = registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(std::io::stderr),
                )
                .try_init();
        }
        LogFormat::Text => {
            let _ = registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        // Colours only on a terminal: log files and pipes get plain text.
                        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
                )
                .try_init();
        }
    }
}
