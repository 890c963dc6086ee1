//! SQL for `request_logs`.

use super::redact::stored;
use super::{NewRequestLog, RequestLog, RequestLogDetail};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

const COLUMNS: &str = "id, timestamp, user_id, api_key_id, server_id, server_name, kind, name, status, \
     error_code, error_message, duration_ms, request_bytes, response_bytes, truncated, workspace_id";

/// Filters of `GET /logs/requests`; `server` (id or name) and `from`/`to` (RFC 3339,
/// inclusive) are handled by [`list`] itself.
pub const LIST_SPEC: ListSpec = ListSpec {
    fields: &[
        Field::new("kind", "kind", FieldKind::Text),
        Field::new("name", "name", FieldKind::Text),
        Field::new("status", "status", FieldKind::Text),
        Field::new("user_id", "user_id", FieldKind::Text),
        Field::new("server_id", "server_id", FieldKind::Text),
        Field::new("workspace_id", "workspace_id", FieldKind::Text),
        Field::new("error_code", "error_code", FieldKind::Text),
        Field::new("timestamp", "timestamp", FieldKind::Time),
        Field::new("duration_ms", "duration_ms", FieldKind::Integer),
    ],
    default_sort: "timestamp",
    default_order: Order::Desc,
    search: &[],
};

fn from_row(r: &Row<'_>) -> rusqlite::Result<RequestLog> {
    Ok(RequestLog {
        id: r.get(0)?,
        timestamp: r.get(1)?,
        user_id: r.get(2)?,
        api_key_id: r.get(3)?,
        server_id: r.get(4)?,
        server_name: r.get(5)?,
        kind: r.get(6)?,
        name: r.get(7)?,
        status: r.get(8)?,
        error_code: r.get(9)?,
        error_message: r.get(10)?,
        duration_ms: r.get::<_, i64>(11)? as u64,
        request_bytes: r.get::<_, i64>(12)? as u64,
        response_bytes: r.get::<_, i64>(13)? as u64,
        truncated: r.get(14)?,
        workspace_id: r.get(15)?,
    })
}

/// Writes one row stamped now: arguments and result redacted, then capped at
/// `payload_cap` bytes each, and adds it to the usage rollups in the same transaction
/// (`conn` is the caller's transaction). Returns the new id (`rlog_…`).
pub fn insert(conn: &Connection, log: &NewRequestLog, payload_cap: usize) -> Result<String> {
    insert_at(conn, log, payload_cap, time::OffsetDateTime::now_utc())
}

/// [`insert`] with a chosen time (tests, benchmarks, imports).
pub fn insert_at(
    conn: &Connection,
    log: &NewRequestLog,
    payload_cap: usize,
    at: time::OffsetDateTime,
) -> Result<String> {
    let timestamp = crate::time::format_rfc3339(at);
    let (id, request_bytes, response_bytes) = insert_row(conn, log, payload_cap, &timestamp)?;
    crate::usage::rollup::record(conn, &call(log, &timestamp, request_bytes, response_bytes))?;
    Ok(id)
}

/// Many rows stamped now, in the caller's transaction, the usage rollups updated once
/// per distinct group at the end instead of per row (the cheaper way to write a
/// batch). Returns the ids in order.
pub fn insert_many(
    conn: &Connection,
    logs: &[NewRequestLog],
    payload_cap: usize,
) -> Result<Vec<String>> {
    let now = time::OffsetDateTime::now_utc();
    let rows: Vec<(&NewRequestLog, time::OffsetDateTime)> = logs.iter().map(|l| (l, now)).collect();
    insert_many_at(conn, &rows, payload_cap)
}

/// [`insert_many`] with a chosen time per row.
pub fn insert_many_at(
    conn: &Connection,
    rows: &[(&NewRequestLog, time::OffsetDateTime)],
    payload_cap: usize,
) -> Result<Vec<String>> {
    let mut batch = crate::usage::rollup::Batch::default();
    let mut ids = Vec::with_capacity(rows.len());
    for (log, at) in rows {
        let timestamp = crate::time::format_rfc3339(*at);
        let (id, request_bytes, response_bytes) = insert_row(conn, log, payload_cap, &timestamp)?;
        batch.add(&call(log, &timestamp, request_bytes, response_bytes));
        ids.push(id);
    }
    batch.write(conn)?;
    Ok(ids)
}

