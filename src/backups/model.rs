//! The shapes of the backups domain: a backup's options and row as the API shows them
//! (`docs/api.md`, "Backups and schedules"), a schedule's, and what an online restore
//! covers; the request bodies of those endpoints ([`BackupRequest`], [`ScheduleRequest`],
//! [`RestoreRequest`]) and how each becomes the domain's input. Rules that need nothing
//! but the value itself ([`BackupOptions::validate`]) live here too.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

use super::archive::Manifest;

/// `full` copies everything asked for; `incremental` copies the database and config in
/// full but of each volume only the files changed since its base (the newest completed
/// backup holding the same volumes), naming that base.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    /// Everything asked for, in full (the default).
    #[default]
    Full,
    /// Database and config in full; of each volume only the files changed since the base.
    Incremental,
}

impl BackupType {
    /// `"full"` or `"incremental"`, as stored in the `type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Incremental => "incremental",
        }
    }
}

/// What a backup holds and how it is packed (stored with the row, and with a schedule).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BackupOptions {
    /// `full` or `incremental`.
    pub r#type: BackupType,
    /// The database: users, API keys, services, MCP servers, configuration entries and
    /// their sealed secrets.
    pub include_data: bool,
    /// The effective daemon configuration.
    pub include_config: bool,
    /// Logs: the request logs (a database table; `false` empties it in the copy) and
    /// the daemon's log files when `log.file` is set (under `logs/daemon/` in the
    /// archive; a restore never writes them back over live logs).
    pub include_logs: bool,
    /// The vault master key; only with `encrypt` (and `backups:admin`).
    pub include_master_key: bool,
    /// Services (ids or names) whose volumes to archive.
    pub services: Vec<String>,
    /// Pause those services' running containers while their volumes are read (a
    /// consistent copy at the cost of a pause).
    #[serde(default)]
    pub pause_services: bool,
    /// zstd level 3.
    pub compress: bool,
    /// age, with the request's passphrase/recipient or the configured one.
    pub encrypt: bool,
    /// Free text, at most 1024 bytes, no control characters (`""` when none).
    pub description: String,
}

impl Default for BackupOptions {
    fn default() -> Self {
        Self {
            r#type: BackupType::Full,
            include_data: true,
            include_config: true,
            include_logs: false,
            include_master_key: false,
            services: Vec::new(),
            pause_services: false,
            compress: true,
            encrypt: false,
            description: String::new(),
        }
    }
}

impl BackupOptions {
    /// Rules that do not depend on the request's secrets.
    pub fn validate(&self) -> Result<()> {
        if !self.include_data && !self.include_config {
            return Err(Error::field(
                "include_data",
                "a backup needs include_data or include_config",
            ));
        }
        if self.r#type == BackupType::Incremental && self.services.is_empty() {
            return Err(Error::field(
                "type",
                "an incremental backup carries changed volume files: list services",
            ));
        }
        if self.pause_services && self.services.is_empty() {
            return Err(Error::field("pause_services", "needs services"));
        }
        if self.include_master_key && !self.encrypt {
            return Err(Error::field(
                "include_master_key",
                "the master key is only ever put into an encrypted archive (set encrypt)",
            ));
        }
        crate::text::description(&self.description)?;
        Ok(())
    }
}

/// `queued | running | completed | failed`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupStatus)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the backup running now to end.
    Queued,
    /// Being written.
    Running,
    /// Written, verified, and renamed into place.
    Completed,
    /// Stopped with an error (`error` says why).
    Failed,
}

/// A backup as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Backup {
    /// `bkp_…`.
    pub id: String,
    /// `queued`, `running`, `completed` or `failed` (see [`Status`]).
    #[schema(value_type = Status)]
    pub status: String,
    /// The options it was made with, flattened into the object.
    #[serde(flatten)]
    pub options: BackupOptions,
    /// 0–100.
    pub progress_pct: u8,
    /// Archive size in bytes once completed.
    pub size_bytes: Option<u64>,
    /// Hex SHA-256 of the archive file (what `download` sends).
    pub sha256: Option<String>,
    /// `<id>.tar[.zst][.age]` in the backups directory, once completed.
    pub file_name: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The schedule (`bks_…`) that made it; null for a backup asked for through the API.
    pub schedule_id: Option<String>,
    /// User id (`usr_…`) that asked for it; null for scheduled runs.
    pub created_by: Option<String>,
    /// RFC 3339 UTC timestamp of the request.
    pub created_at: String,
    /// RFC 3339 UTC; null while queued.
    pub started_at: Option<String>,
    /// RFC 3339 UTC end, success or failure; null until then.
    pub completed_at: Option<String>,
    /// The archive's manifest once completed.
    pub manifest: Option<Manifest>,
}

