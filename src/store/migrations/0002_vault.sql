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

-- TOTP second factor: the secret sealed by the vault (set from setup on), and the
-- last accepted time step so a code works once.
ALTER TABLE users ADD COLUMN mfa_secret TEXT;
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER;
