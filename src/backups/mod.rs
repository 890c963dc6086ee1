//! Built-in backups (issue 6): online, consistent copies of the database taken with
//! SQLite's backup API while the API keeps serving writes, packed as tar → zstd → age
//! (see [`archive`]), written to a temp file and renamed only once complete and verified.
//!
//! A backup row moves `queued → running → completed | failed`; one backup runs at a
//! time (others wait their turn). Sealed vault values are copied as they are stored:
//! the archive never holds a decrypted secret, and holds the master key only when asked
//! and only inside an encrypted archive.

pub mod api;
pub mod archive;
pub mod offline;
pub mod restore;
pub mod schedule;
pub mod volumes;

use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use archive::{FileEntry, Included, Manifest, Seal};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

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

const COLUMNS: &str = "b.id, b.status, b.options, b.progress_pct, b.size_bytes, b.sha256, b.file_name, b.error, b.schedule_id, b.created_by, b.created_at, b.started_at, b.completed_at, b.manifest";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Backup> {
    let options: String = r.get(2)?;
    let manifest: Option<String> = r.get(13)?;
    Ok(Backup {
        id: r.get(0)?,
        status: r.get(1)?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        progress_pct: r.get::<_, i64>(3)?.clamp(0, 100) as u8,
        size_bytes: r.get::<_, Option<i64>>(4)?.map(|n| n as u64),
        sha256: r.get(5)?,
        file_name: r.get(6)?,
        error: r.get(7)?,
        schedule_id: r.get(8)?,
        created_by: r.get(9)?,
        created_at: r.get(10)?,
        started_at: r.get(11)?,
        completed_at: r.get(12)?,
        manifest: manifest.and_then(|m| serde_json::from_str(&m).ok()),
    })
}

const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("status", "b.status", FieldKind::Text),
        Field::new("type", "b.type", FieldKind::Text),
        Field::new("schedule_id", "b.schedule_id", FieldKind::Text),
        Field::new("created_by", "b.created_by", FieldKind::Text),
        Field::new("size_bytes", "b.size_bytes", FieldKind::Integer),
        Field::new("created_at", "b.created_at", FieldKind::Time),
        Field::new("completed_at", "b.completed_at", FieldKind::Time),
    ],
    default_sort: "b.created_at",
    default_order: Order::Desc,
};

/// `GET /backups`: filters `status`, `type`, `schedule_id`, `created_by`, `size_bytes`,
/// `created_at`, `completed_at`.
pub async fn list(app: &AppState, q: ListQuery) -> Result<Page<Backup>> {
    let parts = q.sql(&LIST)?;
    app.store
        .read(move |c| parts.query(c, COLUMNS, "backups b", from_row))
        .await
}

/// Loads one backup row.
pub fn load(conn: &Connection, id: &str) -> Result<Backup> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM backups b WHERE b.id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("backup", id))
}

/// One backup; `RESOURCE_NOT_FOUND` when unknown.
pub async fn get(app: &AppState, id: &str) -> Result<Backup> {
    let id = id.to_string();
    app.store.read(move |c| load(c, &id)).await
}

/// The effective archive directory.
pub fn dir(app: &AppState) -> PathBuf {
    app.config.backups.dir(&app.config.server.data_dir)
}

/// Path of a completed backup's archive.
pub fn archive_path(app: &AppState, b: &Backup) -> Result<PathBuf> {
    match (&b.status[..], &b.file_name) {
        ("completed", Some(f)) => Ok(dir(app).join(f)),
        _ => Err(Error::conflict(format!(
            "backup {} is {}, not completed",
            b.id, b.status
        ))),
    }
}

