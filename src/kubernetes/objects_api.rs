//! `/api/v1/kubernetes/clusters/{id}/namespaces…`: namespaces, pods (read, logs, exec)
//! and deployments (list, create, read, delete, scale) of a registered cluster.
//! Reading needs `kubernetes:read`, changes `kubernetes:write`, exec
//! `kubernetes:execute`. A change, once sent to the cluster, runs to its end and is
//! audited even if the client goes away.
//!
//! - `GET …/pods/{pod}/logs?container=&tail_lines=&since_seconds=&timestamps=&previous=&follow=`
//!   answers `text/plain`; with `follow=true` a chunked stream until the client
//!   leaves, the container ends or the cluster connection is lost.

use super::deployments::{self, DeploymentView, NewDeployment, ScaleRequest};
use super::exec::{self, ExecRequest, ExecResult};
use super::logs::{self, LogQuery};
use super::objects::{self, NewNamespace};
use super::views::{NamespaceView, PodView};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

/// The object routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/kubernetes/clusters/{id}/namespaces",
            get(namespaces).post(create_namespace),
        )
        .route("/kubernetes/clusters/{id}/namespaces/{ns}/pods", get(pods))
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}",
            get(pod),
        )
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}/logs",
            get(pod_logs),
        )
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}/exec",
            post(pod_exec),
        )
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/deployments",
            get(list_deployments).post(create_deployment),
        )
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/deployments/{name}",
            get(deployment).delete(delete_deployment),
        )
        .route(
            "/kubernetes/clusters/{id}/namespaces/{ns}/deployments/{name}/scale",
            put(scale),
        )
}

async fn namespaces(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<NamespaceView>>> {
    objects::namespaces(&app, &id, q).await.map(Reply::page)
}

async fn create_namespace(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path(id): Path<String>,
    Json(req): Json<NewNamespace>,
) -> Result<Reply<NamespaceView>> {
    let (a, actor) = (app.clone(), Actor::from(&who));
    app.to_completion(async move { objects::create_namespace(&a, &actor, &id, req).await })
        .await
        .map(Reply::created)
}

async fn pods(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns)): Path<(String, String)>,
    List(q): List,
) -> Result<Reply<Vec<PodView>>> {
    objects::pods(&app, &id, &ns, q).await.map(Reply::page)
}

async fn pod(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns, pod)): Path<(String, String, String)>,
) -> Result<Reply<PodView>> {
    objects::pod(&app, &id, &ns, &pod).await.map(Reply::ok)
}

async fn pod_logs(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns, pod)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
    let stream = logs::logs(&app, &id, &ns, &pod, &q).await?;
    let mut resp = Body::from_stream(stream).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Followed logs must reach the client as they come, not when a proxy's buffer fills.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

async fn pod_exec(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesExecute>,
    Path((id, ns, pod)): Path<(String, String, String)>,
    Json(req): Json<ExecRequest>,
) -> Result<Reply<ExecResult>> {
    let (a, actor) = (app.clone(), Actor::from(&who));
    app.to_completion(async move { exec::exec(&a, &actor, &id, &ns, &pod, req).await })
        .await
        .map(Reply::ok)
}

async fn list_deployments(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns)): Path<(String, String)>,
    List(q): List,
) -> Result<Reply<Vec<DeploymentView>>> {
    deployments::list(&app, &id, &ns, q).await.map(Reply::page)
}

async fn create_deployment(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path((id, ns)): Path<(String, String)>,
    Json(req): Json<NewDeployment>,
) -> Result<Reply<DeploymentView>> {
    let (a, actor) = (app.clone(), Actor::from(&who));
    app.to_completion(async move { deployments::create(&a, &actor, &id, &ns, req).await })
        .await
        .map(Reply::created)
}

async fn deployment(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns, name)): Path<(String, String, String)>,
) -> Result<Reply<DeploymentView>> {
    deployments::get(&app, &id, &ns, &name).await.map(Reply::ok)
}

async fn delete_deployment(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path((id, ns, name)): Path<(String, String, String)>,
) -> Result<Response> {
    let (a, actor) = (app.clone(), Actor::from(&who));
    app.to_completion(async move { deployments::delete(&a, &actor, &id, &ns, &name).await })
        .await?;
    Ok(no_content())
}

async fn scale(
    State(app): State<AppState>,
    Can(who, _): Can<perm::KubernetesWrite>,
    Path((id, ns, name)): Path<(String, String, String)>,
    Json(req): Json<ScaleRequest>,
) -> Result<Reply<DeploymentView>> {
    let (a, actor) = (app.clone(), Actor::from(&who));
    app.to_completion(async move { deployments::scale(&a, &actor, &id, &ns, &name, req).await })
        .await
        .map(Reply::ok)
}
