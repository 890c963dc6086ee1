//! SQL for `mcp_servers`: the server records and their discovery cache.

use super::model::{Catalog, Counts, Discovery, Placement, ServerInfo, ServerRecord, Transport};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

const COLUMNS: &str = "id, name, transport, service_id, url, headers, header_names, port, path, status, server_info, capabilities, \
     json_array_length(coalesce(tools, '[]')), json_array_length(coalesce(resources, '[]')), \
     json_array_length(coalesce(resource_templates, '[]')), json_array_length(coalesce(prompts, '[]')), \
     discovered_at, created_by, created_at, updated_at, \
     (SELECT c.registry FROM mcp_server_configs c WHERE c.server_id = mcp_servers.id), \
     cluster_id, namespace, workload";

/// `backend` as the API names it: `container`, `cluster` or `remote`.
const BACKEND: &str = "CASE WHEN cluster_id IS NOT NULL THEN 'cluster' ELSE backend_type END";

/// Filters and sorts of `GET /mcp/servers`.
pub const LIST_SPEC: ListSpec = ListSpec {
    fields: &[
        Field::new("id", "id", FieldKind::Text),
        Field::new("name", "name", FieldKind::Text),
        Field::new("status", "status", FieldKind::Text),
        Field::new("transport", "transport", FieldKind::Text),
        Field::new("backend", BACKEND, FieldKind::Text),
        Field::new(
            "registry",
            "(SELECT c.registry FROM mcp_server_configs c WHERE c.server_id = mcp_servers.id)",
            FieldKind::Text,
        ),
        Field::new("created_at", "created_at", FieldKind::Time),
        Field::new("updated_at", "updated_at", FieldKind::Time),
    ],
    default_sort: "created_at",
    default_order: Order::Desc,
    search: &["name", "url", "json_extract(server_info, '$.name')"],
};

fn json_col<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<ServerRecord> {
    let transport: String = row.get(2)?;
    let port: Option<i64> = row.get(7)?;
    Ok(ServerRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        transport: Transport::parse(&transport).unwrap_or(Transport::Stdio),
        service_id: row.get(3)?,
        url: row.get(4)?,
        headers_sealed: row.get(5)?,
        header_names: json_col(row, 6)?.unwrap_or_default(),
        port: port.and_then(|p| u16::try_from(p).ok()),
        path: row.get(8)?,
        status: row.get(9)?,
        engine: None,
        server_info: json_col::<ServerInfo>(row, 10)?,
        capabilities: json_col::<Value>(row, 11)?,
        counts: Counts {
            tools: row.get::<_, i64>(12)? as u64,
            resources: row.get::<_, i64>(13)? as u64,
            resource_templates: row.get::<_, i64>(14)? as u64,
            prompts: row.get::<_, i64>(15)? as u64,
        },
        discovered_at: row.get(16)?,
        created_by: row.get(17)?,
        created_at: row.get(18)?,
        updated_at: row.get(19)?,
        registry: row.get(20)?,
        placement: match (
            row.get::<_, Option<String>>(21)?,
            row.get(22)?,
            row.get(23)?,
        ) {
            (Some(cluster_id), Some(namespace), Some(workload)) => Some(Placement {
                cluster_id,
                namespace,
                workload,
            }),
            _ => None,
        },
    })
}

/// Inserts a new record (discovery cache empty).
pub fn insert(conn: &Connection, r: &ServerRecord) -> Result<()> {
    conn.execute(
        "INSERT INTO mcp_servers (id, name, transport, backend_type, service_id, url, headers, header_names, port, path, status, created_by, created_at, updated_at,
             cluster_id, namespace, workload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            r.id,
            r.name,
            r.transport.as_str(),
            if r.is_managed() || r.is_placed() { "container" } else { "remote" },
            r.service_id,
            r.url,
            r.headers_sealed,
            serde_json::to_string(&r.header_names)?,
            r.port,
            r.path,
            r.status,
            r.created_by,
            r.created_at,
            r.updated_at,
            r.placement.as_ref().map(|p| &p.cluster_id),
            r.placement.as_ref().map(|p| &p.namespace),
            r.placement.as_ref().map(|p| &p.workload),
        ],
    )?;
    Ok(())
}

/// How many servers are placed on cluster `cluster_id`.
pub fn placed_on(conn: &Connection, cluster_id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM mcp_servers WHERE cluster_id = ?1",
        [cluster_id],
        |r| r.get(0),
    )?)
}