/// What each run of a schedule does: the backup options plus an optional age recipient
/// (passphrases are never stored; encrypted schedules without a recipient use
/// `backups.passphrase_file` or `backups.recipient`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupRunOptions)]
pub struct RunOptions {
    /// The options of the backup each run makes, flattened into the object.
    #[serde(flatten)]
    pub backup: BackupOptions,
    /// age X25519 recipient (`age1…`) for encrypted runs; null: the configured one.
    pub recipient: Option<String>,
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = BackupSchedule)]
pub struct Schedule {
    /// `bks_…`.
    pub id: String,
    /// 1–64 of letters, digits, `-`, `_`, `.`; unique among schedules.
    pub name: String,
    /// As given (trimmed): 5-field crontab, 6-field with seconds, or an `@` shortcut.
    pub cron_expression: String,
    /// IANA time zone the expression is evaluated in, e.g. `UTC`, `Europe/Berlin`.
    pub timezone: String,
    /// What each run does, flattened into the object.
    #[serde(flatten)]
    pub options: RunOptions,
    /// Prune this schedule's backups older than this (`7d`, `12h`); null: none by age.
    pub retention: Option<String>,
    /// Keep at most this many completed backups (≥ 1); null: no limit.
    pub keep_last: Option<u32>,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// RFC 3339 UTC time of the next run; null when disabled.
    pub next_run_at: Option<String>,
    /// RFC 3339 UTC time of the last run; null before the first.
    pub last_run_at: Option<String>,
    /// `running`, `completed`, `failed`, or `skipped` (previous run still going).
    pub last_status: Option<String>,
    /// The backup (`bkp_…`) the last run made; null before the first.
    pub last_backup_id: Option<String>,
    /// User id (`usr_…`) of its creator; null when the caller was not a user.
    pub created_by: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; changes at each `PUT`, not at runs.
    pub updated_at: String,
}

/// Writable fields (create and `PUT`).
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    /// 1–64 of letters, digits, `-`, `_`, `.`; unique among schedules.
    pub name: String,
    /// 5-field crontab, 6-field with leading seconds, or an `@` shortcut.
    pub cron_expression: String,
    /// IANA time zone name the expression is evaluated in.
    pub timezone: String,
    /// The options of every run, and its age recipient.
    pub options: RunOptions,
    /// Age limit for pruning: a positive number and unit `s`, `m`, `h`, `d`, `w`.
    pub retention: Option<String>,
    /// Count limit for pruning completed backups (≥ 1).
    pub keep_last: Option<u32>,
    /// Whether the scheduler runs it.
    pub enabled: bool,
}

/// What an online restore restores.
pub struct RestoreScope {
    /// Replace the database.
    pub data: bool,
    /// Services (ids or names) whose volumes to restore.
    pub services: Vec<String>,
    /// Report what would change and change nothing.
    pub dry_run: bool,
}

/// `POST /backups` body. Every field is optional (absent and `null` alike take the
/// default): full, `include_data` and `include_config` true, `include_logs` false,
/// `compress` true, `encrypt` false, no services, empty description.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = BackupCreateRequest)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// `full` (default) or `incremental`.
    pub r#type: Option<BackupType>,
    /// Copy the database (default true).
    pub include_data: Option<bool>,
    /// Copy the effective daemon configuration (default true).
    pub include_config: Option<bool>,
    /// Copy the request logs and daemon log files (default false).
    pub include_logs: Option<bool>,
    /// Put the vault master key in the archive; needs `encrypt` and `backups:admin`.
    pub include_master_key: Option<bool>,
    /// Services (ids or names) whose volumes to archive (default none).
    pub services: Option<Vec<String>>,
    /// Pause those services while their volumes are read (default false).
    pub pause_services: Option<bool>,
    /// zstd level 3 (default true).
    pub compress: Option<bool>,
    /// age encryption (default false).
    pub encrypt: Option<bool>,
    /// Free text (default `""`).
    pub description: Option<String>,
    /// age passphrase (at least 12 characters); never stored.
    pub passphrase: Option<String>,
    /// age X25519 recipient (`age1…`).
    pub recipient: Option<String>,
}

impl BackupRequest {
    /// The options, with defaults filled in.
    pub fn options(&self) -> BackupOptions {
        let d = BackupOptions::default();
        BackupOptions {
            r#type: self.r#type.unwrap_or(d.r#type),
            include_data: self.include_data.unwrap_or(d.include_data),
            include_config: self.include_config.unwrap_or(d.include_config),
            include_logs: self.include_logs.unwrap_or(d.include_logs),
            include_master_key: self.include_master_key.unwrap_or(d.include_master_key),
            services: self.services.clone().unwrap_or_default(),
            pause_services: self.pause_services.unwrap_or(d.pause_services),
            compress: self.compress.unwrap_or(d.compress),
            encrypt: self.encrypt.unwrap_or(d.encrypt),
            description: self.description.clone().unwrap_or_default(),
        }
    }
}

