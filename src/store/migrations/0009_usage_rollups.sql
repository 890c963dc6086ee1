-- Usage rollups (so that a month of 1M calls answers in under a second). Request log
-- rows pre-aggregated per UTC day at three levels of detail, each updated by an UPSERT
-- in the same transaction as the row (logs::store::insert → usage::rollup::record), so
-- they never drift from request_logs. A usage query takes the smallest level holding
-- every column it groups or filters by for the whole days of its window, and raw rows
-- for the partial days at its edges (usage::query).
--
-- NULL dimensions (no user, no workspace, a server since deleted) are stored as '' —
-- primary key columns cannot hold NULLs that compare equal — and read back as NULL.
-- Retention of raw rows never deletes rollups.
--
-- usage_rollups: every dimension (workspace, user, server, kind, name, status).
CREATE TABLE usage_rollups (
    day            TEXT NOT NULL, -- YYYY-MM-DD, UTC
    workspace_id   TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    server_id      TEXT NOT NULL,
    server_name    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    calls          INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    duration_sum   INTEGER NOT NULL, -- ms
    duration_max   INTEGER NOT NULL, -- ms
    request_bytes  INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    first_at       TEXT NOT NULL,
    last_at        TEXT NOT NULL,
    PRIMARY KEY (day, workspace_id, user_id, server_id, server_name, kind, name, status)
) WITHOUT ROWID;

-- usage_rollups_tool: without the user (servers × tools are many, users × tools more).
CREATE TABLE usage_rollups_tool (
    day            TEXT NOT NULL,
    workspace_id   TEXT NOT NULL,
    server_id      TEXT NOT NULL,
    server_name    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    calls          INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    duration_sum   INTEGER NOT NULL,
    duration_max   INTEGER NOT NULL,
    request_bytes  INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    first_at       TEXT NOT NULL,
    last_at        TEXT NOT NULL,
    PRIMARY KEY (day, workspace_id, server_id, server_name, kind, name, status)
) WITHOUT ROWID;

-- usage_rollups_user: without the server and tool.
CREATE TABLE usage_rollups_user (
    day            TEXT NOT NULL,
    workspace_id   TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    calls          INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    duration_sum   INTEGER NOT NULL,
    duration_max   INTEGER NOT NULL,
    request_bytes  INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    first_at       TEXT NOT NULL,
    last_at        TEXT NOT NULL,
    PRIMARY KEY (day, workspace_id, user_id, kind, status)
) WITHOUT ROWID;

INSERT INTO usage_rollups
SELECT substr(timestamp, 1, 10), coalesce(workspace_id, ''), coalesce(user_id, ''),
       coalesce(server_id, ''), coalesce(server_name, ''), kind, name, status,
       count(*), sum(status = 'error'), sum(duration_ms), max(duration_ms),
       sum(request_bytes), sum(response_bytes), min(timestamp), max(timestamp)
FROM request_logs GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO usage_rollups_tool
SELECT day, workspace_id, server_id, server_name, kind, name, status,
       sum(calls), sum(errors), sum(duration_sum), max(duration_max),
       sum(request_bytes), sum(response_bytes), min(first_at), max(last_at)
FROM usage_rollups GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO usage_rollups_user
SELECT day, workspace_id, user_id, kind, status,
       sum(calls), sum(errors), sum(duration_sum), max(duration_max),
       sum(request_bytes), sum(response_bytes), min(first_at), max(last_at)
FROM usage_rollups GROUP BY 1, 2, 3, 4, 5;
