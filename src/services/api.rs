//! `/api/v1/services…`: thin handlers over [`super::lifecycle`].
//!
//! Reading needs `services:read`; every change (create, put, patch, delete, start,
//! stop, restart, scale) needs `services:write`. A service owned by another domain
//! (`managed_by` set, e.g. an MCP server) cannot be replaced, patched, scaled or
//! deleted here: 409 `CONFLICT` naming the owner.
//!
//! A change, once started, runs to its end even if the client goes away
//! ([`crate::app::App::to_completion`]), so the stored settings and the containers never
//! stay out of step; a create cut off by its client is undone instead (see
//! [`super::lifecycle::create`]).

use super::lifecycle;
use super::model::{
    CreateService, NoStart, ReplaceService, Service, ServicePatch, ServiceSettings, ServiceSpec,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ServicesRead, ServicesWrite};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The services routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, replace, patch, remove))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .routes(routes!(scale))
}

crate::list_params!(
    /// Query of `GET /services`.
    ServiceFilters,
    super::store::LIST_SPEC
);

/// `POST /services/{id}/scale` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ScaleRequest {
    /// Containers to run, 0–20.
    #[schema(minimum = 0, maximum = 20)]
    replicas: u32,
}

/// Refuses changes through `/services` to a service another domain owns.
fn not_managed(s: &Service) -> Result<()> {
    match &s.managed_by {
        Some(owner) => Err(Error::conflict(format!(
            "service '{}' is managed by {owner}; change it through its owner",
            s.name
        ))),
        None => Ok(()),
    }
}

/// List services (containers from one Docker listing; the last known status while
/// Docker is down). Permission: `services:read`.
#[utoipa::path(get, path = "/services", tag = "services", params(ServiceFilters),
    responses((status = 200, description = "One page of services", body = Envelope<Vec<Service>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    List(q): List,
) -> Result<Reply<Vec<Service>>> {
    Ok(Reply::page(lifecycle::list(&app, q).await?))
}

/// Create a service, and start it with `start: true`. Permission: `services:write`.
#[utoipa::path(post, path = "/services", tag = "services", request_body = ServiceSettings<bool>,
    responses((status = 201, description = "The service", body = Envelope<Service>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken; `CONFLICT`: a container of that name exists outside mcpd"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`: the engine is down or cannot create the managed network")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Json(r): Json<CreateService>,
) -> Result<Reply<Service>> {
    let start = r.start;
    let spec = r.into_spec(&ServiceSpec::default());
    let s = lifecycle::create(&app, &Actor::from(&who), spec, start).await?;
    Ok(Reply::created(s))
}

/// One service, its containers read from Docker now. Permission: `services:read`.
#[utoipa::path(get, path = "/services/{id}", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service", body = Envelope<Service>)))]
async fn read(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    Ok(Reply::ok(lifecycle::get(&app, &id).await?))
}

/// The stored spec of a service the caller may change (not managed by another domain).
async fn editable(app: &AppState, id: &str) -> Result<(Service, ServiceSpec)> {
    let current = lifecycle::get(app, id).await?;
    not_managed(&current)?;
    let spec = lifecycle::spec(app, &current.id).await?;
    Ok((current, spec))
}

/// Replace a service's settings (fields not sent take their defaults); changed
/// containers are recreated. Permission: `services:write`.
#[utoipa::path(put, path = "/services/{id}", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")), request_body = ServiceSettings<NoStart>,
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 409, description = "`CONFLICT`: managed by another domain (an MCP server); `RESOURCE_ALREADY_EXISTS`: new name taken"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn replace(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(r): Json<ReplaceService>,
) -> Result<Reply<Service>> {
    let (current, old) = editable(&app, &id).await?;
    let spec = r.into_spec(&old);
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::update(&app, &actor, &current.id, spec).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Change the fields sent (each replaces the stored one whole); changed containers are
/// recreated. Permission: `services:write`.
#[utoipa::path(patch, path = "/services/{id}", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")), request_body = ServicePatch,
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 409, description = "`CONFLICT`: managed by another domain (an MCP server); `RESOURCE_ALREADY_EXISTS`: new name taken"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(p): Json<ServicePatch>,
) -> Result<Reply<Service>> {
    let (current, mut spec) = editable(&app, &id).await?;
    spec.apply(p);
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::update(&app, &actor, &current.id, spec).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Stop and remove every container, then delete the service. Permission: `services:write`.
#[utoipa::path(delete, path = "/services/{id}", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "`CONFLICT`: managed by another domain (an MCP server)"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`: the row stays")))]
async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    let current = lifecycle::get(&app, &id).await?;
    not_managed(&current)?;
    to_end(&app, &who, move |app, actor| async move {
        lifecycle::delete(&app, &actor, &current.id).await
    })
    .await?;
    Ok(no_content())
}

/// Runs a change made by `who` to its end (see the module docs).
async fn to_end<T, F, Fut>(app: &AppState, who: &Principal, change: F) -> Result<T>
where
    F: FnOnce(AppState, Actor) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    app.to_completion(change(app.clone(), Actor::from(who)))
        .await
}

/// Set the desired state to `running` and start the containers. Permission: `services:write`.
#[utoipa::path(post, path = "/services/{id}/start", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn start(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::start(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Set the desired state to `stopped` and stop every container. Permission: `services:write`.
#[utoipa::path(post, path = "/services/{id}/stop", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn stop(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::stop(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Stop then start every container; the desired state becomes `running`.
/// Permission: `services:write`.
#[utoipa::path(post, path = "/services/{id}/restart", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")),
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn restart(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::restart(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

/// Set the number of containers, adding or removing the highest-numbered ones.
/// Permission: `services:write`.
#[utoipa::path(post, path = "/services/{id}/scale", tag = "services", params(("id" = String, Path, description = "Service id (`svc_…`) or name")), request_body = ScaleRequest,
    responses((status = 200, description = "The service", body = Envelope<Service>),
        (status = 409, description = "`CONFLICT`: managed by another domain (an MCP server)"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn scale(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(r): Json<ScaleRequest>,
) -> Result<Reply<Service>> {
    let current = lifecycle::get(&app, &id).await?;
    not_managed(&current)?;
    let done = to_end(&app, &who, move |app, actor| async move {
        lifecycle::scale(&app, &actor, &current.id, r.replicas).await
    })
    .await?;
    Ok(Reply::ok(done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{Resources, RestartPolicy};
    use std::collections::BTreeMap;

    #[test]
    fn a_managed_service_is_changed_only_through_its_owner() {
        let mut svc = Service {
            id: "svc_x".into(),
            name: "fs".into(),
            image: "i".into(),
            command: None,
            env: BTreeMap::new(),
            ports: vec![],
            volumes: vec![],
            networks: vec![],
            labels: BTreeMap::new(),
            resources: Resources::default(),
            health_check: None,
            replicas: 1,
            restart_policy: RestartPolicy::No,
            status: "running".into(),
            engine: crate::docker::Engine::Available,
            desired_state: "running".into(),
            managed_by: None,
            containers: vec![],
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert!(not_managed(&svc).is_ok());
        svc.managed_by = Some("mcp_abc".into());
        let e = not_managed(&svc).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Conflict);
        assert!(e.message.contains("mcp_abc"), "{}", e.message);
    }
}
