//! Remote Kubernetes clusters (`/kubernetes/clusters…`): registering a cluster seals
//! its credentials in the vault and checks it (version and nodes); the objects API
//! (namespaces, pods with logs and exec, deployments with scale) then works through
//! one cached `kube` client per cluster. Shapes are in [`model`], SQL in [`store`],
//! the Kubernetes calls in [`objects`], [`logs`], [`exec`] and [`deployments`].

pub mod api;
pub mod cache;
pub mod client;
pub mod deployments;
pub mod errors;
pub mod exec;
pub mod logs;
pub mod model;
pub mod objects;
pub mod objects_api;
pub mod probe;
pub mod rollout;
pub mod source;
pub mod store;
pub mod views;
pub mod workloads;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use crate::store::list::{ListQuery, Page};
use model::{Cluster, ClusterPatch, ClusterStatus, Connection, NewCluster, Probe, Source};
use serde_json::json;

/// One page of registered clusters.
pub async fn list(app: &App, q: ListQuery) -> Result<Page<Cluster>> {
    app.store.read(move |c| store::list(c, &q)).await
}

/// A cluster by id or name. Errors: `RESOURCE_NOT_FOUND`.
pub async fn get(app: &App, id: &str) -> Result<Cluster> {
    let key = id.to_string();
    app.store
        .read(move |c| store::find(c, &key))
        .await?
        .map(|r| r.cluster)
        .ok_or_else(|| Error::not_found("cluster", id))
}

/// Checks `conn` against its cluster; `K8S_CONNECTION_ERROR` naming the cause when it
/// cannot be used, unless `allow_unreachable`.
async fn checked(
    app: &App,
    conn: &Connection,
    allow_unreachable: bool,
) -> Result<(Probe, kube::Client)> {
    let client = client::build(app, conn)?;
    let probe = probe::check(app, &client).await;
    if probe.status != ClusterStatus::Connected && !allow_unreachable {
        return Err(unreachable(&probe));
    }
    Ok((probe, client))
}

fn unreachable(p: &Probe) -> Error {
    Error::new(
        ErrorCode::K8sConnectionError,
        format!(
            "cannot connect to the cluster: {}",
            p.error.as_deref().unwrap_or("unknown error")
        ),
    )
}

fn check_names(name: Option<&str>, description: Option<&str>) -> Result<()> {
    if let Some(n) = name {
        crate::text::check_name(n)?;
    }
    if let Some(d) = description {
        crate::text::description(d)?;
    }
    Ok(())
}

/// Registers a cluster: checks the request, connects (unless `allow_unreachable`, a
/// failure is `K8S_CONNECTION_ERROR` and nothing is stored), seals the credentials and
/// stores it with what the check found. Errors also: `VALIDATION_ERROR`,
/// `RESOURCE_ALREADY_EXISTS`.
pub async fn create(app: &App, actor: &Actor, req: NewCluster) -> Result<Cluster> {
    check_names(Some(&req.name), req.description.as_deref())?;
    let conn = source::connection(&req.source)?;
    let name = req.name.clone();
    if app
        .store
        .read(move |c| store::name_taken(c, &name, None))
        .await?
    {
        return Err(Error::already_exists("cluster", &req.name));
    }
    let (probe, client) = checked(app, &conn, req.allow_unreachable).await?;
    let id = crate::ids::new_id("cls");
    let sealed = seal(app, &id, &conn)?;
    let actor = actor.clone();
    let cid = id.clone();
    let cluster = app
        .store
        .write(move |tx| {
            if store::name_taken(tx, &req.name, None)? {
                return Err(Error::already_exists("cluster", &req.name));
            }
            let now = crate::time::now_rfc3339();
            let description = req.description.as_deref().unwrap_or_default();
            let by = actor.user_id.as_deref();
            store::insert(tx, (&cid, &req.name, description), &conn, &sealed, by, &now)?;
            store::record_probe(tx, &cid, &probe, &now)?;
            let details =
                json!({"name": req.name, "server": conn.server, "status": probe.status.as_str()});
            audit::record(
                tx,
                &actor,
                &Entry::new("kubernetes.clusters.create")
                    .on("cluster", &cid)
                    .details(details),
            )?;
            load(tx, &cid)
        })
        .await?;
    app.kubernetes.keep(&id, 1, client);
    Ok(cluster)
}

fn seal(app: &App, id: &str, conn: &Connection) -> Result<String> {
    let clear = zeroize::Zeroizing::new(serde_json::to_vec(&conn.credentials)?);
    app.vault.seal(client::credentials_row(id), &clear)
}

