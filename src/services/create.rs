//! Creating a service: validation, its containers, and the row stored only once they
//! exist. A create that fails, or is cut off by its client, removes what it made.

use super::converge::{remove_service_containers, settle};
use super::env::{check_env_refs, resolve_env};
use super::lock::lock;
use super::model::{DESIRED_RUNNING, DESIRED_STOPPED, Service, ServiceSpec};
use super::outcome::audit_failure;
use super::read::{ensure_name_free, to_service};
use super::runtime::{self, Observed, ResolvedEnv};
use super::store::{self, Row};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::Result;
use bollard::Docker;

/// Creates a service: validates `spec` (400 naming the field; 409
/// `RESOURCE_ALREADY_EXISTS` for a taken name; image must exist locally), creates its
/// containers (`mcpd-<name>-<n>`) on the managed network and, when `start`, starts them
/// and returns once Docker reports them running. Any failure removes every container
/// made and stores nothing.
pub async fn create(
    app: &App,
    actor: &Actor,
    mut spec: ServiceSpec,
    start: bool,
) -> Result<Service> {
    spec.validate()?;
    check_env_refs(app, &spec).await?;
    let _guard = lock(&format!("name:{}", spec.name)).await;
    ensure_name_free(app, &spec.name).await?;
    let (docker, network) = prepare_engine(app, &spec).await?;
    let env = resolve_env(app, &spec).await?;
    let id = crate::ids::new_id("svc");
    // Events about the new containers wait until the row exists.
    let _id_guard = lock(&id).await;
    let undo = UndoCreate {
        docker: docker.clone(),
        service_id: id.clone(),
        armed: true,
    };
    let observed = match realise(&docker, &id, &spec, &env, &network, start).await {
        Ok(o) => o,
        Err(e) => {
            undo.now().await;
            audit_failure(app, actor, "services.create", &spec.name, &e).await;
            return Err(e);
        }
    };
    let row = new_row(id, spec, start, &observed, actor);
    if let Err(e) = insert(app, actor, &row, start).await {
        undo.now().await;
        return Err(e);
    }
    undo.keep();
    tracing::info!(service = %row.spec.name, id = %row.id, "service created");
    Ok(to_service(row, Some(&observed)))
}

/// The engine, once the image and the extra networks of `spec` are known to exist and
/// the managed network (whose name is returned with it) is there.
async fn prepare_engine(app: &App, spec: &ServiceSpec) -> Result<(Docker, String)> {
    let docker = app.docker.get().await?;
    runtime::check_image(&docker, &spec.image).await?;
    runtime::check_networks(&docker, &spec.networks).await?;
    let network = app.settings.docker.network.clone();
    runtime::ensure_network(&docker, &network).await?;
    Ok((docker, network))
}

/// Creates the containers of service `id` and, when `start`, starts them and watches
/// them [`settle`]; returns the containers afterwards.
async fn realise(
    docker: &Docker,
    id: &str,
    spec: &ServiceSpec,
    env: &ResolvedEnv,
    network: &str,
    start: bool,
) -> Result<Vec<Observed>> {
    let mut made = Vec::new();
    for n in 1..=spec.replicas {
        made.push(runtime::create_container(docker, id, spec, env, n, network).await?);
    }
    if start {
        for c in &made {
            runtime::start_container(docker, c).await?;
        }
        settle(docker, &made).await?;
    }
    runtime::service_containers(docker, id).await
}

/// The row of a service just created by `actor`, its status derived from `observed`.
fn new_row(
    id: String,
    spec: ServiceSpec,
    start: bool,
    observed: &[Observed],
    actor: &Actor,
) -> Row {
    let desired = if start {
        DESIRED_RUNNING
    } else {
        DESIRED_STOPPED
    };
    let now = crate::time::now_rfc3339();
    Row {
        id,
        status: runtime::derive_status(desired, spec.replicas, observed),
        spec,
        desired_state: desired.to_string(),
        created_by: actor.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
    }
}

/// Stores the new row with its `services.create` audit entry, in one transaction.
async fn insert(app: &App, actor: &Actor, row: &Row, start: bool) -> Result<()> {
    let (stored, actor) = (row.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::insert(tx, &stored)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("services.create")
                    .on("service", &stored.id)
                    .details(serde_json::json!({
                        "name": stored.spec.name,
                        "image": stored.spec.image,
                        "replicas": stored.spec.replicas,
                        "start": start,
                    })),
            )
        })
        .await
}

/// Removes every container of a service whose create did not complete: on a failure,
/// and also when the create's future is dropped half-way (the client went away), so
/// no container is left without a row.
struct UndoCreate {
    docker: Docker,
    service_id: String,
    armed: bool,
}

impl UndoCreate {
    async fn now(mut self) {
        self.armed = false;
        remove_service_containers(&self.docker, &self.service_id).await;
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for UndoCreate {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.service_id));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                // A Docker call cut off with the future may still complete inside the
                // engine: give it a moment to show up before looking.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                remove_service_containers(&docker, &id).await
            });
        }
    }
}
