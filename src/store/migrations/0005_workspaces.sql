-- The appliance's one organization and its workspaces (docs/api.md §16). A
-- workspace grants its members access to MCP servers. The built-in workspace
-- "default" has every user as a member and every MCP server granted (all_members,
-- all_servers), so access is open until an admin narrows it.
CREATE TABLE organization (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO organization (id, name, created_at, updated_at)
VALUES (1, 'mcpd', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    all_members INTEGER NOT NULL DEFAULT 0,
    all_servers INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO workspaces (id, name, description, all_members, all_servers, created_at, updated_at)
VALUES ('wks_default', 'default', 'Every user, every MCP server', 1, 1,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
    added_at     TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

-- A grant of one MCP server to a workspace (docs/api.md §3 "Grant (workspace access)").
-- allowed_tools / allowed_resources: JSON arrays, NULL = everything the server offers.
CREATE TABLE workspace_access (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    server_id         TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name              TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    permission_level  TEXT NOT NULL CHECK (permission_level IN ('read', 'execute')),
    allowed_tools     TEXT,
    allowed_resources TEXT,
    is_active         INTEGER NOT NULL DEFAULT 1,
    created_by        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (workspace_id, server_id)
);
