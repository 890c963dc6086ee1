//! Restoring an archive: the database (blocking code; the API runs it on the blocking
//! pool, `mcpd backup restore` calls it directly with the daemon stopped), and the
//! online restore of the database and service volumes into the running daemon
//! ([`restore_online`]).
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
use super::job::RUN_LOCK;
use super::model::RestoreScope;
use super::records::{archive_path, dir, get};
use super::{store, verify, volumes};
use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Internal, Result};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Names added, removed or changed in one kind of object.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = RestoreDelta)]
pub struct Delta {
    /// Names present in the archive, not live.
    pub added: Vec<String>,
    /// Names live, not in the archive.
    pub removed: Vec<String>,
    /// Names in both whose rows differ (change stamp).
    pub changed: Vec<String>,
}

/// What a restore changes (or, on a dry run, would change).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RestoreReport)]
pub struct Report {
    /// Nothing was changed: the report says what would be.
    pub dry_run: bool,
    /// Whether the live database was replaced.
    pub applied: bool,
    /// The backup (`bkp_…`) restored from.
    pub backup_id: String,
    /// RFC 3339 UTC time of the archive's snapshot (its manifest's `created_at`).
    pub archive_created_at: String,
    /// SQLite `user_version` (migration count) of the archived database.
    pub archive_schema_version: i64,
    /// SQLite `user_version` of the live database.
    pub current_schema_version: i64,
    /// Id of the master key the archive's sealed values belong to.
    pub vault_key_id: String,
    /// Usernames added, removed or changed.
    pub users: Delta,
    /// Service names added, removed or changed.
    pub services: Delta,
    /// MCP server names added, removed or changed.
    pub mcp_servers: Delta,
    /// Configuration keys added, removed or changed.
    pub config_keys: Delta,
    /// Service volumes (`<service>:<source>`) replaced by the archive's contents
    /// (`changed`), or created to hold them (`added`, offline restore).
    pub volumes: Delta,
    /// Offline restore: running containers stopped while their volumes were replaced
    /// and started again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers_restarted: Vec<String>,
}

/// Each domain's name → change stamp of its rows, read through the owning domain's
/// store (see [`names`]).
type Stamps = fn(&Connection) -> Result<BTreeMap<String, String>>;

/// `(table, its owner's stamps)` compared by a restore, in the order of [`Report`].
const COMPARED: &[(&str, Stamps)] = &[
    ("users", crate::users::store::name_stamps),
    ("services", crate::services::store::name_stamps),
    ("mcp_servers", crate::mcp::store::name_stamps),
    ("config_entries", crate::configuration::store::name_stamps),
];

