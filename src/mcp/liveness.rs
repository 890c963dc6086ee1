//! The MCP domain's background work: refreshing a server's cache when it announces a
//! list change, reopening the sessions of running servers after a daemon restart, and
//! pinging open sessions periodically.

use super::connect::session;
use super::discovery::discover_with;
use super::model::status;
use super::records::get;
use super::store;
use crate::app::{App, AppState};
use std::time::Duration;

/// How often open sessions are checked with an MCP `ping`, and how long one may take.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(30);
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(10);

/// Background work of the MCP domain, spawned on `app.tasks`: refresh a server's cache
/// when it announces a list change, reopen the sessions of running servers after a
/// daemon restart (attaching to the containers that kept running), and ping every open
/// session every 30 s, dropping those that do not answer within 10 s (the next call
/// reopens them). Stops on shutdown; sessions are closed then.
pub fn spawn_background(app: &AppState) {
    if let Some(mut changes) = app.mcp.take_changes() {
        let app2 = app.clone();
        app.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = app2.shutdown.cancelled() => break,
                    msg = changes.recv() => {
                        let Some(msg) = msg else { break };
                        refresh_after_change(&app2, &msg.server_id).await;
                    }
                }
            }
            app2.mcp.close_all().await;
        });
    }
    let app2 = app.clone();
    app.tasks.spawn(async move {
        tokio::select! {
            _ = app2.shutdown.cancelled() => {}
            _ = reconnect_all(&app2) => {}
        }
    });
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(LIVENESS_INTERVAL);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => break,
                _ = tick.tick() => check_liveness(&app2).await,
            }
        }
    });
}

/// Pings every open session; one that fails or does not answer in time is dropped.
async fn check_liveness(app: &App) {
    for (id, client) in app.mcp.live().await {
        let ping = rmcp::model::ClientRequest::PingRequest(Default::default());
        let alive = matches!(
            tokio::time::timeout(LIVENESS_TIMEOUT, client.send_request(ping)).await,
            Ok(Ok(_))
        );
        if !alive {
            tracing::warn!(server_id = %id, "MCP session did not answer ping; dropping it");
            app.mcp.discard(&id, &client).await;
        }
    }
}

async fn refresh_after_change(app: &App, server_id: &str) {
    let Ok(rec) = get(app, server_id).await else {
        return;
    };
    let Some(client) = app.mcp.current(server_id).await else {
        return;
    };
    if let Err(e) = discover_with(app, &rec, &client).await {
        tracing::warn!(server = %rec.name, error = %e, "refresh after list_changed failed");
    }
}

async fn reconnect_all(app: &App) {
    let Ok(all) = app.store.read(store::all).await else {
        return;
    };
    for rec in all {
        let Ok(rec) = get(app, &rec.id).await else {
            continue;
        };
        if rec.status != status::RUNNING {
            continue;
        }
        match session(app, &rec).await {
            Ok(_) => tracing::info!(server = %rec.name, "MCP session re-established after start"),
            Err(e) => {
                tracing::warn!(server = %rec.name, error = %e, "MCP session not re-established; retried on the next call")
            }
        }
    }
}
