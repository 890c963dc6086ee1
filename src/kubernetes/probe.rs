//! Checking a cluster: `GET /version` and the node list, each within the request
//! timeout. The result is what `status`, `version`, `nodes_count` and `nodes` show.

use super::errors::probe_problem;
use super::model::{ClusterStatus, NodeSummary, Probe};
use crate::app::App;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use std::time::Duration;

/// Checks the cluster behind `client`; never fails (a failure is the result).
pub async fn check(app: &App, client: &kube::Client) -> Probe {
    let limit = Duration::from_secs(app.settings.kubernetes.request_timeout_s);
    let work = async {
        let version = client.apiserver_version().await?;
        let nodes = Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await?;
        Ok::<_, kube::Error>((version.git_version, nodes.items))
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok((version, nodes))) => Probe {
            status: ClusterStatus::Connected,
            version: Some(version),
            nodes: nodes.iter().map(summary).collect(),
            error: None,
        },
        Ok(Err(e)) => {
            let (status, error) = probe_problem(&e);
            tracing::debug!(error = %e, "cluster check failed");
            failed(status, error)
        }
        Err(_) => failed(
            ClusterStatus::Unreachable,
            format!("no answer within {} s", limit.as_secs()),
        ),
    }
}

fn failed(status: ClusterStatus, error: String) -> Probe {
    Probe {
        status,
        version: None,
        nodes: Vec::new(),
        error: Some(error),
    }
}

/// A node's name, Ready condition, roles (from `node-role.kubernetes.io/<role>`
/// labels), kubelet version and capacity.
fn summary(n: &Node) -> NodeSummary {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| match c.status.as_str() {
            "True" => "Ready",
            "False" => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    let roles = n
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .map(str::to_string)
        .collect();
    let capacity = |key: &str| {
        n.status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get(key))
            .map(|q| q.0.clone())
            .unwrap_or_default()
    };
    NodeSummary {
        name: n.metadata.name.clone().unwrap_or_default(),
        status: ready.to_string(),
        roles,
        version: n
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_default(),
        cpu: capacity("cpu"),
        memory: capacity("memory"),
    }
}
