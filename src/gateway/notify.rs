//! `notifications/{tools,resources,prompts}/list_changed` to gateway clients.
//!
//! What a client sees through `/mcp` changes when an MCP server starts, stops, is
//! created, deleted or rediscovered, and when a workspace grant or membership of the
//! caller changes. Every such change is a tracked database commit, so a forwarder per
//! client waits for the store's next generation bump ([`crate::store::Store::changes`]),
//! lets a burst of commits settle ([`SETTLE`]), recomputes the caller's view of each
//! list ([`super::catalog::view`], the lists' own definition; cheap, as scopes and
//! discovery lists are cached) and notifies only the lists whose fingerprint changed.
//! Resource templates count as resources (MCP has no separate notification for them).
//! A notification carries no list, so it cannot leak items; the client lists again
//! under its own permissions.
//!
//! Two ways to reach a client ([`Notifier`]):
//! - a session opened with `initialize` (protocol revisions up to 2025-11-25): the
//!   forwarder starts at `notifications/initialized` and sends on the session, which
//!   rmcp delivers on the standalone `GET /mcp` SSE stream; it ends with the session;
//! - `subscriptions/listen` (revision 2026-07-28, which has no sessions): the forwarder
//!   runs for the length of that request and sends on its stream.
//!
//! Either ends when the daemon shuts down, and when the credential that opened it stops
//! being valid (user disabled or deleted, login session or API key revoked or expired)
//! or no longer holds `mcp:read`: checked before every notification.

use super::catalog;
use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::Result;
use crate::mcp::model::Catalog;
use crate::store::cache::Cache;
use crate::workspaces::access;
use rmcp::RoleServer;
use rmcp::service::{Peer, SubscriptionSink};
use std::future::Future;
use std::time::Duration;

/// How long a burst of commits may take before the views are compared: a server start
/// is several commits (created, status, discovery), a grant change one or two.
pub const SETTLE: Duration = Duration::from_millis(300);

const READ: Permission = Permission(Domain::Mcp, Action::Read);

/// One of the lists a client can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Tools (`notifications/tools/list_changed`).
    Tools,
    /// Resources and resource templates.
    Resources,
    /// Prompts (`notifications/prompts/list_changed`).
    Prompts,
}

/// [`Views`] by user id (what a user sees does not depend on their credential, only
/// whether they see anything: `mcp:read`).
static VIEWS: Cache<Views> = Cache::new(1024);

/// Fingerprints of the three lists as one caller sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Views {
    tools: String,
    resources: String,
    prompts: String,
}

impl Views {
    /// The caller's views now: empty lists without `mcp:read`. Kept per user until the
    /// next commit, so that a user's many clients compute them once per change.
    async fn of(app: &App, who: &Principal) -> Result<Views> {
        if !who.can(READ) {
            return Ok(Views::default());
        }
        if let Some(v) = VIEWS.get(&app.store, &who.user_id) {
            return Ok(v);
        }
        let generation = app.store.generation();
        let v = Views::compute(app, who).await?;
        VIEWS.put(&app.store, generation, &who.user_id, v.clone());
        Ok(v)
    }

    async fn compute(app: &App, who: &Principal) -> Result<Views> {
        let scope = access::scope(app, Some(&who.user_id)).await?;
        let mut resources = catalog::view(app, Catalog::Resources, &scope).await?;
        resources.extend(catalog::view(app, Catalog::ResourceTemplates, &scope).await?);
        Ok(Views {
            tools: catalog::fingerprint(&catalog::view(app, Catalog::Tools, &scope).await?),
            resources: catalog::fingerprint(&resources),
            prompts: catalog::fingerprint(&catalog::view(app, Catalog::Prompts, &scope).await?),
        })
    }

