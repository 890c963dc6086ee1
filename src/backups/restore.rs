//! Restoring an archive's database (blocking code; the API runs it on the blocking pool,
//! `mcpd backup restore` calls it directly with the daemon stopped).
//!
//! Design: the archive is verified in full and extracted into a staging directory
//! first; every check runs against the staged copy (schema not newer, master key
//! matches), and the staged copy is brought to the current schema. Only then is it
//! copied over the live database with SQLite's backup API in a single step: one write
//! transaction, so readers see the old database or the new one and a failure leaves the
//! old one intact. The daemon keeps its connections (SQLite notices the new schema), so
//! no reopen is needed. The `backups` and `backup_schedules` tables are carried over
//! from the live database so restoring never forgets archives made since. The daemon's
//! log files an archive may carry (`logs/daemon/…`, with `include_logs`) are verified
//! like every file but never written back: live logs are not history to overwrite.

use super::archive::{self, Manifest, Unseal};
use crate::error::{Error, ErrorCode, Internal, Result};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Names added, removed or changed in one kind of object.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Delta {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// What a restore changes (or, on a dry run, would change).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Whether the live database was replaced.
    pub applied: bool,
    pub backup_id: String,
    pub archive_created_at: String,
    pub archive_schema_version: i64,
    pub current_schema_version: i64,
    pub vault_key_id: String,
    pub users: Delta,
    pub services: Delta,
    pub mcp_servers: Delta,
    pub config_keys: Delta,
    /// Service volumes (`<service>:<source>`) replaced by the archive's contents
    /// (`changed`), or created to hold them (`added`, offline restore).
    pub volumes: Delta,
    /// Offline restore: running containers stopped while their volumes were replaced
    /// and started again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers_restarted: Vec<String>,
}

/// `(table, name column, column whose change means "changed")` compared by a restore.
const COMPARED: &[(&str, &str, &str)] = &[
    ("users", "username", "updated_at"),
    ("services", "name", "updated_at"),
    ("mcp_servers", "name", "updated_at"),
    ("config_entries", "key", "version"),
];

/// A verified, staged archive ready to compare or apply.
pub struct Staged {
    pub manifest: Manifest,
    pub dir: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Staged {
    pub fn db(&self) -> PathBuf {
        self.dir.join(archive::DB_ENTRY)
    }
    pub fn master_key(&self) -> Option<PathBuf> {
        let p = self.dir.join(archive::MASTER_KEY_ENTRY);
        p.is_file().then_some(p)
    }
}

fn refuse(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::PreconditionFailed, msg)
}

/// Verifies every checksum of `path` and extracts it under `staging` (created; removed
/// when the result drops). With `need_data`, refuses archives without a database and
/// databases from a newer schema than this binary's, and migrates an older copy.
pub fn stage(path: &Path, unseal: &Unseal, staging: PathBuf, need_data: bool) -> Result<Staged> {
    std::fs::create_dir_all(&staging).internal(format!("creating {}", staging.display()))?;
    let mut staged = Staged {
        manifest: placeholder(),
        dir: staging,
    };
    staged.manifest = archive::verify(path, unseal, Some(&staged.dir))?;
    if !need_data {
        return Ok(staged);
    }
    if !staged.manifest.included.data {
        return Err(refuse(
            "the archive holds no database (include_data was false)",
        ));
    }
    let latest = latest_schema_version(&staged.dir)?;
    if staged.manifest.schema_version > latest {
        return Err(refuse(format!(
            "the archive's schema version {} is newer than this mcpd's ({latest}); upgrade mcpd first",
            staged.manifest.schema_version
        )));
    }
    // Bring an older copy to the current schema, exactly as the daemon would at start.
    crate::store::Store::open(&staged.db()).map_err(Error::internal)?;
    Connection::open(staged.db())?.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(staged)
}

/// The schema version this binary's migrations produce, read from a scratch database.
fn latest_schema_version(scratch_dir: &Path) -> Result<i64> {
    let probe = scratch_dir.join("schema-probe.db");
    drop(crate::store::Store::open(&probe).map_err(Error::internal)?);
    let v = Connection::open(&probe)?.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(scratch_dir.join(format!("schema-probe.db{suffix}")));
    }
    Ok(v)
}

