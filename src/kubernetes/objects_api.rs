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
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The object routes, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(namespaces, create_namespace))
        .routes(routes!(pods))
        .routes(routes!(pod))
        .routes(routes!(pod_logs))
        .routes(routes!(pod_exec))
        .routes(routes!(list_deployments, create_deployment))
        .routes(routes!(deployment, delete_deployment))
        .routes(routes!(scale))
}

/// The selectors of `GET …/pods` (with `page` and `limit`); any other parameter is a 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PodSelectors {
    /// A Kubernetes label selector (`app=web,tier!=canary`).
    pub label_selector: Option<String>,
    /// A Kubernetes field selector (`status.phase=Running`).
    pub field_selector: Option<String>,
    /// Shortcut for `status.phase=<phase>` (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`).
    pub phase: Option<String>,
    /// Shortcut for `spec.nodeName=<node>` (a DNS subdomain).
    pub node: Option<String>,
}

/// The namespaces of a cluster, paged in the cluster's order (no filters). Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of namespaces", body = Envelope<Vec<NamespaceView>>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
async fn namespaces(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path(id): Path<String>,
    List(q): List,
) -> Result<Reply<Vec<NamespaceView>>> {
    objects::namespaces(&app, &id, q).await.map(Reply::page)
}

/// Create a namespace. Permission: `kubernetes:write`.
#[utoipa::path(post, path = "/kubernetes/clusters/{id}/namespaces", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name")), request_body = NewNamespace,
    responses((status = 201, description = "The namespace", body = Envelope<NamespaceView>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the namespace exists"),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
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

/// The pods of a namespace, paged by name. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces/{ns}/pods", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), PodSelectors, crate::http::openapi::Paging),
    responses((status = 200, description = "One page of pods", body = Envelope<Vec<PodView>>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
async fn pods(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns)): Path<(String, String)>,
    List(q): List,
) -> Result<Reply<Vec<PodView>>> {
    objects::pods(&app, &id, &ns, q).await.map(Reply::page)
}

/// One pod. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("pod" = String, Path, description = "Pod name (a DNS subdomain)")),
    responses((status = 200, description = "The pod", body = Envelope<PodView>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
async fn pod(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns, pod)): Path<(String, String, String)>,
) -> Result<Reply<PodView>> {
    objects::pod(&app, &id, &ns, &pod).await.map(Reply::ok)
}

/// A pod's logs as plain text; with `follow=true` a chunked stream of lines until the client leaves, the container ends or the cluster connection is lost. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}/logs", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("pod" = String, Path, description = "Pod name (a DNS subdomain)"), LogQuery),
    responses((status = 200, description = "The log text (`text/plain; charset=utf-8`, `Cache-Control: no-store`)",
            content_type = "text/plain", body = String),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
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

/// Run a command in a pod's container and wait for it (a non-zero exit is a result). Permission: `kubernetes:execute`.
#[utoipa::path(post, path = "/kubernetes/clusters/{id}/namespaces/{ns}/pods/{pod}/exec", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("pod" = String, Path, description = "Pod name (a DNS subdomain)")), request_body = ExecRequest,
    responses((status = 200, description = "What the command did", body = Envelope<ExecResult>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the command could not start (no such program or container), or the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the command did not finish within `timeout_s`, or the cluster did not answer")))]
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

/// The deployments of a namespace, paged by name (no filters). Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces/{ns}/deployments", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), crate::http::openapi::Paging),
    responses((status = 200, description = "One page of deployments", body = Envelope<Vec<DeploymentView>>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
async fn list_deployments(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns)): Path<(String, String)>,
    List(q): List,
) -> Result<Reply<Vec<DeploymentView>>> {
    deployments::list(&app, &id, &ns, q).await.map(Reply::page)
}

/// Create a deployment from the typed fields or a whole `apps/v1` manifest. Permission: `kubernetes:write`.
#[utoipa::path(post, path = "/kubernetes/clusters/{id}/namespaces/{ns}/deployments", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)")), request_body = NewDeployment,
    responses((status = 201, description = "The deployment", body = Envelope<DeploymentView>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the deployment exists"),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
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

/// One deployment. Permission: `kubernetes:read`.
#[utoipa::path(get, path = "/kubernetes/clusters/{id}/namespaces/{ns}/deployments/{name}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("name" = String, Path, description = "Deployment name (a DNS subdomain)")),
    responses((status = 200, description = "The deployment", body = Envelope<DeploymentView>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
async fn deployment(
    State(app): State<AppState>,
    _: Can<perm::KubernetesRead>,
    Path((id, ns, name)): Path<(String, String, String)>,
) -> Result<Reply<DeploymentView>> {
    deployments::get(&app, &id, &ns, &name).await.map(Reply::ok)
}

/// Delete a deployment (background propagation: its pods go with it). Permission: `kubernetes:write`.
#[utoipa::path(delete, path = "/kubernetes/clusters/{id}/namespaces/{ns}/deployments/{name}", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("name" = String, Path, description = "Deployment name (a DNS subdomain)")),
    responses((status = 204, description = "Deleted"),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
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

/// Set a deployment's desired replicas through its `scale` subresource. Permission: `kubernetes:write`.
#[utoipa::path(put, path = "/kubernetes/clusters/{id}/namespaces/{ns}/deployments/{name}/scale", tag = "kubernetes",
    params(("id" = String, Path, description = "Cluster id (`cls_…`) or name"), ("ns" = String, Path, description = "Namespace (an RFC 1123 label)"), ("name" = String, Path, description = "Deployment name (a DNS subdomain)")), request_body = ScaleRequest,
    responses((status = 200, description = "The deployment as it then is", body = Envelope<DeploymentView>),
        (status = 502, description = "`K8S_OPERATION_ERROR`: the cluster answered with another error"),
        (status = 503, description = "`K8S_CONNECTION_ERROR`: the cluster cannot be reached, or refused the credentials or the action (RBAC)"),
        (status = 504, description = "`GATEWAY_TIMEOUT`: the cluster did not answer within `kubernetes.request_timeout_s`")))]
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
