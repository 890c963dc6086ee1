//! Request log retention: rows older than `mcp.request_log_retention_days` are deleted
//! at startup and then hourly, in small batches so the single writer is never held for
//! long. The usage rollups are kept: usage for an old window still answers from its
//! whole days (its partial edge days, read from raw rows, count only what is left).

use crate::app::{App, AppState};
use crate::error::Result;
use std::time::Duration;

/// Rows deleted per write transaction.
const BATCH: usize = 2_000;
const EVERY: Duration = Duration::from_secs(3600);

/// Deletes every request log row older than `days` days, `BATCH` rows per
/// transaction, stopping early on shutdown. Returns how many rows went.
pub async fn purge(app: &App, days: u32) -> Result<usize> {
    let cutoff = crate::time::format_rfc3339(
        time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)),
    );
    let mut total = 0;
    while !app.shutdown.is_cancelled() {
        let cutoff = cutoff.clone();
        let n = app
            .store
            .write(move |tx| crate::request_log::store::delete_before(tx, &cutoff, BATCH))
            .await?;
        total += n;
        if n < BATCH {
            break;
        }
    }
    Ok(total)
}

/// Starts the hourly purge (nothing when retention is 0); stops on `app.shutdown`.
pub fn spawn(app: &AppState) {
    let days = app.settings.mcp.request_log_retention_days;
    if days == 0 {
        return;
    }
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match purge(&app2, days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, days, "purged old request log rows"),
                Err(e) => tracing::warn!("purging old request log rows: {e}"),
            }
        }
    });
}
