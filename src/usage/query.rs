//! Answers a window from the rollups and the raw rows: the whole UTC days inside
//! `[from, to)` come from the smallest rollup level holding every column the query
//! groups or filters by, the partial days at the two edges from `request_logs`
//! (by its timestamp index). The totals are exactly those of aggregating the raw rows
//! (the unit tests compare both on odd windows).

use super::rollup::LEVELS;
use crate::error::Result;
use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use std::cmp::Ordering;

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

/// Largest first, then by key ascending with NULL first (SQL's `ORDER BY calls DESC, key`).
pub fn by_calls(a: &Group, b: &Group) -> Ordering {
    b.calls.cmp(&a.calls).then_with(|| a.key.cmp(&b.key))
}

/// Regroups `groups` by the key positions `keep`, sorted [`by_calls`].
pub fn regroup(groups: &[Group], keep: &[usize]) -> Vec<Group> {
    let mut map: std::collections::HashMap<Vec<Option<String>>, Group> =
        std::collections::HashMap::new();
    for g in groups {
        let key: Vec<Option<String>> = keep.iter().map(|&i| g.key[i].clone()).collect();
        match map.get_mut(&key) {
            Some(acc) => acc.merge(g),
            None => {
                let mut first = g.clone();
                first.key.clone_from(&key);
                map.insert(key, first);
            }
        }
    }
    let mut out: Vec<Group> = map.into_values().collect();
    out.sort_by(by_calls);
    out
}

/// Where the rows of a window come from.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// Whole days `[first, end)` (`YYYY-MM-DD`) read from a rollup level.
    days: Option<(String, String)>,
    /// Raw time ranges `[from, to)`.
    raw: Vec<(String, String)>,
}

fn day_start(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}

/// Splits `[from, to)` (normalised RFC 3339 UTC) into whole days and raw edges.
fn plan(from: &str, to: &str) -> Plan {
    let next_day = |t: &str| {
        crate::time::parse_rfc3339(t)
            .and_then(|t| t.date().next_day())
            .map(|d| d.to_string())
    };
    let first = if from.get(10..) == Some("T00:00:00.000Z") {
        from.get(..10).map(str::to_string)
    } else {
        next_day(from)
    };
    let end = to.get(..10).map(str::to_string);
    match (first, end) {
        (Some(first), Some(end)) if first < end => {
            let mut raw = Vec::new();
            let (a, b) = (day_start(&first), day_start(&end));
            if from < a.as_str() {
                raw.push((from.to_string(), a));
            }
            if b.as_str() < to {
                raw.push((b, to.to_string()));
            }
            Plan {
                days: Some((first, end)),
                raw,
            }
        }
        _ => Plan {
            days: None,
            raw: vec![(from.to_string(), to.to_string())],
        },
    }
}

/// Every group of `keys` (column names among `day`, `workspace_id`, `user_id`,
/// `server_id`, `server_name`, `kind`, `name`, `status`) in `[from, to)` under
/// `filters`, unsorted. With no keys: one group holding the totals (calls 0 if none).
/// `rollups: false` reads only raw rows (the reference the tests compare against).
///
/// Each source is aggregated by SQLite on its own (a `GROUP BY` straight on a table
/// is much cheaper than one over a `UNION ALL`), and the partial groups are merged here.
pub fn groups(
    conn: &Connection,
    from: &str,
    to: &str,
    keys: &[&str],
    filters: &Filters,
    rollups: bool,
) -> Result<Vec<Group>> {
    let plan = if rollups {
        plan(from, to)
    } else {
        Plan {
            days: None,
            raw: vec![(from.to_string(), to.to_string())],
        }
    };
    let mut parts: Vec<Group> = Vec::new();
    if let Some((first, end)) = &plan.days {
        let mut needed: Vec<&str> = filters.columns();
        needed.extend(keys.iter().filter(|k| **k != "day"));
        let level = LEVELS
            .iter()
            .find(|l| needed.iter().all(|c| l.dims.contains(c)))
            .unwrap_or(&LEVELS[LEVELS.len() - 1]);
        super::store::rollup_groups(conn, level, (first, end), keys, filters, &mut parts)?;
    }
    for (a, b) in &plan.raw {
        crate::request_log::store::usage_groups(conn, (a, b), keys, filters, &mut parts)?;
    }
    let all: Vec<usize> = (0..keys.len()).collect();
    let mut out = regroup(&parts, &all);
    if out.is_empty() && keys.is_empty() {
        out.push(Group {
            key: Vec::new(),
            calls: 0,
            errors: 0,
            duration_sum: 0,
            duration_max: 0,
            request_bytes: 0,
            response_bytes: 0,
            first_at: String::new(),
            last_at: String::new(),
        });
    }
    Ok(out)
}

/// ` GROUP BY 1, 2, …` over the first `n` columns; empty when `n` is 0.
pub fn group_by(n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let cols: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!(" GROUP BY {}", cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_whole_days_and_edges() {
        let p = plan("2026-03-01T10:17:00.000Z", "2026-03-05T03:05:00.000Z");
        assert_eq!(p.days, Some(("2026-03-02".into(), "2026-03-05".into())));
        assert_eq!(
            p.raw,
            [
                (
                    "2026-03-01T10:17:00.000Z".to_string(),
                    "2026-03-02T00:00:00.000Z".to_string()
                ),
                (
                    "2026-03-05T00:00:00.000Z".to_string(),
                    "2026-03-05T03:05:00.000Z".to_string()
                )
            ]
        );
        // Aligned on midnight: no edges.
        let p = plan("2026-02-27T00:00:00.000Z", "2026-03-02T00:00:00.000Z");
        assert_eq!(p.days, Some(("2026-02-27".into(), "2026-03-02".into())));
        assert!(p.raw.is_empty());
        // Under a whole day: raw only.
        let p = plan("2026-03-01T10:17:00.000Z", "2026-03-02T09:00:00.000Z");
        assert_eq!(p.days, None);
        assert_eq!(p.raw.len(), 1);
        // Year end.
        let p = plan("2026-12-31T23:59:59.999Z", "2027-01-02T00:00:00.001Z");
        assert_eq!(p.days, Some(("2027-01-01".into(), "2027-01-02".into())));
        assert_eq!(p.raw.len(), 2);
    }
}
