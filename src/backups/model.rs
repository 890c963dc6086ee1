//! The shapes of the backups domain: a backup's options and row as the API shows them
//! (`docs/api.md`, "Backups and schedules"), a schedule's, and what an online restore
//! covers. Rules that need nothing but the value itself
//! ([`BackupOptions::validate`]) live here too.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

use super::archive::Manifest;

/// `full` copies everything asked for; `incremental` copies the database and config in
/// full but of each volume only the files changed since its base (the newest completed
/// backup holding the same volumes), naming that base.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    #[default]
    Full,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupOptions {
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
}

/// A backup as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub id: String,
    pub status: String,
    #[serde(flatten)]
    pub options: BackupOptions,
    pub progress_pct: u8,
    /// Archive size in bytes once completed.
    pub size_bytes: Option<u64>,
    /// Hex SHA-256 of the archive file (what `download` sends).
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    pub schedule_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// The archive's manifest once completed.
    pub manifest: Option<Manifest>,
}

/// What each run of a schedule does: the backup options plus an optional age recipient
/// (passphrases are never stored; encrypted schedules without a recipient use
/// `backups.passphrase_file` or `backups.recipient`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunOptions {
    #[serde(flatten)]
    pub backup: BackupOptions,
    pub recipient: Option<String>,
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub cron_expression: String,
    pub timezone: String,
    #[serde(flatten)]
    pub options: RunOptions,
    pub retention: Option<String>,
    pub keep_last: Option<u32>,
    pub enabled: bool,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    /// `running`, `completed`, `failed`, or `skipped` (previous run still going).
    pub last_status: Option<String>,
    pub last_backup_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Writable fields (create and `PUT`).
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub cron_expression: String,
    pub timezone: String,
    pub options: RunOptions,
    pub retention: Option<String>,
    pub keep_last: Option<u32>,
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
