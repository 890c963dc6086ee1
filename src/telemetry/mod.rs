//! Logging: to journald when its socket exists (running under systemd), else
//! human-readable or JSON lines on stderr. `RUST_LOG` overrides the configured level.
//!
//! With `log.file` set, the same lines are also written to that file (like Vault's
//! `log_file`) through `tracing-appender`: rotated daily (`<stem>.<YYYY-MM-DD>.<ext>`),
//! keeping `log.max_files`, written by a background thread so a slow disk never holds
//! up a request. Backups with `include_logs` carry these files ([`LogFiles`]).

use crate::settings::{LogFormat, LogSettings};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

pub mod request_id;

const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Lets SIGHUP change the level without restarting (for every output: one filter).
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

/// The files `log.file` produces: `<dir>/<prefix>.<YYYY-MM-DD>[.<suffix>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// Directory of the configured `log.file`, where the daily files live.
    pub dir: PathBuf,
    /// The configured file's stem (`mcpd` for `mcpd.log`).
    pub prefix: String,
    /// The configured file's extension (`log`), if any.
    pub suffix: Option<String>,
}

impl LogFiles {
    /// `None` when `log.file` is unset.
    pub fn from_config(cfg: &LogSettings) -> Option<LogFiles> {
        let file = cfg.file.as_ref()?;
        Some(LogFiles {
            dir: file
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            prefix: file.file_stem()?.to_string_lossy().into_owned(),
            suffix: file.extension().map(|e| e.to_string_lossy().into_owned()),
        })
    }

    /// Whether `name` is one of the rotated files (a date between prefix and suffix),
    /// so nothing else in the directory is ever picked up.
    pub fn is_log_file(&self, name: &str) -> bool {
        let Some(rest) = name
            .strip_prefix(&self.prefix)
            .and_then(|r| r.strip_prefix('.'))
        else {
            return false;
        };
        let date = match &self.suffix {
            Some(s) => match rest
                .strip_suffix(s.as_str())
                .and_then(|r| r.strip_suffix('.'))
            {
                Some(d) => d,
                None => return false,
            },
            None => rest,
        };
        date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    }

    /// The rotated log files present now (regular files only), by name: oldest first.
    pub fn list(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| self.is_log_file(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }
}

/// Keeps the log file writer's background thread alive; dropping it flushes what is
/// buffered. Hold it for the life of the process.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

type Base = tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type BoxedLayer = Box<dyn Layer<Base> + Send + Sync>;

/// Installs the global subscriber (once per process; later calls change nothing).
/// Errors when `log.file` is set and its directory cannot be created or written.
pub fn init(cfg: &LogSettings) -> anyhow::Result<LogGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let mut layers: Vec<BoxedLayer> = vec![console_layer(cfg.format)];
    let mut guard = None;
    if let Some(files) = LogFiles::from_config(cfg) {
        std::fs::create_dir_all(&files.dir)
            .with_context(|| format!("creating the log directory {}", files.dir.display()))?;
        let mut b = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(&files.prefix)
            .max_log_files(cfg.max_files.max(1));
        if let Some(s) = &files.suffix {
            b = b.filename_suffix(s);
        }
        let appender = b
            .build(&files.dir)
            .with_context(|| format!("opening log.file in {}", files.dir.display()))?;
        let (writer, g) = tracing_appender::non_blocking(appender);
        guard = Some(g);
        layers.push(lines(cfg.format, writer, false));
    }
    if tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
    Ok(LogGuard(guard))
}

/// Under systemd stderr also goes to the journal; prefer the native protocol there
/// (structured fields), and fall back to stderr when the socket is absent or refuses.
fn console_layer(format: LogFormat) -> BoxedLayer {
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    if under_systemd
        && std::path::Path::new(JOURNAL_SOCKET).exists()
        && let Ok(layer) = tracing_journald::layer()
    {
        return layer.with_syslog_identifier("mcpd".into()).boxed();
    }
    // Colours only on a terminal: pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    lines(format, std::io::stderr, ansi)
}

/// Log lines in `format` to `writer` (colours in text only when `ansi`).
fn lines<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rotated_files_are_log_files() {
        let cfg = LogSettings {
            file: Some("/var/log/mcpd/mcpd.log".into()),
            ..LogSettings::default()
        };
        let f = LogFiles::from_config(&cfg).unwrap();
        assert_eq!(f.dir, PathBuf::from("/var/log/mcpd"));
        assert!(f.is_log_file("mcpd.2026-01-31.log"));
        for other in [
            "mcpd.log",
            "mcpd.2026-01-31.log.gz",
            "other.2026-01-31.log",
            "mcpd.2026-1-31.log",
            "mcpd.x026-01-31.log",
        ] {
            assert!(!f.is_log_file(other), "{other}");
        }
        let bare = LogFiles::from_config(&LogSettings {
            file: Some("/logs/mcpd".into()),
            ..LogSettings::default()
        })
        .unwrap();
        assert!(bare.is_log_file("mcpd.2026-01-31") && !bare.is_log_file("mcpd.2026-01-31.log"));
        assert_eq!(LogFiles::from_config(&LogSettings::default()), None);
    }
}
