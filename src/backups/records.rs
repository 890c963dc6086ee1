//! Backups as records: listing and reading them, where a completed one's archive is
//! (and opening it for a download), deleting one, and the start-up recovery of those a
//! previous process left unfinished.

use super::model::Backup;
use super::store;
use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Internal, Result};
use crate::store::list::{ListQuery, Page};
use std::path::PathBuf;

/// `GET /backups`: filters `status`, `type`, `schedule_id`, `created_by`, `size_bytes`,
/// `created_at`, `completed_at`.
pub async fn list(app: &AppState, q: ListQuery) -> Result<Page<Backup>> {
    app.store.read(move |c| store::list(c, &q)).await
}

/// One backup; `RESOURCE_NOT_FOUND` when unknown.
pub async fn get(app: &AppState, id: &str) -> Result<Backup> {
    let id = id.to_string();
    app.store.read(move |c| store::load(c, &id)).await
}

/// The effective archive directory.
pub fn dir(app: &AppState) -> PathBuf {
    app.settings.backups.dir(&app.settings.server.data_dir)
}

/// Path of a completed backup's archive; `CONFLICT` when it is not completed.
pub fn archive_path(app: &AppState, b: &Backup) -> Result<PathBuf> {
    match (&b.status[..], &b.file_name) {
        ("completed", Some(f)) => Ok(dir(app).join(f)),
        _ => Err(Error::conflict(format!(
            "backup {} is {}, not completed",
            b.id, b.status
        ))),
    }
}

/// A completed backup's archive, opened to be sent.
pub struct Download {
    /// The archive file, opened for reading.
    pub file: tokio::fs::File,
    /// Size of the archive in bytes.
    pub len: u64,
    /// The archive's file name (empty if the row has none).
    pub file_name: String,
    /// Lowercase hex SHA-256 of the archive, as recorded.
    pub sha256: Option<String>,
}

impl Download {
    /// The recorded SHA-256 in standard base64 (`None` without a valid hex one).
    pub fn sha256_base64(&self) -> Option<String> {
        use base64::Engine;
        let raw = hex::decode(self.sha256.as_deref()?).ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Opens backup `id`'s archive: `RESOURCE_NOT_FOUND` for an unknown backup, `CONFLICT`
/// for one not completed.
pub async fn download(app: &AppState, id: &str) -> Result<Download> {
    let b = get(app, id).await?;
    let path = archive_path(app, &b)?;
    let file = tokio::fs::File::open(&path)
        .await
        .internal(format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .await
        .internal(format!("stat {}", path.display()))?
        .len();
    Ok(Download {
        file,
        len,
        file_name: b.file_name.unwrap_or_default(),
        sha256: b.sha256,
    })
}

/// Removes a backup's archive and row (`CONFLICT` while it is queued or running, or
/// while it is the base of an incremental backup). Audited as `backups.delete`.
pub async fn delete(app: &AppState, actor: &Actor, id: &str) -> Result<()> {
    let (id, actor, dir) = (id.to_string(), actor.clone(), dir(app));
    app.store
        .write(move |tx| {
            let b = store::load(tx, &id)?;
            if b.status == "queued" || b.status == "running" {
                return Err(Error::conflict(format!(
                    "backup {id} is {}; wait for it to end",
                    b.status
                )));
            }
            if let Some(dep) = store::dependent_of(tx, &id)? {
                return Err(Error::conflict(format!(
                    "backup {id} is the base of incremental backup {dep}; delete that first"
                )));
            }
            store::delete(tx, &id)?;
            audit::record(tx, &actor, &Entry::new("backups.delete").on("backup", &id))?;
            // Inside the transaction: if the file cannot be removed, the row stays.
            if let Some(f) = b.file_name {
                match std::fs::remove_file(dir.join(&f)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).internal(format!("removing {f}")),
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
            let n = store::fail_unfinished(tx, &crate::time::now_rfc3339())?;
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
