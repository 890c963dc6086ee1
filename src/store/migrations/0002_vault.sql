-- The vault. `vault_keys` names the master key the sealed values belong to, with a
-- check value sealed by it; exactly one row has retired_at NULL.
CREATE TABLE vault_keys (
    key_id      TEXT PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);

-- Secrets of the daemon itself (token signing key …), sealed.
CREATE TABLE daemon_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
