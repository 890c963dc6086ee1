//! What the objects API answers: namespaces, pods and deployments reduced to the fields
//! an operator reads (Kubernetes' own names in `snake_case`), built from the typed
//! `k8s-openapi` objects.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, ContainerState, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A namespace.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NamespaceView {
    /// Name.
    pub name: String,
    /// `Active` or `Terminating`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: Option<String>,
}

/// One container of a pod, with its status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerView {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Whether it passes its readiness check.
    pub ready: bool,
    /// Restarts so far.
    pub restart_count: i32,
    /// `running`, `waiting` (with reason, e.g. `waiting: CrashLoopBackOff`) or
    /// `terminated` (with reason), or `unknown`.
    pub state: String,
    /// `[{container_port, protocol, name}]`.
    #[schema(value_type = Vec<KubeContainerPort>)]
    pub ports: Vec<Value>,
    /// `{requests: {cpu, memory}, limits: {…}}` as quantities.
    #[schema(value_type = KubeResources)]
    pub resources: Value,
}

/// A pod.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PodView {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// What `kubectl get pods` shows in STATUS: the phase, or a waiting or terminated
    /// container's reason, or `Terminating`.
    pub status: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// The pod's IP.
    pub ip: Option<String>,
    /// Every IP of the pod (dual stack).
    pub ips: Vec<String>,
    /// Node it runs on.
    pub node: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Containers with status.
    pub containers: Vec<ContainerView>,
    /// `[{type, status, reason, message}]`.
    #[schema(value_type = Vec<KubeCondition>)]
    pub conditions: Vec<Value>,
    /// `[{name, type}]` where type is the volume source (`config_map`, `secret`, …).
    #[schema(value_type = Vec<KubeVolume>)]
    pub volumes: Vec<Value>,
}

/// A deployment with its replica counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeploymentView {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Desired replicas.
    pub replicas: i32,
    /// Ready replicas.
    pub ready_replicas: i32,
    /// Replicas running the latest template.
    pub updated_replicas: i32,
    /// Available replicas.
    pub available_replicas: i32,
    /// `RollingUpdate` or `Recreate`.
    pub strategy: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The selector's `matchLabels`.
    pub selector: BTreeMap<String, String>,
    /// `[{name, image}]` of the pod template.
    #[schema(value_type = Vec<KubeTemplateContainer>)]
    pub containers: Vec<Value>,
    /// `[{type, status, reason, message}]`.
    #[schema(value_type = Vec<KubeCondition>)]
    pub conditions: Vec<Value>,
    /// RFC 3339.
    pub created_at: Option<String>,
}

/// Schema of one entry of a container's `ports` (documentation only: the answer is
/// built with `json!` in [`PodView`]'s conversion).
#[derive(utoipa::ToSchema)]
pub struct KubeContainerPort {
    /// The port number in the container.
    pub container_port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: String,
    /// The port's name, null when it has none.
    pub name: Option<String>,
}

/// Schema of a container's `resources` (documentation only): each map is resource
/// name (`cpu`, `memory`, …) to a Kubernetes quantity; empty when none is set.
#[derive(utoipa::ToSchema)]
pub struct KubeResources {
    /// Requested resources.
    pub requests: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: BTreeMap<String, String>,
}

/// Schema of one condition of a pod or deployment (documentation only).
#[derive(utoipa::ToSchema)]
pub struct KubeCondition {
    /// The condition's type (`Ready`, `Available`, `Progressing`, …).
    pub r#type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason of the last transition, or null.
    pub reason: Option<String>,
    /// Human-readable detail, or null.
    pub message: Option<String>,
}

/// Schema of one entry of a pod's `volumes` (documentation only).
#[derive(utoipa::ToSchema)]
pub struct KubeVolume {
    /// The volume's name.
    pub name: String,
    /// Its source in `snake_case` (`config_map`, `secret`, `empty_dir`, …), or `unknown`.
    pub r#type: String,
}

/// Schema of one container of a deployment's pod template (documentation only).
#[derive(utoipa::ToSchema)]
pub struct KubeTemplateContainer {
    /// Container name.
    pub name: String,
    /// Image reference, or null when the template sets none.
    pub image: Option<String>,
}

fn time(t: &Option<Time>) -> Option<String> {
    t.as_ref().map(|t| t.0.to_string())
}

fn labels(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.labels.clone().unwrap_or_default()
}

fn annotations(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.annotations.clone().unwrap_or_default()
}

impl From<&Namespace> for NamespaceView {
    fn from(n: &Namespace) -> Self {
        NamespaceView {
            name: n.metadata.name.clone().unwrap_or_default(),
            status: n
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Active".into()),
            labels: labels(&n.metadata),
            annotations: annotations(&n.metadata),
            created_at: time(&n.metadata.creation_timestamp),
        }
    }
}

