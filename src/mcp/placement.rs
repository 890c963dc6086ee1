//! Managed MCP servers placed on a registered Kubernetes cluster
//! (`POST /mcp/servers {…, placement: {cluster, namespace}}`): the server runs as a
//! Deployment of one replica mcpd makes there ([`crate::kubernetes::workloads`]); a
//! stdio server is reached by attaching to its pod's main process (one long-lived
//! attach, as `docker attach` for a local container), and its status comes from the
//! Deployment and pod. Start and stop scale to 1 and 0, restart rolls the pod, delete
//! removes exactly what mcpd made. Environment values with `${secret:…}` references
//! are resolved and delivered through the workload's Kubernetes Secret.

use super::model::{Lifecycle, Placement, ServerRecord, Transport, status};
use super::transport::{Client, Handler};
use crate::app::App;
use crate::configuration::refs;
use crate::error::{Error, ErrorCode, Result};
use crate::kubernetes::rollout;
use crate::kubernetes::workloads::{self, WorkloadSpec, WorkloadState};
use rmcp::ServiceExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a create, start or restart waits for the pod to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How often it looks.
const READY_POLL: Duration = Duration::from_millis(500);

fn placement(rec: &ServerRecord) -> Result<&Placement> {
    rec.placement.as_ref().ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "server {} is not placed on a cluster",
            rec.id
        ))
    })
}

/// Resolves the cluster a create names (id or name) to its id, and checks that it is
/// reachable now. Errors: 400 on `placement.cluster` for an unknown cluster.
pub async fn resolve_cluster(app: &App, rec: &mut ServerRecord) -> Result<()> {
    let Some(p) = rec.placement.as_mut() else {
        return Ok(());
    };
    let cluster = crate::kubernetes::get(app, &p.cluster_id)
        .await
        .map_err(|e| {
            if e.code == ErrorCode::ResourceNotFound {
                Error::field(
                    "placement.cluster",
                    format!("unknown cluster '{}'", p.cluster_id),
                )
            } else {
                e
            }
        })?;
    p.cluster_id = cluster.id;
    Ok(())
}

/// Splits an environment into plain values and secret ones (those with `${secret:…}`
/// references, resolved from the vault). Errors: 400 on `env.<NAME>` for a reference to
/// a missing secret.
async fn split_env(
    app: &App,
    env: BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let (secret, plain): (BTreeMap<_, _>, BTreeMap<_, _>) = env
        .into_iter()
        .partition(|(_, v)| !refs::referenced_keys(v).is_empty());
    let vault = app.vault.clone();
    let resolved = app
        .store
        .read(move |c| {
            refs::check(c, "env", &secret)?;
            refs::resolve(c, &vault, &secret)
        })
        .await?;
    let resolved = resolved
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    Ok((plain, resolved))
}

/// The workload of a new server: its image, `command` + `args` as the container's
/// args, the environment split into plain values and (resolved) secret ones.
async fn spec(
    app: &App,
    rec: &ServerRecord,
    image: &str,
    cmd: Option<Vec<String>>,
    env: BTreeMap<String, String>,
) -> Result<WorkloadSpec> {
    let p = placement(rec)?;
    let (env, secret_env) = split_env(app, env).await?;
    Ok(WorkloadSpec {
        owner: rec.id.clone(),
        name: p.workload.clone(),
        namespace: p.namespace.clone(),
        image: image.to_string(),
        args: cmd,
        env,
        secret_env,
        stdin: rec.transport == Transport::Stdio,
        port: rec
            .port
            .filter(|_| rec.transport == Transport::StreamableHttp),
    })
}

/// A change of a placed server's workload (`PATCH`); `None` leaves a part as it is.
#[derive(Debug, Default)]
pub struct Change {
    /// New image reference.
    pub image: Option<String>,
    /// New container args (`Some(None)`: the image's default).
    pub args: Option<Option<Vec<String>>>,
    /// The whole new environment (values may hold `${secret:…}`).
    pub env: Option<BTreeMap<String, String>>,
    /// New port (streamable HTTP: the container's and the Service's).
    pub port: Option<u16>,
}