fn read_secret_file(path: &Path) -> Result<age::secrecy::SecretString> {
    let s = std::fs::read_to_string(path).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "reading backups secret file {}: {e}",
            path.display()
        ))
    })?;
    Ok(age::secrecy::SecretString::from(
        s.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

/// The encryption of a new archive: the request's passphrase or recipient, else the
/// configured recipient, else the configured passphrase file; 400 when `encrypt` is
/// asked and none exists, or a secret is given without `encrypt`.
pub fn choose_seal(
    app: &AppState,
    encrypt: bool,
    passphrase: Option<String>,
    recipient: Option<String>,
) -> Result<Seal> {
    if !encrypt {
        if passphrase.is_some() || recipient.is_some() {
            return Err(Error::field(
                "encrypt",
                "passphrase/recipient given but encrypt is false",
            ));
        }
        return Ok(Seal::None);
    }
    if passphrase.is_some() && recipient.is_some() {
        return Err(Error::field(
            "passphrase",
            "give passphrase or recipient, not both",
        ));
    }
    if let Some(p) = passphrase {
        if p.chars().count() < 12 {
            return Err(Error::field("passphrase", "at least 12 characters"));
        }
        return Ok(Seal::Passphrase(age::secrecy::SecretString::from(p)));
    }
    if let Some(r) = recipient {
        return Seal::recipient("recipient", &r);
    }
    let cfg = &app.config.backups;
    if let Some(r) = &cfg.recipient {
        return Seal::recipient("backups.recipient", r);
    }
    if let Some(f) = &cfg.passphrase_file {
        return Ok(Seal::Passphrase(read_secret_file(f)?));
    }
    Err(Error::field(
        "passphrase",
        "encrypt needs a passphrase or recipient (none given and none configured)",
    ))
}

/// What opens encrypted archives: the given secrets, else the configured ones.
pub fn unseal_for(
    app: &AppState,
    passphrase: Option<String>,
    identity: Option<String>,
) -> Result<archive::Unseal> {
    let cfg = &app.config.backups;
    let passphrase = match passphrase {
        Some(p) => Some(age::secrecy::SecretString::from(p)),
        None => cfg
            .passphrase_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
    };
    let identity = match identity {
        Some(i) => Some(age::secrecy::SecretString::from(i)),
        None => cfg
            .identity_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
    };
    Ok(archive::Unseal {
        passphrase,
        identity,
    })
}

/// Queues a backup and starts it in the background; returns the queued row (202).
/// Checked first, changing nothing when refused: the options ([`BackupOptions::validate`]),
/// the services and their volumes ([`volumes::locate`]), and the free space of the
/// backups directory ([`check_space`], `SERVICE_UNAVAILABLE`). Audited as `backups.create`.
pub async fn create(
    app: &AppState,
    actor: &Actor,
    opts: BackupOptions,
    seal: Seal,
    schedule_id: Option<String>,
) -> Result<Backup> {
    opts.validate()?;
    // Unknown services and volumes, and a directory without room for the copy, are
    // refused now rather than failing in the background.
    let located = volumes::locate(app, &opts.services).await?;
    let (db, dir) = (app.store.path().to_path_buf(), dir(app));
    let paths: Vec<PathBuf> = located.into_iter().map(|l| l.path).collect();
    let min_free = app.config.backups.min_free_bytes;
    tokio::task::spawn_blocking(move || check_space(&dir, space_needed(&db, &paths, min_free)))
        .await
        .internal("space check")??;
    let row = queue(app, actor, opts.clone(), schedule_id).await?;
    let (app2, id) = (app.clone(), row.id.clone());
    app.tasks
        .spawn(async move { run(app2, id, opts, seal).await });
    Ok(row)
}

/// Records a queued backup (audited as `backups.create`); [`run`] then takes it.
pub async fn queue(
    app: &AppState,
    actor: &Actor,
    opts: BackupOptions,
    schedule_id: Option<String>,
) -> Result<Backup> {
    opts.validate()?;
    let id = crate::ids::new_id("bkp");
    let row = {
        let (id, opts, actor, schedule_id) =
            (id.clone(), opts.clone(), actor.clone(), schedule_id.clone());
        app.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO backups (id, type, status, description, options, schedule_id, created_by, created_at)
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        opts.r#type.as_str(),
                        opts.description,
                        serde_json::to_string(&opts)?,
                        schedule_id,
                        actor.user_id,
                        crate::time::now_rfc3339()
                    ],
                )?;
                audit::record(
                    tx,
                    &actor,
                    &Entry::new("backups.create").on("backup", &id).details(serde_json::json!({
                            "type": opts.r#type.as_str(),
                            "encrypt": opts.encrypt,
                            "include_master_key": opts.include_master_key,
                            "schedule_id": schedule_id,
                        })),
                )?;
                load(tx, &id)
            })
            .await?
    };
    Ok(row)
}

