-- Configuration entries (/api/v1/config). A secret's value is sealed in sealed_value
-- (value NULL); a plain value is JSON text in value (sealed_value NULL).
CREATE TABLE config_entries (
    key          TEXT PRIMARY KEY,
    value        TEXT,
    sealed_value TEXT,
    scope        TEXT NOT NULL DEFAULT 'global',
    description  TEXT NOT NULL DEFAULT '',
    version      INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    updated_by   TEXT,
    CHECK ((value IS NULL) <> (sealed_value IS NULL))
);
CREATE INDEX config_entries_scope ON config_entries (scope);

CREATE INDEX audit_log_timestamp ON audit_log (timestamp);
