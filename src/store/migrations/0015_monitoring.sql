-- Time series of services and MCP servers (GET /monitoring/metrics), sampled every
-- metrics.sample_interval_s and kept at four resolutions: the samples themselves
-- (resolution = the sampling interval), 60 s, 3600 s and 86400 s buckets updated as
-- samples arrive. Gauges (cpu, memory, latency_p95) keep the mean of their samples, counts
-- (calls, errors) the sum.
CREATE TABLE monitoring_points (
    resource_id TEXT NOT NULL,    -- svc_… or mcp_…
    metric      TEXT NOT NULL,    -- cpu | memory | calls | errors | latency_p95
    resolution  INTEGER NOT NULL, -- seconds per point
    bucket      INTEGER NOT NULL, -- Unix seconds at the start of the point
    value       REAL NOT NULL,
    samples     INTEGER NOT NULL, -- samples folded into the point
    PRIMARY KEY (resource_id, metric, resolution, bucket)
) WITHOUT ROWID;

CREATE INDEX monitoring_points_age ON monitoring_points (resolution, bucket);
