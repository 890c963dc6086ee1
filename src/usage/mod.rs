//! Usage: MCP executions aggregated from the request log (`/api/v1/usage` and
//! `/api/v1/usage/summary`, docs/api.md §15 "Usage"), grouped by server, tool, user,
//! workspace, kind, status or day over a time window `[from, to)`.
//!
//! Answers come from per-day rollups maintained at insert time ([`rollup`]) for the
//! whole UTC days of the window, plus the raw rows of the partial days at its edges
//! ([`query`]), so a month of a million calls reads a few thousand rollup rows instead
//! of a million log rows, and the totals are exactly those of the raw rows.

pub mod api;
pub mod model;
pub mod query;
pub mod retention;
pub mod rollup;
pub mod store;

use crate::app::App;
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use query::{Filters, Group};
use rusqlite::Connection;
use serde::Serialize;
use std::collections::HashMap;

/// Default window when neither `from` nor `period` is given: the last 30 days.
const DEFAULT_WINDOW_DAYS: i64 = 30;

/// A dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `server`: keys `server_id`, `server_name`.
    Server,
    /// `tool` (alias `name`): keys `server_name`, `kind`, `name` (tools, resources and prompts
    /// alike).
    Tool,
    /// `user`: key `user_id`.
    User,
    /// `workspace`: keys `workspace_id`, `workspace_name` (null when the workspace is gone or the
    /// call has none).
    Workspace,
    /// `kind`: key `kind` (`tool`, `resource`, `prompt`).
    Kind,
    /// `status`: key `status` (`success`, `error`).
    Status,
    /// `day`: key `day`, `YYYY-MM-DD` in UTC.
    Day,
}

impl Dimension {
    fn parse(s: &str) -> Result<Dimension> {
        Ok(match s {
            "server" => Dimension::Server,
            "tool" | "name" => Dimension::Tool,
            "user" => Dimension::User,
            "workspace" => Dimension::Workspace,
            "kind" => Dimension::Kind,
            "status" => Dimension::Status,
            "day" => Dimension::Day,
            other => {
                return Err(Error::field(
                    "group_by",
                    format!(
                        "unknown dimension '{other}' (server, tool, user, workspace, kind, status, day)"
                    ),
                ));
            }
        })
    }

    /// The key fields of this dimension (rollup column names; `day` is `YYYY-MM-DD`).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Dimension::Server => &["server_id", "server_name"],
            Dimension::Tool => &["server_name", "kind", "name"],
            Dimension::User => &["user_id"],
            Dimension::Workspace => &["workspace_id"],
            Dimension::Kind => &["kind"],
            Dimension::Status => &["status"],
            Dimension::Day => &["day"],
        }
    }
}

/// The key fields a [`UsageRow`] may carry: only those of the requested dimensions are
/// present. Describes the row's flattened `key` in the OpenAPI document.
#[derive(utoipa::ToSchema)]
pub struct UsageKey {
    /// Dimension `server`.
    pub server_id: Option<String>,
    /// Dimensions `server` and `tool` (name at call time).
    pub server_name: Option<String>,
    /// Dimensions `tool` and `kind`: `tool`, `resource` or `prompt`.
    pub kind: Option<String>,
    /// Dimension `tool`: tool name, resource URI or prompt name.
    pub name: Option<String>,
    /// Dimension `user`.
    pub user_id: Option<String>,
    /// Dimension `workspace`; null for calls attributed to no workspace.
    pub workspace_id: Option<String>,
    /// Dimension `workspace`; null when the workspace is gone or the call has none.
    pub workspace_name: Option<String>,
    /// Dimension `status`: `success` or `error`.
    pub status: Option<String>,
    /// Dimension `day`: `YYYY-MM-DD` in UTC.
    pub day: Option<String>,
}

/// One group: its key fields (only those of the requested dimensions; `workspace`
/// adds `workspace_name`, null when the workspace is gone) and the totals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// Key fields of the requested dimensions, flattened into the row; values may be null.
    #[serde(flatten)]
    #[schema(value_type = UsageKey)]
    pub key: serde_json::Map<String, serde_json::Value>,
    /// Calls in the group.
    pub calls: i64,
    /// Calls whose request log status is `error` (a tool's own `isError` is not one).
    pub errors: i64,
    /// `errors / calls`, 0..=1.
    pub error_rate: f64,
    /// Mean call duration, milliseconds.
    pub avg_duration_ms: f64,
    /// Longest call, milliseconds.
    pub max_duration_ms: i64,
    /// Sum of the arguments' sizes as compact JSON, bytes.
    pub request_bytes: i64,
    /// Sum of the results' sizes as compact JSON, bytes (0 for errors).
    pub response_bytes: i64,
    /// First call in the group (RFC 3339 UTC).
    pub first_at: String,
    /// Last call in the group (RFC 3339 UTC).
    pub last_at: String,
}

