//! The blocking part of a backup ([`Job::build`], run on its own thread by
//! [`super::job`]): every file is first copied into a staging directory beside the
//! archives (the database through SQLite's backup API, the configuration, the master
//! key, the daemon's log files, each volume as a tar file), listed with its checksum in
//! the manifest, then packed into a temp file that becomes the archive only once it
//! reads back (see [`super::verify::written`]). Also the disk space checks made before
//! and during a backup, and the choice of an incremental backup's base.

use super::archive::{self, FileEntry, Included, Manifest, Seal};
use super::model::BackupOptions;
use super::{store, volumes};
use crate::app::AppState;
use crate::error::{Error, ErrorCode, Internal, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Everything the blocking part of a backup needs.
pub(super) struct Job {
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
    /// Percent done, read by the task that records progress.
    pub(super) progress: Arc<AtomicU8>,
    /// Set to stop the job (the daemon is stopping).
    pub(super) cancel: Arc<AtomicBool>,
}

/// What a finished job wrote.
pub(super) struct Built {
    /// The archive's file name in the backups directory.
    pub(super) file_name: String,
    /// The archive's size in bytes.
    pub(super) size_bytes: u64,
    /// Lowercase hex SHA-256 of the archive.
    pub(super) sha256: String,
    pub(super) manifest: Manifest,
}

/// Files staged so far: (archive path, file on disk), and the checksums already known
/// (hashed while copied) by archive path.
#[derive(Default)]
struct Staged {
    files: Vec<(String, PathBuf)>,
    known: HashMap<String, (String, u64)>,
}

impl Job {
    /// The job of backup `id`: what `opts` asks for, read from `app`'s configuration,
    /// with the volumes found and (incremental) the base chosen.
    pub(super) fn new(
        app: &AppState,
        id: String,
        opts: BackupOptions,
        seal: Seal,
        located: Vec<volumes::Located>,
        base: Option<(String, i64)>,
    ) -> Job {
        Job {
            id,
            db_path: app.store.path().to_path_buf(),
            dir: super::records::dir(app),
            config_json: opts
                .include_config
                .then(|| serde_json::to_vec_pretty(&app.settings))
                .transpose()
                .unwrap_or_default(),
            master_key_file: opts.include_master_key.then(|| {
                crate::vault::key::locate(
                    &app.settings.server.data_dir,
                    app.settings.vault.master_key_file.as_deref(),
                )
                .path
            }),
            vault_key_id: app.vault.key_id(),
            log_files: if opts.include_logs {
                crate::telemetry::LogFiles::from_config(&app.settings.log)
                    .map(|f| f.list())
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
            volumes: located.into_iter().map(|l| (l.entry, l.path)).collect(),
            base,
            min_free_bytes: app.settings.backups.min_free_bytes,
            opts,
            seal,
            progress: Arc::new(AtomicU8::new(0)),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Builds the archive; the staging directory is removed whatever happens, the
    /// temp file on failure.
    pub(super) fn build(self) -> Result<Built> {
        std::fs::create_dir_all(&self.dir).internal(format!("creating {}", self.dir.display()))?;
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

    fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::internal(anyhow::anyhow!("cancelled")));
        }
        Ok(())
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
        std::fs::create_dir(staging).internal("creating the staging dir")?;
        let mut staged = Staged::default();
        let schema_version = self.stage_database(staging, &mut staged)?;
        self.set(30);
        self.stage_config_and_key(staging, &mut staged)?;
        self.stage_logs(staging, &mut staged)?;
        self.stage_volumes(staging, &mut staged)?;
        let manifest = self.manifest(snapshot_at, schema_version, &mut staged)?;
        self.set(40);
        let staged_in = started.elapsed();
        let (sha256, size_bytes) = archive::write(
            partial,
            &manifest,
            &staged.files,
            self.opts.compress,
            &self.seal,
            self.cancel.clone(),
        )?;
        self.set(80);
        let written_in = started.elapsed() - staged_in;
        super::verify::written(partial, &self.seal, &manifest, &sha256, size_bytes)?;
        self.check_cancel()?;
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

    /// The database copy (without `include_logs`, its request log and the usage
    /// rollups derived from it emptied); returns its schema version (0 without data).
    fn stage_database(&self, staging: &Path, staged: &mut Staged) -> Result<i64> {
        if !self.opts.include_data {
            return Ok(0);
        }
        let db = staging.join("mcpd.db");
        let schema_version = store::copy_database(&self.db_path, &db)?;
        if !self.opts.include_logs {
            let c = rusqlite::Connection::open(&db)?;
            crate::request_log::store::clear(&c)?;
            crate::usage::store::clear(&c)?;
        }
        staged.files.push((archive::DB_ENTRY.into(), db));
        Ok(schema_version)
    }

    fn stage_config_and_key(&self, staging: &Path, staged: &mut Staged) -> Result<()> {
        if let Some(cfg) = &self.config_json {
            let p = staging.join("mcpd.json");
            std::fs::write(&p, cfg).internal("staging config")?;
            staged.files.push((archive::CONFIG_ENTRY.into(), p));
        }
        if let Some(k) = &self.master_key_file {
            let p = staging.join("master.key");
            std::fs::copy(k, &p).internal("copying the master key")?;
            staged.files.push((archive::MASTER_KEY_ENTRY.into(), p));
        }
        Ok(())
    }

    /// The daemon's log files as they are now, under [`archive::DAEMON_LOGS_DIR`].
    fn stage_logs(&self, staging: &Path, staged: &mut Staged) -> Result<()> {
        if self.log_files.is_empty() {
            return Ok(());
        }
        let logs = staging.join("logs");
        std::fs::create_dir(&logs).internal("creating the staging dir")?;
        for src in &self.log_files {
            let Some(name) = src.file_name() else {
                continue;
            };
            let p = logs.join(name);
            match copy_log(src, &p) {
                Ok(hashed) => {
                    let entry = format!("{}{}", archive::DAEMON_LOGS_DIR, name.to_string_lossy());
                    staged.known.insert(entry.clone(), hashed);
                    staged.files.push((entry, p));
                }
                // Rotated away (deleted) since it was listed: nothing to carry.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).internal(format!("copying {}", src.display())),
            }
        }
        Ok(())
    }

    /// Each volume as a tar file (incremental: the changed files, and a listing of
    /// every path present).
    fn stage_volumes(&self, staging: &Path, staged: &mut Staged) -> Result<()> {
        for (i, (v, path)) in self.volumes.iter().enumerate() {
            self.check_cancel()?;
            let p = staging.join(format!("vol-{i}.tar"));
            match &self.base {
                Some((_, since)) => {
                    let list = staging.join(format!("vol-{i}.list"));
                    volumes::tar_changed(path, &p, &list, *since)?;
                    staged.files.push((v.entry.clone(), p));
                    staged.files.push((listing_entry(&v.entry), list));
                }
                None => {
                    let hashed = volumes::tar_dir(path, &p)?;
                    staged.known.insert(v.entry.clone(), hashed);
                    staged.files.push((v.entry.clone(), p));
                }
            }
        }
        Ok(())
    }

    /// The manifest of the staged files (hashing those not hashed while copied).
    fn manifest(
        &self,
        snapshot_at: String,
        schema_version: i64,
        staged: &mut Staged,
    ) -> Result<Manifest> {
        let mut entries = Vec::new();
        for (name, path) in &staged.files {
            let (sha256, size_bytes) = match staged.known.remove(name) {
                Some(h) => h,
                None => archive::hash_file(path).internal(format!("hashing {name}"))?,
            };
            entries.push(FileEntry {
                path: name.clone(),
                size_bytes,
                sha256,
            });
        }
        Ok(Manifest {
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
        })
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

/// The newest completed backup whose manifest holds every one of these volumes: its id
/// and creation time (Unix seconds). 400 when there is none.
pub(super) async fn find_base(
    app: &AppState,
    located: &[volumes::Located],
) -> Result<(String, i64)> {
    let want: Vec<(String, String)> = located
        .iter()
        .map(|l| (l.entry.service.clone(), l.entry.source.clone()))
        .collect();
    let rows = app.store.read(store::completed_manifests).await?;
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
