//! The services domain's entry points, the ones other domains (MCP servers, backups,
//! configuration, the catalog) and the HTTP handlers call: create, get, list, spec,
//! update, scale, start, stop, restart and delete. Each brings Docker to the desired
//! state stored in SQLite and audits the change.
//!
//! Every function takes an id or a unique name. Operations on one service are
//! serialised by a per-service lock ([`super::lock`]) so that, say, a delete cannot
//! interleave with a start. Docker being down gives `DOCKER_UNAVAILABLE` for every
//! operation that needs it, while [`get`] and [`list`] still answer from the database
//! with the status last observed.

pub use super::create::create;
pub use super::model::{DESIRED_RUNNING, DESIRED_STOPPED};
pub use super::read::{get, list, spec};
pub use super::update::{scale, update};

use super::converge::{converge, stop_all};
use super::env::has_secret_refs;
use super::lock::lock;
use super::model::Service;
use super::outcome::finish;
use super::read::{load, to_service};
use super::runtime::{self, Observed};
use super::store;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};

/// Sets the desired state to running and starts the containers (creating missing or
/// out-of-date ones); returns once Docker reports them running. When the env refers to
/// secrets, stopped containers are created afresh so they start with current values.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "start"))]
pub async fn start(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.start",
        Some(DESIRED_RUNNING),
        false,
    )
    .await
}

/// Sets the desired state to stopped and stops every container (SIGTERM, then SIGKILL
/// after `docker.stop_timeout_s`).
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "stop"))]
pub async fn stop(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.stop",
        Some(DESIRED_STOPPED),
        false,
    )
    .await
}

/// Stops then starts every container (created afresh when the env refers to secrets);
/// the desired state becomes running.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "restart"))]
pub async fn restart(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.restart",
        Some(DESIRED_RUNNING),
        true,
    )
    .await
}

async fn run_op(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    action: &'static str,
    desired: Option<&'static str>,
    stop_first: bool,
) -> Result<Service> {
    let row = load(app, id_or_name).await?;
    let _guard = lock(&row.id).await;
    let mut row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    if let Some(d) = desired {
        let (id, now) = (row.id.clone(), crate::time::now_rfc3339());
        app.store
            .write(move |tx| store::set_desired_state(tx, &id, d, &now))
            .await?;
        row.desired_state = d.to_string();
    }
    let outcome: Result<Vec<Observed>> = async {
        if stop_first || row.desired_state == DESIRED_STOPPED {
            let containers = runtime::service_containers(&docker, &row.id).await?;
            stop_all(app, &docker, &containers, false).await?;
        }
        if row.desired_state == DESIRED_RUNNING {
            if has_secret_refs(&row.spec) {
                // Docker fixes a container's env when it is created: containers that
                // are about to start are made again so they get the secrets' values
                // as of now.
                let stopped: Vec<Observed> = runtime::service_containers(&docker, &row.id)
                    .await?
                    .into_iter()
                    .filter(|c| !c.running)
                    .collect();
                stop_all(app, &docker, &stopped, true).await?;
            }
            converge(app, &docker, &row.id, &row.spec, true).await
        } else {
            runtime::service_containers(&docker, &row.id).await
        }
    }
    .await;
    let (status, result) = match &outcome {
        Ok(obs) => (
            Some(runtime::derive_status(
                &row.desired_state,
                row.spec.replicas,
                obs,
            )),
            Ok(()),
        ),
        Err(e) => (None, Err(Error::new(e.code, e.message.clone()))),
    };
    finish(app, actor, action, &row.id, status, &result).await?;
    let obs = outcome?;
    let row = load(app, &row.id).await?;
    Ok(to_service(row, Some(&obs)))
}

/// Stops and removes every container of the service, then its row. Nothing is
/// orphaned: if Docker fails (or is down, `DOCKER_UNAVAILABLE`) the row stays.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "delete"))]
pub async fn delete(app: &App, actor: &Actor, id_or_name: &str) -> Result<()> {
    let row = load(app, id_or_name).await?;
    let _guard = lock(&row.id).await;
    let row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    let containers = runtime::service_containers(&docker, &row.id).await?;
    // Readers see `removing` while the containers go.
    let id = row.id.clone();
    app.store
        .write(move |tx| store::set_status(tx, &id, "removing"))
        .await?;
    let removed: Result<()> = async {
        stop_all(app, &docker, &containers, true).await?;
        // Containers made meanwhile (none expected under the lock) go too.
        let rest = runtime::service_containers(&docker, &row.id).await?;
        stop_all(app, &docker, &rest, true).await
    }
    .await;
    if let Err(e) = removed {
        let failed = Err(Error::new(e.code, e.message.clone()));
        // Back to the last status; the events watcher corrects it from Docker.
        let status = Some(row.status.clone());
        finish(app, actor, "services.delete", &row.id, status, &failed).await?;
        return Err(e);
    }
    let (actor, id, name) = (actor.clone(), row.id.clone(), row.spec.name.clone());
    app.store
        .write(move |tx| {
            store::delete(tx, &id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("services.delete")
                    .on("service", &id)
                    .details(serde_json::json!({"name": name})),
            )
        })
        .await?;
    tracing::info!(service = %row.spec.name, id = %row.id, "service deleted");
    Ok(())
}