impl UsageRow {
    /// `names` name `g.key`'s values; `workspaces` maps workspace ids to names.
    fn new(names: &[&str], g: &Group, workspaces: &HashMap<String, String>) -> UsageRow {
        let mut key = serde_json::Map::new();
        for (name, v) in names.iter().zip(&g.key) {
            let value = v.clone().map_or(serde_json::Value::Null, Into::into);
            key.insert((*name).to_string(), value);
            if *name == "workspace_id" {
                let ws = v.as_ref().and_then(|id| workspaces.get(id)).cloned();
                key.insert(
                    "workspace_name".into(),
                    ws.map_or(serde_json::Value::Null, Into::into),
                );
            }
        }
        UsageRow {
            key,
            calls: g.calls,
            errors: g.errors,
            error_rate: rate(g.errors, g.calls),
            avg_duration_ms: g.avg_duration_ms(),
            max_duration_ms: g.duration_max,
            request_bytes: g.request_bytes,
            response_bytes: g.response_bytes,
            first_at: g.first_at.clone(),
            last_at: g.last_at.clone(),
        }
    }
}

fn rate(errors: i64, calls: i64) -> f64 {
    if calls > 0 {
        errors as f64 / calls as f64
    } else {
        0.0
    }
}

/// The window and filters of a usage request, as given (the workspace is resolved
/// against the database when the query runs).
#[derive(Debug, Clone)]
pub struct Window {
    /// Inclusive, RFC 3339 UTC.
    pub from: String,
    /// Exclusive, RFC 3339 UTC.
    pub to: String,
    /// Only this user's calls (callers without `logs:admin`).
    pub only_user: Option<String>,
    /// Server id or name.
    pub server: Option<String>,
    /// `tool`, `resource` or `prompt`.
    pub kind: Option<String>,
    /// Workspace id or name.
    pub workspace: Option<String>,
}

fn time_param(q: &mut ListQuery, name: &str) -> Result<Option<String>> {
    q.take(name)
        .map(|v| crate::time::input_param(name, &v))
        .transpose()
}

fn text_param(q: &mut ListQuery, name: &str) -> Result<Option<String>> {
    match q.take(name) {
        Some(v) if v.is_empty() => Err(Error::field(name, "must not be empty")),
        v => Ok(v),
    }
}

impl Window {
    /// Takes `from`, `to`, `period` (`day`, `week` or `month`: the 1, 7 or 30 days before
    /// `to`; not with `from`), `server` (id or name; `connection` is another name for
    /// it, not both), `kind` and `workspace` (id or name) out of the query. Errors:
    /// `VALIDATION_ERROR` naming the field.
    pub fn from_query(q: &mut ListQuery, only_user: Option<String>) -> Result<Window> {
        let to = time_param(q, "to")?.unwrap_or_else(crate::time::now_rfc3339);
        let from = time_param(q, "from")?;
        let period = q.take("period");
        let days = match period.as_deref() {
            None => DEFAULT_WINDOW_DAYS,
            Some(_) if from.is_some() => {
                return Err(
                    Error::field("period", "give either `period` or `from`, not both")
                        .with_detail("from", "give either `period` or `from`, not both"),
                );
            }
            Some("day") => 1,
            Some("week") => 7,
            Some("month") => 30,
            Some(_) => return Err(Error::field("period", "must be day, week or month")),
        };
        let from = match from {
            Some(f) => f,
            None => {
                let t =
                    crate::time::parse_rfc3339(&to).unwrap_or_else(time::OffsetDateTime::now_utc);
                crate::time::format_rfc3339(t - time::Duration::days(days))
            }
        };
        if from >= to {
            return Err(Error::field("from", "must be before `to`"));
        }
        let kind = q.take("kind");
        if let Some(k) = &kind
            && !matches!(k.as_str(), "tool" | "resource" | "prompt")
        {
            return Err(Error::field("kind", "must be tool, resource or prompt"));
        }
        let server = match (text_param(q, "server")?, text_param(q, "connection")?) {
            (Some(_), Some(_)) => {
                return Err(Error::field(
                    "connection",
                    "`connection` is another name for `server`; give one",
                ));
            }
            (s, c) => s.or(c),
        };
        Ok(Window {
            from,
            to,
            only_user,
            server,
            kind,
            workspace: text_param(q, "workspace")?,
        })
    }

