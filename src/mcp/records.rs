//! Reading MCP server records: by id or name and all of them (cached until the next
//! database write), their cached discovery lists, one page of servers, and a managed
//! server's status as its backing service reports it.

use super::backing;
use super::model::{Catalog, McpServer, ServerRecord, status};
use super::store;
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::cache::Cache;
use crate::store::list::{ListQuery, Page};
use crate::workspaces::access::{Grant, McpScope};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// How long reading a placed server's status from its cluster may take.
const PLACED_STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Server records as stored, by id or name (see [`lookup`]).
static RECORDS: Cache<ServerRecord> = Cache::new(1024);
/// Every server record, under the key [`ALL_KEY`] (see [`records`]).
static ALL: Cache<Arc<Vec<ServerRecord>>> = Cache::new(4);
const ALL_KEY: &str = "all";
/// Cached discovery lists, by `<server id>/<column>` (see [`cached_list`]).
static LISTS: Cache<Arc<Vec<Value>>> = Cache::new(1024);

/// The stored record of `id_or_name` (id or unique name) as last written, without
/// asking Docker about its status; kept in memory until the next database write (see
/// [`crate::store::cache`]), so a deleted or changed server is seen on the next call.
/// 404 when there is none.
pub async fn lookup(app: &App, id_or_name: &str) -> Result<ServerRecord> {
    let key = id_or_name.to_string();
    RECORDS
        .get_or_read(&app.store, id_or_name, move |c| {
            store::find(c, &key)?.ok_or_else(|| Error::not_found("MCP server", &key))
        })
        .await
}

/// The stored record of `id_or_name` if `user_id`'s workspaces grant it, with the
/// caller's scope and grant; 404 otherwise (an ungranted server is not shown to exist).
/// Reads the stored record only ([`lookup`], no Docker round trip).
pub async fn visible(
    app: &App,
    user_id: &str,
    id_or_name: &str,
) -> Result<(ServerRecord, McpScope, Grant)> {
    let rec = lookup(app, id_or_name).await?;
    let scope = crate::workspaces::access::scope(app, Some(user_id)).await?;
    let grant = scope
        .grant(&rec.id)
        .ok_or_else(|| Error::not_found("mcp server", id_or_name))?;
    Ok((rec, scope, grant))
}

/// Every server record as stored (cached like [`lookup`]), ordered by name.
pub async fn records(app: &App) -> Result<Arc<Vec<ServerRecord>>> {
    ALL.get_or_read(&app.store, ALL_KEY, |c| Ok(Arc::new(store::all(c)?)))
        .await
}

/// One discovery list of server `id` as stored (empty when never discovered), parsed
/// once and cached like [`lookup`].
pub async fn cached_list(app: &App, id: &str, which: Catalog) -> Result<Arc<Vec<Value>>> {
    let key = format!("{id}/{}", which.column());
    let sid = id.to_string();
    LISTS
        .get_or_read(&app.store, &key, move |c| {
            Ok(Arc::new(store::cached(c, &sid, which)?))
        })
        .await
}

/// The server named `id_or_name` (id or unique name), with the status of a managed
/// server refreshed from its service (one Docker listing). 404 when there is none.
pub async fn get(app: &App, id_or_name: &str) -> Result<ServerRecord> {
    let mut rec = lookup(app, id_or_name).await?;
    sync_status(app, &mut rec).await;
    Ok(rec)
}

/// Copies the backing service's status onto a managed server (kept as is when the
/// service cannot be read), and whether Docker answered (`engine`).
async fn sync_status(app: &App, rec: &mut ServerRecord) {
    if rec.is_placed() {
        // A cluster that does not answer soon leaves the stored status as it is.
        let read = tokio::time::timeout(PLACED_STATUS_TIMEOUT, super::placement::state(app, rec));
        if let Ok(Ok(s)) = read.await {
            set_status(app, rec, s.status).await;
        }
        return;
    }
    let Some(service_id) = rec.service_id.clone() else {
        return;
    };
    let Ok(svc) = backing::get(app, &service_id).await else {
        return;
    };
    rec.engine = Some(svc.engine);
    if rec.status == status::UNCONFIGURED {
        return;
    }
    set_status(app, rec, server_status(svc.status)).await;
}

/// Records a status read from where the server runs, when it changed.
async fn set_status(app: &App, rec: &mut ServerRecord, now: String) {
    if now != rec.status {
        rec.status = now.clone();
        let id = rec.id.clone();
        let _ = app
            .store
            .write(move |tx| store::set_status(tx, &id, &now))
            .await;
    }
}

/// A managed server's status from its service's: `created` (containers made by a
/// change while stopped, never started) is `stopped` for an MCP server.
pub(super) fn server_status(service_status: String) -> String {
    if service_status == "created" {
        status::STOPPED.to_string()
    } else {
        service_status
    }
}

/// One page of servers (filters: name, status, transport, backend, created_at, updated_at).
pub async fn list(app: &App, q: ListQuery) -> Result<Page<McpServer>> {
    let all = app.store.read(store::all).await?;
    let mut engine = HashMap::new();
    for mut rec in all.into_iter().filter(|r| r.is_managed() || r.is_placed()) {
        sync_status(app, &mut rec).await;
        engine.insert(rec.id, rec.engine);
    }
    let page = app.store.read(move |c| store::list(c, &q)).await?;
    Ok(page.map(|mut rec| {
        rec.engine = engine.get(&rec.id).copied().flatten();
        rec.view()
    }))
}