/// One backup at a time: a second one waits (queued) for the first to end.
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs a queued backup to its end, recording progress and the outcome. Returns the
/// final status.
pub async fn run(app: AppState, id: String, opts: BackupOptions, seal: Seal) -> Status {
    let _turn = tokio::select! {
        g = RUN_LOCK.lock() => g,
        _ = app.shutdown.cancelled() => {
            finish(&app, &id, Err("interrupted: the daemon stopped before the backup started".into())).await;
            return Status::Failed;
        }
    };
    let started = {
        let id = id.clone();
        app.store
            .write(move |tx| {
                Ok(tx.execute(
                    "UPDATE backups SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'",
                    params![id, crate::time::now_rfc3339()],
                )?)
            })
            .await
    };
    if !matches!(started, Ok(1)) {
        return Status::Failed;
    }
    let located = match volumes::locate(&app, &opts.services).await {
        Ok(v) => v,
        Err(e) => {
            finish(&app, &id, Err(format!("services: {}", e.message))).await;
            return Status::Failed;
        }
    };
    let base = if opts.r#type == BackupType::Incremental {
        match find_base(&app, &located).await {
            Ok(b) => Some(b),
            Err(e) => {
                finish(&app, &id, Err(e.message)).await;
                return Status::Failed;
            }
        }
    } else {
        None
    };
    let paused: Vec<String> = if opts.pause_services {
        let mut ids: Vec<String> = located.iter().flat_map(|l| l.running.clone()).collect();
        ids.sort();
        ids.dedup();
        volumes::set_paused(&app, &ids, true).await;
        ids
    } else {
        Vec::new()
    };
    let progress = Arc::new(AtomicU8::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    let job = Job {
        id: id.clone(),
        db_path: app.store.path().to_path_buf(),
        dir: dir(&app),
        config_json: opts
            .include_config
            .then(|| serde_json::to_vec_pretty(&app.config))
            .transpose()
            .unwrap_or_default(),
        master_key_file: opts.include_master_key.then(|| {
            crate::vault::key::locate(
                &app.config.server.data_dir,
                app.config.vault.master_key_file.as_deref(),
            )
            .path
        }),
        vault_key_id: app.vault.key_id(),
        log_files: if opts.include_logs {
            crate::telemetry::LogFiles::from_config(&app.config.log)
                .map(|f| f.list())
                .unwrap_or_default()
        } else {
            Vec::new()
        },
        volumes: located.into_iter().map(|l| (l.entry, l.path)).collect(),
        base,
        min_free_bytes: app.config.backups.min_free_bytes,
        opts,
        seal,
        progress: progress.clone(),
        cancel: cancel.clone(),
    };
    // Its own thread at a lower CPU and I/O priority, so API requests go first when
    // both want the machine (the thread ends with the job: no pooled thread keeps the
    // lowered priority).
    let (tx, mut handle) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("mcpd-backup".into())
        .spawn(move || {
            lower_own_priority();
            let _ = tx.send(job.build());
        });
    if let Err(e) = spawned {
        finish(&app, &id, Err(format!("starting the backup thread: {e}"))).await;
        volumes::set_paused(&app, &paused, false).await;
        return Status::Failed;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last = 0u8;
    let outcome = loop {
        tokio::select! {
            r = &mut handle => break r.map_err(|_| Error::internal(anyhow::anyhow!("the backup thread ended without a result"))).and_then(|r| r),
            _ = tick.tick() => {
                let p = progress.load(Ordering::Relaxed);
                if p != last {
                    last = p;
                    let id = id.clone();
                    let _ = app.store.write(move |tx| Ok(tx.execute("UPDATE backups SET progress_pct = ?2 WHERE id = ?1", params![id, p])?)).await;
                }
            }
            _ = app.shutdown.cancelled(), if !cancel.load(Ordering::Relaxed) => cancel.store(true, Ordering::Relaxed),
        }
    };
    volumes::set_paused(&app, &paused, false).await;
    let status = if outcome.is_ok() {
        Status::Completed
    } else {
        Status::Failed
    };
    let result = outcome.map_err(|e| {
        let reason = match &e.source {
            Some(s) if is_out_of_space(&e) => format!(
                "the backups directory ran out of space (ENOSPC: no space left on device): {s:#}"
            ),
            Some(s) if e.code == ErrorCode::InternalServerError => format!("{s:#}"),
            _ => e.message.clone(),
        };
        if cancel.load(Ordering::Relaxed) {
            "interrupted: the daemon stopped during the backup".to_string()
        } else {
            reason
        }
    });
    finish(&app, &id, result).await;
    status
}

/// Lowers the calling thread's priority: nice 10 (`setpriority(2)` on a thread id acts
/// on that thread only) and the idle I/O class (`ioprio_set(2)`: the BFQ and
/// mq-deadline schedulers serve its requests after everyone else's, with aging so it
/// is never starved) for the I/O this thread submits (reads, and the archive's
/// writeback it starts). Best effort: errors are ignored.
fn lower_own_priority() {
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_IDLE: libc::c_long = 3;
        const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            tid as libc::c_long,
            IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
        );
    }
}