    /// The filters with the workspace resolved to an id (blocking). A workspace named by
    /// an id is taken as is even if deleted (its calls stay in the log); a name must
    /// exist (`VALIDATION_ERROR` on `workspace`).
    fn filters(&self, conn: &Connection) -> Result<Filters> {
        let workspace_id = match &self.workspace {
            None => None,
            Some(w) => match crate::workspaces::store::find(conn, w)?.map(|found| found.id) {
                Some(id) => Some(id),
                None if crate::ids::is_id("wks", w) => Some(w.clone()),
                None => return Err(Error::field("workspace", "no such workspace")),
            },
        };
        Ok(Filters {
            user_id: self.only_user.clone(),
            server: self.server.clone(),
            kind: self.kind.clone(),
            workspace_id,
        })
    }

    fn groups(&self, conn: &Connection, filters: &Filters, keys: &[&str]) -> Result<Vec<Group>> {
        query::groups(conn, &self.from, &self.to, keys, filters, true)
    }
}

const GROUPED_PARAMS: &str = "unknown parameter (allowed: group_by, from, to, period, server, connection, kind, workspace, page, limit)";

/// Usage grouped by `group_by` (comma-separated dimensions, default `server`), largest
/// groups first (ties by key), paged. Errors: `VALIDATION_ERROR` naming `group_by`,
/// `from`, `to`, `period`, `kind`, `workspace`, `server`, `connection` or `sort`; any
/// other filter key is refused.
pub async fn grouped(
    app: &App,
    mut q: ListQuery,
    only_user: Option<String>,
) -> Result<Page<UsageRow>> {
    let dims: Vec<Dimension> = q
        .take("group_by")
        .unwrap_or_else(|| "server".into())
        .split(',')
        .map(|d| Dimension::parse(d.trim()))
        .collect::<Result<_>>()?;
    let window = Window::from_query(&mut q, only_user)?;
    if let Some(f) = q.filters.first() {
        return Err(Error::field(f.field.as_str(), GROUPED_PARAMS));
    }
    if q.sort.is_some() {
        return Err(Error::field("sort", "usage is sorted by calls"));
    }
    let (page, limit) = (q.page, q.limit);
    app.store
        .read(move |c| {
            let filters = window.filters(c)?;
            let mut keys: Vec<&str> = Vec::new();
            for d in &dims {
                for col in d.columns() {
                    if !keys.contains(col) {
                        keys.push(col);
                    }
                }
            }
            let mut groups = window.groups(c, &filters, &keys)?;
            groups.sort_by(query::by_calls);
            let workspaces = if keys.contains(&"workspace_id") {
                crate::workspaces::store::names(c)?
            } else {
                HashMap::new()
            };
            let total = groups.len() as u64;
            let skip = (page as usize - 1).saturating_mul(limit as usize);
            let items = groups
                .iter()
                .skip(skip)
                .take(limit as usize)
                .map(|g| UsageRow::new(&keys, g, &workspaces))
                .collect();
            Ok(Page {
                items,
                total,
                page,
                limit,
            })
        })
        .await
}

