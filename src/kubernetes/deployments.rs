//! Deployments (`apps/v1`) of a namespace: list, create (a typed subset, or a whole
//! manifest), read, delete, and scale through the `scale` subresource
//! (`autoscaling/v1` `Scale`, changed with a JSON merge patch, RFC 7386).

use super::client::{call, connect};
use super::objects::{audited, check_label, check_subdomain, no_filters, typed};
pub use super::views::DeploymentView;
use crate::app::App;
use crate::audit::{Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `POST …/deployments`: either `manifest` (a whole `apps/v1` Deployment) or the typed
/// fields. The typed form makes one container named after the deployment, selected by
/// `app.kubernetes.io/name=<name>`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    /// DNS subdomain (typed form; the manifest's `metadata.name` otherwise).
    #[serde(default)]
    pub name: Option<String>,
    /// Image reference (typed form).
    #[serde(default)]
    pub image: Option<String>,
    /// Desired pods, 0 or more; default 1.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub replicas: Option<i32>,
    /// Labels of the deployment and its pods.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Environment of the container.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Container ports: numbers or `{container_port, protocol?, name?}`.
    #[serde(default)]
    pub ports: Vec<Value>,
    /// `{requests: {cpu, memory}, limits: {cpu, memory}}` as Kubernetes quantities.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub resources: Option<Value>,
    /// Entrypoint (replaces the image's).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Arguments.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// A whole `apps/v1` Deployment instead of the fields above.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub manifest: Option<Value>,
}

/// `PUT …/deployments/{name}/scale`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeploymentScale)]
pub struct ScaleRequest {
    /// Desired pods, 0 or more.
    #[schema(minimum = 0)]
    pub replicas: i32,
}

fn api(client: kube::Client, ns: &str) -> Api<Deployment> {
    Api::namespaced(client, ns)
}

/// The deployments of a namespace, paged by name.
pub async fn list(
    app: &App,
    cluster: &str,
    ns: &str,
    q: ListQuery,
) -> Result<Page<DeploymentView>> {
    check_label("namespace", ns)?;
    no_filters(&q)?;
    let (_, client) = connect(app, cluster).await?;
    let list = call(
        app,
        "listing deployments",
        api(client, ns).list(&ListParams::default()),
    )
    .await?;
    let mut items: Vec<DeploymentView> = list.items.iter().map(DeploymentView::from).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Page::from_vec(items, &q))
}

/// One deployment.
pub async fn get(app: &App, cluster: &str, ns: &str, name: &str) -> Result<DeploymentView> {
    check_label("namespace", ns)?;
    check_subdomain("name", name)?;
    let (_, client) = connect(app, cluster).await?;
    let d = call(app, "reading the deployment", api(client, ns).get(name)).await?;
    Ok(DeploymentView::from(&d))
}

/// The Deployment object a request describes.
fn object(ns: &str, req: NewDeployment) -> Result<Deployment> {
    if let Some(manifest) = req.manifest {
        let typed_fields = req.name.is_some()
            || req.image.is_some()
            || req.replicas.is_some()
            || req.command.is_some()
            || req.args.is_some()
            || req.resources.is_some()
            || !req.labels.is_empty()
            || !req.env.is_empty()
            || !req.ports.is_empty();
        if typed_fields {
            return Err(Error::field(
                "manifest",
                "give a manifest or the typed fields, not both",
            ));
        }
        return from_manifest(ns, manifest);
    }
    let name = req.name.ok_or_else(|| Error::field("name", "required"))?;
    check_subdomain("name", &name)?;
    let image = req.image.ok_or_else(|| Error::field("image", "required"))?;
    crate::images::reference::validate("image", &image)?;
    if req.replicas.is_some_and(|r| r < 0) {
        return Err(Error::field("replicas", "must be 0 or more"));
    }
    let mut labels = req.labels;
    labels.insert("app.kubernetes.io/name".into(), name.clone());
    let env: Vec<Value> = req
        .env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let ports = req
        .ports
        .iter()
        .map(|p| match p {
            Value::Number(n) => json!({"containerPort": n}),
            other => json!({"containerPort": other.get("container_port"), "protocol": other.get("protocol").cloned().unwrap_or(json!("TCP")), "name": other.get("name")}),
        })
        .collect::<Vec<_>>();
    let mut container = Map::new();
    container.insert("name".into(), json!(short(&name)));
    container.insert("image".into(), json!(image));
    container.insert("env".into(), json!(env));
    container.insert("ports".into(), json!(ports));
    if let Some(c) = req.command {
        container.insert("command".into(), json!(c));
    }
    if let Some(a) = req.args {
        container.insert("args".into(), json!(a));
    }
    if let Some(r) = req.resources {
        container.insert("resources".into(), r);
    }
    let v = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": req.replicas.unwrap_or(1),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [Value::Object(container)]}},
        }
    });
    typed("deployment", v)
}

