//! Workloads mcpd runs on a registered cluster for another domain (MCP servers placed
//! on a cluster): one Deployment of one replica, its Secret (environment values that
//! came from the vault) and, for a server that listens, a Service. Everything is
//! labelled `app.kubernetes.io/managed-by=mcpd` and `io.mcpd.server=<owner id>`, and
//! removal deletes exactly those objects.

use super::client::{call, connect};
use crate::app::App;
use crate::error::{Error, ErrorCode, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{
    Api, AttachParams, AttachedProcess, DeleteParams, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf, ReadHalf, SimplexStream, WriteHalf};

/// The label every object mcpd makes carries, with value `mcpd`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label naming the owner (an MCP server id).
pub const OWNER: &str = "io.mcpd.server";
/// The name of the one container of a workload.
pub(super) const CONTAINER: &str = "mcp";

/// What to run.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Owner id (label value), e.g. `mcp_…`.
    pub owner: String,
    /// Name of the Deployment, Service and (with `-env`) Secret: an RFC 1035 label.
    pub name: String,
    /// Namespace (an RFC 1123 label).
    pub namespace: String,
    /// Image reference.
    pub image: String,
    /// Container `args` (the image's entrypoint stays), when given.
    pub args: Option<Vec<String>>,
    /// Plain environment.
    pub env: BTreeMap<String, String>,
    /// Environment values that are secrets: delivered through the workload's Secret.
    pub secret_env: BTreeMap<String, String>,
    /// Keep stdin open (stdio servers: attached to).
    pub stdin: bool,
    /// The port a listening server serves on (a Service is made for it).
    pub port: Option<u16>,
}

/// Where a workload stands, from its Deployment and pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadState {
    /// `running` (a ready pod), `starting`, `stopped` (0 replicas), `failed` (a
    /// container that cannot start: image pull or crash loop; or the Deployment is gone).
    pub status: String,
    /// The ready pod, when there is one.
    pub pod: Option<String>,
}

/// The name a workload of owner name `name` gets: `mcpd-<name>` with `_` and `.` made
/// `-`, or `mcpd-<owner id>` lower-cased when that is not a valid RFC 1035 label.
pub fn name_for(name: &str, owner: &str) -> String {
    let readable = format!("mcpd-{}", name.replace(['_', '.'], "-"));
    let ok = readable.len() <= 63 && !readable.ends_with('-') && !readable.contains("--");
    if ok {
        readable
    } else {
        format!("mcpd-{}", owner.to_lowercase().replace('_', "-"))
    }
}

fn labels(owner: &str) -> Value {
    json!({MANAGED_BY: "mcpd", OWNER: owner})
}

/// The Deployment of `spec` (one replica, `Recreate`: never two pods of one server).
pub(super) fn deployment(spec: &WorkloadSpec) -> Value {
    let mut env: Vec<Value> = spec
        .env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let secret = format!("{}-env", spec.name);
    env.extend(
        spec.secret_env
            .keys()
            .map(|k| json!({"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": k}}})),
    );
    let mut container = json!({
        "name": CONTAINER, "image": spec.image, "env": env,
        "stdin": spec.stdin, "stdinOnce": false, "tty": false,
    });
    if let Some(a) = &spec.args {
        container["args"] = json!(a);
    }
    if let Some(p) = spec.port {
        container["ports"] = json!([{"containerPort": p, "protocol": "TCP"}]);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(&spec.owner)},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {OWNER: spec.owner}},
            "template": {"metadata": {"labels": labels(&spec.owner)}, "spec": {"containers": [container]}},
        }
    })
}

/// The Secret `<name>-env` holding `spec`'s secret environment values.
pub(super) fn secret_object(spec: &WorkloadSpec) -> Value {
    json!({
        "metadata": {"name": format!("{}-env", spec.name), "namespace": spec.namespace, "labels": labels(&spec.owner)},
        "type": "Opaque",
        "stringData": spec.secret_env,
    })
}

/// The Service in front of `spec`'s port (port and target port the same).
pub(super) fn service_object(spec: &WorkloadSpec) -> Value {
    let port = spec.port.unwrap_or(80);
    json!({
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(&spec.owner)},
        "spec": {"selector": {OWNER: spec.owner}, "ports": [{"name": "mcp", "port": port, "targetPort": port, "protocol": "TCP"}]},
    })
}

