//! `PATCH /mcp/servers/{id}`: a server's connection settings, and a managed server's
//! container upgraded in place (recreated through the services domain, put back when
//! the new container does not speak MCP). A patch runs to its end even if its caller
//! stops waiting ([`App::to_completion`]).

use super::backing::{self, ContainerPlan};
use super::discovery::connect_and_discover;
use super::headers::{check_header_refs, set_headers};
use super::model::{McpServer, ServerRecord, Transport, status};
use super::placement;
use super::records::{get, server_status};
use super::requests::{CONTAINER_FIELDS, PatchServer, check_headers, check_path, check_url};
use super::store;
use crate::app::{App, AppState};
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use serde_json::json;

/// Applies a [`PatchServer`]: connection settings are stored and the session reopens
/// on the next call; container settings go through [`backing::update`] and, for a
/// running server, a new session is opened and the server discovered again before
/// returning. Audited as `mcp.servers.update` with the names of the fields sent.
///
/// Errors: 400 naming the field (a field that does not apply to this kind of server,
/// bad values, an image that is not present locally, a new container that exits at
/// once), 503 `MCP_SERVICE_UNAVAILABLE` when the new container does not speak MCP;
/// after any of these the server runs as before.
pub async fn patch(
    app: &AppState,
    actor: &Actor,
    id_or_name: &str,
    req: PatchServer,
) -> Result<McpServer> {
    let (app2, actor, id) = (app.clone(), actor.clone(), id_or_name.to_string());
    app.to_completion(async move { patch_now(&app2, &actor, &id, req).await })
        .await
}

/// [`patch`], in the caller's task.
async fn patch_now(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    req: PatchServer,
) -> Result<McpServer> {
    let mut rec = get(app, id_or_name).await?;
    let before = rec.clone();
    if rec.is_managed() || rec.is_placed() {
        patch_managed(&req, &mut rec)?;
    } else {
        patch_remote(app, &req, &mut rec).await?;
    }
    let container_change = req.container_field().is_some();
    if rec.is_placed() && (container_change || req.port.is_some()) {
        change_workload(app, actor, &req, &rec, &before).await?;
    } else if let (Some(sid), true) = (rec.service_id.clone(), container_change) {
        change_container(app, actor, &req, &mut rec, &before, &sid).await?;
    } else {
        app.mcp.close(&rec.id).await;
    }
    store_patch(app, actor, &rec, req.sent()).await?;
    get(app, &rec.id).await.map(|r| r.view())
}

/// Rolls a placed server's workload to the patch's container settings (and port); a
/// server that is not stopped must then speak MCP on the new pod, or the previous
/// workload is put back (the error is returned and audited).
async fn change_workload(
    app: &App,
    actor: &Actor,
    req: &PatchServer,
    rec: &ServerRecord,
    before: &ServerRecord,
) -> Result<()> {
    let change = placement::Change {
        image: req.image.clone(),
        args: (req.command.is_some() || req.args.is_some())
            .then(|| ContainerPlan::cmd_of(req.command.clone(), req.args.clone())),
        env: req.env.clone(),
        port: req.port,
    };
    let old = match placement::update(app, rec, change).await {
        Ok(old) => old,
        Err(e) => {
            audit_update_failure(app, actor, &rec.id, &e).await;
            return Err(e);
        }
    };
    app.mcp.close(&rec.id).await;
    if rec.status != status::STOPPED
        && let Err(e) = connect_and_discover(app, rec).await
    {
        app.mcp.close(&rec.id).await;
        placement::undo(app, before, &old).await;
        audit_update_failure(app, actor, &rec.id, &e).await;
        return Err(e);
    }
    Ok(())
}

/// Checks a patch of a managed server and applies its connection settings (`port`,
/// `path`) to `rec`.
fn patch_managed(req: &PatchServer, rec: &mut ServerRecord) -> Result<()> {
    for (field, set) in [
        ("url", req.url.is_some()),
        ("headers", req.headers.is_some()),
    ] {
        if set {
            return Err(Error::field(field, "only for remote servers"));
        }
    }
    if rec.is_placed() {
        if req.volumes.is_some() {
            return Err(Error::field("volumes", "not available with placement"));
        }
        if let Some(image) = &req.image {
            crate::images::reference::validate("image", image)?;
        }
    }
    if let (Some(field), Some(entry)) = (req.container_field(), &rec.registry) {
        return Err(Error::field(
            field,
            format!(
                "comes from catalog entry '{entry}': change the configuration with PUT /api/v1/mcp/servers/{}/config",
                rec.name
            ),
        ));
    }
    if rec.transport == Transport::Stdio && (req.port.is_some() || req.path.is_some()) {
        let field = if req.port.is_some() { "port" } else { "path" };
        return Err(Error::field(field, "only for transport streamable_http"));
    }
    if let Some(port) = req.port {
        if port == 0 {
            return Err(Error::field("port", "must be 1-65535"));
        }
        rec.port = Some(port);
    }
    if let Some(path) = &req.path {
        check_path(path)?;
        rec.path = Some(path.clone());
    }
    Ok(())
}

