//! The sources of the bus that need no subscription of their own:
//! - database changes: after each tracked commit (coalesced over [`SETTLE`]) the rows
//!   the channels follow are read again and compared with what was seen before, and
//!   each difference is published: service status, MCP server status and discoveries,
//!   backup progress and outcome, new audit entries. Only committed states are
//!   announced, whichever code path wrote them. While nobody listens nothing is read;
//!   a connection takes a fresh baseline before it confirms a subscription
//!   ([`ensure_baseline`]), so nothing between its subscription and the next commit
//!   is lost;
//! - `notifications/resources/updated` of the MCP sessions (`mcp:<server>`);
//! - the `metrics` ticker: the `GET /metrics` snapshot every
//!   `events.metrics_interval_s` seconds while a connection is subscribed.

use super::Event;
use crate::app::{App, AppState};
use crate::audit::AuditEntry;
use crate::error::Result;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a burst of commits may take before the rows are read again.
pub const SETTLE: Duration = Duration::from_millis(50);
/// Most audit entries read in one pass (the rest follow in the next passes).
const AUDIT_BATCH: usize = 500;

/// `(name or status, status or progress)` by id.
type Rows = BTreeMap<String, (String, String)>;

/// What the feed saw at its last pass.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    services: Rows,
    servers: Rows,
    discoveries: BTreeMap<String, String>,
    backups: Rows,
    audit: i64,
}

/// The feed's last view, `None` while nobody listens (held by [`super::Bus`]).
pub type Baseline = tokio::sync::Mutex<Option<Seen>>;

fn rows(v: Vec<(String, String, String)>) -> Rows {
    v.into_iter().map(|(id, a, b)| (id, (a, b))).collect()
}

/// Reads the followed rows; with `since`, also the audit entries after that position.
async fn read(app: &App, since: Option<i64>) -> Result<(Seen, Vec<AuditEntry>)> {
    app.store
        .read(move |c| {
            let (audit, entries) = match since {
                Some(pos) => {
                    let new = crate::audit::store::after(c, pos, AUDIT_BATCH)?;
                    let last = new.last().map_or(pos, |(p, _)| *p);
                    (last, new.into_iter().map(|(_, e)| e).collect())
                }
                None => (crate::audit::store::newest(c)?, Vec::new()),
            };
            let seen = Seen {
                services: rows(crate::services::store::statuses(c)?),
                servers: rows(crate::mcp::store::statuses(c)?),
                discoveries: crate::mcp::store::discoveries(c)?,
                backups: rows(crate::backups::store::progress(c)?),
                audit,
            };
            Ok((seen, entries))
        })
        .await
}

/// The events between two views.
fn diff(before: &Seen, after: &Seen) -> Vec<Event> {
    let mut out = Vec::new();
    for (id, (name, status)) in &after.services {
        match before.services.get(id) {
            None => out.push(Event::new(
                "services",
                "service.created",
                json!({"id": id, "name": name, "status": status}),
            )),
            Some((_, was)) if was != status => out.push(Event::new(
                "services",
                "service.status",
                json!({"id": id, "name": name, "status": status, "previous": was}),
            )),
            Some(_) => {}
        }
    }
    for (id, (name, _)) in before
        .services
        .iter()
        .filter(|(id, _)| !after.services.contains_key(*id))
    {
        out.push(Event::new(
            "services",
            "service.deleted",
            json!({"id": id, "name": name}),
        ));
    }
    for (id, (name, status)) in &after.servers {
        let was = before.servers.get(id).map(|(_, s)| s.as_str());
        if was != Some(status) {
            let data = json!({"server_id": id, "name": name, "status": status, "previous": was});
            out.push(Event::new(format!("mcp:{id}"), "connection_status", data));
        }
        let discovered = after.discoveries.get(id).filter(|d| !d.is_empty());
        if discovered.is_some() && discovered != before.discoveries.get(id) {
            let data = json!({"server_id": id, "name": name, "discovered_at": discovered});
            out.push(Event::new(format!("mcp:{id}"), "list_changed", data));
        }
    }
    for (id, (name, status)) in before
        .servers
        .iter()
        .filter(|(id, _)| !after.servers.contains_key(*id))
    {
        let data = json!({"server_id": id, "name": name, "status": "deleted", "previous": status});
        out.push(Event::new(format!("mcp:{id}"), "connection_status", data));
    }
    for (id, (status, pct)) in &after.backups {
        if before.backups.get(id) == Some(&(status.clone(), pct.clone())) {
            continue;
        }
        let kind = match status.as_str() {
            "completed" => "backup.completed",
            "failed" => "backup.failed",
            "queued" => "backup.queued",
            _ => "backup.progress",
        };
        let pct: u64 = pct.parse().unwrap_or(0);
        out.push(Event::new(
            "backups",
            kind,
            json!({"id": id, "status": status, "progress_pct": pct}),
        ));
    }
    out
}

