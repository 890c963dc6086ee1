//! SQL for the `services` table: one row per service holding its desired state (spec
//! JSON), desired run state and the status last observed from Docker.

use super::model::ServiceSpec;
use crate::error::{Error, Result};
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{Connection, OptionalExtension, params};

/// A stored service.
#[derive(Debug, Clone)]
pub struct Row {
    /// `svc_` + 16 alphanumerics.
    pub id: String,
    /// Desired state, stored as JSON in the `spec` column (`name` and `image` also
    /// have columns of their own for lookups and filters).
    pub spec: ServiceSpec,
    /// `running` or `stopped`.
    pub desired_state: String,
    /// Status last derived from Docker (see [`set_status`]); shown while Docker is down.
    pub status: String,
    /// Creating user (`usr_…`); `None` when the daemon itself created it.
    pub created_by: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change of spec or desired state, RFC 3339 UTC; status updates leave it.
    pub updated_at: String,
}

/// Filters and sort keys of `GET /services`.
pub const LIST_SPEC: ListSpec = ListSpec {
    fields: &[
        Field::new("status", "s.status", FieldKind::Text),
        Field::new("name", "s.name", FieldKind::Text),
        Field::new("image", "s.image", FieldKind::Text),
        Field::new("desired_state", "s.desired_state", FieldKind::Text),
        Field::new("created_at", "s.created_at", FieldKind::Time),
        Field::new("updated_at", "s.updated_at", FieldKind::Time),
    ],
    default_sort: "s.created_at",
    default_order: Order::Desc,
    search: &["s.name", "s.image"],
};

const COLUMNS: &str =
    "s.id, s.spec, s.desired_state, s.status, s.created_by, s.created_at, s.updated_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let spec: String = r.get(1)?;
    let spec = serde_json::from_str(&spec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Row {
        id: r.get(0)?,
        spec,
        desired_state: r.get(2)?,
        status: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Inserts a new row; a taken name is `RESOURCE_ALREADY_EXISTS`.
pub fn insert(conn: &Connection, row: &Row) -> Result<()> {
    let r = conn.execute(
        "INSERT INTO services (id, name, image, spec, desired_state, status, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            row.id,
            row.spec.name,
            row.spec.image,
            serde_json::to_string(&row.spec)?,
            row.desired_state,
            row.status,
            row.created_by,
            row.created_at,
            row.updated_at
        ],
    );
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::already_exists("service", &row.spec.name))
        }
        Err(e) => Err(e.into()),
    }
}

/// The service with this id or name, if any.
pub fn find(conn: &Connection, id_or_name: &str) -> Result<Option<Row>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM services s WHERE s.id = ?1 OR s.name = ?1"),
            [id_or_name],
            from_row,
        )
        .optional()?)
}

/// The service with this id or name, or `RESOURCE_NOT_FOUND`.
pub fn get(conn: &Connection, id_or_name: &str) -> Result<Row> {
    find(conn, id_or_name)?.ok_or_else(|| Error::not_found("service", id_or_name))
}

/// One page of services matching `query` (filters from [`LIST_SPEC`]).
pub fn list(conn: &Connection, query: &ListQuery) -> Result<Page<Row>> {
    query
        .sql(&LIST_SPEC)?
        .query(conn, COLUMNS, "services s", from_row)
}

/// Every service (reconcile).
pub fn all(conn: &Connection) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM services s ORDER BY s.created_at"
    ))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Replaces the desired state (spec) of a service, its name included; a name taken by
/// another service is `RESOURCE_ALREADY_EXISTS`.
pub fn update_spec(conn: &Connection, id: &str, spec: &ServiceSpec, now: &str) -> Result<()> {
    let r = conn.execute(
        "UPDATE services SET name = ?2, image = ?3, spec = ?4, updated_at = ?5 WHERE id = ?1",
        params![id, spec.name, spec.image, serde_json::to_string(spec)?, now],
    );
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::already_exists("service", &spec.name))
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets whether the service should run.
pub fn set_desired_state(conn: &Connection, id: &str, desired: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE services SET desired_state = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, desired, now],
    )?;
    Ok(())
}

