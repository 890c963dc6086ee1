//! The daemon's settings (its own configuration file, not the `/api/v1/config` entries of
//! `configuration`): built-in defaults, then `/etc/mcpd/mcpd.toml` (or `--config`),
//! then `MCPD_<SECTION>__<KEY>` environment variables, then command-line flags.
//! Unknown keys anywhere are rejected with an error that names them (kanidm does the
//! same), and `mcpd configtest` runs exactly this loading and validation.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod observability;
pub use observability::{
    BillingSettings, EventsSettings, MetricsSettings, MonitoringSettings, ResourcesSettings, Size,
};

/// Where the packaged config lives; used when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/mcpd/mcpd.toml";

/// The whole daemon configuration: one field per TOML section (`[server]`, `[log]`, …), each
/// defaulted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[server]`: listener, data directory, TLS, body limit.
    pub server: ServerSettings,
    /// `[log]`: daemon log level, format and file.
    pub log: LogSettings,
    /// `[auth]`: token lifetimes, registration, rate limits.
    pub auth: AuthSettings,
    /// `[docker]`: engine endpoint, managed network, stop timeout, image upload limit.
    pub docker: DockerSettings,
    /// `[mcp]`: call timeouts, request log cap and retention, catalog directory, gateway paging.
    pub mcp: McpSettings,
    /// `[vault]`: master key location.
    pub vault: VaultSettings,
    /// `[backups]`: archive directory, encryption defaults, free-space floor.
    pub backups: BackupsSettings,
    /// `[kubernetes]`: timeouts and the rate tier of the cluster routes.
    pub kubernetes: KubernetesSettings,
    /// `[network]`: SSH timeouts, the session pool and the rate tier of the device routes.
    pub network: NetworkSettings,
    /// `[metrics]`: the exporter address and the sampling interval.
    pub metrics: MetricsSettings,
    /// `[events]`: limits and intervals of the live events WebSocket.
    pub events: EventsSettings,
    /// `[monitoring]`: retention of the monitoring series.
    pub monitoring: MonitoringSettings,
    /// `[resources]`: size templates of `POST /resources`.
    pub resources: ResourcesSettings,
    /// `[billing]`: currency and rates of the billing summary.
    pub billing: BillingSettings,
}

/// `[network]` section. Defaults: 10 s to connect and log in, 30 s per command, idle
/// sessions closed after 300 s, 30 requests per minute per caller on the device routes,
/// configurations polled every 3600 s with 3 retries (Oxidized's defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// Seconds to open the TCP connection, finish the SSH handshake and log in.
    pub connect_timeout_s: u64,
    /// Seconds a command may take when the request gives no `timeout_s`.
    pub command_timeout_s: u64,
    /// Seconds a pooled session may stay unused before it is closed.
    pub idle_timeout_s: u64,
    /// Requests per minute per caller on `/network/…` (besides
    /// `auth.requests_per_minute`); 0 turns this tier off.
    pub requests_per_minute: u32,
    /// Seconds between polls of every device's running configuration (a new config
    /// backup when it changed); 0 turns polling off.
    pub backup_interval_s: u64,
    /// Extra attempts at a device whose poll failed.
    pub backup_retries: u32,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            connect_timeout_s: 10,
            command_timeout_s: 30,
            idle_timeout_s: 300,
            requests_per_minute: 30,
            backup_interval_s: 3600,
            backup_retries: 3,
        }
    }
}

/// `[kubernetes]` section. Defaults: 10 s to connect, 30 s per call, 50 requests per
/// minute per caller on the cluster routes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSettings {
    /// Seconds to open a connection to an API server.
    pub connect_timeout_s: u64,
    /// Seconds one call (not a followed log or an exec) may take.
    pub request_timeout_s: u64,
    /// Requests per minute per caller on `/kubernetes/…` (besides
    /// `auth.requests_per_minute`); 0 turns this tier off.
    pub requests_per_minute: u32,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        KubernetesSettings {
            connect_timeout_s: 10,
            request_timeout_s: 30,
            requests_per_minute: 50,
        }
    }
}

/// `[server]` section. Defaults: `127.0.0.1:8443`, `/var/lib/mcpd`, self-signed TLS, 1 MiB bodies,
/// 30 s grace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port (written to `<data_dir>/listen-addr`).
    pub listen: SocketAddr,
    /// State directory: database, master key, TLS material, backups.
    pub data_dir: PathBuf,
    /// PEM certificate chain; when unset a self-signed certificate is created in the data dir.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Largest accepted request body in bytes (uploads such as image loads excepted).
    pub max_body_bytes: usize,
    /// On SIGTERM, how long in-flight requests may take to finish, in seconds.
    pub shutdown_grace_s: u64,
}

