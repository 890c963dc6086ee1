-- MCP catalog: entries added through the API (built-in entries are files, not rows),
-- and the configuration of every server created from an entry.
CREATE TABLE mcp_catalog (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL, -- JSON EntrySpec
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE mcp_server_configs (
    server_id   TEXT PRIMARY KEY REFERENCES mcp_servers (id) ON DELETE CASCADE,
    registry    TEXT NOT NULL,                -- catalog entry name
    config      TEXT NOT NULL,                -- JSON, secret fields removed
    secret_keys TEXT NOT NULL DEFAULT '[]',   -- JSON array of config_entries keys holding the secret fields
    updated_at  TEXT NOT NULL
);
CREATE INDEX mcp_server_configs_registry ON mcp_server_configs (registry);