/// CPU time the calling thread has used, in milliseconds (user + system).
fn thread_cpu_ms() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) } != 0 {
        return 0;
    }
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ms(u.ru_utime) + ms(u.ru_stime)
}

async fn finish(app: &AppState, id: &str, r: std::result::Result<Built, String>) {
    let id = id.to_string();
    let now = crate::time::now_rfc3339();
    let res = app
        .store
        .write(move |tx| {
            match r {
                Ok(b) => {
                    tx.execute(
                    "UPDATE backups SET status = 'completed', progress_pct = 100, file_name = ?2, size_bytes = ?3, sha256 = ?4, manifest = ?5, completed_at = ?6 WHERE id = ?1",
                    params![id, b.file_name, b.size_bytes as i64, b.sha256, serde_json::to_string(&b.manifest)?, now],
                )?;
                }
                Err(reason) => {
                    tracing::warn!(backup = %id, %reason, "backup failed");
                    tx.execute(
                        "UPDATE backups SET status = 'failed', error = ?2, completed_at = ?3 WHERE id = ?1",
                        params![id, reason, now],
                    )?;
                }
            }
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::error!("recording a backup's outcome: {e:?}");
    }
}

/// Removes a backup's archive and row (`CONFLICT` while it is queued or running).
/// Audited as `backups.delete`.
pub async fn delete(app: &AppState, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor, dir) = (id.to_string(), actor.clone(), dir(app));
    app.store
        .write(move |tx| {
            let b = load(tx, &id)?;
            if b.status == "queued" || b.status == "running" {
                return Err(Error::conflict(format!(
                    "backup {id} is {}; wait for it to end",
                    b.status
                )));
            }
            let dependent: Option<String> = tx
                .query_row(
                    "SELECT id FROM backups WHERE json_extract(manifest, '$.base_backup_id') = ?1 LIMIT 1",
                    [&id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(dep) = dependent {
                return Err(Error::conflict(format!(
                    "backup {id} is the base of incremental backup {dep}; delete that first"
                )));
            }
            tx.execute("DELETE FROM backups WHERE id = ?1", [&id])?;
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.delete").on("backup", &id),
            )?;
            // Inside the transaction: if the file cannot be removed, the row stays.
            if let Some(f) = b.file_name {
                match std::fs::remove_file(dir.join(&f)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::internal(anyhow::anyhow!("removing {f}: {e}")));
                    }
                }
            }
            Ok(())
        })
        .await
}

/// At start-up: backups left queued or running by a previous process are marked
/// failed, and their temp files removed (a crash never leaves a partial archive that
/// looks complete: only renamed files are archives).
pub async fn recover(app: &AppState) -> Result<()> {
    let dir = dir(app);
    app.store
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE backups SET status = 'failed', error = 'interrupted: the daemon stopped during the backup', completed_at = ?1 WHERE status IN ('queued', 'running')",
                [crate::time::now_rfc3339()],
            )?;
            if n > 0 {
                tracing::warn!("{n} backups were interrupted by a restart and are marked failed");
            }
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with(".staging-") {
                        let _ = std::fs::remove_dir_all(e.path());
                    } else if name.starts_with('.') && name.ends_with(".partial") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            Ok(())
        })
        .await
}

/// Everything the blocking part of a backup needs.
struct Job {
    id: String,
    db_path: PathBuf,
    dir: PathBuf,
    config_json: Option<Vec<u8>>,
    master_key_file: Option<PathBuf>,
    vault_key_id: String,
    /// The daemon's log files (`log.file` and its rotations) to carry.
    log_files: Vec<PathBuf>,
    volumes: Vec<(archive::VolumeEntry, PathBuf)>,
    /// Incremental: the base backup's id and creation time (Unix seconds).
    base: Option<(String, i64)>,
    min_free_bytes: u64,
    opts: BackupOptions,
    seal: Seal,
    progress: Arc<AtomicU8>,
    cancel: Arc<AtomicBool>,
}