/// A container name (an RFC 1123 label) from a deployment name (a subdomain).
fn short(name: &str) -> String {
    let s: String = name.replace('.', "-").chars().take(63).collect();
    s.trim_end_matches('-').to_string()
}

fn from_manifest(ns: &str, manifest: Value) -> Result<Deployment> {
    if !manifest.is_object() {
        return Err(Error::field(
            "manifest",
            "must be a JSON object (an apps/v1 Deployment)",
        ));
    }
    for (key, want) in [("apiVersion", "apps/v1"), ("kind", "Deployment")] {
        if manifest.get(key).is_some_and(|v| v.as_str() != Some(want)) {
            return Err(Error::field(
                format!("manifest.{key}"),
                format!("must be {want}"),
            ));
        }
    }
    let d: Deployment = typed("manifest", manifest)?;
    let name = d
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::field("manifest.metadata.name", "required"))?;
    check_subdomain("manifest.metadata.name", &name)?;
    if d.metadata.namespace.as_deref().is_some_and(|n| n != ns) {
        return Err(Error::field(
            "manifest.metadata.namespace",
            "differs from the namespace in the path",
        ));
    }
    Ok(d)
}

/// Creates a deployment. Errors: `VALIDATION_ERROR` (ours, or the cluster's 422 with
/// its causes), `RESOURCE_ALREADY_EXISTS`, and the cluster's other answers.
pub async fn create(
    app: &App,
    actor: &Actor,
    cluster: &str,
    ns: &str,
    req: NewDeployment,
) -> Result<DeploymentView> {
    check_label("namespace", ns)?;
    let d = object(ns, req)?;
    let name = d.metadata.name.clone().unwrap_or_default();
    let (rec, client) = connect(app, cluster).await?;
    let made = call(
        app,
        "creating the deployment",
        api(client, ns).create(&PostParams::default(), &d),
    )
    .await;
    let entry = Entry::new("kubernetes.deployments.create")
        .on("cluster", &rec.cluster.id)
        .details(json!({"namespace": ns, "deployment": name}));
    audited(app, actor, entry, made)
        .await
        .map(|d| DeploymentView::from(&d))
}

/// Deletes a deployment (its pods go with it, as the cluster's garbage collector does).
pub async fn delete(app: &App, actor: &Actor, cluster: &str, ns: &str, name: &str) -> Result<()> {
    check_label("namespace", ns)?;
    check_subdomain("name", name)?;
    let (rec, client) = connect(app, cluster).await?;
    let gone = call(
        app,
        "deleting the deployment",
        api(client, ns).delete(name, &DeleteParams::background()),
    )
    .await;
    let entry = Entry::new("kubernetes.deployments.delete")
        .on("cluster", &rec.cluster.id)
        .details(json!({"namespace": ns, "deployment": name}));
    audited(app, actor, entry, gone.map(|_| ())).await
}

/// Sets the desired replicas through the `scale` subresource and answers the
/// deployment as it then is.
pub async fn scale(
    app: &App,
    actor: &Actor,
    cluster: &str,
    ns: &str,
    name: &str,
    req: ScaleRequest,
) -> Result<DeploymentView> {
    check_label("namespace", ns)?;
    check_subdomain("name", name)?;
    if req.replicas < 0 {
        return Err(Error::field("replicas", "must be 0 or more"));
    }
    let (rec, client) = connect(app, cluster).await?;
    let deployments = api(client, ns);
    let patch = Patch::Merge(json!({"spec": {"replicas": req.replicas}}));
    let scaled = async {
        call(
            app,
            "scaling the deployment",
            deployments.patch_scale(name, &PatchParams::default(), &patch),
        )
        .await?;
        call(app, "reading the deployment", deployments.get(name)).await
    }
    .await;
    let entry = Entry::new("kubernetes.deployments.scale")
        .on("cluster", &rec.cluster.id)
        .details(json!({"namespace": ns, "deployment": name, "replicas": req.replicas}));
    audited(app, actor, entry, scaled)
        .await
        .map(|d| DeploymentView::from(&d))
}
