//! Taking a backup: checks made before queueing ([`create`]), the queued row
//! ([`queue`]), and running it ([`run`]): one backup at a time ([`RUN_LOCK`]), on its
//! own low-priority thread, with progress recorded as it goes and the outcome at the
//! end. A row moves `queued → running → completed | failed`.

use super::archive::Seal;
use super::model::{Backup, BackupOptions, BackupType, Status};
use super::staging::{Built, Job, check_space, find_base, is_out_of_space, space_needed};
use super::{store, volumes};
use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Internal, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

/// One backup at a time: a second one waits (queued) for the first to end. An online
/// restore holds it too, so no backup starts while things are being replaced.
pub(super) static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let (db, dir) = (app.store.path().to_path_buf(), super::records::dir(app));
    let paths: Vec<PathBuf> = located.into_iter().map(|l| l.path).collect();
    let min_free = app.settings.backups.min_free_bytes;
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
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            store::insert_queued(
                tx,
                &id,
                &opts,
                schedule_id.as_deref(),
                actor.user_id.as_deref(),
                &crate::time::now_rfc3339(),
            )?;
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.create")
                    .on("backup", &id)
                    .details(serde_json::json!({
                        "type": opts.r#type.as_str(),
                        "encrypt": opts.encrypt,
                        "include_master_key": opts.include_master_key,
                        "schedule_id": schedule_id,
                    })),
            )?;
            store::load(tx, &id)
        })
        .await
}

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
            .write(move |tx| store::mark_running(tx, &id, &crate::time::now_rfc3339()))
            .await
    };
    if !matches!(started, Ok(1)) {
        return Status::Failed;
    }
    let (located, base) = match volumes_and_base(&app, &opts).await {
        Ok(v) => v,
        Err(reason) => {
            finish(&app, &id, Err(reason)).await;
            return Status::Failed;
        }
    };
    let paused = pause(&app, &opts, &located).await;
    let job = Job::new(&app, id.clone(), opts, seal, located, base);
    let (progress, cancel) = (job.progress.clone(), job.cancel.clone());
    let outcome = match spawn_build(job) {
        Ok(handle) => watch(&app, &id, handle, &progress, &cancel).await,
        Err(e) => {
            finish(&app, &id, Err(format!("starting the backup thread: {e}"))).await;
            volumes::set_paused(&app, &paused, false).await;
            return Status::Failed;
        }
    };
    volumes::set_paused(&app, &paused, false).await;
    let status = if outcome.is_ok() {
        Status::Completed
    } else {
        Status::Failed
    };
    let result = outcome.map_err(|e| failure_reason(&e, cancel.load(Ordering::Relaxed)));
    finish(&app, &id, result).await;
    status
}

/// The volumes of the services to archive and (incremental) the base backup, or why
/// the backup fails.
async fn volumes_and_base(
    app: &AppState,
    opts: &BackupOptions,
) -> std::result::Result<(Vec<volumes::Located>, Option<(String, i64)>), String> {
    let located = volumes::locate(app, &opts.services)
        .await
        .map_err(|e| format!("services: {}", e.message))?;
    let base = if opts.r#type == BackupType::Incremental {
        Some(find_base(app, &located).await.map_err(|e| e.message)?)
    } else {
        None
    };
    Ok((located, base))
}

/// With `pause_services`, pauses the running containers using the volumes; returns
/// their ids (to unpause when the backup ends).
async fn pause(app: &AppState, opts: &BackupOptions, located: &[volumes::Located]) -> Vec<String> {
    if !opts.pause_services {
        return Vec::new();
    }
    let mut ids: Vec<String> = located.iter().flat_map(|l| l.running.clone()).collect();
    ids.sort();
    ids.dedup();
    volumes::set_paused(app, &ids, true).await;
    ids
}

/// Starts the job on its own thread at a lower CPU and I/O priority, so API requests go
/// first when both want the machine (the thread ends with the job: no pooled thread
/// keeps the lowered priority). The receiver gets the job's result.
fn spawn_build(job: Job) -> std::io::Result<oneshot::Receiver<Result<Built>>> {
    let (tx, handle) = oneshot::channel();
    std::thread::Builder::new()
        .name("mcpd-backup".into())
        .spawn(move || {
            lower_own_priority();
            let _ = tx.send(job.build());
        })?;
    Ok(handle)
}

/// Waits for the job's result, recording its progress every half second, and asks it
/// to stop when the daemon stops.
async fn watch(
    app: &AppState,
    id: &str,
    mut handle: oneshot::Receiver<Result<Built>>,
    progress: &AtomicU8,
    cancel: &AtomicBool,
) -> Result<Built> {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last = 0u8;
    loop {
        tokio::select! {
            r = &mut handle => return r.ok().internal("the backup thread ended without a result")?,
            _ = tick.tick() => {
                let p = progress.load(Ordering::Relaxed);
                if p != last {
                    last = p;
                    let id = id.to_string();
                    let _ = app.store.write(move |tx| store::set_progress(tx, &id, p)).await;
                }
            }
            _ = app.shutdown.cancelled(), if !cancel.load(Ordering::Relaxed) => cancel.store(true, Ordering::Relaxed),
        }
    }
}

/// Why a backup failed, as its row records it.
fn failure_reason(e: &Error, cancelled: bool) -> String {
    let reason = match &e.source {
        Some(s) if is_out_of_space(e) => format!(
            "the backups directory ran out of space (ENOSPC: no space left on device): {s:#}"
        ),
        Some(s) if e.code == ErrorCode::InternalServerError => format!("{s:#}"),
        _ => e.message.clone(),
    };
    if cancelled {
        "interrupted: the daemon stopped during the backup".to_string()
    } else {
        reason
    }
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

/// Records a backup's outcome: `completed` with what it wrote, or `failed` with why.
async fn finish(app: &AppState, id: &str, r: std::result::Result<Built, String>) {
    let id = id.to_string();
    let now = crate::time::now_rfc3339();
    let res = app
        .store
        .write(move |tx| match r {
            Ok(b) => {
                let done = store::Completed {
                    file_name: &b.file_name,
                    size_bytes: b.size_bytes,
                    sha256: &b.sha256,
                    manifest: &b.manifest,
                };
                store::mark_completed(tx, &id, &done, &now)
            }
            Err(reason) => {
                tracing::warn!(backup = %id, %reason, "backup failed");
                store::mark_failed(tx, &id, &reason, &now)
            }
        })
        .await;
    if let Err(e) = res {
        tracing::error!("recording a backup's outcome: {e:?}");
    }
}