/// Creates the workload (Secret, Deployment, Service); on a failure what was made is
/// removed again. Errors: the cluster's answers (`RESOURCE_ALREADY_EXISTS` when the
/// name is taken in the namespace).
pub async fn create(app: &App, cluster: &str, spec: &WorkloadSpec) -> Result<()> {
    let (_, client) = connect(app, cluster).await?;
    let made = create_objects(app, &client, spec).await;
    if made.is_err() {
        let _ = remove_objects(app, &client, &spec.namespace, &spec.name, &spec.owner).await;
    }
    made
}

async fn create_objects(app: &App, client: &kube::Client, spec: &WorkloadSpec) -> Result<()> {
    let ns = spec.namespace.as_str();
    let pp = PostParams::default();
    if !spec.secret_env.is_empty() {
        let secret: Secret = serde_json::from_value(secret_object(spec))?;
        call(
            app,
            "creating the workload's secret",
            Api::<Secret>::namespaced(client.clone(), ns).create(&pp, &secret),
        )
        .await?;
    }
    let d: Deployment = serde_json::from_value(deployment(spec))?;
    call(
        app,
        "creating the workload's deployment",
        Api::<Deployment>::namespaced(client.clone(), ns).create(&pp, &d),
    )
    .await?;
    if spec.port.is_some() {
        let svc: Service = serde_json::from_value(service_object(spec))?;
        call(
            app,
            "creating the workload's service",
            Api::<Service>::namespaced(client.clone(), ns).create(&pp, &svc),
        )
        .await?;
    }
    Ok(())
}

/// Deletes the workload's objects that carry its owner label (a missing one is fine).
pub async fn remove(app: &App, cluster: &str, ns: &str, name: &str, owner: &str) -> Result<()> {
    let (_, client) = connect(app, cluster).await?;
    remove_objects(app, &client, ns, name, owner).await
}

async fn remove_objects(
    app: &App,
    client: &kube::Client,
    ns: &str,
    name: &str,
    owner: &str,
) -> Result<()> {
    let dp = DeleteParams::background();
    let owned = |labels: Option<&BTreeMap<String, String>>| {
        labels
            .and_then(|l| l.get(OWNER))
            .is_some_and(|o| o == owner)
    };
    let gone = |r: Result<_>| match r {
        Err(e) if e.code == ErrorCode::ResourceNotFound => Ok(()),
        other => other.map(drop),
    };
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    if let Some(d) = call(app, "reading the workload", deployments.get_opt(name)).await?
        && owned(d.metadata.labels.as_ref())
    {
        gone(
            call(
                app,
                "deleting the workload's deployment",
                deployments.delete(name, &dp),
            )
            .await
            .map(drop),
        )?;
    }
    let services = Api::<Service>::namespaced(client.clone(), ns);
    if let Some(s) = call(
        app,
        "reading the workload's service",
        services.get_opt(name),
    )
    .await?
        && owned(s.metadata.labels.as_ref())
    {
        gone(
            call(
                app,
                "deleting the workload's service",
                services.delete(name, &dp),
            )
            .await
            .map(drop),
        )?;
    }
    let secrets = Api::<Secret>::namespaced(client.clone(), ns);
    let secret = format!("{name}-env");
    if let Some(s) = call(
        app,
        "reading the workload's secret",
        secrets.get_opt(&secret),
    )
    .await?
        && owned(s.metadata.labels.as_ref())
    {
        gone(
            call(
                app,
                "deleting the workload's secret",
                secrets.delete(&secret, &dp),
            )
            .await
            .map(drop),
        )?;
    }
    Ok(())
}

/// Sets the workload's replicas (1 to start, 0 to stop) through the scale subresource.
pub async fn scale(app: &App, cluster: &str, ns: &str, name: &str, replicas: i32) -> Result<()> {
    let (_, client) = connect(app, cluster).await?;
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let api = Api::<Deployment>::namespaced(client, ns);
    call(
        app,
        "scaling the workload",
        api.patch_scale(name, &PatchParams::default(), &patch),
    )
    .await?;
    Ok(())
}

