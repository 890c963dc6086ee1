//! `/api/v1/services…`: thin handlers over [`super::manager`].
//!
//! Reading needs `services:read`; every change (create, put, patch, delete, start,
//! stop, restart, scale) needs `services:write`. A service owned by another domain
//! (`managed_by` set, e.g. an MCP server) cannot be replaced, patched, scaled or
//! deleted here: 409 `CONFLICT` naming the owner.
//!
//! A change, once started, runs to its end even if the client goes away
//! ([`crate::app::App::to_completion`]), so the stored settings and the containers never
//! stay out of step; a create cut off by its client is undone instead (see
//! [`super::manager::create`]).

use super::manager;
use super::model::{
    HealthCheck, PortSpec, Resources, RestartPolicy, Service, ServiceSpec, VolumeSpec,
};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ServicesRead, ServicesWrite};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// The services routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services", get(list).post(create))
        .route(
            "/services/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
        .route("/services/{id}/start", post(start))
        .route("/services/{id}/stop", post(stop))
        .route("/services/{id}/restart", post(restart))
        .route("/services/{id}/scale", post(scale))
}

/// `POST /services` body; `PUT /services/{id}` takes the same minus `start`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    image: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    ports: Vec<PortSpec>,
    #[serde(default)]
    volumes: Vec<VolumeSpec>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    health_check: Option<HealthCheck>,
    #[serde(default = "one")]
    replicas: u32,
    #[serde(default)]
    restart_policy: RestartPolicy,
    /// Start the containers at once.
    #[serde(default)]
    start: bool,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceRequest {
    name: String,
    image: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    ports: Vec<PortSpec>,
    #[serde(default)]
    volumes: Vec<VolumeSpec>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    health_check: Option<HealthCheck>,
    #[serde(default = "one")]
    replicas: u32,
    #[serde(default)]
    restart_policy: RestartPolicy,
}

/// `PATCH /services/{id}`: only the fields sent change; `null` clears `command` and
/// `health_check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRequest {
    name: Option<String>,
    image: Option<String>,
    #[serde(default, deserialize_with = "present")]
    command: Option<Option<Vec<String>>>,
    env: Option<BTreeMap<String, String>>,
    ports: Option<Vec<PortSpec>>,
    volumes: Option<Vec<VolumeSpec>>,
    networks: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    resources: Option<Resources>,
    #[serde(default, deserialize_with = "present")]
    health_check: Option<Option<HealthCheck>>,
    replicas: Option<u32>,
    restart_policy: Option<RestartPolicy>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleRequest {
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

async fn list(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    List(q): List,
) -> Result<Reply<Vec<Service>>> {
    Ok(Reply::page(manager::list(&app, q).await?))
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Json(r): Json<CreateRequest>,
) -> Result<Reply<Service>> {
    let spec = ServiceSpec {
        name: r.name,
        image: r.image,
        command: r.command,
        env: r.env,
        ports: r.ports,
        volumes: r.volumes,
        networks: r.networks,
        labels: r.labels,
        resources: r.resources,
        health_check: r.health_check,
        replicas: r.replicas,
        restart_policy: r.restart_policy,
        stdin_open: false,
        managed_by: None,
    };
    let s = manager::create(&app, &Actor::from(&who), spec, r.start).await?;
    Ok(Reply::created(s))
}

async fn read(
    State(app): State<AppState>,
    _: Can<ServicesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    Ok(Reply::ok(manager::get(&app, &id).await?))
}

/// The stored spec of a service the caller may change (not managed by another domain).
async fn editable(app: &AppState, id: &str) -> Result<(Service, ServiceSpec)> {
    let current = manager::get(app, id).await?;
    not_managed(&current)?;
    let spec = manager::spec(app, &current.id).await?;
    Ok((current, spec))
}

async fn replace(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(r): Json<ReplaceRequest>,
) -> Result<Reply<Service>> {
    let (current, old) = editable(&app, &id).await?;
    let spec = ServiceSpec {
        name: r.name,
        image: r.image,
        command: r.command,
        env: r.env,
        ports: r.ports,
        volumes: r.volumes,
        networks: r.networks,
        labels: r.labels,
        resources: r.resources,
        health_check: r.health_check,
        replicas: r.replicas,
        restart_policy: r.restart_policy,
        stdin_open: old.stdin_open,
        managed_by: old.managed_by,
    };
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::update(&app, &actor, &current.id, spec).await
    })
    .await?;
    Ok(Reply::ok(done))
}

async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(r): Json<PatchRequest>,
) -> Result<Reply<Service>> {
    let (current, mut spec) = editable(&app, &id).await?;
    if let Some(v) = r.name {
        spec.name = v;
    }
    if let Some(v) = r.image {
        spec.image = v;
    }
    if let Some(v) = r.command {
        spec.command = v;
    }
    if let Some(v) = r.env {
        spec.env = v;
    }
    if let Some(v) = r.ports {
        spec.ports = v;
    }
    if let Some(v) = r.volumes {
        spec.volumes = v;
    }
    if let Some(v) = r.networks {
        spec.networks = v;
    }
    if let Some(v) = r.labels {
        spec.labels = v;
    }
    if let Some(v) = r.resources {
        spec.resources = v;
    }
    if let Some(v) = r.health_check {
        spec.health_check = v;
    }
    if let Some(v) = r.replicas {
        spec.replicas = v;
    }
    if let Some(v) = r.restart_policy {
        spec.restart_policy = v;
    }
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::update(&app, &actor, &current.id, spec).await
    })
    .await?;
    Ok(Reply::ok(done))
}

async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    let current = manager::get(&app, &id).await?;
    not_managed(&current)?;
    to_end(&app, &who, move |app, actor| async move {
        manager::delete(&app, &actor, &current.id).await
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

async fn start(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::start(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

async fn stop(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::stop(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

async fn restart(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Service>> {
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::restart(&app, &actor, &id).await
    })
    .await?;
    Ok(Reply::ok(done))
}

async fn scale(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Path(id): Path<String>,
    Json(r): Json<ScaleRequest>,
) -> Result<Reply<Service>> {
    let current = manager::get(&app, &id).await?;
    not_managed(&current)?;
    let done = to_end(&app, &who, move |app, actor| async move {
        manager::scale(&app, &actor, &current.id, r.replicas).await
    })
    .await?;
    Ok(Reply::ok(done))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn patch_tells_null_from_absent() {
        let p: PatchRequest = crate::http::extract::parse_json(br#"{"command": null}"#).unwrap();
        assert_eq!(p.command, Some(None));
        assert!(p.health_check.is_none());
        let p: PatchRequest = crate::http::extract::parse_json(br#"{}"#).unwrap();
        assert!(p.command.is_none());
    }
}