struct Built {
    file_name: String,
    size_bytes: u64,
    sha256: String,
    manifest: Manifest,
}

/// Bytes available to an unprivileged writer on the file system holding `dir` (or, when
/// `dir` does not exist yet, its nearest existing ancestor).
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let at = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("/"));
    let s = nix::sys::statvfs::statvfs(at).internal(format!("statvfs {}", at.display()))?;
    Ok(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// Bytes a backup is expected to need in the backups directory: the staged copy and the
/// archive each take at most about the database (with its WAL) plus the volumes' file
/// bytes, plus `min_free_bytes` (`backups.min_free_bytes`) to leave free. An estimate:
/// tar headers are not counted, so a volume of very many tiny files can need more, and
/// then the write itself fails cleanly (see [`is_out_of_space`]).
pub fn space_needed(db_path: &Path, volumes: &[PathBuf], min_free_bytes: u64) -> u64 {
    let db_size = file_len(db_path) + file_len(&wal_path(db_path));
    let vol_size: u64 = volumes.iter().map(|p| volumes::dir_size(p)).sum();
    (2 * (db_size + vol_size)).saturating_add(min_free_bytes)
}

/// `SERVICE_UNAVAILABLE` (503: the request is fine, the server lacks room now) when the
/// backups directory has less than `need` bytes free.
pub fn check_space(dir: &Path, need: u64) -> Result<()> {
    let free = free_bytes(dir)?;
    if free < need {
        return Err(Error::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "not enough free space in the backups directory: {free} bytes free, about {need} needed (free some space or lower backups.min_free_bytes)"
            ),
        ));
    }
    Ok(())
}

/// Whether an error comes from a full file system: an I/O error `ENOSPC`
/// (`StorageFull`), or SQLite's `SQLITE_FULL`.
pub fn is_out_of_space(e: &Error) -> bool {
    let Some(src) = &e.source else {
        return false;
    };
    src.chain().any(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::StorageFull
                || io.raw_os_error() == Some(nix::libc::ENOSPC);
        }
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DiskFull
        )
    })
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Copies the live database into `dest` with SQLite's online backup API in one step: the
/// copy reads one consistent snapshot under a WAL read transaction, which does not
/// block writers (a stepwise copy would restart whenever another connection writes).
pub fn copy_database(src: &Path, dest: &Path) -> Result<i64> {
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(Duration::from_secs(5))?;
    let mut to = Connection::open(dest)?;
    copy_all(&from, &mut to)?;
    to.pragma_update(None, "journal_mode", "DELETE")?;
    let v: i64 = to.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(v)
}

/// Copies every page of `from` into `to` in one backup step (one read snapshot of the
/// source, one write transaction on the destination), retrying while locks are held
/// (bounded: 30 s).
pub fn copy_all(from: &Connection, to: &mut Connection) -> Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let b = Backup::new(from, to)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match b.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => continue,
            StepResult::Busy | StepResult::Locked if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::ServiceUnavailable,
                    "the database stayed locked; try again",
                ));
            }
        }
    }
}

