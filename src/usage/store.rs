//! SQL of the usage domain's tables, the per-day rollups ([`super::model::TABLES`]):
//! the UPSERT that adds calls to a level, the aggregate read of a level, and the clear
//! a backup without logs runs. The raw edges of a window are read from `request_logs`
//! by its owner, [`crate::request_log::store::usage_groups`].

use super::model::{Filters, Group, LEVELS, Level, NULLABLE, Sums, group_by};

use crate::error::Result;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, ToSql};
use std::sync::LazyLock;

/// Empties every rollup table. Used on a backup's copy of the database taken without
/// logs (the rollups are derived from the request log).
pub fn clear(conn: &Connection) -> Result<()> {
    for t in super::model::TABLES {
        conn.execute(&format!("DELETE FROM {t}"), [])?;
    }
    Ok(())
}

static UPSERTS: LazyLock<Vec<String>> = LazyLock::new(|| LEVELS.iter().map(upsert_sql).collect());

fn upsert_sql(level: &Level) -> String {
    let dims = level.dims.join(", ");
    let marks = vec!["?"; level.dims.len() + 1].join(", ");
    format!(
        "INSERT INTO {table} (day, {dims}, calls, errors, duration_sum, duration_max, request_bytes,
             response_bytes, first_at, last_at)
         VALUES ({marks}, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET
             calls = calls + excluded.calls,
             errors = errors + excluded.errors,
             duration_sum = duration_sum + excluded.duration_sum,
             duration_max = max(duration_max, excluded.duration_max),
             request_bytes = request_bytes + excluded.request_bytes,
             response_bytes = response_bytes + excluded.response_bytes,
             first_at = min(first_at, excluded.first_at),
             last_at = max(last_at, excluded.last_at)",
        table = level.table,
    )
}

/// Adds `sums` to the row of rollup `level` (index into [`LEVELS`]) for `day` and the
/// level's dimension values `dims` (in [`Level::dims`] order), creating it if missing.
pub(super) fn upsert(
    conn: &Connection,
    level: usize,
    day: &str,
    dims: &[&str],
    sums: &Sums,
) -> Result<()> {
    let mut params: Vec<&dyn ToSql> = Vec::with_capacity(dims.len() + 9);
    params.push(&day);
    params.extend(dims.iter().map(|d| d as &dyn ToSql));
    params.extend([
        &sums.calls as &dyn ToSql,
        &sums.errors,
        &sums.duration_sum,
        &sums.duration_max,
        &sums.request_bytes,
        &sums.response_bytes,
        &sums.first_at,
        &sums.last_at,
    ]);
    conn.prepare_cached(&UPSERTS[level])?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(())
}

/// Appends the groups of `keys` over whole days `[first, end)` (`YYYY-MM-DD`) of rollup
/// `level` under `filters` (NULL dimensions, stored as `''`, read back as NULL).
pub fn rollup_groups(
    conn: &Connection,
    level: &Level,
    (first, end): (&String, &String),
    keys: &[&str],
    filters: &Filters,
    out: &mut Vec<Group>,
) -> Result<()> {
    let cols: String = keys
        .iter()
        .map(|k| {
            if NULLABLE.contains(k) {
                format!("nullif({k}, ''), ")
            } else {
                format!("{k}, ")
            }
        })
        .collect();
    let mut params = vec![Sql::Text(first.clone()), Sql::Text(end.clone())];
    let conds = filters.sql(|c| c.to_string(), &mut params);
    let sql = format!(
        "SELECT {cols}sum(calls), sum(errors), sum(duration_sum), max(duration_max),
                sum(request_bytes), sum(response_bytes), min(first_at), max(last_at)
         FROM {} WHERE day >= ? AND day < ?{conds}{}",
        level.table,
        group_by(keys.len()),
    );
    read_groups(conn, &sql, &params, keys.len(), out)
}

/// Runs one aggregate query (`n` key columns, then the eight totals) and appends its
/// non-empty groups (an aggregate without GROUP BY yields a row even over no rows).
pub fn read_groups(
    conn: &Connection,
    sql: &str,
    params: &[Sql],
    n: usize,
    out: &mut Vec<Group>,
) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    while let Some(r) = rows.next()? {
        let calls: Option<i64> = r.get(n)?;
        let Some(calls) = calls.filter(|c| *c > 0) else {
            continue;
        };
        out.push(Group {
            key: (0..n)
                .map(|i| r.get::<_, Option<String>>(i))
                .collect::<rusqlite::Result<_>>()?,
            calls,
            errors: r.get(n + 1)?,
            duration_sum: r.get(n + 2)?,
            duration_max: r.get(n + 3)?,
            request_bytes: r.get(n + 4)?,
            response_bytes: r.get(n + 5)?,
            first_at: r.get(n + 6)?,
            last_at: r.get(n + 7)?,
        });
    }
    Ok(())
}

/// Tool calls and failed tool calls on UTC day `day` (`YYYY-MM-DD`), from the rollups
/// (`GET /stats`).
pub fn tool_calls_on(conn: &Connection, day: &str) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT coalesce(sum(calls), 0), coalesce(sum(errors), 0)
         FROM usage_rollups_tool WHERE day = ?1 AND kind = 'tool'",
        [day],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )?)
}

/// MCP calls on UTC days `[first, end)` (`YYYY-MM-DD`) by user (`by_user`) or by
/// workspace, from the rollups (the billing summary).
pub fn calls_by(
    conn: &Connection,
    (first, end): (&str, &str),
    by_user: bool,
) -> Result<Vec<(String, u64)>> {
    let sql = if by_user {
        "SELECT user_id, sum(calls) FROM usage_rollups WHERE day >= ?1 AND day < ?2 GROUP BY user_id ORDER BY user_id"
    } else {
        "SELECT workspace_id, sum(calls) FROM usage_rollups WHERE day >= ?1 AND day < ?2 GROUP BY workspace_id ORDER BY workspace_id"
    };
    Ok(crate::store::counts(conn, sql, [first, end])?
        .into_iter()
        .collect())
}
