//! Shapes of the network devices API: what a caller sends to register or change a
//! device, what mcpd keeps of it, and what it answers. Credentials are never part of an
//! answer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The platforms mcpd drives, by their Netmiko / NAPALM names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// Cisco IOS / IOS-XE over an SSH shell.
    CiscoIos,
    /// Cisco NX-OS over an SSH shell.
    CiscoNxos,
    /// Juniper Junos over NETCONF (SSH subsystem `netconf`, RFC 6242).
    JuniperJunos,
}

impl DeviceType {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::CiscoIos => "cisco_ios",
            DeviceType::CiscoNxos => "cisco_nxos",
            DeviceType::JuniperJunos => "juniper_junos",
        }
    }

    /// The stored form back; `None` for anything else.
    pub fn parse(s: &str) -> Option<DeviceType> {
        match s {
            "cisco_ios" => Some(DeviceType::CiscoIos),
            "cisco_nxos" => Some(DeviceType::CiscoNxos),
            "juniper_junos" => Some(DeviceType::JuniperJunos),
            _ => None,
        }
    }
}

/// `POST /network/devices` and `PUT /network/devices/{id}`: `password` or
/// `private_key` (PEM, with `passphrase` when it is encrypted); each secret may be a
/// `${secret:<key>}` reference to a config entry, resolved at every connection.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Unique name, 1–63 of `a-z 0-9 - _ .`, starting with a letter or digit.
    pub name: String,
    /// Host name or IP address of the device's SSH server (seed spelling `hostname`).
    #[serde(alias = "hostname")]
    pub host: String,
    /// SSH port, default 22 (830 is NETCONF's own port, RFC 6242).
    #[serde(default)]
    pub port: Option<u16>,
    /// The platform (seed spelling `type`).
    #[serde(alias = "type")]
    pub device_type: DeviceType,
    /// Login user (or `credentials.username`).
    #[serde(default)]
    pub username: Option<String>,
    /// Login password.
    #[serde(default)]
    pub password: Option<String>,
    /// Private key, PEM (OpenSSH or traditional), or base64 of one.
    #[serde(default, alias = "ssh_key")]
    pub private_key: Option<String>,
    /// Passphrase of an encrypted `private_key`.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// The `enable` secret (Cisco privileged EXEC).
    #[serde(default)]
    pub enable_secret: Option<String>,
    /// The expected SSH host key, `SHA256:<base64>` as `ssh-keygen -lf` prints it;
    /// without it the first connection pins the key it sees (trust on first use).
    #[serde(default)]
    pub host_key_fingerprint: Option<String>,
    /// Free labels, at most 32 of 1–63 characters.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Free text, at most 1 KiB.
    #[serde(default)]
    pub description: Option<String>,
    /// The seed's spelling of the login: `{username, password | ssh_key}`; a field
    /// may be given here or flat, not both.
    #[serde(default)]
    pub credentials: Option<SeedCredentials>,
    /// Per-device session options.
    #[serde(default)]
    pub connection_options: Option<ConnectionOptions>,
}

/// `credentials` as seed 004 nests them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedCredentials {
    /// Login user.
    #[serde(default)]
    pub username: Option<String>,
    /// Login password.
    #[serde(default)]
    pub password: Option<String>,
    /// Private key, PEM or base64 of PEM.
    #[serde(default, alias = "private_key")]
    pub ssh_key: Option<String>,
    /// Its passphrase.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Per-device session options (seed 004 `connection_options`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionOptions {
    /// Seconds to connect and log in (1–300; default `network.connect_timeout_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Seconds between SSH keepalives on an open session (0 or absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u32>,
    /// Connect right after registering (a failure leaves the device registered with
    /// `status: error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_connect: Option<bool>,
}

/// `PATCH /network/devices/{id}`: only the fields sent change. A change of host, port,
/// username or any credential closes the device's session; `password` and
/// `private_key` replace each other. The pinned host key changes only through
/// `POST …/host-key/accept` (admins).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// New unique name.
    pub name: Option<String>,
    /// New host.
    #[serde(alias = "hostname")]
    pub host: Option<String>,
    /// New port.
    pub port: Option<u16>,
    /// New login user.
    pub username: Option<String>,
    /// New password (drops a private key).
    pub password: Option<String>,
    /// New private key (drops a password).
    #[serde(alias = "ssh_key")]
    pub private_key: Option<String>,
    /// New passphrase of the private key.
    pub passphrase: Option<String>,
    /// New enable secret; `""` removes it.
    pub enable_secret: Option<String>,
    /// New tags (replace the list).
    pub tags: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
    /// New session options (replace the old ones).
    pub connection_options: Option<ConnectionOptions>,
}

