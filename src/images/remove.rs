//! Deleting an image or one of its tags, never from under a service.
//!
//! Docker's rule decides what a delete does: naming one of several tags only removes
//! that tag; naming the last tag or the id removes the image. So a tag shared with
//! other names is blocked only by services that name that exact tag, while removing
//! the image is blocked by any service that uses it. `force` is passed to the engine
//! (remove an id that several repositories name, or one stopped foreign containers
//! use); it never overrides a service's use.

use super::{ImageRef, Usage, not_found_as};
use crate::app::App;
use crate::docker::map_err;
use crate::error::{Error, Result};
use serde::Serialize;

/// What the engine removed.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// Tags that were removed.
    pub untagged: Vec<String>,
    /// Image and layer ids that were deleted.
    pub deleted: Vec<String>,
}

/// Removes `reference` (`repo:tag`, id or id prefix). Errors: `RESOURCE_NOT_FOUND` for an
/// unknown image, `CONFLICT` when a service uses it (the message names them) or the
/// engine refuses (e.g. a running container uses it), `DOCKER_UNAVAILABLE`.
pub async fn remove(app: &App, reference: &ImageRef, force: bool) -> Result<Removed> {
    let image_ref = reference.as_str();
    let docker = app.docker.get().await?;
    let image = docker
        .inspect_image(&reference.engine_path())
        .await
        .map_err(|e| not_found_as("image", image_ref, e))?;
    let id = image.id.unwrap_or_default();
    let tags = image.repo_tags.unwrap_or_default();
    let usage = Usage::load(app).await?;
    let only_untags = !reference.is_id() && tags.len() > 1;
    let users = if only_untags {
        usage.of_tag(image_ref)
    } else {
        usage.of_image(&id, &tags)
    };
    if !users.is_empty() {
        return Err(Error::conflict(format!(
            "image '{image_ref}' is in use by service(s): {}; delete or change them first",
            users.join(", ")
        )));
    }
    let items = docker
        .remove_image(
            &reference.engine_path(),
            Some(bollard::query_parameters::RemoveImageOptions {
                force,
                ..Default::default()
            }),
            None,
        )
        .await
        .map_err(|e| match map_err(e) {
            err if err.code == crate::error::ErrorCode::ResourceNotFound => {
                Error::not_found("image", image_ref)
            }
            err => err,
        })?;
    Ok(Removed {
        untagged: items.iter().filter_map(|i| i.untagged.clone()).collect(),
        deleted: items.iter().filter_map(|i| i.deleted.clone()).collect(),
    })
}