impl Job {
    fn build(self) -> Result<Built> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            Error::internal(anyhow::anyhow!("creating {}: {e}", self.dir.display()))
        })?;
        let staging = self.dir.join(format!(".staging-{}", self.id));
        let ext = match (self.opts.compress, self.opts.encrypt) {
            (true, true) => "tar.zst.age",
            (true, false) => "tar.zst",
            (false, true) => "tar.age",
            (false, false) => "tar",
        };
        let file_name = format!("{}.{ext}", self.id);
        let partial = self.dir.join(format!(".{file_name}.partial"));
        let r = self.build_in(&staging, &partial, &file_name);
        let _ = std::fs::remove_dir_all(&staging);
        if r.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        r
    }

    fn set(&self, pct: u8) {
        self.progress.store(pct, Ordering::Relaxed);
    }

    fn build_in(&self, staging: &Path, partial: &Path, file_name: &str) -> Result<Built> {
        // Taken before anything is read: an incremental based on this backup must carry
        // every file changed after this moment.
        let snapshot_at = crate::time::now_rfc3339();
        let started = std::time::Instant::now();
        // Checked again here: scheduled runs were not checked when queued, and space
        // may have gone meanwhile.
        let vol_paths: Vec<PathBuf> = self.volumes.iter().map(|(_, p)| p.clone()).collect();
        check_space(
            &self.dir,
            space_needed(&self.db_path, &vol_paths, self.min_free_bytes),
        )?;
        std::fs::create_dir(staging).map_err(|e| {
            Error::internal(anyhow::Error::new(e).context("creating the staging dir"))
        })?;
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        let mut schema_version = 0;
        if self.opts.include_data {
            let db = staging.join("mcpd.db");
            schema_version = copy_database(&self.db_path, &db)?;
            if !self.opts.include_logs {
                let c = Connection::open(&db)?;
                c.execute("DELETE FROM request_logs", [])?;
                for t in crate::usage::rollup::TABLES {
                    c.execute(&format!("DELETE FROM {t}"), [])?;
                }
            }
            files.push((archive::DB_ENTRY.into(), db));
        }
        self.set(30);
        if let Some(cfg) = &self.config_json {
            let p = staging.join("mcpd.json");
            std::fs::write(&p, cfg).internal("staging config")?;
            files.push((archive::CONFIG_ENTRY.into(), p));
        }
        if let Some(k) = &self.master_key_file {
            let p = staging.join("master.key");
            std::fs::copy(k, &p).map_err(|e| {
                Error::internal(anyhow::Error::new(e).context("copying the master key"))
            })?;
            files.push((archive::MASTER_KEY_ENTRY.into(), p));
        }
        let mut known = std::collections::HashMap::new();
        if !self.log_files.is_empty() {
            let logs = staging.join("logs");
            std::fs::create_dir(&logs).map_err(|e| {
                Error::internal(anyhow::Error::new(e).context("creating the staging dir"))
            })?;
            for src in &self.log_files {
                let Some(name) = src.file_name() else {
                    continue;
                };
                let p = logs.join(name);
                match copy_log(src, &p) {
                    Ok(hashed) => {
                        let entry =
                            format!("{}{}", archive::DAEMON_LOGS_DIR, name.to_string_lossy());
                        known.insert(entry.clone(), hashed);
                        files.push((entry, p));
                    }
                    // Rotated away (deleted) since it was listed: nothing to carry.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::internal(
                            anyhow::Error::new(e).context(format!("copying {}", src.display())),
                        ));
                    }
                }
            }
        }
        for (i, (v, path)) in self.volumes.iter().enumerate() {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Error::internal(anyhow::anyhow!("cancelled")));
            }
            let p = staging.join(format!("vol-{i}.tar"));
            match &self.base {
                Some((_, since)) => {
                    let list = staging.join(format!("vol-{i}.list"));
                    volumes::tar_changed(path, &p, &list, *since)?;
                    files.push((v.entry.clone(), p));
                    files.push((listing_entry(&v.entry), list));
                }
                None => {
                    let hashed = volumes::tar_dir(path, &p)?;
                    known.insert(v.entry.clone(), hashed);
                    files.push((v.entry.clone(), p));
                }
            }
        }
        let mut entries = Vec::new();
        for (name, path) in &files {
            let (sha256, size_bytes) = match known.remove(name) {
                Some(h) => h,
                None => archive::hash_file(path).internal(format!("hashing {name}"))?,
            };
            entries.push(FileEntry {
                path: name.clone(),
                size_bytes,
                sha256,
            });
        }
        self.set(40);
        let staged_in = started.elapsed();
        let manifest = Manifest {
            format: archive::FORMAT.into(),
            backup_id: self.id.clone(),
            r#type: self.opts.r#type.as_str().into(),
            created_at: snapshot_at,
            mcpd_version: env!("CARGO_PKG_VERSION").into(),
            schema_version,
            vault_key_id: self.vault_key_id.clone(),
            included: Included {
                data: self.opts.include_data,
                config: self.opts.include_config,
                logs: self.opts.include_logs,
                master_key: self.opts.include_master_key,
                services: self.opts.services.clone(),
            },
            files: entries,
            volumes: self
                .volumes
                .iter()
                .map(|(v, _)| archive::VolumeEntry {
                    listing: self.base.as_ref().map(|_| listing_entry(&v.entry)),
                    ..v.clone()
                })
                .collect(),
            base_backup_id: self.base.as_ref().map(|(id, _)| id.clone()),
        };
        let (sha256, size_bytes) = archive::write(
            partial,
            &manifest,
            &files,
            self.opts.compress,
            &self.seal,
            self.cancel.clone(),
        )?;
        self.set(80);
        let written_in = started.elapsed() - staged_in;
        // Verify what is on disk before calling it an archive: the bytes hash to what was
        // written, and (when this process can open it) every file matches the manifest,
        // both in one read of the file.
        let unseal = match &self.seal {
            Seal::None => Some(archive::Unseal::default()),
            Seal::Passphrase(p) => Some(archive::Unseal {
                passphrase: Some(p.clone()),
                identity: None,
            }),
            // Only the recipient's owner can open it; the checksum check stands alone.
            Seal::Recipient(_) => None,
        };
        let (disk_sha, disk_len) = match unseal {
            Some(u) => {
                let (m, sha, len) = archive::verify_with_digest(partial, &u)?;
                if m != manifest {
                    return Err(Error::internal(anyhow::anyhow!(
                        "the archive's manifest does not read back"
                    )));
                }
                (sha, len)
            }
            None => archive::hash_file(partial).map_err(|e| {
                Error::internal(anyhow::Error::new(e).context("re-reading the archive"))
            })?,
        };
        if disk_sha != sha256 || disk_len != size_bytes {
            return Err(Error::internal(anyhow::anyhow!(
                "the archive on disk differs from what was written"
            )));
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::internal(anyhow::anyhow!("cancelled")));
        }
        std::fs::rename(partial, self.dir.join(file_name)).internal("renaming the archive")?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.set(100);
        // Where the time went, for tuning (the benchmark reads throughput end to end).
        tracing::info!(
            backup = %self.id,
            size_bytes,
            stage_ms = staged_in.as_millis() as u64,
            write_ms = written_in.as_millis() as u64,
            verify_ms = (started.elapsed() - staged_in - written_in).as_millis() as u64,
            cpu_ms = thread_cpu_ms(),
            "backup archive written and verified"
        );
        Ok(Built {
            file_name: file_name.to_string(),
            size_bytes,
            sha256,
            manifest,
        })
    }
}