/// Finds a server by id or unique name.
pub fn find(conn: &Connection, id_or_name: &str) -> Result<Option<ServerRecord>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM mcp_servers WHERE id = ?1 OR name = ?1"),
            [id_or_name],
            from_row,
        )
        .optional()?)
}

/// Whether any server has this name.
pub fn name_taken(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM mcp_servers WHERE name = ?1", [name], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

/// One page of servers.
pub fn list(conn: &Connection, q: &ListQuery) -> Result<Page<ServerRecord>> {
    q.sql(&LIST_SPEC)?
        .query(conn, COLUMNS, "mcp_servers", from_row)
}

/// Every server record (for startup reconnects and cross-server listings).
pub fn all(conn: &Connection) -> Result<Vec<ServerRecord>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM mcp_servers ORDER BY name"))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Records a new status (and `updated_at` when it changed).
pub fn set_status(conn: &Connection, id: &str, status: &str) -> Result<()> {
    conn.execute(
        "UPDATE mcp_servers SET status = ?2, updated_at = ?3 WHERE id = ?1 AND status IS NOT ?2",
        params![id, status, crate::time::now_rfc3339()],
    )?;
    Ok(())
}

/// Records what `initialize` said.
pub fn set_server_info(
    conn: &Connection,
    id: &str,
    info: &ServerInfo,
    capabilities: &Value,
) -> Result<()> {
    conn.execute(
        "UPDATE mcp_servers SET server_info = ?2, capabilities = ?3 WHERE id = ?1",
        params![id, serde_json::to_string(info)?, capabilities.to_string()],
    )?;
    Ok(())
}

/// Replaces the discovery cache.
pub fn save_discovery(conn: &Connection, id: &str, d: &Discovery) -> Result<()> {
    conn.execute(
        "UPDATE mcp_servers SET tools = ?2, resources = ?3, resource_templates = ?4, prompts = ?5, discovered_at = ?6 WHERE id = ?1",
        params![
            id,
            serde_json::to_string(&d.tools)?,
            serde_json::to_string(&d.resources)?,
            serde_json::to_string(&d.resource_templates)?,
            serde_json::to_string(&d.prompts)?,
            crate::time::now_rfc3339(),
        ],
    )?;
    Ok(())
}

/// One cached list, as stored (empty when never discovered).
pub fn cached(conn: &Connection, id: &str, which: Catalog) -> Result<Vec<Value>> {
    let text: Option<String> = conn.query_row(
        &format!("SELECT {} FROM mcp_servers WHERE id = ?1", which.column()),
        [id],
        |r| r.get(0),
    )?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Changes the connection settings of a server (PATCH).
pub fn update_endpoint(conn: &Connection, r: &ServerRecord) -> Result<()> {
    conn.execute(
        "UPDATE mcp_servers SET url = ?2, headers = ?3, header_names = ?7, port = ?4, path = ?5, updated_at = ?6 WHERE id = ?1",
        params![
            r.id,
            r.url,
            r.headers_sealed,
            r.port,
            r.path,
            crate::time::now_rfc3339(),
            serde_json::to_string(&r.header_names)?,
        ],
    )?;
    Ok(())
}

/// Removes the record (the request log keeps its rows).
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM mcp_servers WHERE id = ?1", [id])?;
    Ok(())
}

/// Name → `updated_at` (as text) of every MCP server: what a backup restore compares
/// between the live and the restored database to report servers added, removed or changed.
pub fn name_stamps(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    crate::store::text_pairs(
        conn,
        "SELECT name, CAST(updated_at AS TEXT) FROM mcp_servers",
    )
}

/// SQL expression for the name of the server whose id is the `server_id` column of the
/// enclosing query (NULL once the server is gone), so that other domains' rows can
/// show, filter and sort by server name without reading `mcp_servers` themselves. The
/// enclosing query must have exactly one table with a `server_id` column.
pub const NAME_BY_SERVER_ID: &str = "(SELECT name FROM mcp_servers WHERE id = server_id)";

/// MCP servers by status (`GET /stats`).
pub fn count_by_status(conn: &Connection) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        conn,
        "SELECT status, count(*) FROM mcp_servers GROUP BY status",
        [],
    )
}

/// Every MCP server as `(id, name, status)`, for the live `mcp:<server>` event channels.
pub fn statuses(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    crate::store::triples(conn, "SELECT id, name, status FROM mcp_servers")
}

/// Every MCP server as `(id, discovered_at)` (empty when never discovered): a change
/// of `discovered_at` is a new discovery of its tools, resources and prompts.
pub fn discoveries(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    crate::store::text_pairs(conn, "SELECT id, discovered_at FROM mcp_servers")
}