/// `GET /usage/summary`: totals of the window and its top groups. `users`, `servers`
/// and `tools` count distinct known users, servers and (server, tool) pairs; the
/// top lists hold at most 5 groups, `by_day` every day with calls (oldest first),
/// `by_workspace` every workspace with calls (largest first; calls attributed to no
/// workspace under `workspace_id: null`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = UsageSummary)]
pub struct Summary {
    /// Start of the window used, inclusive (RFC 3339 UTC).
    pub from: String,
    /// End of the window used, exclusive (RFC 3339 UTC).
    pub to: String,
    /// Calls in the window.
    pub calls: i64,
    /// Calls that ended in an error.
    pub errors: i64,
    /// `errors / calls`, 0..=1 (0 without calls).
    pub error_rate: f64,
    /// Mean call duration, milliseconds (0 without calls).
    pub avg_duration_ms: f64,
    /// Longest call, milliseconds.
    pub max_duration_ms: i64,
    /// Sum of argument sizes as compact JSON, bytes.
    pub request_bytes: i64,
    /// Sum of result sizes as compact JSON, bytes.
    pub response_bytes: i64,
    /// Distinct user ids (calls with a null `user_id` not counted).
    pub users: i64,
    /// Distinct server ids (calls with a null `server_id` not counted).
    pub servers: i64,
    /// Distinct (server, tool) pairs among calls of kind `tool`.
    pub tools: i64,
    /// Up to 5 groups by `server_name`, `kind`, `name` (all kinds), most calls first.
    pub top_tools: Vec<UsageRow>,
    /// Up to 5 groups by `user_id`, most calls first.
    pub top_users: Vec<UsageRow>,
    /// Every workspace with calls, most first; calls under none as `workspace_id: null`.
    pub by_workspace: Vec<UsageRow>,
    /// Every day with calls, oldest first, key `day` (`YYYY-MM-DD` UTC).
    pub by_day: Vec<UsageRow>,
}

const TOP: usize = 5;

/// The summary of a window: two scans (one by day, workspace and user, one by server
/// and tool), every list derived from them. Errors as [`grouped`] (no `group_by`).
pub async fn summary(app: &App, mut q: ListQuery, only_user: Option<String>) -> Result<Summary> {
    let window = Window::from_query(&mut q, only_user)?;
    if let Some(f) = q.filters.first() {
        return Err(Error::field(
            f.field.as_str(),
            "unknown parameter (allowed: from, to, period, server, connection, kind, workspace)",
        ));
    }
    app.store
        .read(move |c| {
            let filters = window.filters(c)?;
            let workspaces = crate::workspaces::store::names(c)?;
            let people = window.groups(c, &filters, &["day", "workspace_id", "user_id"])?;
            let tools =
                window.groups(c, &filters, &["server_id", "server_name", "kind", "name"])?;
            let total = query::regroup(&people, &[]).pop();
            let by_user = query::regroup(&people, &[2]);
            let mut by_day = query::regroup(&people, &[0]);
            by_day.sort_by(|a, b| a.key.cmp(&b.key));
            let by_workspace = query::regroup(&people, &[1]);
            let top_tools = query::regroup(&tools, &[1, 2, 3]);
            let servers = query::regroup(&tools, &[0]);
            let tool_pairs = tools
                .iter()
                .filter(|g| g.key[0].is_some() && g.key[2].as_deref() == Some("tool"))
                .map(|g| (&g.key[0], &g.key[3]))
                .collect::<std::collections::HashSet<_>>();
            let rows = |names: &[&str], gs: &[Group], n: usize| -> Vec<UsageRow> {
                gs.iter()
                    .take(n)
                    .map(|g| UsageRow::new(names, g, &workspaces))
                    .collect()
            };
            let total = total.filter(|t| t.calls > 0);
            Ok(Summary {
                from: window.from.clone(),
                to: window.to.clone(),
                calls: total.as_ref().map_or(0, |t| t.calls),
                errors: total.as_ref().map_or(0, |t| t.errors),
                error_rate: total.as_ref().map_or(0.0, |t| rate(t.errors, t.calls)),
                avg_duration_ms: total.as_ref().map_or(0.0, Group::avg_duration_ms),
                max_duration_ms: total.as_ref().map_or(0, |t| t.duration_max),
                request_bytes: total.as_ref().map_or(0, |t| t.request_bytes),
                response_bytes: total.as_ref().map_or(0, |t| t.response_bytes),
                users: by_user.iter().filter(|g| g.key[0].is_some()).count() as i64,
                servers: servers.iter().filter(|g| g.key[0].is_some()).count() as i64,
                tools: tool_pairs.len() as i64,
                top_tools: rows(&["server_name", "kind", "name"], &top_tools, TOP),
                top_users: rows(&["user_id"], &by_user, TOP),
                by_workspace: rows(&["workspace_id"], &by_workspace, usize::MAX),
                by_day: rows(&["day"], &by_day, usize::MAX),
            })
        })
        .await
}

#[cfg(test)]
mod tests;
