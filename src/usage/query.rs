//! Answers a window from the rollups and the raw rows: the whole UTC days inside
//! `[from, to)` come from the smallest rollup level holding every column the query
//! groups or filters by, the partial days at the two edges from `request_logs`
//! (by its timestamp index). The totals are exactly those of aggregating the raw rows
//! (the unit tests compare both on odd windows).

use super::model::LEVELS;
use crate::error::Result;
use rusqlite::Connection;
use std::cmp::Ordering;

pub use super::model::{Filters, Group, group_by};

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
