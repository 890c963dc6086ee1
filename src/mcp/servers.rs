//! Creating and removing MCP servers and driving them: create (managed: create and
//! start the backing service, open a session and discover; remote: record and try to
//! connect), delete, and start/stop/restart.
//!
//! Each of these runs to its end even if its caller stops waiting (an HTTP client that
//! goes away): the work runs on the daemon's task tracker ([`App::to_completion`]), so
//! a server, its service and its container never stay out of step.

use super::backing::{self, ContainerPlan};
use super::connect::{peer_identity, session, unconfigured};
use super::discovery::{connect_and_discover, discover_with};
use super::headers::{check_header_refs, set_headers};
use super::model::{Discovery, McpServer, ServerRecord, Transport, status};
use super::placement;
use super::records::get;
use super::requests::{CreateServer, plan};
use super::store;
use crate::app::{App, AppState};
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use serde_json::json;

/// Creates a server from explicit settings. Managed: creates and starts the service
/// (same name), opens the session and discovers; any failure removes what was made and
/// nothing remains. Remote: stored, then connected and discovered on a best-effort
/// basis. A server from a catalog entry (`registry`) is made by
/// [`crate::catalog::servers::create`], which calls this with the entry's settings.
///
/// Errors: 400 on bad input (`config` without `registry`), 409 when the name is taken
/// (by a server or a service), the services domain's errors (image missing, Docker
/// down), 503 `MCP_SERVICE_UNAVAILABLE` when the container does not speak MCP; 500
/// when `registry` is set.
pub async fn create(app: &AppState, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    let (app2, actor) = (app.clone(), actor.clone());
    app.to_completion(async move { create_now(&app2, &actor, req).await })
        .await
}

/// [`create`], in the caller's task.
async fn create_now(app: &App, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    if req.registry.is_some() {
        return Err(Error::internal(anyhow::anyhow!(
            "a server from a catalog entry is created by the catalog"
        )));
    }
    if req.config.is_some() {
        return Err(Error::field("config", "only with registry"));
    }
    let rec = plan(&req, actor)?;
    let name = rec.name.clone();
    if app.store.read(move |c| store::name_taken(c, &name)).await? {
        return Err(Error::already_exists("MCP server", &rec.name));
    }
    match req.image.clone() {
        None => create_remote(app, actor, &req, rec).await,
        Some(image) if rec.is_placed() => create_placed(app, actor, &req, rec, image).await,
        Some(image) => create_managed(app, actor, &req, rec, image).await,
    }
}

/// Opens the new server's session, records who it says it is, discovers its lists and
/// stores the record with them (the last step of a managed or placed create).
async fn open_and_insert(app: &App, actor: &Actor, rec: &mut ServerRecord) -> Result<()> {
    let client = session(app, rec).await?;
    if let Some((info, caps)) = peer_identity(&client) {
        rec.server_info = Some(info);
        rec.capabilities = Some(caps);
    }
    let found = discover_with(app, rec, &client).await?;
    insert(app, actor, rec, Some(found)).await
}

