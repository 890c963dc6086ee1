//! Local Docker images: list, inspect, load from an uploaded `docker save` archive
//! (streamed to the engine), pull, and delete — refusing to delete what a service uses.

pub mod api;
mod filter;
pub mod load;
pub mod pull;
pub mod reference;
pub mod remove;
pub mod usage;

use crate::app::App;
use crate::docker::map_err;
use crate::error::{Error, ErrorCode, Result};
use crate::store::list::{ListQuery, Page};
use serde::Serialize;
use std::collections::HashMap;

pub use reference::ImageRef;
pub use usage::Usage;

/// One local image as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Image {
    /// Content id, `sha256:<64 hex>`.
    pub id: String,
    /// `repo:tag` names, e.g. `["mcpd-test/busybox:1"]`; empty for a dangling image.
    pub repo_tags: Vec<String>,
    /// `repo@sha256:…` digests of images that came from a registry.
    pub repo_digests: Vec<String>,
    /// Size on disk, in bytes.
    pub size_bytes: u64,
    /// When the image was built, RFC 3339 UTC.
    pub created_at: Option<String>,
    /// Image labels, label → value.
    pub labels: HashMap<String, String>,
    /// Names of the services that use this image (by reference or by a container).
    pub in_use_by: Vec<String>,
}

/// [`Image`] plus what `GET /images/{ref}` adds from the image's config.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageDetail {
    /// Every [`Image`] field, flattened.
    #[serde(flatten)]
    pub image: Image,
    /// CPU architecture, e.g. `amd64`; `null` when the engine does not say.
    pub architecture: Option<String>,
    /// Operating system, e.g. `linux`; `null` when the engine does not say.
    pub os: Option<String>,
    /// The image's ENTRYPOINT; `[]` when none.
    pub entrypoint: Vec<String>,
    /// The image's CMD; `[]` when none.
    pub cmd: Vec<String>,
    /// The image's WORKDIR; `null` when unset.
    pub working_dir: Option<String>,
    /// Ports the image declares, e.g. `["3001/tcp"]`.
    pub exposed_ports: Vec<String>,
    /// Whether the image defines its own HEALTHCHECK.
    pub has_healthcheck: bool,
}

/// Every local image (tagged or not, intermediate layers excluded), filtered, sorted
/// and paged by `query`. Filters: `reference` (any of the image's `repo:tag` names;
/// `busybox` means `busybox:latest`), `tag`, `id`; ops `eq ne in nin regex`. Sort by
/// `created_at` (default, newest first), `size_bytes` or `id`.
pub async fn list(app: &App, query: &ListQuery) -> Result<Page<Image>> {
    let filters = filter::ImageFilter::parse(query)?;
    let docker = app.docker.get().await?;
    let summaries = docker
        .list_images(Some(bollard::query_parameters::ListImagesOptions {
            all: false,
            ..Default::default()
        }))
        .await
        .map_err(map_err)?;
    let usage = Usage::load(app).await?;
    let mut images: Vec<Image> = summaries
        .into_iter()
        .map(|s| {
            let in_use_by = usage.of_image(&s.id, &s.repo_tags);
            Image {
                created_at: unix_to_rfc3339(s.created),
                id: s.id,
                repo_tags: s.repo_tags,
                repo_digests: s.repo_digests,
                size_bytes: s.size.max(0) as u64,
                labels: s.labels,
                in_use_by,
            }
        })
        .filter(|i| filters.matches(i))
        .collect();
    filters.sort(&mut images);
    Ok(Page::from_vec(images, query))
}

/// One image by reference (`repo:tag`, id or id prefix); `RESOURCE_NOT_FOUND` when the
/// engine has no such image.
pub async fn inspect(app: &App, reference: &ImageRef) -> Result<ImageDetail> {
    let docker = app.docker.get().await?;
    let i = docker
        .inspect_image(&reference.engine_path())
        .await
        .map_err(|e| not_found_as("image", reference.as_str(), e))?;
    let id = i.id.unwrap_or_default();
    let repo_tags = i.repo_tags.unwrap_or_default();
    let usage = Usage::load(app).await?;
    let in_use_by = usage.of_image(&id, &repo_tags);
    let config = i.config.unwrap_or_default();
    Ok(ImageDetail {
        image: Image {
            created_at: i.created.as_deref().and_then(normalize_time),
            id,
            repo_tags,
            repo_digests: i.repo_digests.unwrap_or_default(),
            size_bytes: i.size.unwrap_or(0).max(0) as u64,
            labels: config.labels.clone().unwrap_or_default(),
            in_use_by,
        },
        architecture: i.architecture,
        os: i.os,
        entrypoint: config.entrypoint.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        working_dir: config.working_dir.filter(|w| !w.is_empty()),
        exposed_ports: config.exposed_ports.unwrap_or_default(),
        has_healthcheck: config
            .healthcheck
            .and_then(|h| h.test)
            .is_some_and(|t| t.first().is_some_and(|k| k != "NONE")),
    })
}

/// Maps an engine error, turning the engine's 404 into "`kind` '`id`' not found".
pub(crate) fn not_found_as(kind: &str, id: &str, e: bollard::errors::Error) -> Error {
    let err = map_err(e);
    if err.code == ErrorCode::ResourceNotFound {
        Error::not_found(kind, id)
    } else {
        err
    }
}

fn unix_to_rfc3339(secs: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .map(crate::time::format_rfc3339)
}

/// Docker's times carry nanoseconds; the API's are RFC 3339 UTC with milliseconds.
fn normalize_time(s: &str) -> Option<String> {
    crate::time::parse_rfc3339(s).map(crate::time::format_rfc3339)
}
