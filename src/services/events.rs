//! The Docker events watcher: a background task that follows Docker's event stream
//! (containers labelled `io.mcpd.managed=true`) and stores each service's status as
//! Docker reports it. On every (re)connect it first reconciles (see
//! [`super::reconcile::reconcile`]); when the stream fails (Docker down) it retries with
//! exponential backoff from 1 s up to 10 s. It stops when `app.shutdown` is cancelled.

use super::reconcile;
use super::runtime::{LABEL_MANAGED, LABEL_SERVICE};
use crate::app::AppState;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How long shutdown waits for a reconcile in progress.
const RECONCILE_DRAIN: Duration = Duration::from_secs(5);

/// Spawns the watcher on `app.tasks`.
pub fn spawn(app: AppState) {
    let tasks = app.tasks.clone();
    tasks.spawn(async move { run(app).await });
}

async fn run(app: AppState) {
    let mut backoff = BACKOFF_MIN;
    let mut reported = false;
    loop {
        let mut connected = false;
        match watch(&app, &mut connected).await {
            Ok(()) => return, // shutdown
            Err(e) => {
                if connected {
                    backoff = BACKOFF_MIN;
                    reported = false;
                }
                if !reported {
                    tracing::warn!(error = %e, "Docker events stream unavailable; retrying with backoff");
                    reported = true;
                } else {
                    tracing::debug!(error = %e, retry_in_s = backoff.as_secs(), "Docker still unavailable");
                }
            }
        }
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        if !connected {
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// Reconciles, then follows events until the stream fails (`Err`) or shutdown (`Ok`).
async fn watch(app: &AppState, connected: &mut bool) -> crate::error::Result<()> {
    let docker = app.docker.get().await?;
    // Events from before the reconcile are replayed (`since`), so none is missed
    // between the reconcile's reads and the subscription.
    let since = crate::time::unix_now().to_string();
    let reconciling = reconcile::reconcile(app);
    tokio::pin!(reconciling);
    tokio::select! {
        r = &mut reconciling => r?,
        _ = app.shutdown.cancelled() => {
            // Dropped mid-request, a reconcile would leave what the engine is still
            // making (the network, a container) with nobody to finish or remove it:
            // let it finish, within bounds.
            if tokio::time::timeout(RECONCILE_DRAIN, reconciling).await.is_err() {
                tracing::warn!("shutdown: the Docker reconcile did not finish in time; abandoned");
            }
            return Ok(());
        }
    }
    *connected = true;
    tracing::info!("Docker connected; services reconciled; following events");
    let mut filters = HashMap::new();
    filters.insert("type".to_string(), vec!["container".to_string()]);
    filters.insert("label".to_string(), vec![format!("{LABEL_MANAGED}=true")]);
    let mut stream = docker.events(Some(bollard::query_parameters::EventsOptions {
        since: Some(since),
        until: None,
        filters: Some(filters),
    }));
    loop {
        let next = tokio::select! {
            _ = app.shutdown.cancelled() => return Ok(()),
            next = stream.next() => next,
        };
        match next {
            Some(Ok(ev)) => {
                let service = ev
                    .actor
                    .as_ref()
                    .and_then(|a| a.attributes.as_ref())
                    .and_then(|a| a.get(LABEL_SERVICE).cloned());
                if let Some(service) = service {
                    tracing::trace!(%service, action = ?ev.action, "docker event");
                    if let Err(e) = reconcile::refresh_status(app, &docker, &service).await {
                        tracing::debug!(%service, error = %e, "status refresh failed");
                    }
                }
            }
            Some(Err(e)) => return Err(crate::docker::map_err(e)),
            None => {
                return Err(crate::error::Error::new(
                    crate::error::ErrorCode::DockerUnavailable,
                    "Docker events stream ended",
                ));
            }
        }
    }
}
