-- Resource mappings (docs/api.md §17 "Resource mappings"): an MCP resource (server + URI, or URI
-- template) published to a workspace under an alias. `state` is what the last sync saw:
-- present, missing (the server no longer lists it) or unknown (never synced).
CREATE TABLE resource_mappings (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    server_id      TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    uri            TEXT,
    uri_template   TEXT,
    alias          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    component_type TEXT,
    component_id   TEXT,
    mapping_config TEXT NOT NULL DEFAULT '{}',
    is_active      INTEGER NOT NULL DEFAULT 1,
    state          TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('present', 'missing', 'unknown')),
    last_synced    TEXT,
    created_by     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (workspace_id, alias),
    CHECK ((uri IS NULL) <> (uri_template IS NULL))
);