/// Checks a patch of a remote server and applies it (`url`, sealed `headers`) to `rec`.
async fn patch_remote(app: &App, req: &PatchServer, rec: &mut ServerRecord) -> Result<()> {
    let managed_only = req
        .sent()
        .into_iter()
        .find(|f| *f == "port" || *f == "path" || CONTAINER_FIELDS.contains(f));
    if let Some(field) = managed_only {
        return Err(Error::field(field, "only for managed servers"));
    }
    if let Some(url) = &req.url {
        check_url(url)?;
        rec.url = Some(url.clone());
    }
    if let Some(headers) = &req.headers {
        check_headers(headers)?;
        check_header_refs(app, headers).await?;
        set_headers(app, rec, headers)?;
    }
    Ok(())
}

/// Puts the patch's container settings into service `sid`; a server meant to run must
/// then speak MCP on the new container, or the previous settings are restored (the
/// error is returned and audited). Sets `rec.status` to what the server is now.
async fn change_container(
    app: &App,
    actor: &Actor,
    req: &PatchServer,
    rec: &mut ServerRecord,
    before: &ServerRecord,
    sid: &str,
) -> Result<()> {
    let old = backing::plan(app, sid).await?;
    let new = req.container_plan(&old);
    let svc = recreate(app, actor, rec, sid, &old, new).await?;
    app.mcp.close(&rec.id).await;
    // A server meant to run must speak MCP on the new container before the change
    // is kept (one that exited at once is not running: 503, undone too).
    let meant_to_run = svc.desired_state == crate::services::lifecycle::DESIRED_RUNNING;
    rec.status = if meant_to_run {
        status::RUNNING.to_string()
    } else {
        server_status(svc.status)
    };
    if meant_to_run && let Err(e) = connect_and_discover(app, rec).await {
        restore(app, actor, before, sid, old).await;
        audit_update_failure(app, actor, &rec.id, &e).await;
        return Err(e);
    }
    Ok(())
}

/// Stores the patched record and its `mcp.servers.update` audit entry (the names of
/// the `fields` sent; header names, never values) in one transaction.
async fn store_patch(
    app: &App,
    actor: &Actor,
    rec: &ServerRecord,
    fields: Vec<&'static str>,
) -> Result<()> {
    let (r, a) = (rec.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::update_endpoint(tx, &r)?;
            audit::record(
                tx,
                &a,
                &Entry::new("mcp.servers.update")
                    .on("mcp_server", &r.id)
                    .details(json!({
                        "fields": fields,
                        "url": r.url,
                        "headers": r.header_names,
                        "port": r.port,
                        "path": r.path,
                    })),
            )
        })
        .await
}

/// Puts a server whose new container did not speak MCP back on its previous container
/// settings and opens a session on them (best effort: failures are logged, the
/// caller returns the original error).
async fn restore(
    app: &App,
    actor: &Actor,
    before: &ServerRecord,
    service_id: &str,
    old: ContainerPlan,
) {
    if let Err(e) = backing::update(app, actor, service_id, old).await {
        tracing::error!(server = %before.name, error = %e, "could not restore an MCP server's previous container");
        return;
    }
    app.mcp.close(&before.id).await;
    if let Ok(restored) = get(app, &before.id).await
        && restored.status == status::RUNNING
        && let Err(e) = connect_and_discover(app, &restored).await
    {
        tracing::warn!(server = %before.name, error = %e, "no session with the restored MCP server yet");
    }
}

/// Puts `new` into the server's service (a no-op when it equals `old`). The session on
/// the old container is closed when the container went away, also when the update
/// failed and the services domain restored the old settings in a new container.
async fn recreate(
    app: &App,
    actor: &Actor,
    rec: &ServerRecord,
    service_id: &str,
    old: &ContainerPlan,
    new: ContainerPlan,
) -> Result<crate::services::Service> {
    if &new == old {
        return backing::get(app, service_id).await;
    }
    let containers = |svc: &crate::services::Service| -> Vec<String> {
        svc.containers.iter().map(|c| c.id.clone()).collect()
    };
    let before = containers(&backing::get(app, service_id).await?);
    let updated = backing::update(app, actor, service_id, new).await;
    match &updated {
        Ok(svc) if containers(svc) == before => {}
        Ok(_) => app.mcp.close(&rec.id).await,
        Err(e) => {
            let now = backing::get(app, service_id).await.map(|s| containers(&s));
            if now.as_ref().ok() != Some(&before) {
                app.mcp.close(&rec.id).await;
            }
            audit_update_failure(app, actor, &rec.id, e).await;
        }
    }
    updated
}

/// Audits a `PATCH` that failed after it reached Docker.
async fn audit_update_failure(app: &App, actor: &Actor, server_id: &str, e: &Error) {
    let outcome = Entry::new("mcp.servers.update")
        .on("mcp_server", server_id.to_string())
        .details(json!({"error": e.code.as_str()}))
        .failed();
    audit::record_alone(&app.store, actor.clone(), outcome).await;
}