/// Daemon log line format (`log.format`, `--log-format`). The variants' docs are kept out of
/// `--help` (`help = None`), which lists the values on one line.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `text`: human-readable lines (the default).
    #[value(help = None::<&'static str>)]
    Text,
    /// `json`: one JSON object per line.
    #[value(help = None::<&'static str>)]
    Json,
}

/// `[log]` section. Defaults: level `info`, format `text`, no file, 7 files kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `tracing` filter, e.g. `info` or `mcpd=debug,info`. `RUST_LOG` overrides it.
    pub level: String,
    /// Format on stderr and in `file` (journald, when present, gets structured fields
    /// either way).
    pub format: LogFormat,
    /// Also write logs to this file (like Vault's `log_file`), rotated daily: the day's
    /// file is `<stem>.<YYYY-MM-DD>.<ext>` beside it (`/var/log/mcpd/mcpd.log` →
    /// `/var/log/mcpd/mcpd.2026-01-31.log`). Unset: stderr or journald only. Read at start.
    pub file: Option<PathBuf>,
    /// Rotated log files kept (the oldest beyond this are deleted); at least 1.
    pub max_files: usize,
}

/// `[auth]` section. Defaults: access tokens 900 s, refresh 30 days, no registration, 5 failed
/// logins and 1200 requests per minute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Lifetime of an access token (JWT), in seconds.
    pub access_token_ttl_s: u64,
    /// Lifetime of a refresh token and of the login session it belongs to, in seconds.
    pub refresh_token_ttl_s: u64,
    /// Whether `POST /auth/register` creates accounts (as role `viewer`).
    pub allow_registration: bool,
    /// Failed logins allowed per minute per username and client address before 429.
    pub login_failures_per_minute: u32,
    /// Authenticated requests allowed per minute per caller (API key, else user) before
    /// 429 `RATE_LIMIT_EXCEEDED`; the whole minute's worth may come as one burst.
    /// 0 turns the limit off.
    pub requests_per_minute: u32,
}

/// `[docker]` section. Defaults: default socket, network `mcpd`, 10 s stop timeout, 8 GiB image
/// uploads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DockerSettings {
    /// Engine endpoint: `unix:///var/run/docker.sock` or `tcp://127.0.0.1:2375`.
    /// Unset means `DOCKER_HOST` or the default socket.
    pub host: Option<String>,
    /// Bridge network every managed container joins (created when missing).
    pub network: String,
    /// Seconds a container gets to stop on SIGTERM before it is killed.
    pub stop_timeout_s: u32,
    /// Largest image archive `POST /images/load` accepts, in bytes. The upload is
    /// streamed to the engine, so this bounds disk use, not memory.
    pub max_image_upload_bytes: u64,
}

/// `[mcp]` section. Defaults: 60 s calls (at most 600 s), 64 KiB payload cap, 90 days retention,
/// `/etc/mcpd/catalog.d`, 100 items per gateway page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Timeout of one tool/resource/prompt execution when the request gives none, in seconds.
    pub call_timeout_s: u64,
    /// Largest `timeout_s` a request may ask for, in seconds.
    pub max_call_timeout_s: u64,
    /// Arguments and results are kept in the request log up to this many bytes each.
    pub request_log_payload_cap_bytes: usize,
    /// Request log rows older than this many days are deleted (hourly, in small
    /// batches); the usage rollups are kept, so usage still answers for whole days of
    /// older windows. 0 keeps every row.
    pub request_log_retention_days: u32,
    /// Directory of extra built-in MCP catalog entries (`*.json`, one entry each); a file
    /// replaces a shipped entry of the same name. A missing directory adds nothing.
    pub catalog_dir: PathBuf,
    /// Items per page of the `/mcp` gateway's `tools/list`, `resources/list`,
    /// `resources/templates/list` and `prompts/list` (MCP cursor pagination, spec
    /// "Pagination"); 0 sends every item in one page.
    pub gateway_page_size: usize,
}

/// `[vault]` section (no key file set by default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// Master key file (64 hex digits or 32 bytes, mode 0600). Unset: systemd's
    /// `$CREDENTIALS_DIRECTORY/master.key` when present, else `<data_dir>/master.key`
    /// (created at init).
    pub master_key_file: Option<PathBuf>,
}

