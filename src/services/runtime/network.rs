//! Networks of services: the managed bridge network every container joins, and the
//! extra networks a spec names (which must exist).

use super::config::LABEL_MANAGED;
use crate::docker::{map_err, path_segment};
use crate::error::{Error, ErrorCode, Result};
use bollard::Docker;
use bollard::models::NetworkCreateRequest;
use std::collections::HashMap;

/// Every extra network in `networks` must exist: otherwise a `VALIDATION_ERROR`.
pub async fn check_networks(docker: &Docker, networks: &[String]) -> Result<()> {
    for (i, n) in networks.iter().enumerate() {
        if let Err(e) = docker
            .inspect_network(
                &path_segment(n),
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            let e = map_err(e);
            return Err(if e.code == ErrorCode::ResourceNotFound {
                Error::field(format!("networks[{i}]"), format!("network '{n}' not found"))
            } else {
                e
            });
        }
    }
    Ok(())
}

/// Creates the managed bridge network `name` (labelled `io.mcpd.managed=true`) when it
/// does not exist yet. Calls are serialised: the engine (API 1.41 without
/// `CheckDuplicate`) would otherwise create two networks of the same name when two
/// requests race, and a name matching two networks is ambiguous for every later call.
pub async fn ensure_network(docker: &Docker, name: &str) -> Result<()> {
    static ENSURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = ENSURING.lock().await;
    let mut filters = HashMap::new();
    filters.insert("name".to_string(), vec![name.to_string()]);
    let existing = docker
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(map_err)?;
    // The name filter matches substrings; only an exact name counts.
    if existing.iter().any(|n| n.name.as_deref() == Some(name)) {
        return Ok(());
    }
    let mut labels = HashMap::new();
    labels.insert(LABEL_MANAGED.to_string(), "true".to_string());
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .map_err(|e| network_create_failed(name, e))?;
    tracing::info!(network = %name, "created the managed Docker network");
    Ok(())
}

/// A network that cannot be created is the engine being unable to serve, not a missing
/// or conflicting resource: the engine answers "could not find an available,
/// non-overlapping IPv4 address pool" with 404, which [`map_err`] would pass on as
/// `RESOURCE_NOT_FOUND`. → 503 `DOCKER_UNAVAILABLE` with the engine's reason; connection
/// failures keep their usual mapping.
fn network_create_failed(name: &str, e: bollard::errors::Error) -> Error {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => Error::new(
            ErrorCode::DockerUnavailable,
            format!("Docker could not create the managed network '{name}': {message}"),
        ),
        other => map_err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_the_engine_cannot_create_is_unavailable_not_missing() {
        // What Docker 20.10 answered when its address pools were used up.
        let e = network_create_failed(
            "mcpd",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message: "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
            },
        );
        assert_eq!(e.code, ErrorCode::DockerUnavailable);
        assert!(e.message.contains("address pool") && e.message.contains("'mcpd'"));
    }
}