/// One pass: reads and publishes what changed, or forgets the view while nobody
/// listens.
async fn pass(app: &App) -> Result<()> {
    let mut seen = app.events.seen.lock().await;
    if !app.events.has_receivers() {
        *seen = None;
        return Ok(());
    }
    let Some(before) = seen.as_ref() else {
        *seen = Some(read(app, None).await?.0);
        return Ok(());
    };
    let (after, entries) = read(app, Some(before.audit)).await?;
    let more = entries.len() == AUDIT_BATCH;
    for e in diff(before, &after) {
        app.events.publish(e);
    }
    for e in entries {
        app.events.publish(Event::new(
            "audit",
            "audit.entry",
            serde_json::to_value(e).unwrap_or_default(),
        ));
    }
    *seen = Some(after);
    drop(seen);
    if more {
        Box::pin(pass(app)).await?;
    }
    Ok(())
}

/// Takes the view the next pass compares with, if there is none (a connection is
/// about to confirm its first subscription).
pub async fn ensure_baseline(app: &App) -> Result<()> {
    let mut seen = app.events.seen.lock().await;
    if seen.is_none() {
        *seen = Some(read(app, None).await?.0);
    }
    Ok(())
}

/// Spawns the database feed, the resource-update relay and the metrics ticker on
/// `app.tasks`; they stop at shutdown.
pub fn spawn(app: &AppState) {
    let a = app.clone();
    app.tasks.spawn(async move {
        let mut changes = a.store.changes();
        loop {
            tokio::select! {
                _ = a.shutdown.cancelled() => return,
                r = changes.changed() => if r.is_err() { return },
            }
            tokio::time::sleep(SETTLE).await;
            changes.borrow_and_update();
            if let Err(e) = pass(&a).await {
                tracing::warn!(error = %e, "live events: reading changes failed");
            }
        }
    });
    let a = app.clone();
    app.tasks.spawn(async move {
        let mut updates = a.mcp.resource_updates();
        loop {
            let u = tokio::select! {
                _ = a.shutdown.cancelled() => return,
                u = updates.recv() => u,
            };
            match u {
                Ok(u) => a.events.publish(Event::new(
                    format!("mcp:{}", u.server_id),
                    "resource_updated",
                    json!({"server_id": u.server_id, "uri": u.uri}),
                )),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    let a = app.clone();
    app.tasks.spawn(async move {
        let every = Duration::from_secs(a.settings.events.metrics_interval_s.max(1));
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = a.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if a.events.wants_metrics() {
                let snapshot = crate::metrics::snapshot::snapshot(&a).await;
                let data = serde_json::to_value(snapshot).unwrap_or_default();
                a.events
                    .publish(Event::new("metrics", "metric.update", data));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(services: &[(&str, &str)], backups: &[(&str, &str, &str)]) -> Seen {
        Seen {
            services: services
                .iter()
                .map(|(id, s)| (id.to_string(), (format!("n-{id}"), s.to_string())))
                .collect(),
            backups: backups
                .iter()
                .map(|(id, s, p)| (id.to_string(), (s.to_string(), p.to_string())))
                .collect(),
            ..Seen::default()
        }
    }

    #[test]
    fn differences_become_events_and_equal_views_none() {
        let a = seen(
            &[("s1", "stopped"), ("s2", "running")],
            &[("b1", "running", "10")],
        );
        assert!(diff(&a, &a).is_empty());
        let b = seen(
            &[("s1", "running"), ("s3", "created")],
            &[("b1", "completed", "100")],
        );
        let events = diff(&a, &b);
        let kinds: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.kind, e.channel.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("service.status", "services"),
                ("service.created", "services"),
                ("service.deleted", "services"),
                ("backup.completed", "backups"),
            ]
        );
        let e = &diff(&a, &b)[0];
        assert_eq!(
            e.data,
            json!({"id": "s1", "name": "n-s1", "status": "running", "previous": "stopped"})
        );
    }
}
