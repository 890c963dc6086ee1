-- The workspace a call was made under (usage by workspace, docs/api.md §15): the caller's
-- workspace that granted the use when the call ran (workspaces::access::attribute).
-- NULL for calls before this column, by the daemon itself, or by an admin whom no
-- workspace grants the server. Kept as an id, not a foreign key: the log outlives
-- the workspace.
ALTER TABLE request_logs ADD COLUMN workspace_id TEXT;
CREATE INDEX request_logs_workspace ON request_logs (workspace_id, timestamp);
