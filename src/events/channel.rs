//! The channels a WebSocket client may subscribe to, parsed from what it sent and
//! checked against its permissions.
//!
//! | channel | permission | events |
//! |---|---|---|
//! | `services` (filter `service_id`) | `services:read` | `service.created`, `service.status`, `service.deleted` |
//! | `logs:<service>` (or `logs` with filter `service_id`) | `services:read` | `log.entry` |
//! | `metrics` | `system:read` | `metric.update` |
//! | `mcp:<server>` | `mcp:read` and a workspace grant of the server | `connection_status`, `list_changed`, `resource_updated` |
//! | `backups` | `backups:read` | `backup.queued`, `backup.progress`, `backup.completed`, `backup.failed` |
//! | `audit` | `audit:read` | `audit.entry` |
//!
//! `<service>` and `<server>` are ids or names; filters accept seed 003's camelCase
//! (`serviceId`) too.

use super::Event;
use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use serde_json::Value;

/// A resolved subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Service status changes, of one service (`Some(id)`) or all.
    Services(Option<String>),
    /// Log lines of one service: its id and name.
    Logs(String, String),
    /// The metrics snapshot.
    Metrics,
    /// One MCP server's events (its id).
    Mcp(String),
    /// Backup progress and outcome.
    Backups,
    /// New audit entries.
    Audit,
}

/// The service a filter names (`service_id` or seed 003's `serviceId`).
fn service_filter(filters: &Value) -> Result<Option<String>> {
    match filters
        .get("service_id")
        .or_else(|| filters.get("serviceId"))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(
            Error::validation("filters.service_id must be a service id or name")
                .with_detail("filters.service_id", "must be a non-empty string"),
        ),
    }
}

/// The id and name of service `id_or_name` as stored (`RESOURCE_NOT_FOUND` otherwise).
async fn service(app: &App, id_or_name: &str) -> Result<(String, String)> {
    let key = id_or_name.to_string();
    let row = app
        .store
        .read(move |c| crate::services::store::get(c, &key))
        .await?;
    Ok((row.id, row.spec.name))
}

impl Channel {
    /// The permission the channel needs.
    pub fn permission(&self) -> Permission {
        match self {
            Channel::Services(_) | Channel::Logs(..) => Permission(Domain::Services, Action::Read),
            Channel::Metrics => Permission(Domain::System, Action::Read),
            Channel::Mcp(_) => Permission(Domain::Mcp, Action::Read),
            Channel::Backups => Permission(Domain::Backups, Action::Read),
            Channel::Audit => Permission(Domain::Audit, Action::Read),
        }
    }

    /// Parses `name` with `filters` and resolves what it names for `who`:
    /// `VALIDATION_ERROR` for an unknown channel, `FORBIDDEN` without the permission,
    /// `RESOURCE_NOT_FOUND` for a service or server that does not exist (or, for a
    /// server, that the caller's workspaces do not grant).
    pub async fn resolve(
        app: &App,
        who: &Principal,
        name: &str,
        filters: &Value,
    ) -> Result<Channel> {
        let (kind, arg) = match name.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (name, None),
        };
        let parsed =
            match (kind, arg) {
                ("services", None) => Channel::Services(service_filter(filters)?),
                ("logs", arg) => {
                    let named = arg.map(str::to_string).or(service_filter(filters)?);
                    let service = named.ok_or_else(|| {
                        Error::validation("logs needs a service: logs:<service>")
                            .with_detail("channel", "logs:<service id or name>")
                    })?;
                    Channel::Logs(service, String::new())
                }
                ("metrics", None) => Channel::Metrics,
                ("mcp", Some(server)) if !server.is_empty() => Channel::Mcp(server.to_string()),
                ("backups", None) => Channel::Backups,
                ("audit", None) => Channel::Audit,
                _ => {
                    return Err(Error::validation(format!("unknown channel '{name}'")).with_detail(
                    "channel",
                    "one of services, logs:<service>, metrics, mcp:<server>, backups, audit",
                ));
                }
            };
        who.require(parsed.permission())?;
        parsed.bind(app, who).await
    }

    /// Resolves names to ids (and checks a server's grant).
    async fn bind(self, app: &App, who: &Principal) -> Result<Channel> {
        Ok(match self {
            Channel::Services(Some(s)) => Channel::Services(Some(service(app, &s).await?.0)),
            Channel::Logs(s, _) => {
                let (id, name) = service(app, &s).await?;
                Channel::Logs(id, name)
            }
            Channel::Mcp(s) => Channel::Mcp(
                crate::mcp::records::visible(app, &who.user_id, &s)
                    .await?
                    .0
                    .id,
            ),
            other => other,
        })
    }

    /// Whether `who` may still hold this subscription (after their roles or grants
    /// changed).
    pub async fn still_allowed(&self, app: &App, who: &Principal) -> bool {
        if !who.can(self.permission()) {
            return false;
        }
        match self {
            Channel::Mcp(id) => crate::mcp::records::visible(app, &who.user_id, id)
                .await
                .is_ok(),
            _ => true,
        }
    }

    /// Whether `e` belongs to this subscription.
    pub fn matches(&self, e: &Event) -> bool {
        match self {
            Channel::Services(filter) => {
                e.channel == "services"
                    && filter.as_ref().is_none_or(|id| e.data["id"] == id.as_str())
            }
            Channel::Logs(..) => false,
            Channel::Metrics => e.channel == "metrics",
            Channel::Mcp(id) => e.channel.strip_prefix("mcp:") == Some(id.as_str()),
            Channel::Backups => e.channel == "backups",
            Channel::Audit => e.channel == "audit",
        }
    }
}