    /// The lists that differ between `self` and `now`.
    fn changed(&self, now: &Views) -> Vec<List> {
        [
            (List::Tools, self.tools != now.tools),
            (List::Resources, self.resources != now.resources),
            (List::Prompts, self.prompts != now.prompts),
        ]
        .into_iter()
        .filter_map(|(list, differs)| differs.then_some(list))
        .collect()
    }
}

/// Where a forwarder sends.
pub enum Notifier {
    /// An `initialize`d session (delivered on its standalone SSE stream).
    Session(Peer<RoleServer>),
    /// One `subscriptions/listen` request (only the lists it accepted).
    Subscription(SubscriptionSink),
}

impl Notifier {
    /// Sends the notification for `list`; `false` when the client is gone.
    async fn send(&self, list: List) -> bool {
        let sent = match self {
            Notifier::Session(peer) => match list {
                List::Tools => peer.notify_tool_list_changed().await,
                List::Resources => peer.notify_resource_list_changed().await,
                List::Prompts => peer.notify_prompt_list_changed().await,
            }
            .map_err(|e| e.to_string()),
            Notifier::Subscription(sink) => {
                let accepted = sink.accepted();
                let wanted = match list {
                    List::Tools => accepted.tools_list_changed,
                    List::Resources => accepted.resources_list_changed,
                    List::Prompts => accepted.prompts_list_changed,
                };
                if wanted != Some(true) {
                    return true;
                }
                match list {
                    List::Tools => sink.notify_tool_list_changed().await,
                    List::Resources => sink.notify_resource_list_changed().await,
                    List::Prompts => sink.notify_prompt_list_changed().await,
                }
                .map_err(|e| e.to_string())
            }
        };
        match sent {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "MCP gateway: list-changed notification not sent; client gone");
                false
            }
        }
    }
}

/// Runs one forwarder until `ended` resolves, the client is gone, the daemon shuts
/// down or `who`'s credential stops being valid (see the module docs).
pub async fn forward(app: &App, who: Principal, to: Notifier, ended: impl Future<Output = ()>) {
    tokio::pin!(ended);
    let mut changes = app.store.changes();
    changes.borrow_and_update();
    let mut last = match Views::of(app, &who).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "MCP gateway: views not computed; list-changed notifications off for this client");
            return;
        }
    };
    let mut who = who;
    loop {
        tokio::select! {
            () = &mut ended => return,
            () = app.shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
        }
        tokio::select! {
            () = &mut ended => return,
            () = app.shutdown.cancelled() => return,
            () = tokio::time::sleep(SETTLE) => {}
        }
        changes.borrow_and_update();
        let now = match crate::auth::principal::revalidate(&app.store, &who).await {
            Ok(Some(current)) => {
                who = current;
                Views::of(app, &who).await
            }
            Ok(None) => {
                tracing::debug!(user = %who.user_id, "MCP gateway: credential no longer valid; list-changed notifications end");
                return;
            }
            Err(e) => Err(e),
        };
        let now = match now {
            Ok(v) => v,
            Err(e) => {
                // Try again at the next change rather than notify on a guess.
                tracing::warn!(error = %e, "MCP gateway: views not recomputed");
                continue;
            }
        };
        for list in last.changed(&now) {
            if !to.send(list).await {
                return;
            }
        }
        last = now;
    }
}

/// Resolves when `peer`'s session has ended (rmcp drops its side of the channel).
/// Polled: rmcp offers no future for it, and an ended session costs only a late check.
pub async fn session_closed(peer: Peer<RoleServer>) {
    while !peer.is_transport_closed() {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_lists_whose_fingerprint_moved_are_changed() {
        let a = Views {
            tools: "t1".into(),
            resources: "r1".into(),
            prompts: "p1".into(),
        };
        assert!(a.changed(&a.clone()).is_empty());
        let b = Views {
            tools: "t2".into(),
            prompts: "p2".into(),
            ..a.clone()
        };
        assert_eq!(a.changed(&b), vec![List::Tools, List::Prompts]);
    }
}
