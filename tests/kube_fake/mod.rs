//! An in-process fake Kubernetes API server for tests: HTTPS on 127.0.0.1 with its own
//! CA, bearer-token auth, core v1 (namespaces, nodes, pods, secrets, services, pod logs,
//! exec, attach, the service proxy) and apps/v1 deployments with `scale`, speaking the real wire format so
//! that real clients (the `kube` crate, PyPI's `kubernetes`) can be tested against it.
//!
//! A test crate uses it with `mod kube_fake;` and [`FakeCluster::start`].
#![allow(dead_code)]

mod exec;
mod logs;
mod pods;
mod proxy;
mod rest;
mod select;
mod state;
mod status;
pub mod tls;
mod workloads;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rand::Rng as _;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use state::{DEPLOYMENTS, Inner, LogEvent, LogLine, NAMESPACES, PODS, SECRETS, SERVICES, Shared};

/// A running fake cluster; dropping it stops the server and kills its processes.
pub struct FakeCluster {
    shared: Arc<Shared>,
    port: u16,
    tls: RustlsConfig,
    ca_pem: String,
    server: Mutex<Option<(Handle<SocketAddr>, JoinHandle<()>)>>,
}

impl FakeCluster {
    /// Starts on 127.0.0.1:<free port> with a fresh CA + server cert (SANs 127.0.0.1 and
    /// localhost) and a random bearer token. Seeds namespaces `default` and
    /// `kube-system`, nodes `node-1` (control-plane) and `node-2` (worker), no pods.
    pub async fn start() -> FakeCluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let t = tls::Tls::generate();
        let token: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        let (logs_tx, _) = broadcast::channel(4096);
        let mut inner = Inner {
            logs_tx: Some(logs_tx),
            ..Inner::default()
        };
        inner.seed();
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            token,
            down: watch::channel(0).0,
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let fake = FakeCluster {
            shared,
            port,
            tls: RustlsConfig::from_config(t.server),
            ca_pem: t.ca_pem,
            server: Mutex::new(None),
        };
        fake.serve(listener).await;
        fake
    }

    async fn serve(&self, listener: std::net::TcpListener) {
        let handle = Handle::new();
        let app = rest::router(self.shared.clone());
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, self.tls.clone())
            .expect("serve the listener")
            .handle(handle.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = server.serve(app.into_make_service()).await {
                eprintln!("kube_fake: server ended: {e}");
            }
        });
        handle.listening().await;
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some((handle, task));
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The bearer token requests must carry.
    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    /// PEM of the CA certificate.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// A kubeconfig (JSON, valid YAML): one cluster, one user (the token), one context
    /// named `context`, which is the current context.
    pub fn kubeconfig(&self, context: &str) -> String {
        tls::kubeconfig(&self.url(), &self.ca_pem, &self.shared.token, context)
    }

    fn halt(&self) -> Option<JoinHandle<()>> {
        let taken = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.shared.down.send_modify(|v| *v += 1);
        taken.map(|(handle, task)| {
            handle.shutdown();
            task
        })
    }

    /// The cluster goes down: stops accepting and drops every open connection
    /// (streams included).
    pub async fn stop(&self) {
        if let Some(task) = self.halt() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&self) {
        if self
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return;
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut tries = 0;
        let listener = loop {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen again on {addr}: {e}"),
            }
        };
        self.serve(listener).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    /// Adds a full v1 Pod (uid, creationTimestamp, resourceVersion filled if missing).
    pub fn add_pod(&self, namespace: &str, pod: Value) {
        pods::add_pod(&mut self.lock(), namespace, pod);
    }

    /// A pod, as stored.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock().get(&PODS, namespace, name).cloned()
    }

    /// A deployment, as stored.
    pub fn deployment(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock().get(&DEPLOYMENTS, namespace, name).cloned()
    }

    /// A namespace, as stored.
    pub fn namespace(&self, name: &str) -> Option<Value> {
        self.lock().get(&NAMESPACES, "", name).cloned()
    }

    /// A secret, as stored.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock().get(&SECRETS, namespace, name).cloned()
    }

    /// A service, as stored.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock().get(&SERVICES, namespace, name).cloned()
    }

    /// Every pod of a namespace, by name.
    pub fn pods_in(&self, namespace: &str) -> Vec<Value> {
        self.lock().list(&PODS, Some(namespace))
    }

    /// Every request to namespace `ns` (core or apps) answers 403 Forbidden.
    pub fn forbid_namespace(&self, ns: &str) {
        self.lock().forbidden.insert(ns.to_string());
    }

    /// Appends a log line to a pod's container (`None`: its first container).
    pub fn push_log(&self, namespace: &str, pod: &str, container: Option<&str>, line: &str) {
        let mut inner = self.lock();
        let c = match container {
            Some(c) => c.to_string(),
            None => inner
                .get(&PODS, namespace, pod)
                .and_then(|p| p["spec"]["containers"][0]["name"].as_str())
                .unwrap_or("")
                .to_string(),
        };
        let l = LogLine {
            at: time::OffsetDateTime::now_utc(),
            text: line.to_string(),
        };
        let k = (namespace.to_string(), pod.to_string(), c.clone());
        inner.logs.entry(k).or_default().push(l.clone());
        if let Some(tx) = &inner.logs_tx {
            let _ = tx.send(LogEvent::Line(namespace.into(), pod.into(), c, l));
        }
    }

    fn log_event(&self, ev: LogEvent) {
        if let Some(tx) = &self.lock().logs_tx {
            let _ = tx.send(ev);
        }
    }

    /// The pod's container ended: its open follow streams end cleanly (and later ones
    /// end after the existing lines).
    pub fn end_pod(&self, namespace: &str, pod: &str) {
        let k = (namespace.to_string(), pod.to_string());
        self.lock().ended.insert(k);
        self.log_event(LogEvent::End(namespace.into(), pod.into()));
    }

    /// Cuts the pod's open follow streams (the connection closes mid-body).
    pub fn drop_log_streams(&self, namespace: &str, pod: &str) {
        self.log_event(LogEvent::Cut(namespace.into(), pod.into()));
    }

    /// Requests the fake saw, as "METHOD /path?query".
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Pods whose (first) container image is `image` run `argv` as a real local process
    /// (stdin piped), which `attach` connects to; it is killed when the pod is deleted or
    /// the fake dropped. Applies to existing pods too.
    pub fn run_image(&self, image: &str, argv: Vec<String>) {
        let mut inner = self.lock();
        inner.images.insert(image.to_string(), argv.clone());
        for p in inner.list(&PODS, None) {
            let ns = p["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
            let key = (ns, name);
            if p["spec"]["containers"][0]["image"] == image && !inner.procs.contains_key(&key) {
                match exec::PodProcess::spawn(&argv) {
                    Ok(proc) => {
                        inner.procs.insert(key, proc);
                    }
                    Err(e) => eprintln!("kube_fake: cannot start {argv:?}: {e}"),
                }
            }
        }
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        if let Some(task) = self.halt() {
            task.abort();
        }
        self.lock().procs.clear();
    }
}
