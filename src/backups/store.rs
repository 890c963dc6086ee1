//! All SQL of the tables the backups domain owns, `backups` and `backup_schedules`, and
//! the database-wide operations backups and restores need: SQLite's online backup API
//! copy, the schema version and journal mode pragmas, and the carry-over of the backup
//! tables across a restore. Those act on a whole database file (every domain's tables at
//! once), which is why they live here and not in the store of one table's owner.
//! Other domains' tables are reached only through their own stores.

use super::archive::Manifest;
use super::model::{Backup, BackupOptions, RunOptions, Schedule, ScheduleSpec};
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

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

/// Filters and sorts of `GET /backups`.
pub const LIST: ListSpec = ListSpec {
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
    search: &[],
};

/// A page of backups: filters `status`, `type`, `schedule_id`, `created_by`,
/// `size_bytes`, `created_at`, `completed_at`; newest first by default.
pub fn list(conn: &Connection, q: &ListQuery) -> Result<Page<Backup>> {
    q.sql(&LIST)?.query(conn, COLUMNS, "backups b", from_row)
}

/// Loads one backup row; `RESOURCE_NOT_FOUND` when unknown.
pub fn load(conn: &Connection, id: &str) -> Result<Backup> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM backups b WHERE b.id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("backup", id))
}

/// Inserts a `queued` backup row (`created_at` = `now`, RFC 3339).
pub fn insert_queued(
    conn: &Connection,
    id: &str,
    opts: &BackupOptions,
    schedule_id: Option<&str>,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO backups (id, type, status, description, options, schedule_id, created_by, created_at)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            opts.r#type.as_str(),
            opts.description,
            serde_json::to_string(opts)?,
            schedule_id,
            created_by,
            now
        ],
    )?;
    Ok(())
}

/// Moves a `queued` backup to `running`; returns the rows changed (0: it was not queued).
pub fn mark_running(conn: &Connection, id: &str, now: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE backups SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'",
        params![id, now],
    )?)
}

/// Records a running backup's progress (0–100).
pub fn set_progress(conn: &Connection, id: &str, pct: u8) -> Result<()> {
    conn.execute(
        "UPDATE backups SET progress_pct = ?2 WHERE id = ?1",
        params![id, pct],
    )?;
    Ok(())
}

/// What a completed backup wrote.
pub struct Completed<'a> {
    /// The archive's file name in the backups directory.
    pub file_name: &'a str,
    /// The archive's size in bytes.
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the archive.
    pub sha256: &'a str,
    /// The archive's manifest (stored as JSON).
    pub manifest: &'a Manifest,
}

/// Marks a backup `completed` at `now` with what it wrote.
pub fn mark_completed(conn: &Connection, id: &str, c: &Completed<'_>, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE backups SET status = 'completed', progress_pct = 100, file_name = ?2, size_bytes = ?3, sha256 = ?4, manifest = ?5, completed_at = ?6 WHERE id = ?1",
        params![id, c.file_name, c.size_bytes as i64, c.sha256, serde_json::to_string(c.manifest)?, now],
    )?;
    Ok(())
}

/// Marks a backup `failed` at `now`, with why.
pub fn mark_failed(conn: &Connection, id: &str, reason: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE backups SET status = 'failed', error = ?2, completed_at = ?3 WHERE id = ?1",
        params![id, reason, now],
    )?;
    Ok(())
}

/// An incremental backup whose manifest names `id` as its base, if any.
pub fn dependent_of(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM backups WHERE json_extract(manifest, '$.base_backup_id') = ?1 LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Deletes a backup row.
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM backups WHERE id = ?1", [id])?;
    Ok(())
}

/// Marks every `queued` or `running` backup failed as interrupted (at start-up);
/// returns how many.
pub fn fail_unfinished(conn: &Connection, now: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE backups SET status = 'failed', error = 'interrupted: the daemon stopped during the backup', completed_at = ?1 WHERE status IN ('queued', 'running')",
        [now],
    )?)
}

/// Whether a backup is `queued` or `running`.
pub fn any_unfinished(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM backups WHERE status IN ('queued', 'running'))",
        [],
        |r| r.get(0),
    )?)
}

