//! The usage domain's types: the rollup levels and what one call adds to them, the
//! filters of a query and the groups it answers with.

use rusqlite::types::Value as Sql;

/// One rollup table and the dimensions it keeps besides `day`.
#[derive(Debug)]
pub struct Level {
    /// SQLite table name (`usage_rollups_user`, `usage_rollups_tool`, `usage_rollups`).
    pub table: &'static str,
    /// Key columns besides `day`, in primary key order.
    pub dims: &'static [&'static str],
}

/// Smallest first: the query planner takes the first level holding what it needs.
pub const LEVELS: [Level; 3] = [
    Level {
        table: "usage_rollups_user",
        dims: &["workspace_id", "user_id", "kind", "status"],
    },
    Level {
        table: "usage_rollups_tool",
        dims: &[
            "workspace_id",
            "server_id",
            "server_name",
            "kind",
            "name",
            "status",
        ],
    },
    Level {
        table: "usage_rollups",
        dims: &[
            "workspace_id",
            "user_id",
            "server_id",
            "server_name",
            "kind",
            "name",
            "status",
        ],
    },
];

/// Every rollup table (backups without logs empty them all).
pub const TABLES: [&str; 3] = [LEVELS[0].table, LEVELS[1].table, LEVELS[2].table];

/// Dimensions that may be NULL in `request_logs` (stored as `''` in the rollups).
pub const NULLABLE: [&str; 4] = ["workspace_id", "user_id", "server_id", "server_name"];