/// Copies a log file as it is now: only the bytes present when the copy starts (the
/// live file keeps growing), hashed on the way. Returns (SHA-256 hex, size).
fn copy_log(src: &Path, dest: &Path) -> std::io::Result<(String, u64)> {
    use std::io::{Read, Write};
    let f = std::fs::File::open(src)?;
    let len = f.metadata()?.len();
    let mut out = archive::Hashing::new(std::fs::File::create(dest)?, None);
    std::io::copy(&mut f.take(len), &mut out)?;
    out.flush()?;
    let (_, sha256, size) = out.finish();
    Ok((sha256, size))
}

fn listing_entry(tar_entry: &str) -> String {
    format!("{}.list", tar_entry.trim_end_matches(".tar"))
}

/// The newest completed backup whose manifest holds every one of these volumes.
async fn find_base(app: &AppState, located: &[volumes::Located]) -> Result<(String, i64)> {
    let want: Vec<(String, String)> = located
        .iter()
        .map(|l| (l.entry.service.clone(), l.entry.source.clone()))
        .collect();
    let rows: Vec<(String, String)> = app
        .store
        .read(|c| {
            let mut st = c.prepare(
                "SELECT id, manifest FROM backups WHERE status = 'completed' AND manifest IS NOT NULL ORDER BY created_at DESC",
            )?;
            let v = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(v)
        })
        .await?;
    for (id, m) in rows {
        let Ok(m) = serde_json::from_str::<Manifest>(&m) else {
            continue;
        };
        let covers = want.iter().all(|(svc, src)| {
            m.volumes
                .iter()
                .any(|v| &v.service == svc && &v.source == src)
        });
        if covers && let Some(t) = crate::time::parse_rfc3339(&m.created_at) {
            return Ok((id, t.unix_timestamp()));
        }
    }
    Err(Error::validation(
        "no completed backup holds these volumes to base an incremental backup on; take a full one first",
    ))
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// What an online restore restores.
pub struct RestoreScope {
    /// Replace the database.
    pub data: bool,
    /// Services (ids or names) whose volumes to restore.
    pub services: Vec<String>,
    pub dry_run: bool,
}

/// Restores backup `id` into the running daemon (see [`restore`] for the design); with
/// `dry_run` only reports. Refuses (`CONFLICT`) while a backup is queued or running,
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
    unseal: archive::Unseal,
    scope: RestoreScope,
) -> Result<restore::Report> {
    let b = get(app, id).await?;
    let path = archive_path(app, &b)?;
    // Holding the run lock: no backup starts while things are being replaced.
    let _turn = RUN_LOCK.try_lock().map_err(|_| {
        Error::conflict("a backup or restore is in progress; try again when it ends")
    })?;
    let busy: bool = app
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM backups WHERE status IN ('queued', 'running'))",
                [],
                |r| r.get(0),
            )?)
        })
        .await?;
    if busy {
        return Err(Error::conflict(
            "a backup is queued or running; restore when it ends",
        ));
    }
    let staging = dir(app).join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
    let live = app.store.path().to_path_buf();
    let key_id = app.vault.key_id();
    let (data, dry_run) = (scope.data, scope.dry_run);
    let unseal_again = unseal.clone();
    let (staged, mut report) = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || -> Result<(restore::Staged, restore::Report)> {
            let staged = restore::stage(&path, &unseal, staging, data)?;
            let mut report = if data {
                let archive_key = restore::staged_key_id(&staged)?;
                if archive_key.as_deref().is_some_and(|k| k != key_id) {
                    return Err(Error::new(
                        ErrorCode::PreconditionFailed,
                        format!(
                            "the archive's secrets are sealed with master key {} but this daemon uses {key_id}; restore it offline with `mcpd backup restore` and that key (--key-file, or an archive that includes it)",
                            archive_key.unwrap_or_default()
                        ),
                    ));
                }
                restore::compare(&staged, &live, dry_run)?
            } else {
                restore::Report {
                    dry_run,
                    applied: false,
                    backup_id: staged.manifest.backup_id.clone(),
                    archive_created_at: staged.manifest.created_at.clone(),
                    archive_schema_version: staged.manifest.schema_version,
                    current_schema_version: staged.manifest.schema_version,
                    vault_key_id: staged.manifest.vault_key_id.clone(),
                    users: Default::default(),
                    services: Default::default(),
                    mcp_servers: Default::default(),
                    config_keys: Default::default(),
                    volumes: Default::default(),
                    containers_restarted: Vec::new(),
                }
            };
            report.dry_run = dry_run;
            Ok((staged, report))
        })
        .await
        .internal("restore task")??
    };
    // Match the requested services' current volumes with the archive's. An incremental
    // archive needs its chain down to a full one, each verified and staged.
    let located = volumes::locate(app, &scope.services).await?;
    let mut chain: Vec<restore::Staged> = Vec::new();
    let mut next_base = if located.is_empty() {
        None
    } else {
        staged.manifest.base_backup_id.clone()
    };
    while let Some(base_id) = next_base.take() {
        if chain.len() > 1000 {
            return Err(archive::invalid("the incremental chain does not end"));
        }
        let base = get(app, &base_id)
            .await
            .map_err(|_| archive::invalid(format!("its base backup {base_id} no longer exists")))?;
        let path = archive_path(app, &base)?;
        let staging = dir(app).join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
        let u = unseal_again.clone();
        let s = tokio::task::spawn_blocking(move || restore::stage(&path, &u, staging, false))
            .await
            .internal("restore task")??;
        next_base = s.manifest.base_backup_id.clone();
        chain.push(s);
    }
    chain.reverse();
    let mut pairs: Vec<(Vec<volumes::Layer>, PathBuf)> = Vec::new();
    let layered: Vec<&restore::Staged> = chain.iter().chain(std::iter::once(&staged)).collect();
    for l in &located {
        let layers = volumes::layers(&layered, &l.entry.service, &l.entry.source)?;
        pairs.push((layers, l.path.clone()));
        report
            .volumes
            .changed
            .push(format!("{}:{}", l.entry.service, l.entry.source));
    }
    if dry_run {
        return Ok(report);
    }
    let mut to_restart: Vec<String> = located
        .iter()
        .filter(|l| l.desired_running)
        .map(|l| l.service_id.clone())
        .collect();
    to_restart.dedup();
    for sid in &to_restart {
        crate::services::lifecycle::stop(app, actor, sid).await?;
    }
    let applied = tokio::task::spawn_blocking(move || -> Result<()> {
        let swapped = volumes::restore_layers(&pairs)?;
        let _staged_chain = &chain;
        if data && let Err(e) = restore::apply(&staged, &live) {
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
    applied?;
    report.applied = true;
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
        .await?;
    tracing::warn!(backup = %id, "restored from a backup");
    Ok(report)
}