fn state(s: Option<&ContainerState>) -> String {
    match s {
        Some(ContainerState {
            running: Some(_), ..
        }) => "running".into(),
        Some(ContainerState {
            waiting: Some(w), ..
        }) => match &w.reason {
            Some(r) => format!("waiting: {r}"),
            None => "waiting".into(),
        },
        Some(ContainerState {
            terminated: Some(t),
            ..
        }) => match &t.reason {
            Some(r) => format!("terminated: {r}"),
            None => format!("terminated: exit code {}", t.exit_code),
        },
        _ => "unknown".into(),
    }
}

fn container(c: &Container, pod: &Pod) -> ContainerView {
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|s| s.name == c.name));
    let quantities =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.iter()
                .flatten()
                .map(|(k, v)| (k.clone(), Value::String(v.0.clone())))
                .collect::<serde_json::Map<_, _>>()
        };
    let res = c.resources.as_ref();
    ContainerView {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        ready: status.is_some_and(|s| s.ready),
        restart_count: status.map(|s| s.restart_count).unwrap_or(0),
        state: state(status.and_then(|s| s.state.as_ref())),
        ports: c
            .ports
            .iter()
            .flatten()
            .map(|p| json!({"container_port": p.container_port, "protocol": p.protocol.clone().unwrap_or_else(|| "TCP".into()), "name": p.name}))
            .collect(),
        resources: json!({
            "requests": res.map(|r| quantities(&r.requests)).unwrap_or_default(),
            "limits": res.map(|r| quantities(&r.limits)).unwrap_or_default(),
        }),
    }
}

/// What `kubectl get pods` shows as STATUS.
fn display_status(p: &Pod, phase: &str) -> String {
    if p.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let statuses = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    for s in statuses.into_iter().flatten() {
        if let Some(st) = &s.state {
            if let Some(r) = st.waiting.as_ref().and_then(|w| w.reason.clone()) {
                return r;
            }
            if let Some(r) = st.terminated.as_ref().and_then(|t| t.reason.clone()) {
                return r;
            }
        }
    }
    phase.to_string()
}

fn volume_type(v: &Value) -> String {
    v.as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "name").cloned())
        .map(|k| snake(&k))
        .unwrap_or_else(|| "unknown".into())
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

impl From<&Pod> for PodView {
    fn from(p: &Pod) -> Self {
        let status = p.status.as_ref();
        let phase = status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into());
        let spec = p.spec.as_ref();
        PodView {
            name: p.metadata.name.clone().unwrap_or_default(),
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            status: display_status(p, &phase),
            phase,
            ip: status.and_then(|s| s.pod_ip.clone()),
            ips: status
                .and_then(|s| s.pod_ips.as_ref())
                .map(|ips| ips.iter().map(|i| i.ip.clone()).collect())
                .unwrap_or_default(),
            node: spec.and_then(|s| s.node_name.clone()),
            created_at: time(&p.metadata.creation_timestamp),
            labels: labels(&p.metadata),
            annotations: annotations(&p.metadata),
            containers: spec.map(|s| s.containers.iter().map(|c| container(c, p)).collect()).unwrap_or_default(),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| cs.iter().map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message})).collect())
                .unwrap_or_default(),
            volumes: spec
                .and_then(|s| s.volumes.as_ref())
                .map(|vs| {
                    vs.iter()
                        .map(|v| {
                            let raw = serde_json::to_value(v).unwrap_or_default();
                            json!({"name": v.name, "type": volume_type(&raw)})
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl From<&Deployment> for DeploymentView {
    fn from(d: &Deployment) -> Self {
        let spec = d.spec.as_ref();
        let status = d.status.as_ref();
        let count = |f: fn(&k8s_openapi::api::apps::v1::DeploymentStatus) -> Option<i32>| {
            status.and_then(f).unwrap_or(0)
        };
        DeploymentView {
            name: d.metadata.name.clone().unwrap_or_default(),
            namespace: d.metadata.namespace.clone().unwrap_or_default(),
            replicas: spec.and_then(|s| s.replicas).unwrap_or(1),
            ready_replicas: count(|s| s.ready_replicas),
            updated_replicas: count(|s| s.updated_replicas),
            available_replicas: count(|s| s.available_replicas),
            strategy: spec
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.type_.clone())
                .unwrap_or_else(|| "RollingUpdate".into()),
            labels: labels(&d.metadata),
            selector: spec.and_then(|s| s.selector.match_labels.clone()).unwrap_or_default(),
            containers: spec
                .and_then(|s| s.template.spec.as_ref())
                .map(|ps| ps.containers.iter().map(|c| json!({"name": c.name, "image": c.image})).collect())
                .unwrap_or_default(),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| cs.iter().map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message})).collect())
                .unwrap_or_default(),
            created_at: time(&d.metadata.creation_timestamp),
        }
    }
}
