//! Usage: MCP executions aggregated from the request log (`/api/v1/usage`, seed 001's
//! usage and seed 002's analytics), grouped by server, tool, user, kind, status or day
//! over a time window. Aggregation runs in SQLite on indexed columns
//! (`request_logs (timestamp)`, `(user_id, timestamp)`, `(server_id, name, timestamp)`).

pub mod api;

use crate::app::App;
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use rusqlite::types::Value as Sql;
use serde::Serialize;
use std::fmt::Write as _;

/// Default window when `from` is absent: the last 30 days.
const DEFAULT_WINDOW_DAYS: i64 = 30;

/// A dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Server,
    Tool,
    User,
    Kind,
    Status,
    Day,
}

impl Dimension {
    fn parse(s: &str) -> Result<Dimension> {
        Ok(match s {
            "server" => Dimension::Server,
            "tool" | "name" => Dimension::Tool,
            "user" => Dimension::User,
            "kind" => Dimension::Kind,
            "status" => Dimension::Status,
            "day" => Dimension::Day,
            other => {
                return Err(Error::field(
                    "group_by",
                    format!("unknown dimension '{other}' (server, tool, user, kind, status, day)"),
                ));
            }
        })
    }

    /// SQL expressions selected and grouped for this dimension.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Dimension::Server => &["r.server_id", "r.server_name"],
            Dimension::Tool => &["r.server_name", "r.kind", "r.name"],
            Dimension::User => &["r.user_id"],
            Dimension::Kind => &["r.kind"],
            Dimension::Status => &["r.status"],
            Dimension::Day => &["substr(r.timestamp, 1, 10)"],
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Dimension::Server => &["server_id", "server_name"],
            Dimension::Tool => &["server_name", "kind", "name"],
            Dimension::User => &["user_id"],
            Dimension::Kind => &["kind"],
            Dimension::Status => &["status"],
            Dimension::Day => &["day"],
        }
    }
}

/// One group: its key fields (only those of the requested dimensions) and the totals.
#[derive(Debug, Serialize)]
pub struct UsageRow {
    #[serde(flatten)]
    pub key: serde_json::Map<String, serde_json::Value>,
    pub calls: i64,
    pub errors: i64,
    /// `errors / calls`, 0..=1.
    pub error_rate: f64,
    pub avg_duration_ms: f64,
    pub max_duration_ms: i64,
    pub request_bytes: i64,
    pub response_bytes: i64,
    pub first_at: String,
    pub last_at: String,
}

/// The window and filters of a usage request.
#[derive(Debug, Clone)]
pub struct Window {
    pub from: String,
    pub to: String,
    /// Only this user's calls (callers without `logs:admin`).
    pub only_user: Option<String>,
    pub server: Option<String>,
    pub kind: Option<String>,
}

fn time_param(q: &mut ListQuery, name: &str) -> Result<Option<String>> {
    q.take(name)
        .map(|v| {
            crate::time::parse_rfc3339(&v)
                .map(crate::time::format_rfc3339)
                .ok_or_else(|| Error::field(name, "must be an RFC 3339 time"))
        })
        .transpose()
}

