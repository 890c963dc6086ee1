//! Group commit of request log rows: every execution hands its row to one writer task
//! and waits until the transaction holding it has committed, so the row is readable
//! (`GET /logs/requests/{id}`) by the time the response goes out. The task takes
//! whatever rows are queued, up to [`MAX_BATCH`], and writes them in one SQLite
//! transaction: under load, many calls share one commit instead of queueing one
//! transaction each on the single writer connection.
//!
//! A batch goes through [`super::store::insert_many`] (each distinct usage rollup
//! group updated once per batch, not once per row), inside
//! [`crate::store::Store::write_untracked`] (no cache reads the request log). A batch
//! that fails is reported in the daemon log and each of its calls gets the error (the
//! calls themselves still succeed; see [`crate::mcp::execute`]). Before the task runs
//! (and after it stopped at shutdown) rows are written one transaction each.

use super::NewRequestLog;
use crate::error::{Error, Result};
use crate::store::Store;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Most rows written in one transaction.
pub const MAX_BATCH: usize = 256;

/// One row waiting for its commit; `done` gets the row's id.
struct Job {
    entry: NewRequestLog,
    done: oneshot::Sender<Result<String>>,
}

/// The handle executions write through (in [`crate::app::App`]).
pub struct Writer {
    store: Store,
    /// Longest argument or result payload kept per row, in bytes.
    cap: usize,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl Writer {
    /// A writer into `store` keeping payloads up to `cap` bytes; rows are written one
    /// transaction each until [`Writer::start`].
    pub fn new(store: Store, cap: usize) -> Writer {
        Writer {
            store,
            cap,
            queue: OnceLock::new(),
        }
    }

    /// Writes `entry` and returns its id (`rlog_…`) once committed.
    pub async fn write(&self, entry: NewRequestLog) -> Result<String> {
        let entry = match self.queue.get() {
            Some(queue) => {
                let (done, committed) = oneshot::channel();
                match queue.send(Job { entry, done }) {
                    Ok(()) => {
                        return committed.await.unwrap_or_else(|_| {
                            Err(Error::internal(anyhow::anyhow!(
                                "the request log writer stopped before the row was written"
                            )))
                        });
                    }
                    // The task has stopped (shutdown): write it directly.
                    Err(mpsc::error::SendError(job)) => job.entry,
                }
            }
            None => entry,
        };
        let cap = self.cap;
        self.store
            .write_untracked(move |tx| super::store::insert(tx, &entry, cap))
            .await
    }

    /// Starts the writer task on `tasks`. It stops on `shutdown` after writing every
    /// row already queued. Calling it again does nothing.
    pub fn start(&self, tasks: &TaskTracker, shutdown: CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.queue.set(tx).is_err() {
            return;
        }
        let (store, cap) = (self.store.clone(), self.cap);
        tasks.spawn(run(store, cap, shutdown, rx));
    }
}

async fn run(
    store: Store,
    cap: usize,
    shutdown: CancellationToken,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, MAX_BATCH) => {
                if n == 0 {
                    return;
                }
                commit(&store, cap, std::mem::take(&mut batch)).await;
            }
            _ = shutdown.cancelled() => break,
        }
    }
    // Shutdown: refuse new rows (they are written directly), finish the queued ones.
    rx.close();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&store, cap, std::mem::take(&mut batch)).await;
    }
}

/// Writes one batch in one transaction and tells each waiter.
async fn commit(store: &Store, cap: usize, batch: Vec<Job>) {
    let (entries, waiters): (Vec<NewRequestLog>, Vec<_>) =
        batch.into_iter().map(|j| (j.entry, j.done)).unzip();
    let n = entries.len();
    let written = store
        .write_untracked(move |tx| super::store::insert_many(tx, &entries, cap))
        .await;
    match written {
        Ok(ids) => {
            for (done, id) in waiters.into_iter().zip(ids) {
                let _ = done.send(Ok(id));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, rows = n, "could not write a batch of request log rows");
            for done in waiters {
                let _ = done.send(Err(Error::internal(anyhow::anyhow!(
                    "request log batch failed: {}",
                    e.message
                ))));
            }
        }
    }
}
