//! `/api/v1/kubernetes/clusters…`: registering and checking clusters. `{id}` is a
//! cluster id or name. Reading needs `kubernetes:read`; registering, changing,
//! checking and removing need `kubernetes:write`. Every route of the domain counts
//! against the caller's Kubernetes rate tier as well (`docs/api.md` §1.10).

use super::model::{Cluster, ClusterPatch, NewCluster};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

/// The routes of the domain, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/kubernetes/clusters", get(list).post(create))
        .route(
            "/kubernetes/clusters/{id}",
            get(show).put(replace).patch(patch).delete(remove),
        )
        .route("/kubernetes/clusters/{id}/test", post(test))
        .merge(super::objects_api::routes())
}

async fn list(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    List(q): List,
) -> Result<Reply<Vec<Cluster>>> {
    super::list(&app, q).await.map(Reply::page)
}

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Json(req): Json<NewCluster>,
) -> Result<Reply<Cluster>> {
    super::create(&app, &Actor::from(&who), req)
        .await
        .map(Reply::created)
}

async fn show(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path(id): Path<String>,
) -> Result<Reply<Cluster>> {
    super::get(&app, &id).await.map(Reply::ok)
}

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

async fn remove(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
) -> Result<Response> {
    super::delete(&app, &Actor::from(&who), &id).await?;
    Ok(no_content())
}

async fn test(
    State(app): State<AppState>,
    _: Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
) -> Result<Reply<Cluster>> {
    super::test(&app, &id).await.map(Reply::ok)
}