/// The secret part of a device, sealed in the vault as one JSON document. Values are
/// as sent: literal or `${secret:…}` references.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// Login password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Private key, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// Its passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// The enable secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_secret: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    /// The values by field name, for checking and resolving references.
    pub fn named(&self) -> BTreeMap<String, String> {
        [
            ("password", &self.password),
            ("private_key", &self.private_key),
            ("passphrase", &self.passphrase),
            ("enable_secret", &self.enable_secret),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect()
    }

    /// Rebuilds from [`Self::named`] (resolved values).
    pub fn from_named(mut m: BTreeMap<String, String>) -> Credentials {
        Credentials {
            password: m.remove("password"),
            private_key: m.remove("private_key"),
            passphrase: m.remove("passphrase"),
            enable_secret: m.remove("enable_secret"),
        }
    }

    /// `password` or `private_key`: how the login is made.
    pub fn auth_method(&self) -> &'static str {
        if self.private_key.is_some() {
            "private_key"
        } else {
            "password"
        }
    }
}

/// A device's session state as answers show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// A session is open in the pool.
    Connected,
    /// No session (never connected, disconnected, or closed when idle).
    Disconnected,
    /// The last connection attempt failed (`error` says why).
    Error,
}

impl DeviceStatus {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Connected => "connected",
            DeviceStatus::Disconnected => "disconnected",
            DeviceStatus::Error => "error",
        }
    }

    /// The stored form back (`disconnected` for anything unknown).
    pub fn parse(s: &str) -> DeviceStatus {
        match s {
            "connected" => DeviceStatus::Connected,
            "error" => DeviceStatus::Error,
            _ => DeviceStatus::Disconnected,
        }
    }
}

/// What `show version` told of the device at its last connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeviceSystemInfo)]
pub struct SystemInfo {
    /// Hardware model.
    #[serde(default)]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default)]
    pub serial: Option<String>,
    /// Software version.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Uptime as the device says it.
    #[serde(default)]
    pub uptime: Option<String>,
    /// The device's host name (from its prompt).
    #[serde(default)]
    pub hostname: Option<String>,
}

/// A device as answers show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Device {
    /// `dev_…`.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// SSH host.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Platform.
    pub device_type: DeviceType,
    /// Login user.
    pub username: String,
    /// `password` or `private_key`.
    pub auth_method: String,
    /// Whether an enable secret is kept.
    pub has_enable_secret: bool,
    /// Labels.
    pub tags: Vec<String>,
    /// Per-device session options.
    pub connection_options: ConnectionOptions,
    /// The pinned host key, `SHA256:<base64>`; `null` until the first connection.
    pub host_key_fingerprint: Option<String>,
    /// Session state.
    pub status: DeviceStatus,
    /// Why the last connection failed, when `status` is `error`.
    pub error: Option<String>,
    /// When a session was last opened (RFC 3339).
    pub last_connected: Option<String>,
    /// From `show version` at the last connection.
    pub system_info: Option<SystemInfo>,
    /// Who registered it.
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A device with what only the domain sees: its sealed credentials and generation.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    /// The public part.
    pub device: Device,
    /// The sealed [`Credentials`].
    pub sealed: String,
    /// Grows at every change of the connection.
    pub generation: i64,
}

/// `POST …/{id}/command`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// One CLI command, one line.
    pub command: String,
    /// Seconds to wait for the prompt after it (default from settings, at most 600;
    /// seed spelling `timeout`).
    #[serde(default, alias = "timeout")]
    pub timeout_s: Option<u64>,
}

/// `POST …/{id}/commands`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandsRequest {
    /// CLI commands, run in order in one session (at most 100).
    pub commands: Vec<String>,
    /// Stop at the first command the device refuses (default true).
    #[serde(default)]
    pub stop_on_error: Option<bool>,
    /// Seconds per command (as in [`CommandRequest`]).
    #[serde(default, alias = "timeout")]
    pub timeout_s: Option<u64>,
}

/// The outcome of one command.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommandResult {
    /// The command as sent.
    pub command: String,
    /// What the device printed, without the echoed command and the prompt.
    pub output: String,
    /// `success`, `error` (the device refused it: `output` has its message) or
    /// `skipped` (after an error with `stop_on_error`).
    pub status: &'static str,
    /// The device's error text, when `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
    /// RFC 3339.
    pub executed_at: String,
}

/// `POST …/{id}/host-key/accept`: pin `fingerprint`, or (without it) the key the device
/// presents now.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptHostKey {
    /// `SHA256:<base64>`.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// `GET …/{id}/status`: the device's session as the pool holds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionStatus {
    /// Device id.
    pub id: String,
    /// Device name.
    pub name: String,
    /// `connected`, `disconnected` or `error`.
    pub status: DeviceStatus,
    /// Why the last connection failed.
    pub error: Option<String>,
    /// When the open session was opened (RFC 3339); `null` without one.
    pub connected_since: Option<String>,
    /// Seconds since the open session was last used.
    pub idle_s: Option<u64>,
    /// Seconds an unused session stays open.
    pub idle_timeout_s: u64,
    /// When a session was last opened.
    pub last_connected: Option<String>,
    /// The pinned host key.
    pub host_key_fingerprint: Option<String>,
}