/// `[backups]` section. Defaults: `<data_dir>/backups`, no passphrase, recipient or identity, 64
/// MiB free.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupsSettings {
    /// Where archives are written. Unset: `<data_dir>/backups`.
    pub dir: Option<PathBuf>,
    /// File holding the passphrase used when a request asks for encryption without
    /// giving one (scheduled backups), and to open such archives on restore.
    pub passphrase_file: Option<PathBuf>,
    /// age X25519 recipient (`age1…`) used when encryption is asked for without a
    /// passphrase; preferred over `passphrase_file` for unattended backups.
    pub recipient: Option<String>,
    /// age identity file (`AGE-SECRET-KEY-1…`) that opens archives made for `recipient`.
    pub identity_file: Option<PathBuf>,
    /// A backup does not start unless this many bytes stay free after it (estimated).
    pub min_free_bytes: u64,
}

impl Default for BackupsSettings {
    fn default() -> Self {
        Self {
            dir: None,
            passphrase_file: None,
            recipient: None,
            identity_file: None,
            min_free_bytes: 64 * 1024 * 1024,
        }
    }
}

impl BackupsSettings {
    /// The effective archive directory.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("backups"))
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("/var/lib/mcpd"),
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_s: 30,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            file: None,
            max_files: 7,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_s: 15 * 60,
            refresh_token_ttl_s: 30 * 24 * 3600,
            allow_registration: false,
            login_failures_per_minute: 5,
            requests_per_minute: 1200,
        }
    }
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            host: None,
            network: "mcpd".into(),
            stop_timeout_s: 10,
            max_image_upload_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            call_timeout_s: 60,
            max_call_timeout_s: 600,
            request_log_payload_cap_bytes: 64 * 1024,
            request_log_retention_days: 90,
            catalog_dir: PathBuf::from("/etc/mcpd/catalog.d"),
            gateway_page_size: 100,
        }
    }
}

/// Values from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`: replaces `server.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `serve --listen`: replaces `server.listen`.
    pub listen: Option<SocketAddr>,
    /// `--log-format`: replaces `log.format`.
    pub log_format: Option<LogFormat>,
}

impl Settings {
    /// Loads and validates. `path` is `--config`; when `None` the default path is read
    /// only if it exists. `env` is the process environment (a parameter for tests).
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(p) => {
                if !p.is_file() {
                    bail!("config file {} does not exist", p.display());
                }
                fig = fig.merge(Toml::file_exact(p));
            }
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => {
                fig = fig.merge(Toml::file_exact(DEFAULT_CONFIG_PATH));
            }
            None => {}
        }
        // Only `MCPD_<SECTION>__<KEY>` variables are config; others with the prefix
        // (MCPD_ADMIN_PASSWORD …) belong to other parts and are not keys here.
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("MCPD_") && k.contains("__"))
            .collect();
        let fig = fig.merge(env_layer(vars));
        let mut cfg: Settings = fig.extract().map_err(|e| {
            anyhow::anyhow!(
                "invalid configuration: {}",
                e.to_string().replace('\n', "; ")
            )
        })?;
        if let Some(d) = &overrides.data_dir {
            cfg.server.data_dir = d.clone();
        }
        if let Some(l) = overrides.listen {
            cfg.server.listen = l;
        }
        if let Some(f) = overrides.log_format {
            cfg.log.format = f;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        let s = &self.server;
        if s.tls_cert_file.is_some() != s.tls_key_file.is_some() {
            bail!("server.tls_cert_file and server.tls_key_file must be set together");
        }
        for f in [&s.tls_cert_file, &s.tls_key_file].into_iter().flatten() {
            if !f.is_file() {
                bail!("TLS file {} does not exist", f.display());
            }
        }
        if s.max_body_bytes < 1024 {
            bail!("server.max_body_bytes must be at least 1024");
        }
        if self.auth.access_token_ttl_s == 0 || self.auth.refresh_token_ttl_s == 0 {
            bail!("auth token lifetimes must be positive");
        }
        if self.auth.login_failures_per_minute == 0 {
            bail!("auth.login_failures_per_minute must be at least 1");
        }
        let k = &self.kubernetes;
        if !(1..=300).contains(&k.connect_timeout_s) || !(1..=3600).contains(&k.request_timeout_s) {
            bail!(
                "kubernetes.connect_timeout_s must be 1 to 300 and kubernetes.request_timeout_s 1 to 3600"
            );
        }
        let n = &self.network;
        if !(1..=300).contains(&n.connect_timeout_s)
            || !(1..=3600).contains(&n.command_timeout_s)
            || n.idle_timeout_s == 0
        {
            bail!(
                "network.connect_timeout_s must be 1 to 300, network.command_timeout_s 1 to 3600 and network.idle_timeout_s at least 1"
            );
        }
        self.metrics.validate(self.server.listen)?;
        self.events.validate()?;
        self.monitoring.validate()?;
        self.resources.validate()?;
        self.billing.validate()?;
        if self.mcp.call_timeout_s == 0 || self.mcp.call_timeout_s > self.mcp.max_call_timeout_s {
            bail!("mcp.call_timeout_s must be between 1 and mcp.max_call_timeout_s");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .with_context(|| format!("log.level '{}' is not a valid filter", self.log.level))?;
        if self.docker.network.is_empty() {
            bail!("docker.network must not be empty");
        }
        if self.log.max_files == 0 {
            bail!("log.max_files must be at least 1");
        }
        if let Some(f) = &self.log.file
            && (f.file_name().is_none() || !f.is_absolute())
        {
            bail!("log.file must be an absolute path to a file, e.g. /var/log/mcpd/mcpd.log");
        }
        Ok(())
    }
}

