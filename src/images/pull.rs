//! Pulling an image from a registry through the engine (`POST /images/create`), waiting
//! for the pull to finish. On an appliance without a reachable registry this fails
//! with `SERVICE_UNAVAILABLE` and the engine's own words about the registry.

use super::reference;
use crate::app::App;
use crate::docker::map_err;
use crate::error::{Error, ErrorCode, Result};
use futures::StreamExt;
use serde::Serialize;

/// The pulled image.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    /// `repo:tag` that was pulled.
    pub reference: String,
    /// Content id of the local image, `sha256:…`.
    pub id: String,
    /// The engine's last status line, e.g. "Status: Downloaded newer image for …".
    pub status: Option<String>,
}

/// Pulls `image` (with `tag`, default `latest`; a tag may also be written in `image`,
/// not both). Errors: `VALIDATION_ERROR` for a bad reference, `RESOURCE_NOT_FOUND` when
/// the registry has no such image, `SERVICE_UNAVAILABLE` when the registry cannot be
/// reached, `DOCKER_UNAVAILABLE` when the engine is down.
pub async fn pull(app: &App, image: &str, tag: Option<&str>) -> Result<Pulled> {
    reference::validate("image", image)?;
    if reference::is_image_id(image) || image.contains('@') {
        return Err(Error::field(
            "image",
            "must be a repository name, not an id or digest",
        ));
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let (repo, tag) = match (last.split_once(':'), tag) {
        (Some(_), Some(_)) => {
            return Err(Error::field("tag", "the image already names a tag"));
        }
        (Some((_, t)), None) => (&image[..image.len() - t.len() - 1], t.to_string()),
        (None, Some(t)) => {
            reference::validate("tag", t)?;
            (image, t.to_string())
        }
        (None, None) => (image, "latest".to_string()),
    };
    let full = format!("{repo}:{tag}");
    let docker = app.docker.get().await?;
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(repo.to_string()),
        tag: Some(tag),
        ..Default::default()
    };
    let mut progress = docker.create_image(Some(options), None, None);
    let mut status = None;
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => status = info.status.or(status),
            Err(e) => return Err(pull_failed(&full, e)),
        }
    }
    let inspected = docker.inspect_image(&full).await.map_err(map_err)?;
    Ok(Pulled {
        reference: full,
        id: inspected.id.unwrap_or_default(),
        status,
    })
}

fn pull_failed(reference: &str, e: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code: 404,
            message,
        } => Error::new(
            ErrorCode::ResourceNotFound,
            format!("image '{reference}' not found in the registry: {message}"),
        ),
        B::DockerResponseServerError { message, .. } | B::DockerStreamError { error: message } => {
            Error::new(
                ErrorCode::ServiceUnavailable,
                format!("pulling '{reference}' failed; the registry could not be used: {message}"),
            )
        }
        other => map_err(other),
    }
}
