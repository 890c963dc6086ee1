//! The archive format's shapes: the entry names inside an archive, the manifest
//! (`manifest.json`, the first entry) with what it lists, how an archive is sealed and
//! what opens it, and the SHA-256 hashing every file and archive goes through.
//! Writing is [`super::archive`]'s, reading back [`super::verify`]'s.

use crate::error::{Error, Result};
use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Format tag written into every manifest.
pub const FORMAT: &str = "mcpd-backup/1";
/// Name of the manifest inside the archive.
pub const MANIFEST: &str = "manifest.json";
/// The database copy inside the archive.
pub const DB_ENTRY: &str = "data/mcpd.db";
/// The effective daemon configuration (JSON) inside the archive.
pub const CONFIG_ENTRY: &str = "config/mcpd.json";
/// Folder of the daemon's log files (`log.file`) in archives made with `include_logs`;
/// listed in the manifest like every file, never restored.
pub const DAEMON_LOGS_DIR: &str = "logs/daemon/";
/// The vault master key, present only in encrypted archives that asked for it.
pub const MASTER_KEY_ENTRY: &str = "keys/master.key";

/// One file in the archive, as listed by the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupFileEntry)]
pub struct FileEntry {
    /// Path inside the archive, e.g. `data/mcpd.db`, `volumes/<service>/<n>.tar`.
    pub path: String,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// What a backup holds, recorded in the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupIncluded)]
pub struct Included {
    /// The database (users, services, MCP servers, configuration entries, sealed secrets).
    pub data: bool,
    /// The effective daemon configuration.
    pub config: bool,
    /// Logs: the request logs kept in the database (`false`: the copy's request log is
    /// emptied) and the daemon's log files, if any (under [`DAEMON_LOGS_DIR`]).
    pub logs: bool,
    /// The vault master key (only ever inside an encrypted archive).
    pub master_key: bool,
    /// Services whose volumes were archived.
    pub services: Vec<String>,
}

/// `manifest.json`: the first entry of every archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupManifest)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The backup (`bkp_…`) the archive was made by.
    pub backup_id: String,
    /// `full` or `incremental`.
    pub r#type: String,
    /// RFC 3339 UTC snapshot time.
    pub created_at: String,
    /// Version of the mcpd that wrote it (Cargo package version).
    pub mcpd_version: String,
    /// SQLite `user_version` of the database copy (the migration count).
    pub schema_version: i64,
    /// Id of the master key the database's sealed values belong to.
    pub vault_key_id: String,
    /// What the backup holds.
    pub included: Included,
    /// Every file of the archive after the manifest, with size and hash.
    pub files: Vec<FileEntry>,
    /// Service volumes, each a tar file among `files`.
    #[serde(default)]
    pub volumes: Vec<VolumeEntry>,
    /// For an incremental backup: the backup whose volumes it builds on.
    #[serde(default)]
    pub base_backup_id: Option<String>,
}

/// One service volume in an archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = BackupVolumeEntry)]
pub struct VolumeEntry {
    /// Service name at backup time.
    pub service: String,
    /// Named Docker volume or absolute host path (bind mount), as in the service spec.
    pub source: String,
    /// Mount point in the container.
    pub target: String,
    /// `volume` or `bind`.
    pub kind: String,
    /// The tar file in the archive holding the volume's contents (incremental: only
    /// files changed since the base, plus every directory).
    pub entry: String,
    /// Incremental only: a file in the archive listing every path present (one per
    /// line), so a restore removes what was deleted since the base.
    #[serde(default)]
    pub listing: Option<String>,
}

/// How an archive is encrypted.
pub enum Seal {
    /// Plain tar (or tar.zst).
    None,
    /// age scrypt passphrase recipient (age format, `age-encryption.org/v1`).
    Passphrase(SecretString),
    /// age X25519 public key (`age1…`).
    Recipient(Box<age::x25519::Recipient>),
}

impl Seal {
    /// Parses an age X25519 recipient (`age1…`); 400 naming `field` when malformed.
    pub fn recipient(field: &str, s: &str) -> Result<Seal> {
        age::x25519::Recipient::from_str(s.trim())
            .map(|r| Seal::Recipient(Box::new(r)))
            .map_err(|_| Error::field(field, "must be an age X25519 recipient (age1…)"))
    }
}

/// What can open an encrypted archive.
#[derive(Clone, Default)]
pub struct Unseal {
    /// age passphrase of a passphrase-encrypted archive.
    pub passphrase: Option<SecretString>,
    /// age X25519 identity (`AGE-SECRET-KEY-1…`).
    pub identity: Option<SecretString>,
}

/// Hashes (SHA-256) and counts everything written through it; with a cancel flag, a
/// write after the flag is set fails (`Interrupted`).
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
    cancel: Option<Arc<AtomicBool>>,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W, cancel: Option<Arc<AtomicBool>>) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
            cancel,
        }
    }

    /// The writer, and the SHA-256 (hex) and size of what went through it.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hash.finalize()), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 and size of a file.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}
