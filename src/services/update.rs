//! Changing a service's desired state (replace, patch, scale): the new spec is stored,
//! the containers follow it, and a change Docker refuses is rolled back.

use super::converge::{converge, settle};
use super::env::check_env_refs;
use super::lock::lock;
use super::model::{DESIRED_RUNNING, Service, ServiceSpec};
use super::outcome::finish;
use super::read::{ensure_name_free, load, to_service};
use super::runtime::{self, Observed};
use super::store::{self, Row};
use super::validate::check_replicas;
use crate::app::App;
use crate::audit::Actor;
use crate::error::{Error, Result};
use bollard::Docker;
use std::collections::HashSet;

/// Changes the number of containers (0..=20): adds or removes the highest-numbered
/// ones (added ones are started when the service runs).
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "scale"))]
pub async fn scale(app: &App, actor: &Actor, id_or_name: &str, replicas: u32) -> Result<Service> {
    check_replicas(replicas)?;
    let row = load(app, id_or_name).await?;
    let mut spec = row.spec.clone();
    spec.replicas = replicas;
    spec.validate()?;
    update_inner(app, actor, row, spec, "services.scale").await
}

/// Replaces the desired state with `spec` (validated like create; a new name must be
/// free; the caller decides `stdin_open` and `managed_by`, see [`super::read::spec`]). Containers
/// whose configuration changed are recreated (and started again when the service
/// runs). If Docker refuses the new configuration the previous one is restored and the
/// error returned.
pub async fn update(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    mut spec: ServiceSpec,
) -> Result<Service> {
    spec.validate()?;
    check_env_refs(app, &spec).await?;
    let row = load(app, id_or_name).await?;
    if spec.name != row.spec.name {
        ensure_name_free(app, &spec.name).await?;
    }
    update_inner(app, actor, row, spec, "services.update").await
}

/// Stores `spec` for the service of `row` and brings its containers to it under the
/// service's lock, rolling back on failure; audited as `action`.
async fn update_inner(
    app: &App,
    actor: &Actor,
    row: Row,
    spec: ServiceSpec,
    action: &'static str,
) -> Result<Service> {
    let _guard = lock(&row.id).await;
    let row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    if spec.image != row.spec.image {
        runtime::check_image(&docker, &spec.image).await?;
    }
    runtime::check_networks(&docker, &spec.networks).await?;
    let before: HashSet<String> = runtime::service_containers(&docker, &row.id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let run = row.desired_state == DESIRED_RUNNING;
    let (id, now) = (row.id.clone(), crate::time::now_rfc3339());
    let new = spec.clone();
    app.store
        .write(move |tx| store::update_spec(tx, &id, &new, &now))
        .await?;
    let obs = match follow(app, &docker, &row.id, &spec, run, &before).await {
        Ok(obs) => obs,
        Err(e) => {
            roll_back(app, &docker, &row, run).await;
            let failed = Err(Error::new(e.code, e.message.clone()));
            finish(app, actor, action, &row.id, None, &failed).await?;
            return Err(e);
        }
    };
    let status = runtime::derive_status(&row.desired_state, spec.replicas, &obs);
    finish(app, actor, action, &row.id, Some(status), &Ok(())).await?;
    let row = load(app, &row.id).await?;
    Ok(to_service(row, Some(&obs)))
}

/// Brings the containers of service `id` to `spec`; when the service runs, new
/// containers (not in `before`) that die at once (a bad command) fail the change too.
async fn follow(
    app: &App,
    docker: &Docker,
    id: &str,
    spec: &ServiceSpec,
    run: bool,
    before: &HashSet<String>,
) -> Result<Vec<Observed>> {
    let obs = converge(app, docker, id, spec, run).await?;
    if !run {
        return Ok(obs);
    }
    let new: Vec<String> = obs
        .iter()
        .filter(|c| !before.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    settle(docker, &new).await?;
    runtime::service_containers(docker, id).await
}

/// Puts the previous desired state of `row` back, in the database and in Docker;
/// failures are logged (the change's own error is what the caller gets).
async fn roll_back(app: &App, docker: &Docker, row: &Row, run: bool) {
    let (id, old, at) = (row.id.clone(), row.spec.clone(), row.updated_at.clone());
    let restored = app
        .store
        .write(move |tx| store::update_spec(tx, &id, &old, &at))
        .await;
    if let Err(re) = restored {
        tracing::error!(error = %re, "could not restore a service's previous spec");
    } else if let Err(ce) = converge(app, docker, &row.id, &row.spec, run).await {
        tracing::warn!(error = %ce, "could not restore a service's previous containers");
    }
}
