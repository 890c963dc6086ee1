-- Versions of network devices' configurations (config backups). `content` is the
-- configuration text sealed in the vault (configurations hold password hashes and
-- SNMP keys); `sha256` is of the text, `compare_sha256` of its comparable form
-- (volatile lines such as timestamps left out), which decides whether a polled
-- configuration is a new version.
CREATE TABLE network_config_backups (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES network_devices(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    trigger TEXT NOT NULL,
    content TEXT NOT NULL,
    size INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    compare_sha256 TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    taken_by TEXT,
    taken_at TEXT NOT NULL
);
CREATE INDEX network_config_backups_device ON network_config_backups (device_id, taken_at);