/// `GET …/{id}/config` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConfigQuery {
    /// `running` (default) or `startup`; Junos: `running` or `candidate`.
    #[serde(default)]
    pub source: Option<String>,
    /// `text` (IOS, NX-OS) or `xml` (Junos): the only format of each platform.
    #[serde(default)]
    pub format: Option<String>,
}

/// A device configuration as read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConfigText {
    /// The configuration as the device prints it (IOS, NX-OS), or the datastore's
    /// `<configuration>` XML one element per line (Junos).
    pub config: String,
    /// Which one.
    pub source: String,
    /// `text` (IOS, NX-OS) or `xml` (Junos).
    pub format: &'static str,
    /// SHA-256 of `config`, hex.
    pub sha256: String,
    /// RFC 3339.
    pub retrieved_at: String,
}

/// How a pushed configuration is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    /// The lines are entered in configuration mode on top of the running config.
    Merge,
    /// The running config becomes exactly the text.
    Replace,
}

/// `PUT …/{id}/config`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPush {
    /// Configuration lines as the device's CLI takes them (at most 1 MiB); Junos: one
    /// XML `<configuration>` element.
    pub config: String,
    /// `merge` (default) or `replace`.
    #[serde(default)]
    pub mode: Option<PushMode>,
    /// Save the result as the startup configuration (default false).
    #[serde(default)]
    pub commit: Option<bool>,
    /// Free text kept in the audit log.
    #[serde(default)]
    pub comment: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PushResult {
    /// `merge` or `replace`.
    pub mode: PushMode,
    /// Lines sent to the device.
    pub lines_applied: usize,
    /// Whether the result was saved as the startup configuration.
    pub committed: bool,
    /// Unified diff of the running configuration before and after (volatile lines
    /// such as timestamps left out); empty when nothing changed.
    pub diff: String,
    /// Whether anything changed.
    pub changed: bool,
}

/// `POST …/{id}/config/commit`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// Free text kept in the audit log.
    #[serde(default)]
    pub comment: Option<String>,
    /// Junos: a confirmed commit, rolled back unless confirmed within this many seconds.
    #[serde(default)]
    pub confirm_timeout_s: Option<u64>,
}

/// The answer of `POST …/{id}/config/commit`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Committed {
    /// Always true.
    pub committed: bool,
    /// RFC 3339.
    pub committed_at: String,
}

/// The answer of `POST …/{id}/config/rollback` (fields in the order answers had).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RolledBack {
    /// Whether the running configuration changed.
    pub changed: bool,
    /// Unified diff of the running configuration before and after.
    pub diff: String,
    /// Always true.
    pub rolled_back: bool,
}

impl RolledBack {
    /// A rollback whose effect was `diff`.
    pub fn of(diff: String) -> RolledBack {
        RolledBack {
            changed: !diff.is_empty(),
            diff,
            rolled_back: true,
        }
    }
}

/// `POST …/{id}/config/rollback`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A config backup id, or (Junos) a rollback number; default: the snapshot taken
    /// before the last push through mcpd (Junos: discard, or `rollback 1`).
    #[serde(default)]
    pub to: Option<RollbackTarget>,
}

/// What a rollback goes back to.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RollbackTarget {
    /// Junos's `rollback N` (0–49).
    Index(u32),
    /// A config backup (`cfb_…`) of the device.
    Backup(String),
}

/// One stored version of a device's configuration (a config backup).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConfigBackup {
    /// `cfb_…`.
    pub id: String,
    /// The device's id.
    pub device_id: String,
    /// `running` or `startup`.
    pub source: String,
    /// `manual` (`POST …/config/backup`) or `schedule` (the poller).
    pub trigger: String,
    /// Bytes of the configuration text.
    pub size: i64,
    /// Lines of the configuration text.
    pub lines: i64,
    /// SHA-256 of the configuration text, hex.
    pub sha256: String,
    /// Free text given with a manual backup.
    pub comment: String,
    /// The user who took it (`null`: the poller).
    pub taken_by: Option<String>,
    /// RFC 3339.
    pub taken_at: String,
    /// The configuration text (`GET /network/config-backups/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// With `?diff_to=<other id>`: unified diff from the other version to this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// `POST …/{id}/config/backup`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// `running` (default) or `startup`.
    #[serde(default)]
    pub source: Option<String>,
    /// Free text kept with the version (at most 1 KiB).
    #[serde(default)]
    pub comment: Option<String>,
}

/// `GET /network/config-backups/{id}` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BackupQuery {
    /// Another version of the same device to diff against.
    #[serde(default)]
    pub diff_to: Option<String>,
}
