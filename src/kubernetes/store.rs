//! SQL for `kube_clusters`, the table the kubernetes domain owns.

use super::model::{AuthKind, Cluster, ClusterRecord, ClusterStatus, Connection, Probe};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, name, description, server, auth_kind, context, insecure_skip_tls_verify,
    status, version, nodes_count, nodes, last_error, last_connected, last_checked, created_by,
    created_at, updated_at, credentials, generation";

fn status(s: &str) -> ClusterStatus {
    match s {
        "connected" => ClusterStatus::Connected,
        "unauthorized" => ClusterStatus::Unauthorized,
        _ => ClusterStatus::Unreachable,
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<ClusterRecord> {
    let nodes: String = r.get(10)?;
    let auth: String = r.get(4)?;
    Ok(ClusterRecord {
        cluster: Cluster {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            server: r.get(3)?,
            auth_kind: AuthKind::parse(&auth).unwrap_or(AuthKind::Token),
            context: r.get(5)?,
            insecure_skip_tls_verify: r.get(6)?,
            status: status(&r.get::<_, String>(7)?),
            version: r.get(8)?,
            nodes_count: r.get(9)?,
            nodes: serde_json::from_str(&nodes).unwrap_or_default(),
            error: r.get(11)?,
            last_connected: r.get(12)?,
            last_checked: r.get(13)?,
            created_by: r.get(14)?,
            created_at: r.get(15)?,
            updated_at: r.get(16)?,
        },
        sealed: r.get(17)?,
        generation: r.get(18)?,
    })
}

/// Filters and sorts of `GET /kubernetes/clusters`.
pub const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "name", FieldKind::Text),
        Field::new("status", "status", FieldKind::Text),
        Field::new("server", "server", FieldKind::Text),
        Field::new("auth_kind", "auth_kind", FieldKind::Text),
        Field::new("version", "version", FieldKind::Text),
        Field::new("nodes_count", "nodes_count", FieldKind::Integer),
        Field::new("created_at", "created_at", FieldKind::Time),
        Field::new("last_connected", "last_connected", FieldKind::Time),
    ],
    default_sort: "name",
    default_order: Order::Asc,
    search: &[],
};

/// One page of clusters.
pub fn list(c: &rusqlite::Connection, q: &ListQuery) -> Result<Page<Cluster>> {
    let page = q.sql(&LIST)?.query(c, COLUMNS, "kube_clusters", from_row)?;
    Ok(page.map(|r| r.cluster))
}

/// A cluster by id or name.
pub fn find(c: &rusqlite::Connection, id_or_name: &str) -> Result<Option<ClusterRecord>> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM kube_clusters WHERE id = ?1 OR name = ?1"),
        [id_or_name],
        from_row,
    )
    .optional()?)
}

/// Whether a cluster other than `except` (an id) has this name.
pub fn name_taken(c: &rusqlite::Connection, name: &str, except: Option<&str>) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM kube_clusters WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )?)
}

/// Inserts cluster `id` with its connection (credentials already sealed as `sealed`)
/// and the result of its first check.
pub fn insert(
    c: &rusqlite::Connection,
    (id, name, description): (&str, &str, &str),
    conn: &Connection,
    sealed: &str,
    created_by: Option<&str>,
    now: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO kube_clusters (id, name, description, server, auth_kind, context,
             insecure_skip_tls_verify, credentials, status, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'unreachable', ?9, ?10, ?10)",
        params![
            id,
            name,
            description,
            conn.server,
            conn.auth_kind.as_str(),
            conn.context,
            conn.insecure,
            sealed,
            created_by,
            now
        ],
    )?;
    Ok(())
}

/// Replaces the connection of cluster `id` and bumps its generation.
pub fn set_connection(
    c: &rusqlite::Connection,
    id: &str,
    conn: &Connection,
    sealed: &str,
    now: &str,
) -> Result<()> {
    c.execute(
        "UPDATE kube_clusters SET server = ?2, auth_kind = ?3, context = ?4,
             insecure_skip_tls_verify = ?5, credentials = ?6, generation = generation + 1,
             updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            conn.server,
            conn.auth_kind.as_str(),
            conn.context,
            conn.insecure,
            sealed,
            now
        ],
    )?;
    Ok(())
}

/// Sets name and description of cluster `id`.
pub fn set_names(
    c: &rusqlite::Connection,
    id: &str,
    name: &str,
    description: &str,
    now: &str,
) -> Result<()> {
    c.execute(
        "UPDATE kube_clusters SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, name, description, now],
    )?;
    Ok(())
}

/// Records the result of a check made at `now`; version and nodes are kept from the
/// last success when this one failed.
pub fn record_probe(c: &rusqlite::Connection, id: &str, p: &Probe, now: &str) -> Result<()> {
    if p.status == ClusterStatus::Connected {
        c.execute(
            "UPDATE kube_clusters SET status = 'connected', version = ?2, nodes_count = ?3,
                 nodes = ?4, last_error = NULL, last_connected = ?5, last_checked = ?5
             WHERE id = ?1",
            params![
                id,
                p.version,
                p.nodes.len() as i64,
                serde_json::to_string(&p.nodes)?,
                now
            ],
        )?;
    } else {
        c.execute(
            "UPDATE kube_clusters SET status = ?2, last_error = ?3, last_checked = ?4 WHERE id = ?1",
            params![id, p.status.as_str(), p.error, now],
        )?;
    }
    Ok(())
}

/// Deletes cluster `id`; whether there was one.
pub fn delete(c: &rusqlite::Connection, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM kube_clusters WHERE id = ?1", [id])? > 0)
}

/// Clusters by status (`GET /stats`).
pub fn count_by_status(
    c: &rusqlite::Connection,
) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        c,
        "SELECT status, count(*) FROM kube_clusters GROUP BY status",
        [],
    )
}

/// Every cluster as `[id, name, status, created_by, created_at]` (`GET /resources`).
pub fn inventory(c: &rusqlite::Connection) -> Result<Vec<[String; 5]>> {
    crate::store::text_rows(
        c,
        "SELECT id, name, status, created_by, created_at FROM kube_clusters ORDER BY name",
    )
}