/// One request log row's contribution. `timestamp` is the row's RFC 3339 UTC time
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`); its first ten characters are the day bucket.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The row's time, RFC 3339 UTC; its first ten characters (`YYYY-MM-DD`) are the day.
    pub timestamp: &'a str,
    /// Workspace the call is attributed to; `None` stored as `''`.
    pub workspace_id: Option<&'a str>,
    /// Caller's user id; `None` stored as `''`.
    pub user_id: Option<&'a str>,
    /// Server id; `None` stored as `''`.
    pub server_id: Option<&'a str>,
    /// Server name at call time; `None` stored as `''`.
    pub server_name: Option<&'a str>,
    /// `tool`, `resource` or `prompt`.
    pub kind: &'a str,
    /// Tool name, resource URI or prompt name.
    pub name: &'a str,
    /// The row's status is `error` (counted in `errors`).
    pub error: bool,
    /// Call duration, milliseconds (summed, and kept as a maximum).
    pub duration_ms: i64,
    /// Arguments' size as compact JSON, bytes.
    pub request_bytes: i64,
    /// Result's size as compact JSON, bytes (0 on error).
    pub response_bytes: i64,
}

impl Call<'_> {
    pub(super) fn dim(&self, name: &str) -> &str {
        match name {
            "workspace_id" => self.workspace_id.unwrap_or(""),
            "user_id" => self.user_id.unwrap_or(""),
            "server_id" => self.server_id.unwrap_or(""),
            "server_name" => self.server_name.unwrap_or(""),
            "kind" => self.kind,
            "name" => self.name,
            "status" => {
                if self.error {
                    "error"
                } else {
                    "success"
                }
            }
            other => unreachable!("not a rollup dimension: {other}"),
        }
    }
}

/// The totals one rollup row adds up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sums {
    pub(super) calls: i64,
    pub(super) errors: i64,
    pub(super) duration_sum: i64,
    pub(super) duration_max: i64,
    pub(super) request_bytes: i64,
    pub(super) response_bytes: i64,
    pub(super) first_at: String,
    pub(super) last_at: String,
}

impl Sums {
    pub(super) fn of(call: &Call<'_>) -> Sums {
        Sums {
            calls: 1,
            errors: i64::from(call.error),
            duration_sum: call.duration_ms,
            duration_max: call.duration_ms,
            request_bytes: call.request_bytes,
            response_bytes: call.response_bytes,
            first_at: call.timestamp.to_string(),
            last_at: call.timestamp.to_string(),
        }
    }

    pub(super) fn add(&mut self, o: &Sums) {
        self.calls += o.calls;
        self.errors += o.errors;
        self.duration_sum += o.duration_sum;
        self.duration_max = self.duration_max.max(o.duration_max);
        self.request_bytes += o.request_bytes;
        self.response_bytes += o.response_bytes;
        if o.first_at < self.first_at {
            self.first_at.clone_from(&o.first_at);
        }
        if o.last_at > self.last_at {
            self.last_at.clone_from(&o.last_at);
        }
    }
}

/// The resolved filters of a query (values non-empty; the workspace already an id).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only this user's calls (callers without `logs:admin`).
    pub user_id: Option<String>,
    /// Server id or name.
    pub server: Option<String>,
    /// `tool`, `resource` or `prompt`.
    pub kind: Option<String>,
    /// Workspace id (`wks_…`), resolved from the id or name the request gave.
    pub workspace_id: Option<String>,
}

impl Filters {
    pub(super) fn columns(&self) -> Vec<&'static str> {
        let mut cols = Vec::new();
        if self.user_id.is_some() {
            cols.push("user_id");
        }
        if self.server.is_some() {
            cols.extend(["server_id", "server_name"]);
        }
        if self.kind.is_some() {
            cols.push("kind");
        }
        if self.workspace_id.is_some() {
            cols.push("workspace_id");
        }
        cols
    }

    /// ` AND …` conditions on columns named by `col`, with their parameters.
    pub fn sql(&self, col: impl Fn(&str) -> String, params: &mut Vec<Sql>) -> String {
        let mut sql = String::new();
        if let Some(u) = &self.user_id {
            sql.push_str(&format!(" AND {} = ?", col("user_id")));
            params.push(Sql::Text(u.clone()));
        }
        if let Some(s) = &self.server {
            sql.push_str(&format!(
                " AND ({} = ? OR {} = ?)",
                col("server_id"),
                col("server_name")
            ));
            params.push(Sql::Text(s.clone()));
            params.push(Sql::Text(s.clone()));
        }
        if let Some(k) = &self.kind {
            sql.push_str(&format!(" AND {} = ?", col("kind")));
            params.push(Sql::Text(k.clone()));
        }
        if let Some(w) = &self.workspace_id {
            sql.push_str(&format!(" AND {} = ?", col("workspace_id")));
            params.push(Sql::Text(w.clone()));
        }
        sql
    }
}

/// One group: key values in the order asked for, and mergeable totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Key values in the order of the requested columns; `None` for a null dimension.
    pub key: Vec<Option<String>>,
    /// Calls in the group.
    pub calls: i64,
    /// Calls with status `error`.
    pub errors: i64,
    /// Sum of call durations, milliseconds (the mean is `duration_sum / calls`).
    pub duration_sum: i64,
    /// Longest call, milliseconds.
    pub duration_max: i64,
    /// Sum of argument sizes as compact JSON, bytes.
    pub request_bytes: i64,
    /// Sum of result sizes as compact JSON, bytes.
    pub response_bytes: i64,
    /// Earliest call (RFC 3339 UTC).
    pub first_at: String,
    /// Latest call (RFC 3339 UTC).
    pub last_at: String,
}

impl Group {
    /// Adds `other`'s totals (same key or a coarser regrouping).
    pub fn merge(&mut self, other: &Group) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.duration_sum += other.duration_sum;
        self.duration_max = self.duration_max.max(other.duration_max);
        self.request_bytes += other.request_bytes;
        self.response_bytes += other.response_bytes;
        if other.first_at < self.first_at {
            self.first_at.clone_from(&other.first_at);
        }
        if other.last_at > self.last_at {
            self.last_at.clone_from(&other.last_at);
        }
    }

    /// Mean duration in ms: the sum over the count as SQLite's `avg` computes it.
    pub fn avg_duration_ms(&self) -> f64 {
        if self.calls > 0 {
            self.duration_sum as f64 / self.calls as f64
        } else {
            0.0
        }
    }
}

/// ` GROUP BY 1, 2, …` over the first `n` columns; empty when `n` is 0.
pub fn group_by(n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let cols: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!(" GROUP BY {}", cols.join(", "))
}
