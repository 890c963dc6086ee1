//! SQL for `network_devices`, the table the network domain owns.

use super::model::{Device, DeviceRecord, DeviceStatus, DeviceType, SystemInfo};
use crate::error::Result;
use crate::store::list::{Field, FieldKind, ListQuery, ListSpec, Order, Page};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, name, description, host, port, device_type, username, auth_method,
    has_enable_secret, tags, host_key, status, last_error, last_connected, system_info,
    created_by, created_at, updated_at, credentials, generation, options";

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
            connection_options: serde_json::from_str(&r.get::<_, String>(20)?).unwrap_or_default(),
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
pub const LIST: ListSpec = ListSpec {
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
    search: &[],
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
             created_by, created_at, updated_at, options)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15)",
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
            serde_json::to_string(&d.connection_options)?,
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
             generation = generation + ?12, updated_at = ?13, options = ?14
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
            serde_json::to_string(&d.connection_options)?,
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

const BACKUP_COLUMNS: &str = "id, device_id, source, trigger, size, lines, sha256, comment,
    taken_by, taken_at, content, compare_sha256";

/// A config backup row: the public part, the sealed text and the comparison hash.
pub struct BackupRow {
    /// Metadata (no text).
    pub backup: super::model::ConfigBackup,
    /// The sealed configuration text.
    pub sealed: String,
    /// SHA-256 of the comparable text.
    pub compare_sha256: String,
}

fn backup_row(r: &Row<'_>) -> rusqlite::Result<BackupRow> {
    Ok(BackupRow {
        backup: super::model::ConfigBackup {
            id: r.get(0)?,
            device_id: r.get(1)?,
            source: r.get(2)?,
            trigger: r.get(3)?,
            size: r.get(4)?,
            lines: r.get(5)?,
            sha256: r.get(6)?,
            comment: r.get(7)?,
            taken_by: r.get(8)?,
            taken_at: r.get(9)?,
            config: None,
            diff: None,
        },
        sealed: r.get(10)?,
        compare_sha256: r.get(11)?,
    })
}

/// Filters and sorts of `GET …/config/backups`.
pub const BACKUPS: ListSpec = ListSpec {
    fields: &[
        Field::new("source", "source", FieldKind::Text),
        Field::new("trigger", "trigger", FieldKind::Text),
        Field::new("sha256", "sha256", FieldKind::Text),
        Field::new("size", "size", FieldKind::Integer),
        Field::new("taken_at", "taken_at", FieldKind::Time),
    ],
    default_sort: "taken_at",
    default_order: Order::Desc,
    search: &[],
};

/// One page of device `device_id`'s config backups (newest first by default).
pub fn list_backups(
    c: &rusqlite::Connection,
    device_id: &str,
    q: &ListQuery,
) -> Result<Page<super::model::ConfigBackup>> {
    let page = q
        .sql(&BACKUPS)?
        .and(
            "device_id = ?",
            [rusqlite::types::Value::Text(device_id.to_string())],
        )
        .query(c, BACKUP_COLUMNS, "network_config_backups", backup_row)?;
    Ok(page.map(|r| r.backup))
}

/// A config backup by id.
pub fn find_backup(c: &rusqlite::Connection, id: &str) -> Result<Option<BackupRow>> {
    Ok(c.query_row(
        &format!("SELECT {BACKUP_COLUMNS} FROM network_config_backups WHERE id = ?1"),
        [id],
        backup_row,
    )
    .optional()?)
}

/// The newest config backup of `device_id` from `source`.
pub fn latest_backup(
    c: &rusqlite::Connection,
    device_id: &str,
    source: &str,
) -> Result<Option<BackupRow>> {
    Ok(c.query_row(
        &format!(
            "SELECT {BACKUP_COLUMNS} FROM network_config_backups
             WHERE device_id = ?1 AND source = ?2 ORDER BY taken_at DESC, rowid DESC LIMIT 1"
        ),
        params![device_id, source],
        backup_row,
    )
    .optional()?)
}

/// Inserts a config backup (`sealed`: its sealed text).
pub fn insert_backup(
    c: &rusqlite::Connection,
    b: &super::model::ConfigBackup,
    sealed: &str,
    compare_sha256: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO network_config_backups (id, device_id, source, trigger, content, size,
             lines, sha256, compare_sha256, comment, taken_by, taken_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            b.id,
            b.device_id,
            b.source,
            b.trigger,
            sealed,
            b.size,
            b.lines,
            b.sha256,
            compare_sha256,
            b.comment,
            b.taken_by,
            b.taken_at
        ],
    )?;
    Ok(())
}

/// Devices by session status (`GET /stats`).
pub fn count_by_status(
    c: &rusqlite::Connection,
) -> Result<std::collections::BTreeMap<String, u64>> {
    crate::store::counts(
        c,
        "SELECT status, count(*) FROM network_devices GROUP BY status",
        [],
    )
}

/// Every device as `[id, name, status, created_by, created_at]` (`GET /resources`).
pub fn inventory(c: &rusqlite::Connection) -> Result<Vec<[String; 5]>> {
    crate::store::text_rows(
        c,
        "SELECT id, name, status, created_by, created_at FROM network_devices ORDER BY name",
    )
}