/// A verified, staged archive ready to compare or apply.
pub struct Staged {
    /// The archive's manifest, checked against its files.
    pub manifest: Manifest,
    /// Temporary directory holding the unpacked files; removed when this is dropped.
    pub dir: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Staged {
    /// The staged database copy.
    pub fn db(&self) -> PathBuf {
        self.dir.join(archive::DB_ENTRY)
    }
    /// The staged master key, when the archive holds one.
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
    store::use_rollback_journal(&staged.db())?;
    Ok(staged)
}

/// The schema version this binary's migrations produce, read from a scratch database.
fn latest_schema_version(scratch_dir: &Path) -> Result<i64> {
    let probe = scratch_dir.join("schema-probe.db");
    drop(crate::store::Store::open(&probe).map_err(Error::internal)?);
    let v = store::schema_version(&Connection::open(&probe)?)?;
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
    Ok(crate::vault::store::active_key(&c)?.map(|(key_id, _)| key_id))
}

/// A table's name → stamp through its owner's store; empty when the database has no
/// such table.
fn names(c: &Connection, table: &str, stamps: Stamps) -> Result<BTreeMap<String, String>> {
    if !store::table_exists(c, table)? {
        return Ok(BTreeMap::new());
    }
    stamps(c)
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
    for (table, stamps) in COMPARED {
        let n = names(&new, table, *stamps)?;
        let l = match &live {
            Some(c) => names(c, table, *stamps)?,
            None => BTreeMap::new(),
        };
        deltas.push(delta(&l, &n));
    }
    let current_schema_version = match &live {
        Some(c) => store::schema_version(c)?,
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
    store::carry_over_backup_tables(&new, live_db)?;
    let mut live = Connection::open(live_db)?;
    live.busy_timeout(Duration::from_secs(10))?;
    store::copy_all(&new, &mut live)
}

/// Restores backup `id` into the running daemon (see the module docs for the design);
/// with `dry_run` only reports. Refuses (`CONFLICT`) while a backup is queued or running,
/// (`PRECONDITION_FAILED`) a damaged archive, a newer schema, or a database sealed with
/// another master key (restore those offline with `mcpd backup restore --key-file`).
/// Volumes: the services are stopped, each volume's contents replaced (old contents
/// kept aside until the database swap has succeeded, put back on failure), and the
/// services that were meant to run are started again. A real restore is audited as
/// `backups.restore` (in the restored database).
pub async fn restore_online(
    app: &AppState,
    actor: &Actor,
    id: &str,
    unseal: Unseal,
    scope: RestoreScope,
) -> Result<Report> {
    let b = get(app, id).await?;
    let path = archive_path(app, &b)?;
    // Holding the run lock: no backup starts while things are being replaced.
    let _turn = RUN_LOCK.try_lock().map_err(|_| {
        Error::conflict("a backup or restore is in progress; try again when it ends")
    })?;
    refuse_while_busy(app).await?;
    let (data, dry_run) = (scope.data, scope.dry_run);
    let (staged, mut report) = stage_online(app, path, unseal.clone(), data, dry_run).await?;
    // Match the requested services' current volumes with the archive's. An incremental
    // archive needs its chain down to a full one, each verified and staged.
    let located = volumes::locate(app, &scope.services).await?;
    let first_base = match located.is_empty() {
        true => None,
        false => staged.manifest.base_backup_id.clone(),
    };
    let chain = stage_bases(app, first_base, &unseal).await?;
    let plan = plan_volumes(staged, chain, &located, &mut report)?;
    if dry_run {
        return Ok(report);
    }
    swap_in(app, actor, &located, plan, data).await?;
    report.applied = true;
    record_restore(app, actor, id, &report).await?;
    tracing::warn!(backup = %id, "restored from a backup");
    Ok(report)
}

/// `CONFLICT` while a backup is queued or running.
async fn refuse_while_busy(app: &AppState) -> Result<()> {
    if app.store.read(store::any_unfinished).await? {
        return Err(Error::conflict(
            "a backup is queued or running; restore when it ends",
        ));
    }
    Ok(())
}

/// Verifies and stages the archive at `path`; with `data`, checks its master key
/// against this daemon's and compares it with the live database.
async fn stage_online(
    app: &AppState,
    path: PathBuf,
    unseal: Unseal,
    data: bool,
    dry_run: bool,
) -> Result<(Staged, Report)> {
    let staging = dir(app).join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
    let live = app.store.path().to_path_buf();
    let key_id = app.vault.key_id();
    tokio::task::spawn_blocking(move || -> Result<(Staged, Report)> {
        let staged = stage(&path, &unseal, staging, data)?;
        let mut report = if data {
            let archive_key = staged_key_id(&staged)?;
            if archive_key.as_deref().is_some_and(|k| k != key_id) {
                return Err(Error::new(
                    ErrorCode::PreconditionFailed,
                    format!(
                        "the archive's secrets are sealed with master key {} but this daemon uses {key_id}; restore it offline with `mcpd backup restore` and that key (--key-file, or an archive that includes it)",
                        archive_key.unwrap_or_default()
                    ),
                ));
            }
            compare(&staged, &live, dry_run)?
        } else {
            volumes_only_report(&staged.manifest, dry_run)
        };
        report.dry_run = dry_run;
        Ok((staged, report))
    })
    .await
    .internal("restore task")?
}

/// The report of a restore of volumes only: no database change.
fn volumes_only_report(m: &Manifest, dry_run: bool) -> Report {
    Report {
        dry_run,
        applied: false,
        backup_id: m.backup_id.clone(),
        archive_created_at: m.created_at.clone(),
        archive_schema_version: m.schema_version,
        current_schema_version: m.schema_version,
        vault_key_id: m.vault_key_id.clone(),
        users: Default::default(),
        services: Default::default(),
        mcp_servers: Default::default(),
        config_keys: Default::default(),
        volumes: Default::default(),
        containers_restarted: Vec::new(),
    }
}

/// Stages the base backups an incremental archive builds on, starting at `next`,
/// oldest (the full one) first.
async fn stage_bases(
    app: &AppState,
    mut next: Option<String>,
    unseal: &Unseal,
) -> Result<Vec<Staged>> {
    let mut chain: Vec<Staged> = Vec::new();
    while let Some(base_id) = next.take() {
        if chain.len() > 1000 {
            return Err(verify::invalid("the incremental chain does not end"));
        }
        let base = get(app, &base_id)
            .await
            .map_err(|_| verify::invalid(format!("its base backup {base_id} no longer exists")))?;
        let path = archive_path(app, &base)?;
        let staging = dir(app).join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
        let u = unseal.clone();
        let s = tokio::task::spawn_blocking(move || stage(&path, &u, staging, false))
            .await
            .internal("restore task")??;
        next = s.manifest.base_backup_id.clone();
        chain.push(s);
    }
    chain.reverse();
    Ok(chain)
}

/// The layers restoring volume `source` of `service` from staged archives ordered base
/// first (a full archive, then its increments). 400 (`services`) when one of them holds
/// no copy of it.
pub fn layers(staged: &[&Staged], service: &str, source: &str) -> Result<Vec<volumes::Layer>> {
    staged
        .iter()
        .map(|s| {
            let v = s
                .manifest
                .volumes
                .iter()
                .find(|v| v.service == service && v.source == source)
                .ok_or_else(|| {
                    Error::field(
                        "services",
                        format!(
                            "backup {} holds no copy of {source} of service {service}",
                            s.manifest.backup_id
                        ),
                    )
                })?;
            Ok((
                s.dir.join(&v.entry),
                v.listing.as_ref().map(|x| s.dir.join(x)),
            ))
        })
        .collect()
}

/// A verified online restore ready to apply.
struct Plan {
    /// The archive itself.
    staged: Staged,
    /// Its bases, oldest first (kept staged until the volumes are swapped).
    chain: Vec<Staged>,
    /// Each volume's layers and the directory whose contents they replace.
    pairs: Vec<(Vec<volumes::Layer>, PathBuf)>,
}

/// Matches each located volume with its layers in the chain and the archive, noting it
/// in the report.
fn plan_volumes(
    staged: Staged,
    chain: Vec<Staged>,
    located: &[volumes::Located],
    report: &mut Report,
) -> Result<Plan> {
    let mut pairs: Vec<(Vec<volumes::Layer>, PathBuf)> = Vec::new();
    let layered: Vec<&Staged> = chain.iter().chain(std::iter::once(&staged)).collect();
    for l in located {
        let layers = layers(&layered, &l.entry.service, &l.entry.source)?;
        pairs.push((layers, l.path.clone()));
        report
            .volumes
            .changed
            .push(format!("{}:{}", l.entry.service, l.entry.source));
    }
    Ok(Plan {
        staged,
        chain,
        pairs,
    })
}

/// Stops the services using the volumes, replaces the volumes' contents and (with
/// `data`) the database, and starts again what was meant to run, whatever happened.
async fn swap_in(
    app: &AppState,
    actor: &Actor,
    located: &[volumes::Located],
    plan: Plan,
    data: bool,
) -> Result<()> {
    let mut to_restart: Vec<String> = located
        .iter()
        .filter(|l| l.desired_running)
        .map(|l| l.service_id.clone())
        .collect();
    to_restart.dedup();
    for sid in &to_restart {
        crate::services::lifecycle::stop(app, actor, sid).await?;
    }
    let live = app.store.path().to_path_buf();
    let applied = tokio::task::spawn_blocking(move || -> Result<()> {
        let swapped = volumes::restore_layers(&plan.pairs)?;
        let _staged_chain = &plan.chain;
        if data && let Err(e) = apply(&plan.staged, &live) {
            swapped.roll_back();
            return Err(e);
        }
        swapped.commit();
        Ok(())
    })
    .await
    .internal("restore task")?;
    // Whatever happened, what was meant to run runs again.
    for sid in &to_restart {
        if let Err(e) = crate::services::lifecycle::start(app, actor, sid).await {
            tracing::warn!(service = %sid, "restarting after a restore: {}", e.message);
        }
    }
    applied
}

/// Audits a restore as `backups.restore`.
async fn record_restore(app: &AppState, actor: &Actor, id: &str, report: &Report) -> Result<()> {
    let (actor, target) = (actor.clone(), id.to_string());
    let details = serde_json::json!({
        "users": report.users, "services": report.services,
        "mcp_servers": report.mcp_servers, "config_keys": report.config_keys,
        "volumes": report.volumes,
    });
    app.store
        .write(move |tx| {
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.restore")
                    .on("backup", &target)
                    .details(details),
            )
        })
        .await
}