fn load(c: &rusqlite::Connection, id: &str) -> Result<Cluster> {
    store::find(c, id)?
        .map(|r| r.cluster)
        .ok_or_else(|| Error::not_found("cluster", id))
}

/// `PUT`: replaces name, description and connection (as [`create`] checks them).
pub async fn replace(app: &App, actor: &Actor, id: &str, req: NewCluster) -> Result<Cluster> {
    let patch = ClusterPatch {
        name: Some(req.name),
        description: Some(req.description.unwrap_or_default()),
        source: req.source,
        allow_unreachable: req.allow_unreachable,
    };
    update(app, actor, id, patch).await
}

/// `PATCH`: changes the fields sent. A new connection is checked like on create and
/// replaces the cached client. Errors: `RESOURCE_NOT_FOUND`, `VALIDATION_ERROR`,
/// `RESOURCE_ALREADY_EXISTS`, `K8S_CONNECTION_ERROR`.
pub async fn update(app: &App, actor: &Actor, id: &str, patch: ClusterPatch) -> Result<Cluster> {
    check_names(patch.name.as_deref(), patch.description.as_deref())?;
    let current = get(app, id).await?;
    let change =
        connection_change(app, &current.id, &patch.source, patch.allow_unreachable).await?;
    let (cid, actor) = (current.id.clone(), actor.clone());
    let cluster = app
        .store
        .write(move |tx| {
            let now = crate::time::now_rfc3339();
            let name = patch.name.unwrap_or(current.name);
            if store::name_taken(tx, &name, Some(&cid))? {
                return Err(Error::already_exists("cluster", &name));
            }
            let description = patch.description.unwrap_or(current.description);
            store::set_names(tx, &cid, &name, &description, &now)?;
            if let Some((conn, sealed, probe)) = &change {
                store::set_connection(tx, &cid, conn, sealed, &now)?;
                store::record_probe(tx, &cid, probe, &now)?;
            }
            let details = json!({"name": name, "connection_changed": change.is_some()});
            audit::record(
                tx,
                &actor,
                &Entry::new("kubernetes.clusters.update")
                    .on("cluster", &cid)
                    .details(details),
            )?;
            load(tx, &cid)
        })
        .await?;
    app.kubernetes.forget(&cluster.id);
    Ok(cluster)
}

/// The new connection of a change, sealed and checked; `None` when none was sent.
async fn connection_change(
    app: &App,
    id: &str,
    source: &Source,
    allow_unreachable: bool,
) -> Result<Option<(Connection, String, Probe)>> {
    if source.is_empty() {
        return Ok(None);
    }
    let conn = source::connection(source)?;
    let (probe, _) = checked(app, &conn, allow_unreachable).await?;
    let sealed = seal(app, id, &conn)?;
    Ok(Some((conn, sealed, probe)))
}

/// Removes a cluster from mcpd (nothing on the cluster changes). Errors:
/// `RESOURCE_NOT_FOUND`, `CONFLICT` while MCP servers are placed on it.
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let current = get(app, id).await?;
    let actor = actor.clone();
    let cid = current.id.clone();
    app.store
        .write(move |tx| {
            let placed = crate::mcp::store::placed_on(tx, &cid)?;
            if placed > 0 {
                return Err(Error::conflict(format!(
                    "{placed} MCP server(s) run on this cluster; delete them first"
                )));
            }
            if !store::delete(tx, &cid)? {
                return Err(Error::not_found("cluster", &cid));
            }
            let details = json!({"name": current.name});
            audit::record(
                tx,
                &actor,
                &Entry::new("kubernetes.clusters.delete")
                    .on("cluster", &cid)
                    .details(details),
            )
        })
        .await?;
    app.kubernetes.forget(&current.id);
    Ok(())
}

/// `POST …/test`: checks the cluster now and records what was found. Errors:
/// `K8S_CONNECTION_ERROR` (recorded too) when it cannot be used.
pub async fn test(app: &App, id: &str) -> Result<Cluster> {
    let (rec, client) = client::connect(app, id).await?;
    let probe = probe::check(app, &client).await;
    let cid = rec.cluster.id.clone();
    let p = probe.clone();
    let cluster = app
        .store
        .write(move |tx| {
            store::record_probe(tx, &cid, &p, &crate::time::now_rfc3339())?;
            load(tx, &cid)
        })
        .await?;
    if probe.status != ClusterStatus::Connected {
        return Err(unreachable(&probe));
    }
    Ok(cluster)
}
