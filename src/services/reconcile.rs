//! Bringing the database in line with Docker and Docker in line with the database:
//! the status refresh the events watcher runs for each event, and the reconcile it runs
//! at startup and on every reconnect to Docker.

use super::converge::{converge, stop_all};
use super::lock::lock;
use super::model::DESIRED_RUNNING;
use super::outcome::finish;
use super::runtime::{self, Observed};
use super::store;
use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, ErrorCode, Result};
use bollard::Docker;

/// Re-reads one service's containers and stores the status they give. Used by the
/// events watcher; a service that no longer exists is ignored. Waits for an operation
/// in progress on the service, so its final state is what gets stored.
pub async fn refresh_status(app: &App, docker: &Docker, service_id: &str) -> Result<()> {
    let _guard = lock(service_id).await;
    refresh_status_locked(app, docker, service_id).await
}

/// [`refresh_status`] for a caller already holding the service's lock.
async fn refresh_status_locked(app: &App, docker: &Docker, service_id: &str) -> Result<()> {
    let key = service_id.to_string();
    let Some(row) = app.store.read(move |c| store::find(c, &key)).await? else {
        return Ok(());
    };
    let obs = runtime::service_containers(docker, &row.id).await?;
    let status = runtime::derive_status(&row.desired_state, row.spec.replicas, &obs);
    if status != row.status {
        let id = row.id.clone();
        let changed = app
            .store
            .write(move |tx| store::set_status(tx, &id, &status))
            .await?;
        if changed {
            tracing::debug!(service = %row.spec.name, "service status changed");
        }
    }
    Ok(())
}

/// Startup / reconnect reconcile: services meant to run get their missing or exited
/// containers recreated or started, services meant to be stopped get running
/// containers stopped; every status is refreshed from Docker; containers labelled
/// `io.mcpd.managed` that belong to no service are reported (not removed).
pub async fn reconcile(app: &App) -> Result<()> {
    let docker = app.docker.get().await?;
    let rows = app.store.read(store::all).await?;
    // The network is made when the first service is; a daemon without services leaves
    // the engine as it found it.
    if !rows.is_empty() {
        runtime::ensure_network(&docker, &app.settings.docker.network).await?;
    }
    let known: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for c in runtime::managed_containers(&docker).await? {
        // The managed network itself is labelled too; only containers are listed here.
        match c.service_id.as_deref() {
            Some(s) if known.contains(s) => {}
            _ => {
                tracing::warn!(container = %c.name, id = %c.id, "container labelled io.mcpd.managed belongs to no service; leaving it alone")
            }
        }
    }
    for row in rows {
        let name = row.spec.name.clone();
        match reconcile_one(app, &docker, &row.id).await {
            Ok(()) => {}
            // Docker went away again: the watcher retries the whole reconcile.
            Err(e) if e.code == ErrorCode::DockerUnavailable => return Err(e),
            // One service's trouble must not keep the others (or the watcher) waiting.
            Err(e) => {
                tracing::warn!(service = %name, error = %e, "reconcile failed for this service")
            }
        }
    }
    Ok(())
}

/// Reconciles one service under its lock.
async fn reconcile_one(app: &App, docker: &Docker, service_id: &str) -> Result<()> {
    let _guard = lock(service_id).await;
    let id = service_id.to_string();
    let Some(row) = app.store.read(move |c| store::find(c, &id)).await? else {
        return Ok(()); // deleted meanwhile
    };
    if row.desired_state == DESIRED_RUNNING {
        let before = runtime::service_containers(docker, &row.id).await?;
        let healthy =
            before.len() == row.spec.replicas as usize && before.iter().all(|c| c.running);
        if !healthy {
            tracing::info!(service = %row.spec.name, "reconcile: bringing containers back to the desired state");
            let r = converge(app, docker, &row.id, &row.spec, true).await;
            let outcome = r
                .as_ref()
                .map(|_| ())
                .map_err(|e| Error::new(e.code, e.message.clone()));
            if let Err(e) = r {
                if e.code == ErrorCode::DockerUnavailable {
                    return Err(e);
                }
                tracing::warn!(service = %row.spec.name, error = %e, "reconcile could not start the service");
            }
            finish(
                app,
                &Actor::system(),
                "services.reconcile",
                &row.id,
                None,
                &outcome,
            )
            .await?;
        }
    } else {
        // e.g. restart policy `always` brings containers back when dockerd restarts,
        // even after they were stopped on purpose.
        let running: Vec<Observed> = runtime::service_containers(docker, &row.id)
            .await?
            .into_iter()
            .filter(|c| c.running)
            .collect();
        if !running.is_empty() {
            tracing::info!(service = %row.spec.name, "reconcile: stopping containers of a stopped service");
            stop_all(app, docker, &running, false).await?;
        }
    }
    refresh_status_locked(app, docker, &row.id).await
}
