//! Embedded SQLite: one writer connection and a few readers, every call run on the
//! blocking pool so the async runtime never waits on disk (the vaultwarden rule).
//!
//! WAL mode lets readers proceed while the writer commits. Writes go through
//! [`Store::write`], which opens `BEGIN IMMEDIATE` so a write transaction never has to
//! upgrade a read lock (the classic `SQLITE_BUSY` trap) and commits only when the
//! closure returns `Ok`: a multi-row change is all or nothing.
//!
//! In-memory caches of database rows ([`cache::Cache`]) are kept correct by a
//! generation counter: every committed [`Store::write`] bumps it after the commit, and so
//! does a commit made by another connection (an online restore), noticed through
//! SQLite's `data_version` before the next write. Append-only rows that no cache reads
//! (the request log) are written with [`Store::write_untracked`], which does not bump it.
//! [`Store::changes`] lets a task sleep until the next bump instead of polling.

pub mod cache;
pub mod list;
pub mod migrations;

use crate::error::{Internal, Result};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a connection waits on a lock held by another before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections; the machine has few cores and reads are short.
const READERS: usize = 4;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Unique per open store, so that process-wide caches keep stores apart.
    id: u64,
    /// Bumped after every tracked commit (see the module docs).
    generation: AtomicU64,
    /// The writer's `PRAGMA data_version` as last seen (changes on foreign commits).
    data_version: AtomicI64,
    /// Carries the generation after each bump, for [`Store::changes`].
    changed: watch::Sender<u64>,
}

impl Inner {
    /// Bumps the generation and wakes the [`Store::changes`] receivers.
    fn bump(&self) {
        let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed.send_replace(g);
    }
}

/// Source of [`Inner::id`].
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    /// Blocking: call before serving or inside `spawn_blocking`.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let mut writer = open_connection(path, true)?;
        migrations::apply(&mut writer)?;
        let data_version = data_version(&writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path, false).map(Mutex::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
                generation: AtomicU64::new(0),
                data_version: AtomicI64::new(data_version),
                changed: watch::Sender::new(0),
            }),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Identifies this store among all opened in the process (for caches).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The current generation: a value cached from a read that started at generation
    /// `g` is still what the database holds while `generation() == g` (see [`cache`]).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// A receiver that wakes (`changed().await`) after each generation bump, i.e. after
    /// every tracked commit: for tasks that react to changes (the MCP gateway's
    /// list-changed notifications). Bumps that come faster than the receiver looks are
    /// coalesced; the value is the generation.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take the first idle reader; if all are busy, wait on the one we were dealt.
            for i in 0..n {
                if let Ok(conn) = inner.readers[(start + i) % n].try_lock() {
                    return f(&conn);
                }
            }
            let conn = lock(&inner.readers[start % n])?;
            f(&conn)
        })
        .await
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the writer connection;
    /// commits when `f` returns `Ok`, rolls back otherwise. A commit invalidates every
    /// cache ([`Store::generation`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_tracked(true, f).await
    }

    /// [`Store::write`] for rows no cache reads (append-only logs): the commit leaves
    /// the caches valid. Anything else must use [`Store::write`].
    pub async fn write_untracked<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_tracked(false, f).await
    }

    async fn write_tracked<T, F>(&self, tracked: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut conn = lock(&inner.writer)?;
            // Another connection committed since our last write (an online restore
            // replaces the database through its own): whatever was cached may be stale.
            let seen = data_version(&conn)?;
            if inner.data_version.swap(seen, Ordering::SeqCst) != seen {
                inner.bump();
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            if tracked {
                // After the commit: a read that began before it cannot cache a row
                // under the new generation.
                inner.bump();
            }
            Ok(out)
        })
        .await
    }

    /// A quick liveness probe for `/health`: a read that touches the schema.
    pub async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }

    /// Checkpoints the WAL into the main file; called on shutdown so the database file
    /// alone is complete.
    pub async fn checkpoint(&self) -> Result<()> {
        let inner = self.inner.clone();
        run_blocking(move || {
            let conn = lock(&inner.writer)?;
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await
    }
}

fn lock(m: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>> {
    // A panic while holding a connection leaves no open transaction behind (the
    // Transaction's Drop rolls back), so a poisoned lock is still safe to use.
    Ok(m.lock().unwrap_or_else(|p| p.into_inner()))
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    // Audit rows written in `f` carry the request's id.
    let id = crate::telemetry::request_id::in_request();
    tokio::task::spawn_blocking(move || crate::telemetry::request_id::with_blocking(id, f))
        .await
        .internal("database task failed")?
}

/// `PRAGMA data_version`: changes on this connection only when another connection
/// commits.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))
}

fn open_connection(path: &Path, writer: bool) -> anyhow::Result<Connection> {
    let flags = if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if writer {
        // journal_mode is persistent; set it once from the writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;",
    )?;
    list::register_regexp(&conn)?;
    Ok(conn)
}

/// The rows of a query `sql` selecting a text key and a count, as a map from key to
/// count (NULL keys read as `""`): what the owning stores' status counts return for
/// `GET /stats`.
pub fn counts(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map(params, |r| {
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get::<_, i64>(1)?.max(0) as u64,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The rows of an `N`-column text query `sql` (no parameters), NULL read as `""`:
/// what the owning stores' inventory lists return for `GET /resources`.
pub fn text_rows<const N: usize>(conn: &Connection, sql: &str) -> Result<Vec<[String; N]>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| {
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (i, v) in out.iter_mut().enumerate() {
            *v = r.get::<_, Option<String>>(i)?.unwrap_or_default();
        }
        Ok(out)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The rows of a three-column text query `sql` (no parameters), NULL read as `""`:
/// what the owning stores' status lists return for the live event channels.
pub fn triples(conn: &Connection, sql: &str) -> Result<Vec<(String, String, String)>> {
    let mut st = conn.prepare(sql)?;
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let rows = st.query_map([], |r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The rows of a two-column query `sql` (no parameters) as a map from the first column
/// to the second, NULL read as `""`: what the owning stores' `name_stamps` return for a
/// restore to compare the live and the restored database.
pub fn text_pairs(
    conn: &Connection,
    sql: &str,
) -> Result<std::collections::BTreeMap<String, String>> {
    let mut st = conn.prepare(sql)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[tokio::test]
    async fn write_rolls_back_on_error_and_readers_see_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let r: Result<()> = store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO audit_log (id, timestamp, action, outcome) VALUES ('a1', 't', 'x', 'success')",
                    [],
                )?;
                Err(Error::validation("boom"))
            })
            .await;
        assert!(r.is_err());
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0, "failed write must leave nothing behind");
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn changes_wake_on_tracked_commits_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let mut rx = store.changes();
        store.write_untracked(|_| Ok(())).await.unwrap();
        assert!(!rx.has_changed().unwrap());
        store.write(|_| Ok(())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(*rx.borrow_and_update(), store.generation());
    }
}
