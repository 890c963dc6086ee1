//! Reading services: a stored row, its containers as Docker reports them, and the API
//! shape built from both. While Docker is down, reads answer from the database with the
//! status last observed.

use super::model::{Service, ServiceSpec};
use super::runtime::{self, Observed};
use super::store::{self, Row};
use crate::app::App;
use crate::docker::Engine;
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};

/// Builds the API shape from a row and, when Docker answered, its containers.
pub(super) fn to_service(row: Row, observed: Option<&[Observed]>) -> Service {
    let (status, containers, engine) = match observed {
        Some(obs) => (
            runtime::derive_status(&row.desired_state, row.spec.replicas, obs),
            obs.iter().map(Observed::info).collect(),
            Engine::Available,
        ),
        None => (row.status.clone(), Vec::new(), Engine::Unavailable),
    };
    let s = row.spec;
    Service {
        id: row.id,
        name: s.name,
        image: s.image,
        command: s.command,
        env: s.env,
        ports: s.ports,
        volumes: s.volumes,
        networks: s.networks,
        labels: s.labels,
        resources: s.resources,
        health_check: s.health_check,
        replicas: s.replicas,
        restart_policy: s.restart_policy,
        status,
        engine,
        desired_state: row.desired_state,
        managed_by: s.managed_by,
        containers,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The stored row of the service with this id or name (`RESOURCE_NOT_FOUND` otherwise).
pub(super) async fn load(app: &App, id_or_name: &str) -> Result<Row> {
    let key = id_or_name.to_string();
    app.store.read(move |c| store::get(c, &key)).await
}

/// The service's containers and status now, or `None` (status as last stored) when
/// Docker does not answer.
async fn observe(app: &App, row: &Row) -> Option<Vec<Observed>> {
    let docker = app.docker.get().await.ok()?;
    match runtime::service_containers(&docker, &row.id).await {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::debug!(service = %row.id, error = %e, "containers not observable; using last known status");
            None
        }
    }
}

/// The service with this id or name (`RESOURCE_NOT_FOUND` otherwise), its containers
/// and status read from Docker; while Docker is down, the last known status and no
/// containers.
pub async fn get(app: &App, id_or_name: &str) -> Result<Service> {
    let row = load(app, id_or_name).await?;
    let observed = observe(app, &row).await;
    Ok(to_service(row, observed.as_deref()))
}

/// One page of services matching `query` (filters `status`, `name`, `image`,
/// `desired_state`, `created_at`, `updated_at`). Containers come from one Docker
/// listing; while Docker is down they are empty and status is the last known.
pub async fn list(app: &App, query: ListQuery) -> Result<Page<Service>> {
    let page = app.store.read(move |c| store::list(c, &query)).await?;
    let ids = page.items.iter().map(|r| r.id.clone()).collect();
    let all = match app.docker.get().await {
        Ok(d) => runtime::containers_of(&d, &ids).await.ok(),
        Err(_) => None,
    };
    Ok(page.map(|row| match &all {
        Some(all) => {
            let mine: Vec<Observed> = all
                .iter()
                .filter(|c| c.service_id.as_deref() == Some(row.id.as_str()))
                .cloned()
                .collect();
            to_service(row, Some(&mine))
        }
        None => to_service(row, None),
    }))
}

/// The stored desired state of a service (including the fields the HTTP body cannot
/// set, `stdin_open` and `managed_by`), for callers that change a few fields and pass
/// the result to [`super::update::update`].
pub async fn spec(app: &App, id_or_name: &str) -> Result<ServiceSpec> {
    Ok(load(app, id_or_name).await?.spec)
}

/// `RESOURCE_ALREADY_EXISTS` when a service is named `name`.
pub(super) async fn ensure_name_free(app: &App, name: &str) -> Result<()> {
    let key = name.to_string();
    if app
        .store
        .read(move |c| store::find(c, &key))
        .await?
        .is_some()
    {
        return Err(Error::already_exists("service", name));
    }
    Ok(())
}