/// Records the status observed from Docker; returns whether it changed.
pub fn set_status(conn: &Connection, id: &str, status: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE services SET status = ?2 WHERE id = ?1 AND status IS NOT ?2",
        params![id, status],
    )?;
    Ok(n > 0)
}

/// Removes the row.
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM services WHERE id = ?1", [id])?;
    // Configuration scoped to the service goes with it.
    conn.execute(
        "DELETE FROM config_entries WHERE scope = 'service:' || ?1",
        [id],
    )?;
    Ok(())
}

/// Name → `updated_at` (as text) of every service: what a backup restore compares
/// between the live and the restored database to report services added, removed or changed.
pub fn name_stamps(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    crate::store::text_pairs(conn, "SELECT name, CAST(updated_at AS TEXT) FROM services")
}

/// Services by status (`GET /stats`).
pub fn count_by_status(conn: &Connection) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        conn,
        "SELECT status, count(*) FROM services GROUP BY status",
        [],
    )
}

/// Every service as `(id, name, status)`, for the live `services` event channel.
pub fn statuses(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    crate::store::triples(conn, "SELECT id, name, status FROM services")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::list::register_regexp(&c).unwrap();
        crate::store::migrations::apply(&mut c).unwrap();
        c
    }

    fn row(id: &str, name: &str, at: &str) -> Row {
        Row {
            id: id.into(),
            spec: ServiceSpec {
                name: name.into(),
                image: "busybox".into(),
                ..Default::default()
            },
            desired_state: "stopped".into(),
            status: "created".into(),
            created_by: None,
            created_at: at.into(),
            updated_at: at.into(),
        }
    }

    #[test]
    fn names_are_unique_and_found_by_id_or_name() {
        let c = db();
        insert(&c, &row("svc_1", "web", "2026-01-01T00:00:00.000Z")).unwrap();
        let e = insert(&c, &row("svc_2", "web", "2026-01-01T00:00:00.000Z")).unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceAlreadyExists);
        assert_eq!(get(&c, "web").unwrap().id, "svc_1");
        assert_eq!(get(&c, "svc_1").unwrap().spec.name, "web");
        assert_eq!(
            get(&c, "nope").unwrap_err().code,
            ErrorCode::ResourceNotFound
        );
    }

    #[test]
    fn rename_updates_the_name_column_and_keeps_names_unique() {
        let c = db();
        insert(&c, &row("svc_1", "a", "2026-01-01T00:00:00.000Z")).unwrap();
        insert(&c, &row("svc_2", "b", "2026-01-02T00:00:00.000Z")).unwrap();
        let mut spec = get(&c, "a").unwrap().spec;
        spec.name = "b".into();
        let e = update_spec(&c, "svc_1", &spec, "t").unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceAlreadyExists);
        spec.name = "c".into();
        update_spec(&c, "svc_1", &spec, "t").unwrap();
        assert_eq!(get(&c, "c").unwrap().id, "svc_1");
        assert!(find(&c, "a").unwrap().is_none());
    }

    #[test]
    fn list_filters_and_status_updates() {
        let c = db();
        insert(&c, &row("svc_1", "a", "2026-01-01T00:00:00.000Z")).unwrap();
        insert(&c, &row("svc_2", "b", "2026-01-02T00:00:00.000Z")).unwrap();
        assert!(set_status(&c, "svc_2", "running").unwrap());
        assert!(!set_status(&c, "svc_2", "running").unwrap());
        let pairs = vec![("status".to_string(), "running".to_string())];
        let page = list(&c, &ListQuery::parse(&pairs).unwrap()).unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].spec.name, "b");
        let page = list(&c, &ListQuery::default()).unwrap();
        let names: Vec<_> = page.items.iter().map(|r| r.spec.name.as_str()).collect();
        assert_eq!(names, ["b", "a"], "newest first by default");
        delete(&c, "svc_1").unwrap();
        assert_eq!(all(&c).unwrap().len(), 1);
    }
}