/// `POST /backups/schedules` and `PUT /backups/schedules/{id}` body: `name` and
/// `cron_expression` required; `timezone` defaults to UTC, `enabled` to true, the
/// backup options to those of [`BackupRequest`] (no `passphrase`: it is never stored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = BackupScheduleRequest)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// 1–64 of letters, digits, `-`, `_`, `.`; unique among schedules.
    #[schema(value_type = String, required = true)]
    pub name: Option<String>,
    /// 5-field crontab, 6-field with leading seconds, or `@hourly`…`@yearly`
    /// (`docs/api.md`, "POST /api/v1/backups/schedules").
    #[schema(value_type = String, required = true)]
    pub cron_expression: Option<String>,
    /// IANA time zone the cron expression is read in (default `UTC`).
    pub timezone: Option<String>,
    /// Prune this schedule's backups older than this: a positive number and unit `s`,
    /// `m`, `h`, `d` or `w` (`7d`); absent prunes none by age.
    pub retention: Option<String>,
    /// Keep at most this many completed backups of this schedule (≥ 1); absent: no limit.
    pub keep_last: Option<u32>,
    /// Whether the scheduler runs it (default true).
    pub enabled: Option<bool>,
    /// As in [`BackupRequest`] (default `full`).
    pub r#type: Option<BackupType>,
    /// As in [`BackupRequest`] (default true).
    pub include_data: Option<bool>,
    /// As in [`BackupRequest`] (default true).
    pub include_config: Option<bool>,
    /// As in [`BackupRequest`] (default false).
    pub include_logs: Option<bool>,
    /// As in [`BackupRequest`]; needs `encrypt` and `backups:admin`.
    pub include_master_key: Option<bool>,
    /// As in [`BackupRequest`] (default none).
    pub services: Option<Vec<String>>,
    /// As in [`BackupRequest`] (default false).
    pub pause_services: Option<bool>,
    /// As in [`BackupRequest`] (default true).
    pub compress: Option<bool>,
    /// As in [`BackupRequest`] (default false).
    pub encrypt: Option<bool>,
    /// As in [`BackupRequest`] (default `""`).
    pub description: Option<String>,
    /// age X25519 recipient for encrypted runs (else the configured one).
    pub recipient: Option<String>,
}

impl ScheduleRequest {
    /// The writable fields with defaults filled in; `VALIDATION_ERROR` naming `name` or
    /// `cron_expression` when absent (the values are checked when the schedule is saved).
    pub fn into_spec(self) -> Result<ScheduleSpec> {
        let backup = BackupRequest {
            r#type: self.r#type,
            include_data: self.include_data,
            include_config: self.include_config,
            include_logs: self.include_logs,
            include_master_key: self.include_master_key,
            services: self.services,
            pause_services: self.pause_services,
            compress: self.compress,
            encrypt: self.encrypt,
            description: self.description,
            passphrase: None,
            recipient: None,
        }
        .options();
        Ok(ScheduleSpec {
            name: self.name.ok_or_else(|| Error::field("name", "required"))?,
            cron_expression: self
                .cron_expression
                .ok_or_else(|| Error::field("cron_expression", "required"))?,
            timezone: self.timezone.unwrap_or_else(|| "UTC".into()),
            options: RunOptions {
                backup,
                recipient: self.recipient,
            },
            retention: self.retention,
            keep_last: self.keep_last,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

/// `POST /backups/{id}/restore` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = BackupRestoreRequest)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Report what would change and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Restore the database (default true).
    pub include_data: Option<bool>,
    /// The daemon configuration comes from its config file; restoring it online is
    /// refused (use the archive's `config/mcpd.json` by hand).
    pub include_config: Option<bool>,
    /// Restore the volumes of these services (ids or names): they are stopped, their
    /// volumes replaced, and started again if they were meant to run.
    pub services: Option<Vec<String>>,
    /// Opens a passphrase-encrypted archive (else `backups.passphrase_file`).
    pub passphrase: Option<String>,
    /// Opens a recipient-encrypted archive (else `backups.identity_file`).
    pub identity: Option<String>,
}

impl RestoreRequest {
    /// What to restore; `VALIDATION_ERROR` on `include_data` when there is nothing to
    /// restore, on `include_config` when it is asked for.
    pub fn scope(&self) -> Result<RestoreScope> {
        let services = self.services.clone().unwrap_or_default();
        let data = self.include_data.unwrap_or(true);
        if !data && services.is_empty() {
            return Err(Error::field(
                "include_data",
                "nothing to restore: include_data is false and no services are listed",
            ));
        }
        if self.include_config == Some(true) {
            return Err(Error::field(
                "include_config",
                "the daemon configuration is read from its config file; copy config/mcpd.json from the archive by hand",
            ));
        }
        Ok(RestoreScope {
            data,
            services,
            dry_run: self.dry_run,
        })
    }
}