/// Makes the cluster run the server's workload with `change` applied and, unless the
/// server is stopped, waits for the new pod to be ready. Returns what ran before, for
/// [`undo`]. Errors: 400 on `env.<NAME>` (missing secret), the cluster's answers, 503
/// `MCP_SERVICE_UNAVAILABLE` when the new pod does not get ready; after an error the
/// previous workload is put back.
pub async fn update(app: &App, rec: &ServerRecord, change: Change) -> Result<WorkloadSpec> {
    let p = placement(rec)?;
    let old = rollout::current(app, &p.cluster_id, &p.namespace, &p.workload).await?;
    let mut new = old.clone();
    if let Some(image) = change.image {
        new.image = image;
    }
    if let Some(args) = change.args {
        new.args = args;
    }
    if let Some(env) = change.env {
        (new.env, new.secret_env) = split_env(app, env).await?;
    }
    if change.port.is_some() {
        new.port = change.port;
    }
    let rolled = async {
        rollout::apply(app, &p.cluster_id, &new).await?;
        if rec.status != status::STOPPED {
            wait_ready(app, rec).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = rolled {
        undo(app, rec, &old).await;
        return Err(e);
    }
    Ok(old)
}

/// Puts back the workload [`update`] replaced (best effort: a failure is logged) and
/// waits for it to be ready again.
pub async fn undo(app: &App, rec: &ServerRecord, old: &WorkloadSpec) {
    let Ok(p) = placement(rec) else { return };
    let back = async {
        rollout::apply(app, &p.cluster_id, old).await?;
        if rec.status != status::STOPPED {
            wait_ready(app, rec).await?;
        }
        Ok::<_, Error>(())
    };
    if let Err(e) = back.await {
        tracing::error!(server = %rec.name, error = %e, "could not put back the previous workload of an MCP server on its cluster");
    }
}

/// Makes the server's workload and waits until its pod is ready (`running`); on a
/// failure nothing is left on the cluster.
pub async fn deploy(
    app: &App,
    rec: &ServerRecord,
    image: &str,
    cmd: Option<Vec<String>>,
    env: BTreeMap<String, String>,
) -> Result<()> {
    let p = placement(rec)?;
    let spec = spec(app, rec, image, cmd, env).await?;
    workloads::create(app, &p.cluster_id, &spec).await?;
    if let Err(e) = wait_ready(app, rec).await {
        let _ = remove(app, rec).await;
        return Err(e);
    }
    Ok(())
}

/// Polls the workload until its pod is ready; `failed` or the timeout is 503
/// `MCP_SERVICE_UNAVAILABLE` naming the status.
async fn wait_ready(app: &App, rec: &ServerRecord) -> Result<WorkloadState> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let s = state(app, rec).await?;
        if s.status == status::RUNNING {
            return Ok(s);
        }
        if s.status == "failed" || Instant::now() > deadline {
            return Err(Error::new(
                ErrorCode::McpServiceUnavailable,
                format!(
                    "MCP server '{}' did not become ready on its cluster (status {})",
                    rec.name, s.status
                ),
            ));
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// The workload's state as the cluster reports it.
pub async fn state(app: &App, rec: &ServerRecord) -> Result<WorkloadState> {
    let p = placement(rec)?;
    workloads::state(app, &p.cluster_id, &p.namespace, &p.workload, &rec.id).await
}

/// Deletes what mcpd made on the cluster for the server.
pub async fn remove(app: &App, rec: &ServerRecord) -> Result<()> {
    let p = placement(rec)?;
    workloads::remove(app, &p.cluster_id, &p.namespace, &p.workload, &rec.id).await
}

/// Starts (1 replica), stops (0) or restarts (rolls the pod) the workload; the status
/// after (waiting for readiness on start and restart).
pub async fn drive(app: &App, rec: &ServerRecord, op: Lifecycle) -> Result<String> {
    let p = placement(rec)?;
    match op {
        Lifecycle::Stop => {
            workloads::scale(app, &p.cluster_id, &p.namespace, &p.workload, 0).await?;
            return Ok(status::STOPPED.into());
        }
        Lifecycle::Start => {
            workloads::scale(app, &p.cluster_id, &p.namespace, &p.workload, 1).await?
        }
        Lifecycle::Restart => workloads::restart(app, &p.cluster_id, &p.namespace, &rec.id).await?,
    }
    Ok(wait_ready(app, rec).await?.status)
}

/// Opens a session: a stdio server by attaching to the ready pod's main process and
/// running `initialize` over its stdin/stdout; a streamable HTTP server through the
/// API server's proxy to its Service (retried while it starts listening; the caller's
/// timeout ends the retries).
pub async fn open(app: &App, rec: &ServerRecord, handler: Handler) -> Result<Client> {
    let p = placement(rec)?;
    let s = state(app, rec).await?;
    let pod = s
        .pod
        .ok_or_else(|| super::backing::not_running(&rec.name, &s.status))?;
    if rec.transport == Transport::Stdio {
        let attached = workloads::attach(app, &p.cluster_id, &p.namespace, &pod).await?;
        return handler
            .serve((attached.stdout, attached.stdin))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorCode::McpServiceUnavailable,
                    format!("could not open an MCP session with '{}': {e}", rec.name),
                )
            });
    }
    let target = (
        p.namespace.as_str(),
        p.workload.as_str(),
        rec.port.unwrap_or(80),
    );
    let path = rec.path.as_deref().unwrap_or("/mcp");
    let (url, http) = workloads::service_proxy(app, &p.cluster_id, target, path).await?;
    loop {
        match super::transport::connect_http_with(http.clone(), &url, handler.clone()).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::debug!(server = %rec.name, error = %e, "MCP server on the cluster not answering yet; retrying");
                tokio::time::sleep(READY_POLL).await;
            }
        }
    }
}