/// A server placed on a cluster: its workload is made and ready, then the session is
/// opened and the server discovered before the record is stored (complete or not at
/// all); a failure removes the workload.
async fn create_placed(
    app: &App,
    actor: &Actor,
    req: &CreateServer,
    mut rec: ServerRecord,
    image: String,
) -> Result<McpServer> {
    let cmd = ContainerPlan::cmd_of(req.command.clone(), req.args.clone());
    let env = req.env.clone().unwrap_or_default();
    let deployed = async {
        placement::resolve_cluster(app, &mut rec).await?;
        placement::deploy(app, &rec, &image, cmd, env).await
    }
    .await;
    deployed.inspect_err(|e| audit_failure(app, actor, &req.name, e))?;
    let made = open_and_insert(app, actor, &mut rec).await;
    if let Err(e) = made {
        app.mcp.close(&rec.id).await;
        if let Err(re) = placement::remove(app, &rec).await {
            tracing::error!(server = %rec.name, error = %re, "could not remove the workload of a failed MCP server");
        }
        audit_failure(app, actor, &req.name, &e);
        return Err(e);
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Stores a remote server, then connects and discovers on a best-effort basis.
async fn create_remote(
    app: &App,
    actor: &Actor,
    req: &CreateServer,
    mut rec: ServerRecord,
) -> Result<McpServer> {
    let headers = req.headers.clone().unwrap_or_default();
    check_header_refs(app, &headers).await?;
    set_headers(app, &mut rec, &headers)?;
    insert(app, actor, &rec, None).await?;
    if let Err(e) = connect_and_discover(app, &rec).await {
        tracing::warn!(server = %rec.name, error = %e, "remote MCP server not reachable yet");
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Creates and starts the service, then opens the session and discovers before the
/// record is stored (complete or not at all); a failure removes the service.
async fn create_managed(
    app: &App,
    actor: &Actor,
    req: &CreateServer,
    mut rec: ServerRecord,
    image: String,
) -> Result<McpServer> {
    let cmd = ContainerPlan::cmd_of(req.command.clone(), req.args.clone());
    let container = ContainerPlan {
        name: rec.name.clone(),
        image,
        cmd,
        env: req.env.clone().unwrap_or_default(),
        volumes: req.volumes.clone().unwrap_or_default(),
        stdin: rec.transport == Transport::Stdio,
    };
    let svc = backing::create(app, actor, &rec.id, container)
        .await
        .inspect_err(|e| audit_failure(app, actor, &req.name, e))?;
    rec.service_id = Some(svc.id.clone());
    let made = open_and_insert(app, actor, &mut rec).await;
    if let Err(e) = made {
        app.mcp.close(&rec.id).await;
        undo_service(app, actor, &svc.id).await;
        audit_failure(app, actor, &req.name, &e);
        return Err(e);
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Removes the service of a server whose create failed (logged when it cannot be).
async fn undo_service(app: &App, actor: &Actor, service_id: &str) {
    if let Err(de) = backing::delete(app, actor, service_id).await {
        tracing::error!(service = %service_id, error = %de, "could not remove the service of a failed MCP server");
    }
}

/// Creates a managed server whose required configuration is missing: the record
/// (status `unconfigured`) and its service, not started. Nothing remains on failure.
/// Errors as [`create`].
pub(crate) async fn create_unconfigured(
    app: &AppState,
    actor: &Actor,
    req: CreateServer,
) -> Result<McpServer> {
    let (app2, actor) = (app.clone(), actor.clone());
    app.to_completion(async move { create_unconfigured_now(&app2, &actor, req).await })
        .await
}

/// [`create_unconfigured`], in the caller's task.
async fn create_unconfigured_now(app: &App, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    let mut rec = plan(&req, actor)?;
    rec.status = status::UNCONFIGURED.into();
    let name = rec.name.clone();
    if app.store.read(move |c| store::name_taken(c, &name)).await? {
        return Err(Error::already_exists("MCP server", &rec.name));
    }
    let spec = crate::services::ServiceSpec {
        name: rec.name.clone(),
        image: req.image.clone().unwrap_or_default(),
        command: req.args.clone().filter(|a| !a.is_empty()),
        env: req.env.clone().unwrap_or_default(),
        volumes: req.volumes.clone().unwrap_or_default(),
        replicas: 1,
        stdin_open: rec.transport == Transport::Stdio,
        managed_by: Some(rec.id.clone()),
        ..crate::services::ServiceSpec::default()
    };
    let svc = crate::services::lifecycle::create(app, actor, spec, false)
        .await
        .inspect_err(|e| audit_failure(app, actor, &req.name, e))?;
    rec.service_id = Some(svc.id.clone());
    if let Err(e) = insert(app, actor, &rec, None).await {
        undo_service(app, actor, &svc.id).await;
        audit_failure(app, actor, &req.name, &e);
        return Err(e);
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Audits a create that failed (there is no record to point at). Runs detached: the
/// caller's error is what matters.
fn audit_failure(app: &App, actor: &Actor, name: &str, e: &Error) {
    let outcome = Entry::new("mcp.servers.create")
        .on_any("mcp_server", None)
        .details(json!({"name": name, "error": e.code.as_str()}))
        .failed();
    let (store, actor) = (app.store.clone(), actor.clone());
    tokio::spawn(async move { audit::record_alone(&store, actor, outcome).await });
}

/// Stores a new record (with its first discovery, when there is one) and its audit
/// entry in one transaction.
async fn insert(
    app: &App,
    actor: &Actor,
    rec: &ServerRecord,
    found: Option<Discovery>,
) -> Result<()> {
    let (rec, actor) = (rec.clone(), actor.clone());
    app.store
        .write(move |tx| {
            if store::name_taken(tx, &rec.name)? {
                return Err(Error::already_exists("MCP server", &rec.name));
            }
            store::insert(tx, &rec)?;
            if let (Some(info), Some(caps)) = (&rec.server_info, &rec.capabilities) {
                store::set_server_info(tx, &rec.id, info, caps)?;
            }
            if let Some(found) = &found {
                store::save_discovery(tx, &rec.id, found)?;
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("mcp.servers.create")
                    .on("mcp_server", &rec.id)
                    .details(json!({
                        "name": rec.name,
                        "transport": rec.transport.as_str(),
                        "service_id": rec.service_id,
                        "url": rec.url,
                    })),
            )
        })
        .await
}

/// Work another domain adds to a server's delete, run in the transaction that removes
/// the record (see [`delete_with`]).
pub type AlsoOnDelete = Box<dyn FnOnce(&rusqlite::Connection) -> Result<()> + Send>;

/// Deletes a server: closes its session, deletes its backing service (containers
/// gone), then the record. 404 when there is none; the services domain's errors.
pub async fn delete(app: &AppState, actor: &Actor, id_or_name: &str) -> Result<()> {
    delete_with(app, actor, id_or_name, Box::new(|_| Ok(()))).await
}

/// [`delete`], running `also` in the transaction that removes the record (e.g. the
/// catalog removing a server's secret configuration); an error from `also` keeps the
/// record (the service is gone already).
pub async fn delete_with(
    app: &AppState,
    actor: &Actor,
    id_or_name: &str,
    also: AlsoOnDelete,
) -> Result<()> {
    let (app2, actor, id) = (app.clone(), actor.clone(), id_or_name.to_string());
    app.to_completion(async move { delete_now(&app2, &actor, &id, also).await })
        .await
}

/// [`delete_with`], in the caller's task.
async fn delete_now(app: &App, actor: &Actor, id_or_name: &str, also: AlsoOnDelete) -> Result<()> {
    let rec = get(app, id_or_name).await?;
    app.mcp.close(&rec.id).await;
    if rec.is_placed() {
        placement::remove(app, &rec).await?;
    }
    if let Some(service_id) = &rec.service_id {
        match backing::delete(app, actor, service_id).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::ResourceNotFound => {}
            Err(e) => return Err(e),
        }
    }
    let (id, a) = (rec.id.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::delete(tx, &id)?;
            also(tx)?;
            audit::record(
                tx,
                &a,
                &Entry::new("mcp.servers.delete").on("mcp_server", &id),
            )
        })
        .await
}

pub use super::model::Lifecycle;

/// Starts, stops or restarts a server. Managed: drives the backing service; the
/// session follows (closed on stop and restart, reopened on start and restart).
/// Remote: enables or disables the server. Errors: 404, 503
/// `MCP_SERVICE_UNCONFIGURED` (start or restart of an `unconfigured` server), the
/// services domain's errors.
pub async fn lifecycle(
    app: &AppState,
    actor: &Actor,
    id_or_name: &str,
    op: Lifecycle,
) -> Result<McpServer> {
    let (app2, actor, id) = (app.clone(), actor.clone(), id_or_name.to_string());
    app.to_completion(async move { lifecycle_now(&app2, &actor, &id, op).await })
        .await
}

/// [`lifecycle`], in the caller's task.
async fn lifecycle_now(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    op: Lifecycle,
) -> Result<McpServer> {
    let mut rec = get(app, id_or_name).await?;
    if rec.status == status::UNCONFIGURED && op != Lifecycle::Stop {
        return Err(unconfigured(&rec.name));
    }
    if op != Lifecycle::Start {
        app.mcp.close(&rec.id).await;
    }
    let new_status = match (&rec.service_id, op) {
        (None, op) if rec.is_placed() => placement::drive(app, &rec, op).await?,
        (Some(sid), Lifecycle::Start) => backing::start(app, actor, sid).await?.status,
        (Some(sid), Lifecycle::Stop) => backing::stop(app, actor, sid).await?.status,
        (Some(sid), Lifecycle::Restart) => backing::restart(app, actor, sid).await?.status,
        (None, Lifecycle::Stop) => status::STOPPED.to_string(),
        (None, _) => status::RUNNING.to_string(),
    };
    rec.status = new_status.clone();
    let (id, a) = (rec.id.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::set_status(tx, &id, &new_status)?;
            audit::record(tx, &a, &Entry::new(op.action()).on("mcp_server", &id))
        })
        .await?;
    if op != Lifecycle::Stop
        && rec.status == status::RUNNING
        && let Err(e) = session(app, &rec).await
    {
        tracing::warn!(server = %rec.name, error = %e, "MCP server started but no session yet");
    }
    get(app, &rec.id).await.map(|r| r.view())
}