fn placeholder() -> Manifest {
    Manifest {
        format: String::new(),
        backup_id: String::new(),
        r#type: String::new(),
        created_at: String::new(),
        mcpd_version: String::new(),
        schema_version: 0,
        vault_key_id: String::new(),
        included: archive::Included {
            data: false,
            config: false,
            logs: false,
            master_key: false,
            services: vec![],
        },
        files: vec![],
        volumes: vec![],
        base_backup_id: None,
    }
}

/// The key id the staged database's sealed values belong to.
pub fn staged_key_id(staged: &Staged) -> Result<Option<String>> {
    let c = Connection::open_with_flags(staged.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    use rusqlite::OptionalExtension;
    Ok(c.query_row(
        "SELECT key_id FROM vault_keys WHERE retired_at IS NULL",
        [],
        |r| r.get(0),
    )
    .optional()?)
}

fn names(c: &Connection, table: &str, name: &str, stamp: &str) -> Result<BTreeMap<String, String>> {
    let exists: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [table],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(BTreeMap::new());
    }
    let mut st = c.prepare(&format!(
        "SELECT {name}, CAST({stamp} AS TEXT) FROM {table}"
    ))?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok(rows)
}

fn delta(live: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Delta {
    Delta {
        added: new
            .keys()
            .filter(|k| !live.contains_key(*k))
            .cloned()
            .collect(),
        removed: live
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect(),
        changed: new
            .iter()
            .filter(|(k, v)| live.get(*k).is_some_and(|lv| lv != *v))
            .map(|(k, _)| k.clone())
            .collect(),
    }
}

/// Compares the staged database with the live one (missing live file: everything is added).
pub fn compare(staged: &Staged, live_db: &Path, dry_run: bool) -> Result<Report> {
    let new = Connection::open_with_flags(staged.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let live = if live_db.exists() {
        let c = Connection::open_with_flags(live_db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        c.busy_timeout(Duration::from_secs(5))?;
        Some(c)
    } else {
        None
    };
    let mut deltas = Vec::new();
    for (table, name, stamp) in COMPARED {
        let n = names(&new, table, name, stamp)?;
        let l = match &live {
            Some(c) => names(c, table, name, stamp)?,
            None => BTreeMap::new(),
        };
        deltas.push(delta(&l, &n));
    }
    let current_schema_version = match &live {
        Some(c) => c.pragma_query_value(None, "user_version", |r| r.get(0))?,
        None => 0,
    };
    let mut d = deltas.into_iter();
    Ok(Report {
        dry_run,
        applied: false,
        backup_id: staged.manifest.backup_id.clone(),
        archive_created_at: staged.manifest.created_at.clone(),
        archive_schema_version: staged.manifest.schema_version,
        current_schema_version,
        vault_key_id: staged.manifest.vault_key_id.clone(),
        users: d.next().unwrap_or_default(),
        services: d.next().unwrap_or_default(),
        mcp_servers: d.next().unwrap_or_default(),
        config_keys: d.next().unwrap_or_default(),
        volumes: Delta::default(),
        containers_restarted: Vec::new(),
    })
}

/// Replaces the live database with the staged one in one SQLite write transaction,
/// keeping the live `backups` and `backup_schedules` rows.
pub fn apply(staged: &Staged, live_db: &Path) -> Result<()> {
    let new = Connection::open(staged.db())?;
    if live_db.exists() {
        let live_str = live_db.to_str().internal("database path is not UTF-8")?;
        new.execute("ATTACH DATABASE ?1 AS live", [live_str])?;
        new.execute_batch(
            "BEGIN;
             DELETE FROM main.backups;
             DELETE FROM main.backup_schedules;
             INSERT INTO main.backup_schedules SELECT * FROM live.backup_schedules;
             INSERT INTO main.backups SELECT * FROM live.backups;
             COMMIT;
             DETACH DATABASE live;",
        )?;
    }
    let mut live = Connection::open(live_db)?;
    live.busy_timeout(Duration::from_secs(10))?;
    super::copy_all(&new, &mut live)
}