impl Window {
    /// Takes `from`, `to`, `server` (id or name) and `kind` out of the query.
    pub fn from_query(q: &mut ListQuery, only_user: Option<String>) -> Result<Window> {
        let to = time_param(q, "to")?.unwrap_or_else(crate::time::now_rfc3339);
        let from = match time_param(q, "from")? {
            Some(f) => f,
            None => {
                let t =
                    crate::time::parse_rfc3339(&to).unwrap_or_else(time::OffsetDateTime::now_utc);
                crate::time::format_rfc3339(t - time::Duration::days(DEFAULT_WINDOW_DAYS))
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
        Ok(Window {
            from,
            to,
            only_user,
            server: q.take("server"),
            kind,
        })
    }

    fn where_sql(&self) -> (String, Vec<Sql>) {
        let mut sql = "r.timestamp >= ? AND r.timestamp < ?".to_string();
        let mut params = vec![Sql::Text(self.from.clone()), Sql::Text(self.to.clone())];
        if let Some(u) = &self.only_user {
            sql.push_str(" AND r.user_id = ?");
            params.push(Sql::Text(u.clone()));
        }
        if let Some(s) = &self.server {
            sql.push_str(" AND (r.server_id = ? OR r.server_name = ?)");
            params.push(Sql::Text(s.clone()));
            params.push(Sql::Text(s.clone()));
        }
        if let Some(k) = &self.kind {
            sql.push_str(" AND r.kind = ?");
            params.push(Sql::Text(k.clone()));
        }
        (sql, params)
    }
}

const TOTALS: &str = "count(*), coalesce(sum(r.status = 'error'), 0), coalesce(avg(r.duration_ms), 0), coalesce(max(r.duration_ms), 0), coalesce(sum(r.request_bytes), 0), coalesce(sum(r.response_bytes), 0), coalesce(min(r.timestamp), ''), coalesce(max(r.timestamp), '')";

/// Usage grouped by `group_by` (comma-separated dimensions, default `server`), largest
/// groups first, paged. Errors: `VALIDATION_ERROR` naming `group_by`, `from`, `to`,
/// `kind`; any other filter key is refused.
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
        return Err(Error::field(
            f.field.as_str(),
            "unknown parameter (allowed: group_by, from, to, server, kind, page, limit)",
        ));
    }
    if q.sort.is_some() {
        return Err(Error::field("sort", "usage is sorted by calls"));
    }
    let (page, limit) = (q.page, q.limit);
    app.store
        .read(move |c| {
            let (where_sql, params) = window.where_sql();
            let mut key_cols: Vec<&str> = Vec::new();
            let mut key_names: Vec<&str> = Vec::new();
            for d in &dims {
                for (col, name) in d.columns().iter().zip(d.names()) {
                    if !key_names.contains(name) {
                        key_cols.push(col);
                        key_names.push(name);
                    }
                }
            }
            let group = key_cols.join(", ");
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM (SELECT 1 FROM request_logs r WHERE {where_sql} GROUP BY {group})"),
                rusqlite::params_from_iter(params.iter()),
                |r| r.get(0),
            )?;
            let mut sql = format!("SELECT {group}, {TOTALS} FROM request_logs r WHERE {where_sql} GROUP BY {group} ORDER BY count(*) DESC, {group}");
            let _ = write!(sql, " LIMIT {limit} OFFSET {}", (page as u64 - 1) * limit as u64);
            let mut stmt = c.prepare(&sql)?;
            let n = key_names.len();
            let items = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    let mut key = serde_json::Map::new();
                    for (i, name) in key_names.iter().enumerate() {
                        let v: Option<String> = r.get(i)?;
                        key.insert((*name).to_string(), v.map_or(serde_json::Value::Null, Into::into));
                    }
                    let calls: i64 = r.get(n)?;
                    let errors: i64 = r.get(n + 1)?;
                    Ok(UsageRow {
                        key,
                        calls,
                        errors,
                        error_rate: if calls > 0 { errors as f64 / calls as f64 } else { 0.0 },
                        avg_duration_ms: r.get(n + 2)?,
                        max_duration_ms: r.get(n + 3)?,
                        request_bytes: r.get(n + 4)?,
                        response_bytes: r.get(n + 5)?,
                        first_at: r.get(n + 6)?,
                        last_at: r.get(n + 7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page {
                items,
                total: total as u64,
                page,
                limit,
            })
        })
        .await
}

/// `{from, to, calls, errors, error_rate, avg_duration_ms, users, servers, tools,
/// top_tools: [..5], top_users: [..5], by_day: [..]}`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub from: String,
    pub to: String,
    pub calls: i64,
    pub errors: i64,
    pub error_rate: f64,
    pub avg_duration_ms: f64,
    pub users: i64,
    pub servers: i64,
    pub tools: i64,
    pub top_tools: Vec<UsageRow>,
    pub top_users: Vec<UsageRow>,
    pub by_day: Vec<UsageRow>,
}

/// The summary of a window.
pub async fn summary(app: &App, mut q: ListQuery, only_user: Option<String>) -> Result<Summary> {
    let window = Window::from_query(&mut q, only_user.clone())?;
    if let Some(f) = q.filters.first() {
        return Err(Error::field(
            f.field.as_str(),
            "unknown parameter (allowed: from, to, server, kind)",
        ));
    }
    let w = window.clone();
    let (calls, errors, avg, users, servers, tools) = app
        .store
        .read(move |c| {
            let (where_sql, params) = w.where_sql();
            Ok(c.query_row(
                &format!(
                    "SELECT count(*), coalesce(sum(r.status = 'error'), 0), coalesce(avg(r.duration_ms), 0),
                            count(DISTINCT r.user_id), count(DISTINCT r.server_id),
                            count(DISTINCT CASE WHEN r.kind = 'tool' THEN r.server_id || '/' || r.name END)
                     FROM request_logs r WHERE {where_sql}"
                ),
                rusqlite::params_from_iter(params.iter()),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )?)
        })
        .await?;
    let top = |group: &str, limit: u32| {
        let mut q = ListQuery {
            limit,
            ..ListQuery::default()
        };
        for (k, v) in [
            ("group_by", group),
            ("from", window.from.as_str()),
            ("to", window.to.as_str()),
        ] {
            q.filters.push(crate::store::list::Filter {
                field: k.into(),
                op: crate::store::list::Op::Eq,
                value: v.into(),
            });
        }
        if let Some(s) = &window.server {
            q.filters.push(crate::store::list::Filter {
                field: "server".into(),
                op: crate::store::list::Op::Eq,
                value: s.clone(),
            });
        }
        if let Some(k) = &window.kind {
            q.filters.push(crate::store::list::Filter {
                field: "kind".into(),
                op: crate::store::list::Op::Eq,
                value: k.clone(),
            });
        }
        q
    };
    let top_tools = grouped(app, top("tool", 5), only_user.clone()).await?.items;
    let top_users = grouped(app, top("user", 5), only_user.clone()).await?.items;
    let mut by_day = grouped(app, top("day", 100), only_user).await?.items;
    by_day.sort_by(|a, b| {
        a.key
            .get("day")
            .map(|v| v.to_string())
            .cmp(&b.key.get("day").map(|v| v.to_string()))
    });
    Ok(Summary {
        from: window.from,
        to: window.to,
        calls,
        errors,
        error_rate: if calls > 0 {
            errors as f64 / calls as f64
        } else {
            0.0
        },
        avg_duration_ms: avg,
        users,
        servers,
        tools,
        top_tools,
        top_users,
        by_day,
    })
}
