//! `/api/v1/kubernetes/clusters…`: registering and checking clusters. `{id}` is a
//! cluster id or name. Reading needs `kubernetes:read`; registering, changing,
//! checking and removing need `kubernetes:write`. Every route of the domain counts
//! against the caller's Kubernetes rate tier as well (`docs/api.md` §1.10).

use super::model::{Cluster, ClusterPatch, NewCluster};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of the domain, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, patch, remove))
        .routes(routes!(test))
        .merge(super::objects_api::routes())
}

crate::list_params!(
    /// Query of `GET /kubernetes/clusters`.
    ClusterFilters,
    super::store::LIST
);

/// List the registered clusters. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters", tag = "kubernetes", params(ClusterFilters),
    responses((status = 200, description = "One page of clusters", body = Envelope<Vec<Cluster>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    List(q): List,
) -> Result<Reply<Vec<Cluster>>> {
    super::list(&app, q).await.map(Reply::page)
}

/// Register a cluster (from a kubeconfig or its parts) after checking it. Permission: `kubernetes:write`.
#[utoipa::path(post, path = "/kubernetes/clusters", tag = "kubernetes", request_body = NewCluster,
    responses((status = 201, description = "The cluster", body = Envelope<Cluster>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the name is taken"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached or refuses the credentials (unless `allow_unreachable`)")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Json(req): Json<NewCluster>,
) -> Result<Reply<Cluster>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

/// One registered cluster. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")),
    responses((status = 200, description = "The cluster", body = Envelope<Cluster>)))]
async fn show(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Cluster>> {
    super::get(&app, &id).await.map(Reply::ok)
}

/// Replace a cluster's name, description and connection (checked like on create). Permission: `kubernetes:write`.
#[utoipa::path(put, path = "/kubernetes/clusters/{id}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")), request_body = NewCluster,
    responses((status = 200, description = "The cluster", body = Envelope<Cluster>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the name is taken"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the new connection cannot be used (unless `allow_unreachable`); nothing changed")))]
async fn replace(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
    Json(req): Json<NewCluster>,
) -> Result<Reply<Cluster>> {
    super::replace(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

/// Change the fields sent; any connection field sends a whole new connection, checked like on create. Permission: `kubernetes:write`.
#[utoipa::path(patch, path = "/kubernetes/clusters/{id}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")), request_body = ClusterPatch,
    responses((status = 200, description = "The cluster", body = Envelope<Cluster>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the name is taken"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the new connection cannot be used (unless `allow_unreachable`); nothing changed")))]
async fn patch(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
    Json(req): Json<ClusterPatch>,
) -> Result<Reply<Cluster>> {
    super::update(&app, &Actor::from(&who), &id, req)
        .await
        .map(Reply::ok)
}

/// Forget a cluster and its credentials (nothing on the cluster changes). Permission: `kubernetes:write`.
#[utoipa::path(delete, path = "/kubernetes/clusters/{id}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")),
    responses((status = 204, description = "Forgotten"),
        (status = 409, description = "`CONFLICT`: MCP servers are placed on the cluster")))]
async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

/// Check a cluster now and record what was found (status, version, nodes). Permission: `kubernetes:write`.
#[utoipa::path(post, path = "/kubernetes/clusters/{id}/test", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")),
    responses((status = 200, description = "The cluster, connected", body = Envelope<Cluster>),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached or refuses the credentials (the status is recorded)")))]
async fn test(
    State(app): State<AppState>,
    _: Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Cluster>> {
    super::test(&app, &id).await.map(Reply::ok)
}