/// A row's contribution to the usage rollups.
fn call<'a>(
    log: &'a NewRequestLog,
    timestamp: &'a str,
    request_bytes: i64,
    response_bytes: i64,
) -> crate::usage::rollup::Call<'a> {
    crate::usage::rollup::Call {
        timestamp,
        workspace_id: log.workspace_id.as_deref(),
        user_id: log.user_id.as_deref(),
        server_id: Some(log.server_id.as_str()),
        server_name: Some(log.server_name.as_str()),
        kind: log.kind.as_str(),
        name: &log.name,
        error: log.error_code.is_some(),
        duration_ms: log.duration_ms as i64,
        request_bytes,
        response_bytes,
    }
}

/// The row alone, WITHOUT the usage rollups: usage would miss it. Only for the usage
/// benchmark, which measures what the rollups cost per insert.
#[doc(hidden)]
pub fn insert_without_rollup(
    conn: &Connection,
    log: &NewRequestLog,
    payload_cap: usize,
    at: time::OffsetDateTime,
) -> Result<String> {
    insert_row(conn, log, payload_cap, &crate::time::format_rfc3339(at)).map(|(id, _, _)| id)
}

/// Inserts the row; returns its id and the request and response sizes.
fn insert_row(
    conn: &Connection,
    log: &NewRequestLog,
    payload_cap: usize,
    timestamp: &str,
) -> Result<(String, i64, i64)> {
    let id = crate::ids::new_time_ordered_id("rlog");
    let arguments = stored(&log.arguments, payload_cap);
    let result = log.result.as_ref().map(|r| stored(r, payload_cap));
    let request_bytes = arguments.bytes;
    let response_bytes = result.as_ref().map_or(0, |r| r.bytes);
    let truncated = arguments.truncated || result.as_ref().is_some_and(|r| r.truncated);
    conn.prepare_cached(
        "INSERT INTO request_logs (id, timestamp, user_id, api_key_id, server_id, server_name, kind, name, status,
             error_code, error_message, duration_ms, request_bytes, response_bytes, arguments, result, truncated,
             workspace_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(
        params![
            id,
            timestamp,
            log.user_id,
            log.api_key_id,
            log.server_id,
            log.server_name,
            log.kind.as_str(),
            log.name,
            if log.error_code.is_none() { "success" } else { "error" },
            log.error_code,
            log.error_message,
            log.duration_ms as i64,
            request_bytes as i64,
            response_bytes as i64,
            arguments.text,
            result.map(|r| r.text),
            truncated,
            log.workspace_id,
        ],
    )?;
    Ok((id, request_bytes as i64, response_bytes as i64))
}

/// Deletes up to `limit` rows older than `cutoff` (RFC 3339 UTC), oldest first, and
/// returns how many. The usage rollups are left as they are: usage outlives the rows.
pub fn delete_before(conn: &Connection, cutoff: &str, limit: usize) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM request_logs WHERE id IN
             (SELECT id FROM request_logs WHERE timestamp < ?1 ORDER BY timestamp LIMIT ?2)",
        params![cutoff, limit as i64],
    )?)
}

/// Who may see which rows: `None` = everyone's, `Some(user)` = only that user's.
pub type Visibility = Option<String>;

