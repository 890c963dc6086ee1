//! Usage rollups: request log rows pre-aggregated per UTC day (migration
//! `0009_usage_rollups.sql`), at three levels of detail so a query reads the fewest
//! rows that still hold every column it groups or filters by. [`record`] adds one call
//! to every level; [`crate::request_log::store::insert_at`] calls it in the same transaction
//! as the row, so the rollups never drift from `request_logs`.
//!
//! NULL dimensions are stored as `''` (a primary key cannot group NULLs) and read back
//! as NULL; every nullable dimension is an id or a name, never legitimately empty.

use crate::error::Result;
use rusqlite::Connection;
use std::collections::HashMap;

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
    fn dim(&self, name: &str) -> &str {
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
    fn of(call: &Call<'_>) -> Sums {
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

    fn add(&mut self, o: &Sums) {
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

/// Adds one call to every rollup level (blocking; call inside the transaction that
/// inserts the request log row).
pub fn record(conn: &Connection, call: &Call<'_>) -> Result<()> {
    let day = call.timestamp.get(..10).unwrap_or(call.timestamp);
    let sums = Sums::of(call);
    for (i, level) in LEVELS.iter().enumerate() {
        let dims: Vec<&str> = level.dims.iter().map(|d| call.dim(d)).collect();
        super::store::upsert(conn, i, day, &dims, &sums)?;
    }
    Ok(())
}

/// Many calls summed in memory first, then written with one UPSERT per distinct
/// (level, day, dimensions): a batch of rows written in one transaction costs one
/// rollup write per distinct group, not three per row. Same result as [`record`]
/// for each call.
#[derive(Debug, Default)]
pub struct Batch {
    sums: HashMap<(usize, Vec<String>), Sums>,
}

impl Batch {
    /// Adds one call (nothing is written yet).
    pub fn add(&mut self, call: &Call<'_>) {
        let day = call.timestamp.get(..10).unwrap_or(call.timestamp);
        let sums = Sums::of(call);
        for (i, level) in LEVELS.iter().enumerate() {
            let mut key = Vec::with_capacity(level.dims.len() + 1);
            key.push(day.to_string());
            key.extend(level.dims.iter().map(|d| call.dim(d).to_string()));
            match self.sums.get_mut(&(i, key.clone())) {
                Some(acc) => acc.add(&sums),
                None => {
                    self.sums.insert((i, key), sums.clone());
                }
            }
        }
    }

    /// Writes the sums (blocking; inside the transaction that inserted the rows).
    pub fn write(self, conn: &Connection) -> Result<()> {
        for ((level, key), sums) in &self.sums {
            let dims: Vec<&str> = key[1..].iter().map(String::as_str).collect();
            super::store::upsert(conn, *level, &key[0], &dims, sums)?;
        }
        Ok(())
    }
}
