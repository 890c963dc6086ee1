//! Namespaces and pods of a registered cluster. Every name that goes into a Kubernetes
//! API path is first checked against Kubernetes' own grammar (RFC 1123 labels for
//! namespaces and containers, DNS subdomains for pods and deployments), so no caller
//! text reaches a URL unchecked.

use super::client::{call, connect};
use super::views::{NamespaceView, PodView};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `POST …/namespaces`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamespace {
    /// An RFC 1123 label.
    pub name: String,
    /// Labels to set.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations to set.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// 400 on `field` unless `v` is an RFC 1123 label: 1–63 of `a-z 0-9 -`, starting and
/// ending with a letter or digit (namespaces, containers).
pub fn check_label(field: &str, v: &str) -> Result<()> {
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be an RFC 1123 label: 1-63 of a-z, 0-9, '-', starting and ending with a letter or digit",
        ))
    }
}

/// 400 on `field` unless `v` is a DNS subdomain (RFC 1123): at most 253 characters,
/// labels of `a-z 0-9 -` joined by `.` (pods, deployments).
pub fn check_subdomain(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty() && v.len() <= 253 && v.split('.').all(|l| check_label(field, l).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be a DNS subdomain: at most 253 of a-z, 0-9, '-', '.', each part starting and ending with a letter or digit",
        ))
    }
}

/// The namespaces of a cluster, paged.
pub async fn namespaces(app: &App, cluster: &str, q: ListQuery) -> Result<Page<NamespaceView>> {
    no_filters(&q)?;
    let (_, client) = connect(app, cluster).await?;
    let list = call(
        app,
        "listing namespaces",
        Api::<Namespace>::all(client).list(&ListParams::default()),
    )
    .await?;
    let items = list.items.iter().map(NamespaceView::from).collect();
    Ok(Page::from_vec(items, &q))
}

/// Creates a namespace. Errors: `VALIDATION_ERROR`, `RESOURCE_ALREADY_EXISTS`, and the
/// cluster's answers as mapped in [`super::errors`].
pub async fn create_namespace(
    app: &App,
    actor: &Actor,
    cluster: &str,
    req: NewNamespace,
) -> Result<NamespaceView> {
    check_label("name", &req.name)?;
    let (rec, client) = connect(app, cluster).await?;
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(req.name.clone()),
            labels: Some(req.labels),
            annotations: Some(req.annotations),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let made = call(
        app,
        "creating the namespace",
        Api::<Namespace>::all(client).create(&PostParams::default(), &ns),
    )
    .await;
    let entry = Entry::new("kubernetes.namespaces.create")
        .on("cluster", &rec.cluster.id)
        .details(json!({"namespace": req.name}));
    audited(app, actor, entry, made)
        .await
        .map(|n| NamespaceView::from(&n))
}

/// Records `entry` (failed when `r` is an error) and passes `r` on: changes on a
/// cluster are not in mcpd's database, so their audit entry stands alone.
pub async fn audited<T>(app: &App, actor: &Actor, entry: Entry, r: Result<T>) -> Result<T> {
    audit::record_alone(&app.store, actor.clone(), entry.succeeded(r.is_ok())).await;
    r
}

/// 400 for any filter other than the ones an endpoint takes out first.
pub fn no_filters(q: &ListQuery) -> Result<()> {
    match q.filters.first() {
        Some(f) => Err(Error::field(f.field.as_str(), "unknown filter")),
        None => Ok(()),
    }
}

/// List parameters from the query: `label_selector` and `field_selector` as the
/// Kubernetes API takes them, plus the shortcuts `phase` (`status.phase`) and `node`
/// (`spec.nodeName`). Anything else is a 400.
fn selectors(q: &mut ListQuery) -> Result<ListParams> {
    let mut lp = ListParams::default();
    if let Some(l) = q.take("label_selector") {
        lp = lp.labels(&l);
    }
    let mut fields: Vec<String> = q.take("field_selector").into_iter().collect();
    if let Some(p) = q.take("phase") {
        fields.push(format!("status.phase={p}"));
    }
    if let Some(n) = q.take("node") {
        check_subdomain("node", &n)?;
        fields.push(format!("spec.nodeName={n}"));
    }
    if !fields.is_empty() {
        lp = lp.fields(&fields.join(","));
    }
    if let Some(f) = q.filters.first() {
        return Err(Error::field(
            f.field.as_str(),
            "unknown filter (pods take label_selector, field_selector, phase and node)",
        ));
    }
    Ok(lp)
}

/// The pods of a namespace (`label_selector`, `field_selector`, `phase`, `node`),
/// paged by name.
pub async fn pods(app: &App, cluster: &str, ns: &str, mut q: ListQuery) -> Result<Page<PodView>> {
    check_label("namespace", ns)?;
    let lp = selectors(&mut q)?;
    let (_, client) = connect(app, cluster).await?;
    let list = call(
        app,
        "listing pods",
        Api::<Pod>::namespaced(client, ns).list(&lp),
    )
    .await?;
    let mut items: Vec<PodView> = list.items.iter().map(PodView::from).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Page::from_vec(items, &q))
}

/// One pod. Errors: `RESOURCE_NOT_FOUND` and the cluster's answers.
pub async fn pod(app: &App, cluster: &str, ns: &str, name: &str) -> Result<PodView> {
    check_label("namespace", ns)?;
    check_subdomain("pod", name)?;
    let (_, client) = connect(app, cluster).await?;
    let p = call(
        app,
        "reading the pod",
        Api::<Pod>::namespaced(client, ns).get(name),
    )
    .await?;
    Ok(PodView::from(&p))
}

/// A JSON value as the typed object `T`, or 400 on `field` naming what is wrong.
pub fn typed<T: serde::de::DeserializeOwned>(field: &str, v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        Error::field(
            format!("{field}.{path}").trim_end_matches('.'),
            e.into_inner().to_string(),
        )
    })
}
