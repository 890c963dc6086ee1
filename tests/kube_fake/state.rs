//! The fake cluster's state: every object in memory behind one `std::sync::Mutex`, plus
//! the channels that streams (log follows, exec, attach, "the server went down") use.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use rand::Rng as _;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};

use super::exec::PodProcess;

/// A served resource: URL plural, kind, apiVersion, API group, scope.
#[derive(Debug)]
pub struct Kind {
    /// URL plural (`pods`).
    pub plural: &'static str,
    /// `kind` (`Pod`).
    pub kind: &'static str,
    /// `apiVersion` (`v1`, `apps/v1`).
    pub api_version: &'static str,
    /// API group (`""`, `apps`).
    pub group: &'static str,
    /// Namespaced or cluster scoped.
    pub namespaced: bool,
}

/// Core v1 Namespace.
pub static NAMESPACES: Kind = core("namespaces", "Namespace", false);
/// Core v1 Node.
pub static NODES: Kind = core("nodes", "Node", false);
/// Core v1 Pod.
pub static PODS: Kind = core("pods", "Pod", true);
/// Core v1 Secret.
pub static SECRETS: Kind = core("secrets", "Secret", true);
/// Core v1 Service.
pub static SERVICES: Kind = core("services", "Service", true);
/// apps/v1 Deployment.
pub static DEPLOYMENTS: Kind = Kind {
    plural: "deployments",
    kind: "Deployment",
    api_version: "apps/v1",
    group: "apps",
    namespaced: true,
};

const fn core(plural: &'static str, kind: &'static str, namespaced: bool) -> Kind {
    Kind {
        plural,
        kind,
        api_version: "v1",
        group: "",
        namespaced,
    }
}

/// A log line and when it was pushed.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// When `push_log` added it.
    pub at: OffsetDateTime,
    /// The line, without its newline.
    pub text: String,
}

/// What open log follows hear about.
#[derive(Debug, Clone)]
pub enum LogEvent {
    /// A new line of `(ns, pod, container)`.
    Line(String, String, String, LogLine),
    /// The pod's container ended: follows end cleanly.
    End(String, String),
    /// Follows of the pod are cut.
    Cut(String, String),
}

/// `(plural, namespace or "", name)`.
pub type Key = (String, String, String);

/// Everything behind the one mutex.
#[derive(Default)]
pub struct Inner {
    /// Every object, by key.
    pub objects: BTreeMap<Key, Value>,
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// Namespaces every request to which is 403.
    pub forbidden: HashSet<String>,
    /// Log lines by `(ns, pod, container)`.
    pub logs: HashMap<Key, Vec<LogLine>>,
    /// Pods whose container ended (`end_pod`).
    pub ended: HashSet<(String, String)>,
    /// "METHOD /path?query" of every request.
    pub requests: Vec<String>,
    /// Pod `(ns, name)` → the deployment that owns it.
    pub owners: HashMap<(String, String), String>,
    /// Image → argv of the local process its pods run.
    pub images: HashMap<String, Vec<String>>,
    /// The local processes of pods, by `(ns, name)`.
    pub procs: HashMap<(String, String), PodProcess>,
    /// Log events for follows (set at start).
    pub logs_tx: Option<broadcast::Sender<LogEvent>>,
}

/// The state shared by the handlers and the `FakeCluster`.
pub struct Shared {
    /// The objects and logs.
    pub inner: Mutex<Inner>,
    /// The bearer token every request must carry.
    pub token: String,
    /// Bumped by `stop`: every open stream ends (cut) when it changes.
    pub down: watch::Sender<u64>,
}

impl Shared {
    /// Locks the state (a poisoned lock is still usable: tests panic elsewhere).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// RFC 3339 with seconds, as in `creationTimestamp`.
pub fn now_rfc3339() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::now_utc().format(f).expect("format time")
}

