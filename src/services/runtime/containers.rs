//! The per-container calls for services: checking the image, creating (with its extra
//! networks), starting, stopping and removing a container, and how the engine's refusals
//! map to errors.

use super::config::{ResolvedEnv, container_config, container_name};
use crate::docker::{map_err, path_segment};
use crate::error::{Error, ErrorCode, Result};
use crate::services::model::ServiceSpec;
use bollard::Docker;
use bollard::models::{EndpointSettings, NetworkConnectRequest};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, StopContainerOptions,
};

/// `image` must exist in the local engine (no registry is assumed): otherwise a
/// `VALIDATION_ERROR` on field `image`.
pub async fn check_image(docker: &Docker, image: &str) -> Result<()> {
    match docker.inspect_image(&path_segment(image)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = map_err(e);
            if e.code == ErrorCode::ResourceNotFound {
                Err(Error::field(
                    "image",
                    format!("image '{image}' is not present locally (load it first)"),
                ))
            } else {
                Err(e)
            }
        }
    }
}

/// Creates replica `n` (not started); connects it to the extra networks. On failure
/// the half-made container is removed again.
pub async fn create_container(
    docker: &Docker,
    id: &str,
    spec: &ServiceSpec,
    env: &ResolvedEnv,
    replica: u32,
    network: &str,
) -> Result<String> {
    let name = container_name(&spec.name, replica);
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            container_config(id, spec, env, replica, network),
        )
        .await
        .map_err(|e| container_error(e, "create"))?;
    for n in &spec.networks {
        if n == network {
            continue;
        }
        let r = docker
            .connect_network(
                &path_segment(n),
                NetworkConnectRequest {
                    container: created.id.clone(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(vec![spec.name.clone()]),
                        ..Default::default()
                    }),
                },
            )
            .await;
        if let Err(e) = r {
            remove_container(docker, &created.id).await.ok();
            return Err(container_error(e, "connect"));
        }
    }
    Ok(created.id)
}

/// Errors of creating or starting a container are mostly caused by the spec (a port
/// already bound, a command that does not exist): Docker's message names the cause and
/// is returned as a `VALIDATION_ERROR`; connection trouble stays `DOCKER_UNAVAILABLE`.
fn container_error(e: bollard::errors::Error, what: &str) -> Error {
    if let bollard::errors::Error::DockerResponseServerError {
        status_code,
        message,
    } = &e
        && *status_code != 404
    {
        let field = if message.contains("port is already allocated")
            || message.contains("address already in use")
        {
            Some("ports")
        } else if message.contains("executable file not found")
            || message.contains("no such file or directory")
        {
            Some("command")
        } else {
            None
        };
        let msg = format!("container failed to {what}: {message}");
        if *status_code == 409 {
            // e.g. a container of that name exists but belongs to no service of ours.
            return Error::conflict(msg);
        }
        return match field {
            Some(f) => Error::validation(msg).with_detail(f, message.clone()),
            None => Error::validation(msg),
        };
    }
    map_err(e)
}

/// Starts a container (already running is fine).
pub async fn start_container(docker: &Docker, id: &str) -> Result<()> {
    docker
        .start_container(
            &path_segment(id),
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(|e| container_error(e, "start"))
}

/// Stops a container within `timeout_s` seconds (SIGTERM, then SIGKILL); a container
/// already stopped or gone is fine.
pub async fn stop_container(docker: &Docker, id: &str, timeout_s: u32) -> Result<()> {
    match docker
        .stop_container(
            &path_segment(id),
            Some(StopContainerOptions {
                t: Some(timeout_s as i32),
                signal: None,
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => match map_err(e) {
            e if e.code == ErrorCode::ResourceNotFound => Ok(()),
            e => Err(e),
        },
    }
}

/// Force-removes a container and its anonymous volumes; a container already gone is fine.
pub async fn remove_container(docker: &Docker, id: &str) -> Result<()> {
    match docker
        .remove_container(
            &path_segment(id),
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => match map_err(e) {
            e if e.code == ErrorCode::ResourceNotFound => Ok(()),
            // "removal already in progress"
            e if e.code == ErrorCode::Conflict => Ok(()),
            e => Err(e),
        },
    }
}
