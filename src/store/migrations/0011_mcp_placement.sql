-- MCP servers placed on a registered Kubernetes cluster: the cluster, the namespace and
-- the name of the Deployment mcpd made there (all NULL for local and remote servers).
ALTER TABLE mcp_servers ADD COLUMN cluster_id TEXT REFERENCES kube_clusters (id);
ALTER TABLE mcp_servers ADD COLUMN namespace TEXT;
ALTER TABLE mcp_servers ADD COLUMN workload TEXT;