/// Rolls the workload: deletes its pods; the Deployment makes new ones.
pub async fn restart(app: &App, cluster: &str, ns: &str, owner: &str) -> Result<()> {
    let (_, client) = connect(app, cluster).await?;
    let pods = Api::<Pod>::namespaced(client, ns);
    let lp = ListParams::default().labels(&format!("{OWNER}={owner}"));
    for p in call(app, "listing the workload's pods", pods.list(&lp))
        .await?
        .items
    {
        if let Some(n) = p.metadata.name {
            match call(
                app,
                "deleting a pod of the workload",
                pods.delete(&n, &DeleteParams::default()),
            )
            .await
            {
                Err(e) if e.code != ErrorCode::ResourceNotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The workload's state from its Deployment and pods.
pub async fn state(
    app: &App,
    cluster: &str,
    ns: &str,
    name: &str,
    owner: &str,
) -> Result<WorkloadState> {
    let (_, client) = connect(app, cluster).await?;
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let Some(d) = call(app, "reading the workload", deployments.get_opt(name)).await? else {
        return Ok(WorkloadState {
            status: "failed".into(),
            pod: None,
        });
    };
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if replicas == 0 {
        return Ok(WorkloadState {
            status: "stopped".into(),
            pod: None,
        });
    }
    // A change the controller has not rolled out yet: the pod there is the old one.
    let st = d.status.as_ref();
    let observed = st.and_then(|s| s.observed_generation).unwrap_or(0);
    let updated = st.and_then(|s| s.updated_replicas).unwrap_or(0);
    if observed < d.metadata.generation.unwrap_or(0) || updated < replicas {
        return Ok(WorkloadState {
            status: "starting".into(),
            pod: None,
        });
    }
    let pods = Api::<Pod>::namespaced(client, ns);
    let lp = ListParams::default().labels(&format!("{OWNER}={owner}"));
    let items = call(app, "listing the workload's pods", pods.list(&lp))
        .await?
        .items;
    Ok(pod_state(&items))
}

fn pod_state(pods: &[Pod]) -> WorkloadState {
    let live = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none());
    let mut failed = false;
    for p in live {
        let statuses = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        let ready = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && statuses.is_some_and(|cs| cs.iter().all(|c| c.ready));
        if ready {
            return WorkloadState {
                status: "running".into(),
                pod: p.metadata.name.clone(),
            };
        }
        let waiting = statuses
            .into_iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
        failed |= waiting.into_iter().any(|r| {
            matches!(
                r.as_str(),
                "CrashLoopBackOff"
                    | "ErrImagePull"
                    | "ImagePullBackOff"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
            )
        });
    }
    let status = if failed { "failed" } else { "starting" };
    WorkloadState {
        status: status.into(),
        pod: None,
    }
}

/// A pod's main process, attached: its stdout as an `AsyncRead` that keeps the attach
/// open for as long as it lives, and its stdin.
pub struct Attached {
    /// The process's stdout.
    pub stdout: AttachedStdout,
    /// The process's stdin.
    pub stdin: WriteHalf<SimplexStream>,
}

/// Stdout of an attached process; dropping it ends the attach (the process keeps
/// running: its stdin stays open, `stdinOnce` is off).
pub struct AttachedStdout {
    inner: ReadHalf<SimplexStream>,
    _process: AttachedProcess,
}

impl AsyncRead for AttachedStdout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// Attaches to the main process of `pod` (the API server's `pods/{name}/attach`
/// WebSocket, the same channel protocol as exec).
pub async fn attach(app: &App, cluster: &str, ns: &str, pod: &str) -> Result<Attached> {
    let (_, client) = connect(app, cluster).await?;
    let ap = AttachParams {
        container: Some(CONTAINER.into()),
        stdin: true,
        stdout: true,
        stderr: false,
        tty: false,
        max_stdout_buf_size: Some(64 * 1024),
        max_stdin_buf_size: Some(64 * 1024),
        ..AttachParams::default()
    };
    let mut process = call(
        app,
        "attaching to the pod",
        Api::<Pod>::namespaced(client, ns).attach(pod, &ap),
    )
    .await?;
    let (Some(stdout), Some(stdin)) = (process.stdout(), process.stdin()) else {
        return Err(Error::new(
            ErrorCode::K8sOperationError,
            "the attach gave no stdin or stdout",
        ));
    };
    Ok(Attached {
        stdout: AttachedStdout {
            inner: stdout,
            _process: process,
        },
        stdin,
    })
}

/// The URL of `path` on a workload's Service through the API server's service proxy
/// (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy{path}`), and an HTTP client
/// that authenticates to the API server. `ns` and `name` are labels mcpd chose and
/// checked; each segment of `path` (which starts with `/`) is percent-encoded.
pub async fn service_proxy(
    app: &App,
    cluster: &str,
    (ns, name, port): (&str, &str, u16),
    path: &str,
) -> Result<(String, reqwest::Client)> {
    super::objects::check_label("namespace", ns)?;
    super::objects::check_label("name", name)?;
    let (server, client) = super::client::http(app, cluster).await?;
    let path: Vec<String> = path.split('/').map(crate::docker::path_segment).collect();
    let path = path.join("/");
    Ok((
        format!("{server}/api/v1/namespaces/{ns}/services/{name}:{port}/proxy{path}"),
        client,
    ))
}
