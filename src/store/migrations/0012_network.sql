-- SSH network devices. `credentials` is a vault-sealed JSON document (password or
-- private key with its passphrase, enable secret; each may be a ${secret:…}
-- reference); `host_key` is the pinned SHA-256 fingerprint of the device's SSH host
-- key (NULL until the first connection pins it); `generation` grows at every change of
-- the connection so a pooled session made with the old one is dropped.
CREATE TABLE network_devices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    device_type TEXT NOT NULL,
    username TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    credentials TEXT NOT NULL,
    has_enable_secret INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    host_key TEXT,
    generation INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'disconnected',
    last_error TEXT,
    last_connected TEXT,
    system_info TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
