-- Registered remote Kubernetes clusters. `credentials` is a vault-sealed JSON document
-- (token, CA, client certificate and key); `generation` grows at every change of the
-- connection so cached clients know when to rebuild.
CREATE TABLE kube_clusters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    server TEXT NOT NULL,
    auth_kind TEXT NOT NULL,
    context TEXT,
    insecure_skip_tls_verify INTEGER NOT NULL DEFAULT 0,
    credentials TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    version TEXT,
    nodes_count INTEGER,
    nodes TEXT NOT NULL DEFAULT '[]',
    last_error TEXT,
    last_connected TEXT,
    last_checked TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