/// One page of rows. `q` may carry `server` (id or name), `from` and `to`.
pub fn list(
    conn: &Connection,
    mut q: ListQuery,
    only_user: Visibility,
) -> Result<Page<RequestLog>> {
    let server = q.take("server");
    let from = q
        .take("from")
        .map(|v| crate::time::input_param("from", &v))
        .transpose()?;
    let to = q
        .take("to")
        .map(|v| crate::time::input_param("to", &v))
        .transpose()?;
    let mut parts = q.sql(&LIST_SPEC)?;
    if let Some(s) = server {
        parts = parts.and(
            "server_id = ? OR server_name = ?",
            [SqlValue::Text(s.clone()), SqlValue::Text(s)],
        );
    }
    if let Some(f) = from {
        parts = parts.and("timestamp >= ?", [SqlValue::Text(f)]);
    }
    if let Some(t) = to {
        parts = parts.and("timestamp <= ?", [SqlValue::Text(t)]);
    }
    if let Some(user) = only_user {
        parts = parts.and("user_id = ?", [SqlValue::Text(user)]);
    }
    parts.query(conn, COLUMNS, "request_logs", from_row)
}

/// One row with arguments and result, if visible to `only_user`.
pub fn get(conn: &Connection, id: &str, only_user: Visibility) -> Result<Option<RequestLogDetail>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS}, arguments, result FROM request_logs WHERE id = ?1"),
            [id],
            |r| {
                let log = from_row(r)?;
                let args: Option<String> = r.get(16)?;
                let result: Option<String> = r.get(17)?;
                Ok((log, args, result))
            },
        )
        .optional()?;
    let Some((log, args, result)) = row else {
        return Ok(None);
    };
    if only_user.is_some() && log.user_id != only_user {
        return Ok(None);
    }
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str::<Value>(&t).ok());
    Ok(Some(RequestLogDetail {
        log,
        arguments: parse(args),
        result: parse(result),
    }))
}

/// Deletes every request log row (the usage rollups are the usage domain's; see
/// `crate::usage::store::clear`). Used on a backup's copy of the database taken
/// without logs.
pub fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM request_logs", [])?;
    Ok(())
}

fn raw_column(col: &str) -> String {
    match col {
        "day" => "substr(r.timestamp, 1, 10)".into(),
        c => format!("r.{c}"),
    }
}

/// Appends the usage groups of `keys` (see [`crate::usage::query::groups`]) over raw rows
/// with `from <= timestamp < to` under `filters`: the partial days at a window's edges,
/// which the per-day rollups cannot answer.
pub fn usage_groups(
    conn: &Connection,
    (from, to): (&String, &String),
    keys: &[&str],
    filters: &crate::usage::model::Filters,
    out: &mut Vec<crate::usage::model::Group>,
) -> Result<()> {
    let cols: String = keys
        .iter()
        .map(|k| format!("{}, ", raw_column(k)))
        .collect();
    let mut params = vec![SqlValue::Text(from.clone()), SqlValue::Text(to.clone())];
    let conds = filters.sql(|c| format!("r.{c}"), &mut params);
    let sql = format!(
        "SELECT {cols}count(*), sum(r.status = 'error'), sum(r.duration_ms), max(r.duration_ms),
                sum(r.request_bytes), sum(r.response_bytes), min(r.timestamp), max(r.timestamp)
         FROM request_logs r WHERE r.timestamp >= ? AND r.timestamp < ?{conds}{}",
        crate::usage::model::group_by(keys.len())
    );
    crate::usage::store::read_groups(conn, &sql, &params, keys.len(), out)
}

/// Tool calls and failed tool calls logged at or after `since` (RFC 3339)
/// (`GET /stats`).
pub fn tool_calls_since(conn: &Connection, since: &str) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT count(*), coalesce(sum(status = 'error'), 0)
         FROM request_logs WHERE timestamp >= ?1 AND kind = 'tool'",
        [since],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )?)
}

/// Every call logged in `[from, to)` (RFC 3339) as `(server_id, duration_ms, failed)`
/// (the monitoring series of MCP servers).
pub fn calls_between(conn: &Connection, from: &str, to: &str) -> Result<Vec<(String, i64, bool)>> {
    let mut st = conn.prepare_cached(
        "SELECT server_id, duration_ms, status = 'error' FROM request_logs
         WHERE timestamp >= ?1 AND timestamp < ?2 AND server_id IS NOT NULL",
    )?;
    let rows = st.query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
