-- mcpd schema v1. Times are RFC 3339 UTC text with milliseconds (sortable).

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name           TEXT NOT NULL DEFAULT '',
    password_hash       TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    mfa_enabled         INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    last_login_at       TEXT,
    password_changed_at TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- A login session: the family of refresh tokens that one login started. Access tokens
-- carry the session id, so revoking the session stops them at once.
CREATE TABLE auth_sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    last_used_at   TEXT,
    revoked_at     TEXT,
    revoked_reason TEXT,
    client_addr    TEXT,
    user_agent     TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens, stored only as SHA-256. `used_at` set = rotated; presenting a used
-- token again revokes its session (reuse detection).
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    key_hash     TEXT NOT NULL,
    scopes       TEXT NOT NULL, -- JSON array of permission strings
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT,
    UNIQUE (user_id, name)
);

-- A service: desired state (spec JSON) plus the status last observed from Docker.
CREATE TABLE services (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    image         TEXT NOT NULL,
    spec          TEXT NOT NULL, -- JSON: command, env, ports, volumes, networks, labels, resources, health_check, replicas, restart_policy
    desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped')),
    status        TEXT NOT NULL,
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE mcp_servers (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    transport          TEXT NOT NULL CHECK (transport IN ('stdio', 'streamable_http')),
    backend_type       TEXT NOT NULL CHECK (backend_type IN ('container', 'remote')),
    service_id         TEXT REFERENCES services (id) ON DELETE SET NULL, -- managed servers; deleted with it
    url                TEXT,
    headers            TEXT, -- sealed by the vault: JSON object of header values (secrets, never returned)
    header_names       TEXT, -- JSON array of the header names (shown)
    port               INTEGER,
    path               TEXT,
    status             TEXT NOT NULL,
    server_info        TEXT, -- JSON {name, version, protocol_version}
    capabilities       TEXT, -- JSON
    tools              TEXT, -- JSON array, cached from tools/list
    resources          TEXT,
    resource_templates TEXT,
    prompts            TEXT,
    discovered_at      TEXT,
    created_by         TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE request_logs (
    id             TEXT PRIMARY KEY,
    timestamp      TEXT NOT NULL,
    user_id        TEXT,
    api_key_id     TEXT,
    server_id      TEXT,
    server_name    TEXT,
    kind           TEXT NOT NULL CHECK (kind IN ('tool', 'resource', 'prompt')),
    name           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('success', 'error')),
    error_code     TEXT,
    error_message  TEXT,
    duration_ms    INTEGER NOT NULL,
    request_bytes  INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    arguments      TEXT, -- JSON, capped and redacted
    result         TEXT, -- JSON, capped
    truncated      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX request_logs_time ON request_logs (timestamp);
CREATE INDEX request_logs_server ON request_logs (server_id, timestamp);
CREATE INDEX request_logs_user ON request_logs (user_id, timestamp);
CREATE INDEX request_logs_name ON request_logs (server_id, name, timestamp);

CREATE TABLE audit_log (
    id               TEXT PRIMARY KEY,
    timestamp        TEXT NOT NULL,
    actor_user_id    TEXT,
    actor_api_key_id TEXT,
    action           TEXT NOT NULL, -- e.g. services.create
    target_type      TEXT,
    target_id        TEXT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    client_addr      TEXT,
    request_id       TEXT,
    details          TEXT -- JSON, never secrets
);
CREATE INDEX audit_log_time ON audit_log (timestamp);
