//! Pulling an image from a registry through the engine (`POST /images/create`), waiting
//! for the pull to finish. On an appliance without a reachable registry this fails
//! with `SERVICE_UNAVAILABLE` and the engine's own words about the registry.

use super::ImageRef;
use crate::app::App;
use crate::docker::map_err;
use crate::error::{Error, ErrorCode, Result};
use futures::StreamExt;
use serde::Serialize;

/// The pulled image.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pulled {
    /// `repo:tag` that was pulled.
    pub reference: String,
    /// Content id of the local image, `sha256:…`.
    pub id: String,
    /// The engine's last status line, e.g. "Status: Downloaded newer image for …".
    pub status: Option<String>,
}

/// What to pull: a repository and a tag, checked against the reference grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    repo: String,
    tag: String,
}

impl Target {
    /// `image` with `tag` (default `latest`; a tag may also be written in `image`, not
    /// both). Errors: `VALIDATION_ERROR` naming `image` or `tag` for a reference outside
    /// the grammar, an id or a digest.
    pub fn parse(image: &str, tag: Option<&str>) -> Result<Target> {
        let parsed = ImageRef::parse("image", image)?;
        if parsed.is_id() || image.contains('@') {
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
                ImageRef::parse("tag", &format!("{image}:{t}"))?;
                (image, t.to_string())
            }
            (None, None) => (image, "latest".to_string()),
        };
        Ok(Target {
            repo: repo.to_string(),
            tag,
        })
    }

    /// `repo:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
}

/// Pulls `target`. Errors: `RESOURCE_NOT_FOUND` when the registry has no such image,
/// `SERVICE_UNAVAILABLE` when the registry cannot be reached, `DOCKER_UNAVAILABLE` when
/// the engine is down.
pub async fn pull(app: &App, target: &Target) -> Result<Pulled> {
    let full = target.reference();
    let docker = app.docker.get().await?;
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(target.repo.clone()),
        tag: Some(target.tag.clone()),
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
    let inspected = docker
        .inspect_image(&crate::docker::path_segment(&full))
        .await
        .map_err(map_err)?;
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