/// RFC 3339 with nanoseconds, as the kubelet prefixes log lines.
pub fn rfc3339_nano(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(f)
        .expect("format time")
}

/// A random v4 UUID string.
pub fn uuid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// `n` characters of the alphabet the real server uses for generated names.
pub fn rand_suffix(n: usize) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = rand::rng();
    (0..n)
        .map(|_| ALPHA[r.random_range(0..ALPHA.len())] as char)
        .collect()
}

impl Inner {
    /// The next resourceVersion.
    pub fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    /// The stored object of `kind`.
    pub fn get(&self, kind: &Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(kind, ns, name))
    }

    /// Every object of `kind` (in `ns`, or all namespaces for `None`), by name.
    pub fn list(&self, kind: &Kind, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((p, n, _), _)| *p == kind.plural && ns.is_none_or(|ns| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Stores `obj` as new: fills kind, apiVersion, namespace, uid, creationTimestamp
    /// and resourceVersion (uid and timestamp only if missing).
    pub fn insert_new(&mut self, kind: &Kind, ns: &str, mut obj: Value) -> Value {
        obj["kind"] = json!(kind.kind);
        obj["apiVersion"] = json!(kind.api_version);
        let rv = self.next_rv();
        let meta = &mut obj["metadata"];
        if kind.namespaced {
            meta["namespace"] = json!(ns);
        }
        if meta.get("uid").is_none_or(Value::is_null) {
            meta["uid"] = json!(uuid());
        }
        if meta.get("creationTimestamp").is_none_or(Value::is_null) {
            meta["creationTimestamp"] = json!(now_rfc3339());
        }
        meta["resourceVersion"] = json!(rv);
        let name = meta["name"].as_str().unwrap_or_default().to_string();
        self.objects.insert(key(kind, ns, &name), obj.clone());
        obj
    }

    /// Replaces a stored object with a new resourceVersion.
    pub fn store(&mut self, kind: &Kind, ns: &str, mut obj: Value) -> Value {
        obj["metadata"]["resourceVersion"] = json!(self.next_rv());
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.objects.insert(key(kind, ns, &name), obj.clone());
        obj
    }

    /// Removes a stored object.
    pub fn remove(&mut self, kind: &Kind, ns: &str, name: &str) -> Option<Value> {
        self.objects.remove(&key(kind, ns, name))
    }

    /// Seeds namespaces `default` and `kube-system` and nodes `node-1`, `node-2`.
    pub fn seed(&mut self) {
        for ns in ["default", "kube-system"] {
            let obj = namespace_object(ns);
            self.insert_new(&NAMESPACES, "", obj);
        }
        for (i, (name, role)) in [("node-1", "control-plane"), ("node-2", "worker")]
            .into_iter()
            .enumerate()
        {
            let obj = node_object(name, role, i + 2);
            self.insert_new(&NODES, "", obj);
        }
    }
}

/// The map key of an object.
pub fn key(kind: &Kind, ns: &str, name: &str) -> Key {
    let ns = if kind.namespaced { ns } else { "" };
    (kind.plural.to_string(), ns.to_string(), name.to_string())
}

/// A new Active namespace object (as a create fills it).
pub fn namespace_object(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn node_object(name: &str, role: &str, ip_last: usize) -> Value {
    let now = now_rfc3339();
    let resources =
        json!({"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", format!("node-role.kubernetes.io/{role}"): "",
        }},
        "spec": {"podCIDR": format!("10.244.{}.0/24", ip_last - 2)},
        "status": {
            "capacity": resources, "allocatable": resources,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": now, "lastTransitionTime": now},
            ],
            "addresses": [
                {"type": "InternalIP", "address": format!("172.18.0.{ip_last}")},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "machineID": hex::encode(name), "systemUUID": uuid(), "bootID": uuid(),
                "kernelVersion": "6.1.0-fake", "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.27", "kubeletVersion": "v1.33.2",
                "kubeProxyVersion": "v1.33.2", "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    })
}
