//! SQL for `network_devices`, the table the network domain owns.

use super::model::{Device, DeviceRecord, DeviceStatus, DeviceType, SystemInfo};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, name, description, host, port, device_type, username, auth_method,
    has_enable_secret, tags, host_key, status, last_error, last_connected, system_info,
    created_by, created_at, updated_at, credentials, generation";

fn from_row(r: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    let tags: String = r.get(9)?;
    let info: Option<String> = r.get(14)?;
    let kind: String = r.get(5)?;
    Ok(DeviceRecord {
        device: Device {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            host: r.get(3)?,
            port: r.get(4)?,
            device_type: DeviceType::parse(&kind).unwrap_or(DeviceType::CiscoIos),
            username: r.get(6)?,
            auth_method: r.get(7)?,
            has_enable_secret: r.get(8)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            host_key_fingerprint: r.get(10)?,
            status: DeviceStatus::parse(&r.get::<_, String>(11)?),
            error: r.get(12)?,
            last_connected: r.get(13)?,
            system_info: info.and_then(|s| serde_json::from_str::<SystemInfo>(&s).ok()),
            created_by: r.get(15)?,
            created_at: r.get(16)?,
            updated_at: r.get(17)?,
        },
        sealed: r.get(18)?,
        generation: r.get(19)?,
    })
}

/// Filters and sorts of `GET /network/devices`.
const LIST: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "name", FieldKind::Text),
        Field::new("host", "host", FieldKind::Text),
        Field::new("device_type", "device_type", FieldKind::Text),
        Field::new("username", "username", FieldKind::Text),
        Field::new("status", "status", FieldKind::Text),
        Field::new("created_at", "created_at", FieldKind::Time),
        Field::new("last_connected", "last_connected", FieldKind::Time),
    ],
    default_sort: "name",
    default_order: Order::Asc,
};

/// One page of devices.
pub fn list(c: &rusqlite::Connection, q: &ListQuery) -> Result<Page<Device>> {
    let page = q
        .sql(&LIST)?
        .query(c, COLUMNS, "network_devices", from_row)?;
    Ok(page.map(|r| r.device))
}

/// A device by id or name.
pub fn find(c: &rusqlite::Connection, id_or_name: &str) -> Result<Option<DeviceRecord>> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM network_devices WHERE id = ?1 OR name = ?1"),
        [id_or_name],
        from_row,
    )
    .optional()?)
}

/// Every device (for the config poller and counts), by name.
pub fn all(c: &rusqlite::Connection) -> Result<Vec<DeviceRecord>> {
    let mut st = c.prepare(&format!(
        "SELECT {COLUMNS} FROM network_devices ORDER BY name"
    ))?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Whether a device other than `except` (an id) has this name.
pub fn name_taken(c: &rusqlite::Connection, name: &str, except: Option<&str>) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM network_devices WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )?)
}

/// Inserts `d` (its credentials already sealed as `sealed`).
pub fn insert(c: &rusqlite::Connection, d: &Device, sealed: &str) -> Result<()> {
    c.execute(
        "INSERT INTO network_devices (id, name, description, host, port, device_type,
             username, auth_method, credentials, has_enable_secret, tags, host_key,
             created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
        params![
            d.id,
            d.name,
            d.description,
            d.host,
            d.port,
            d.device_type.as_str(),
            d.username,
            d.auth_method,
            sealed,
            d.has_enable_secret,
            serde_json::to_string(&d.tags)?,
            d.host_key_fingerprint,
            d.created_by,
            d.created_at,
        ],
    )?;
    Ok(())
}

/// Writes the changeable fields of `d`; with `sealed`, new credentials too. A change of
/// the connection (`reconnect`) bumps the generation.
pub fn update(
    c: &rusqlite::Connection,
    d: &Device,
    sealed: Option<&str>,
    reconnect: bool,
) -> Result<()> {
    c.execute(
        "UPDATE network_devices SET name = ?2, description = ?3, host = ?4, port = ?5,
             username = ?6, auth_method = ?7, credentials = COALESCE(?8, credentials),
             has_enable_secret = ?9, tags = ?10, host_key = ?11,
             generation = generation + ?12, updated_at = ?13
         WHERE id = ?1",
        params![
            d.id,
            d.name,
            d.description,
            d.host,
            d.port,
            d.username,
            d.auth_method,
            sealed,
            d.has_enable_secret,
            serde_json::to_string(&d.tags)?,
            d.host_key_fingerprint,
            i64::from(reconnect),
            d.updated_at,
        ],
    )?;
    Ok(())
}

/// Pins `fingerprint` as device `id`'s host key.
pub fn pin_host_key(c: &rusqlite::Connection, id: &str, fingerprint: &str) -> Result<()> {
    c.execute(
        "UPDATE network_devices SET host_key = ?2 WHERE id = ?1",
        params![id, fingerprint],
    )?;
    Ok(())
}

/// Records a connection that worked at `now` (and what `show version` said).
pub fn record_connected(
    c: &rusqlite::Connection,
    id: &str,
    info: Option<&SystemInfo>,
    now: &str,
) -> Result<()> {
    let info = info.map(serde_json::to_string).transpose()?;
    c.execute(
        "UPDATE network_devices SET status = 'connected', last_error = NULL,
             last_connected = ?2, system_info = COALESCE(?3, system_info)
         WHERE id = ?1",
        params![id, now, info],
    )?;
    Ok(())
}

/// Records the session's end (`error`: why it failed, when it did).
pub fn record_disconnected(c: &rusqlite::Connection, id: &str, error: Option<&str>) -> Result<()> {
    let status = if error.is_some() {
        "error"
    } else {
        "disconnected"
    };
    c.execute(
        "UPDATE network_devices SET status = ?2, last_error = ?3 WHERE id = ?1",
        params![id, status, error],
    )?;
    Ok(())
}

/// Deletes device `id`; whether there was one.
pub fn delete(c: &rusqlite::Connection, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM network_devices WHERE id = ?1", [id])? > 0)
}

/// Marks every device `disconnected` (at start: no session survives a restart).
pub fn reset_sessions(c: &rusqlite::Connection) -> Result<()> {
    c.execute(
        "UPDATE network_devices SET status = 'disconnected' WHERE status = 'connected'",
        [],
    )?;
    Ok(())
}
