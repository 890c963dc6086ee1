-- Backups: one row per archive in the backups directory, and the schedules
-- that create them.

CREATE TABLE backup_schedules (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    cron_expression TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    options         TEXT NOT NULL, -- JSON: the BackupOptions each run uses
    retention       TEXT,          -- duration such as '7d' / '12h'
    keep_last       INTEGER,
    enabled         INTEGER NOT NULL,
    next_run_at     TEXT,
    last_run_at     TEXT,
    last_status     TEXT,
    last_backup_id  TEXT,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE backups (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL CHECK (type IN ('full', 'incremental')),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    description   TEXT NOT NULL DEFAULT '',
    options       TEXT NOT NULL, -- JSON: what was asked (include_*, compress, encrypt, services)
    file_name     TEXT,          -- archive name inside the backups directory once completed
    size_bytes    INTEGER,
    sha256        TEXT,          -- of the archive file as stored
    progress_pct  INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    manifest      TEXT,          -- JSON copy of the archive's manifest.json
    schedule_id   TEXT REFERENCES backup_schedules (id) ON DELETE SET NULL,
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    completed_at  TEXT
);
CREATE INDEX backups_schedule ON backups (schedule_id, created_at);