/// `(id, manifest JSON)` of every completed backup, newest first.
pub fn completed_manifests(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut st = conn.prepare(
        "SELECT id, manifest FROM backups WHERE status = 'completed' AND manifest IS NOT NULL ORDER BY created_at DESC",
    )?;
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// `(id, status, created_at)` of a schedule's ended (completed or failed) backups,
/// newest first.
pub fn ended_of_schedule(
    conn: &Connection,
    schedule_id: &str,
) -> Result<Vec<(String, String, String)>> {
    let mut st = conn.prepare(
        "SELECT id, status, created_at FROM backups WHERE schedule_id = ?1 AND status IN ('completed', 'failed') ORDER BY created_at DESC, id DESC",
    )?;
    let v = st
        .query_map([schedule_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

const SCHEDULE_COLUMNS: &str = "s.id, s.name, s.cron_expression, s.timezone, s.options, s.retention, s.keep_last, s.enabled, s.next_run_at, s.last_run_at, s.last_status, s.last_backup_id, s.created_by, s.created_at, s.updated_at";

fn schedule_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Schedule> {
    let options: String = r.get(4)?;
    Ok(Schedule {
        id: r.get(0)?,
        name: r.get(1)?,
        cron_expression: r.get(2)?,
        timezone: r.get(3)?,
        options: serde_json::from_str(&options).unwrap_or(RunOptions {
            backup: BackupOptions::default(),
            recipient: None,
        }),
        retention: r.get(5)?,
        keep_last: r.get::<_, Option<i64>>(6)?.map(|n| n as u32),
        enabled: r.get(7)?,
        next_run_at: r.get(8)?,
        last_run_at: r.get(9)?,
        last_status: r.get(10)?,
        last_backup_id: r.get(11)?,
        created_by: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// One schedule by id or name; `RESOURCE_NOT_FOUND` when unknown.
pub fn load_schedule(conn: &Connection, id_or_name: &str) -> Result<Schedule> {
    conn.query_row(
        &format!(
            "SELECT {SCHEDULE_COLUMNS} FROM backup_schedules s WHERE s.id = ?1 OR s.name = ?1"
        ),
        [id_or_name],
        schedule_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("backup schedule", id_or_name))
}

/// Every schedule, oldest first.
pub fn all_schedules(conn: &Connection) -> Result<Vec<Schedule>> {
    let mut st = conn.prepare(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM backup_schedules s ORDER BY s.created_at"
    ))?;
    let v = st
        .query_map([], schedule_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// Whether a schedule is named `name`.
pub fn schedule_name_taken(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM backup_schedules WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )?)
}

/// Whether a schedule other than `id` is named `name`.
pub fn schedule_name_clashes(conn: &Connection, name: &str, id: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM backup_schedules WHERE name = ?1 AND id <> ?2)",
        params![name, id],
        |r| r.get(0),
    )?)
}

/// Inserts a schedule created at `now` (RFC 3339), next due at `next`.
pub fn insert_schedule(
    conn: &Connection,
    id: &str,
    spec: &ScheduleSpec,
    next: Option<&str>,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO backup_schedules (id, name, cron_expression, timezone, options, retention, keep_last, enabled, next_run_at, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            id, spec.name, spec.cron_expression.trim(), spec.timezone,
            serde_json::to_string(&spec.options)?, spec.retention, spec.keep_last,
            spec.enabled, next, created_by, now
        ],
    )?;
    Ok(())
}

/// Replaces a schedule's writable fields (updated at `now`), next due at `next`.
pub fn update_schedule(
    conn: &Connection,
    id: &str,
    spec: &ScheduleSpec,
    next: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE backup_schedules SET name = ?2, cron_expression = ?3, timezone = ?4, options = ?5, retention = ?6, keep_last = ?7, enabled = ?8, next_run_at = ?9, updated_at = ?10 WHERE id = ?1",
        params![
            id, spec.name, spec.cron_expression.trim(), spec.timezone,
            serde_json::to_string(&spec.options)?, spec.retention, spec.keep_last,
            spec.enabled, next, now
        ],
    )?;
    Ok(())
}

/// Deletes a schedule (its backups' `schedule_id` becomes null).
pub fn delete_schedule(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM backup_schedules WHERE id = ?1", [id])?;
    Ok(())
}

/// Enabled schedules due at `now` (RFC 3339), each with whether a backup of it is
/// still queued or running.
pub fn due_schedules(conn: &Connection, now: &str) -> Result<Vec<(Schedule, bool)>> {
    let mut st = conn.prepare(&format!(
        "SELECT {SCHEDULE_COLUMNS}, EXISTS (SELECT 1 FROM backups b WHERE b.schedule_id = s.id AND b.status IN ('queued', 'running'))
         FROM backup_schedules s WHERE s.enabled = 1 AND s.next_run_at IS NOT NULL AND s.next_run_at <= ?1"
    ))?;
    let v = st
        .query_map([now], |r| {
            Ok((schedule_from_row(r)?, r.get::<_, bool>(15)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// A turn skipped because the previous run has not ended: next due at `next`.
pub fn skip_schedule_turn(conn: &Connection, id: &str, next: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE backup_schedules SET next_run_at = ?2, last_status = 'skipped' WHERE id = ?1",
        params![id, next],
    )?;
    Ok(())
}

/// A run fired at `now`: next due at `next`, its status and backup.
pub fn record_schedule_fired(
    conn: &Connection,
    id: &str,
    next: Option<&str>,
    now: &str,
    status: &str,
    backup_id: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE backup_schedules SET next_run_at = ?2, last_run_at = ?3, last_status = ?4, last_backup_id = ?5 WHERE id = ?1",
        params![id, next, now, status, backup_id],
    )?;
    Ok(())
}

/// The outcome of a schedule's last run (`completed` or `failed`).
pub fn set_schedule_status(conn: &Connection, id: &str, status: &str) -> Result<()> {
    conn.execute(
        "UPDATE backup_schedules SET last_status = ?2 WHERE id = ?1",
        params![id, status],
    )?;
    Ok(())
}

/// Copies the live database into `dest` with SQLite's online backup API in one step: the
/// copy reads one consistent snapshot under a WAL read transaction, which does not
/// block writers (a stepwise copy would restart whenever another connection writes).
/// Database-wide. Returns the copy's schema version.
pub fn copy_database(src: &Path, dest: &Path) -> Result<i64> {
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(Duration::from_secs(5))?;
    let mut to = Connection::open(dest)?;
    copy_all(&from, &mut to)?;
    to.pragma_update(None, "journal_mode", "DELETE")?;
    schema_version(&to)
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

/// SQLite `user_version` of a database (the migration count). Database-wide.
pub fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Puts a database file in rollback-journal (`DELETE`) mode, so it is one file with no
/// WAL beside it. Database-wide.
pub fn use_rollback_journal(db: &Path) -> Result<()> {
    Connection::open(db)?.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Whether `conn`'s database has a table named `table` (the schema, database-wide).
pub fn table_exists(conn: &Connection, table: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [table],
        |r| r.get(0),
    )?)
}

/// Before a restored database replaces the live one at `live_db`: the restored copy
/// (`new`) takes the live database's `backups` and `backup_schedules` rows, so a restore
/// never forgets archives made since. Attaches the other database file as a whole,
/// which is why this is database-wide; nothing happens when `live_db` does not exist.
pub fn carry_over_backup_tables(new: &Connection, live_db: &Path) -> Result<()> {
    if !live_db.exists() {
        return Ok(());
    }
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
    Ok(())
}

/// Backups by status (`GET /stats`).
pub fn count_by_status(conn: &Connection) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        conn,
        "SELECT status, count(*) FROM backups GROUP BY status",
        [],
    )
}

/// When the last backup completed and when the last one failed (RFC 3339), for
/// `GET /stats` and `mcpd_backup_last_success_timestamp_seconds`.
pub fn last_outcomes(conn: &Connection) -> Result<(Option<String>, Option<String>)> {
    Ok(conn.query_row(
        "SELECT (SELECT max(completed_at) FROM backups WHERE status = 'completed'),
                (SELECT max(completed_at) FROM backups WHERE status = 'failed')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Every backup as `(id, status, progress percent as text)`, for the live `backups`
/// event channel.
pub fn progress(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    crate::store::triples(
        conn,
        "SELECT id, status, CAST(progress_pct AS TEXT) FROM backups",
    )
}

/// Completed backups as `(id, size_bytes, completed_at)`, for the billing summary's
/// storage line (deleted backups are gone and not counted).
pub fn completed_sizes(conn: &Connection) -> Result<Vec<(String, i64, String)>> {
    let mut st = conn.prepare(
        "SELECT id, coalesce(size_bytes, 0), completed_at FROM backups
         WHERE status = 'completed' AND completed_at IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