/// The environment layer from explicit pairs rather than the process environment (so
/// `load` is deterministic in tests): `MCPD_SERVER__LISTEN` → `server.listen`.
fn env_layer(vars: Vec<(String, String)>) -> Figment {
    let mut fig = Figment::new();
    for (k, v) in vars {
        let key = k["MCPD_".len()..].to_ascii_lowercase().replace("__", ".");
        // Values are parsed like figment's Env does (TOML-ish scalars: numbers, bools).
        let value: figment::value::Value = v.parse().unwrap_or(figment::value::Value::from(v));
        fig = fig.merge(Serialized::global(&key, value));
    }
    fig
}

/// Reads a secret from `NAME`, or from the file named by `NAME_FILE` (vaultwarden's
/// convention, for Docker and systemd credentials). Trailing newlines are trimmed.
pub fn secret_from_env(name: &str) -> anyhow::Result<Option<String>> {
    if let Ok(v) = std::env::var(name) {
        return Ok(Some(v));
    }
    if let Ok(path) = std::env::var(format!("{name}_FILE")) {
        let v = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {name}_FILE ({path})"))?;
        return Ok(Some(v.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("mcpd.toml");
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[server]\nlisten = \"127.0.0.1:9000\"\nmax_body_bytes = 2048\n[auth]\naccess_token_ttl_s = 60\n",
        );
        let env = vec![
            (
                "MCPD_AUTH__ACCESS_TOKEN_TTL_S".to_string(),
                "120".to_string(),
            ),
            ("MCPD_ADMIN_PASSWORD".to_string(), "not config".to_string()),
        ];
        let ov = Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        };
        let c = Settings::load(Some(&p), env, &ov).unwrap();
        assert_eq!(c.server.listen.port(), 0);
        assert_eq!(c.server.max_body_bytes, 2048);
        assert_eq!(c.auth.access_token_ttl_s, 120);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[server]\nlisen = \"127.0.0.1:9000\"\n");
        let e = Settings::load(Some(&p), vec![], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let p = write(dir.path(), "[nope]\nx = 1\n");
        let e = Settings::load(Some(&p), vec![], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let env = vec![("MCPD_SERVER__BOGUS".to_string(), "1".to_string())];
        let e = Settings::load(None, env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[server]\nlisten = \"nowhere\"\n");
        assert!(Settings::load(Some(&p), vec![], &Overrides::default()).is_err());
        let p = write(
            dir.path(),
            "[server]\ntls_cert_file = \"/nonexistent.pem\"\n",
        );
        assert!(Settings::load(Some(&p), vec![], &Overrides::default()).is_err());
        assert!(
            Settings::load(
                Some(&dir.path().join("missing.toml")),
                vec![],
                &Overrides::default()
            )
            .is_err()
        );
    }

    #[test]
    fn shipped_default_config_is_valid_and_matches_defaults() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/mcpd.toml");
        let c = Settings::load(Some(&p), vec![], &Overrides::default()).unwrap();
        assert_eq!(c, Settings::default());
    }
}
