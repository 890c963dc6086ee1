//! `/api/v1/images…`:
//!
//! - `GET /images` — list (filters `reference`, `tag`, `id`; sort `created_at`,
//!   `size_bytes`, `id`), permission `images:read`.
//! - `GET /images/{reference}` — inspect, `images:read`.
//! - `POST /images/load` — body is a `docker save` archive (`Content-Type:
//!   application/x-tar`, `application/octet-stream` or a gzip type), streamed to the
//!   engine and capped by `docker.max_image_upload_bytes` rather than the JSON body
//!   limit; 201 with `{references, image_ids, size_bytes}`, `images:write`.
//! - `POST /images/pull {image, tag?}` — 200 with `{reference, id, status}`, `images:write`.
//! - `DELETE /images/{reference}?force=` — 204, `images:write`.
//!
//! `{reference}` is the rest of the path, slashes included (`/images/mcpd-test/busybox:1`);
//! a percent-encoded reference (`mcpd-test%2Fbusybox%3A1`) works too.

use super::{Image, ImageDetail, ImageRef, load, pull, remove};
use crate::app::{App, AppState};
use crate::audit::{self, Actor, Entry};
use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::http::auth::Can;
use crate::http::auth::perm::{ImagesRead, ImagesWrite};
use crate::http::envelope::{Envelope, Reply, no_content};
use crate::http::extract::{Json, List, Path, Query};
use crate::http::openapi::query;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The images routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(load_archive))
        .routes(routes!(pull_image))
        .routes(routes!(inspect, delete));
    document_reference(router)
}

/// The route of one image: `{*reference}` is the rest of the path for axum.
const REFERENCE_ROUTE: &str = "/images/{*reference}";
/// [`REFERENCE_ROUTE`] as the document shows it: one `reference` path parameter (sent
/// as is, or percent-encoded).
const REFERENCE_PATH: &str = "/images/{reference}";

/// Renames [`REFERENCE_ROUTE`] to [`REFERENCE_PATH`] in `router`'s document (the route
/// itself stays the wildcard).
fn document_reference(mut router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let paths = &mut router.get_openapi_mut().paths.paths;
    if let Some(item) = paths.shift_remove(REFERENCE_ROUTE) {
        paths.insert(REFERENCE_PATH.to_owned(), item);
    }
    router
}

/// Query of `GET /images`: `page`, `limit`, `sort`, `order` and the filters `reference`,
/// `tag`, `id`. Images come from the engine, so the list is filtered and sorted in memory.
pub struct ImageFilters;

impl utoipa::IntoParams for ImageFilters {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = crate::http::openapi::paging_params();
        params.push(query(
            "sort",
            "Field to sort by (default `created_at`); ties by id. Each filter below is \
             `<field>=<value>` or `<field>[op]=<value>` with op `eq`, `ne`, `in`, `nin` \
             (comma-separated) or `regex`; `eq`/`in`/`regex` match when any of an image's \
             names matches, `ne`/`nin` when none does.",
            one_of(&["created_at", "size_bytes", "id"]),
        ));
        params.push(query(
            "order",
            "Sort direction (default `desc`).",
            one_of(&["asc", "desc"]),
        ));
        for (name, description) in [
            (
                "reference",
                "Filter: a `repo:tag` name (`busybox` means `busybox:latest`).",
            ),
            ("tag", "Filter: a tag."),
            ("id", "Filter: the image id (`sha256:…`)."),
        ] {
            params.push(query(
                name,
                description,
                ObjectBuilder::new().schema_type(Type::String).build(),
            ));
        }
        params
    }
}

/// A string that is one of `values`.
fn one_of(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Media types accepted for an image archive upload.
const ARCHIVE_TYPES: &[&str] = &[
    "application/x-tar",
    "application/tar",
    "application/octet-stream",
    "application/gzip",
    "application/x-gzip",
];

/// List local images (tagged or dangling; intermediate layers left out).
/// Permission: `images:read`.
#[utoipa::path(get, path = "/images", tag = "images", params(ImageFilters),
    responses((status = 200, description = "One page of images", body = Envelope<Vec<Image>>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn list(
    State(app): State<AppState>,
    _: Can<ImagesRead>,
    List(q): List,
) -> Result<Reply<Vec<Image>>> {
    Ok(Reply::page(super::list(&app, &q).await?))
}

/// One image with what its config adds. Permission: `images:read`.
#[utoipa::path(get, path = "/images/{*reference}", tag = "images", params(("reference" = String, Path, description = "Image reference (`repo:tag`, `repo@digest`), id (`sha256:…`) or id prefix; slashes as is or percent-encoded")),
    responses((status = 200, description = "The image", body = Envelope<ImageDetail>),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn inspect(
    State(app): State<AppState>,
    _: Can<ImagesRead>,
    Path(reference): Path<String>,
) -> Result<Reply<ImageDetail>> {
    let reference = ImageRef::parse("reference", &reference)?;
    Ok(Reply::ok(super::inspect(&app, &reference).await?))
}

/// Load the images of a `docker save` archive (tar, optionally gzip, bzip2 or xz
/// compressed), streamed to the engine. Permission: `images:write`.
#[utoipa::path(post, path = "/images/load", tag = "images",
    request_body(description = "A `docker save` archive; not subject to `server.max_body_bytes`, cut off at `docker.max_image_upload_bytes`",
        content((String = "application/x-tar"), (String = "application/tar"),
            (String = "application/octet-stream"), (String = "application/gzip"),
            (String = "application/x-gzip"))),
    responses((status = 201, description = "What was loaded", body = Envelope<load::Loaded>),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over `docker.max_image_upload_bytes`"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn load_archive(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<load::Loaded>> {
    let media = crate::http::extract::media_type(&headers);
    if !media.as_deref().is_some_and(|m| ARCHIVE_TYPES.contains(&m)) {
        return Err(Error::validation(
            "expected Content-Type: application/x-tar (the output of `docker save`)",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let result = load::load(&app, body.into_data_stream(), declared).await;
    let details = match &result {
        Ok(l) => {
            json!({"references": l.references, "image_ids": l.image_ids, "size_bytes": l.size_bytes})
        }
        Err(e) => json!({"error_code": e.code}),
    };
    audit_image(&app, &who, "images.load", None, result.is_ok(), details).await;
    Ok(Reply::created(result?))
}

/// `POST /images/pull` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PullRequest {
    /// A repository name by the reference grammar, optionally with `:tag`; not an id or
    /// digest.
    image: String,
    /// Default `latest`; not together with a tag in `image`.
    tag: Option<String>,
}

/// Pull an image from a registry, answering once the pull finished.
/// Permission: `images:write`.
#[utoipa::path(post, path = "/images/pull", tag = "images", request_body = PullRequest,
    responses((status = 200, description = "The pulled image", body = Envelope<pull::Pulled>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: the registry has no such image"),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: the registry cannot be reached; `DOCKER_UNAVAILABLE`")))]
async fn pull_image(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    Json(req): Json<PullRequest>,
) -> Result<Reply<pull::Pulled>> {
    let wanted = pull::Target::parse(&req.image, req.tag.as_deref())?;
    let result = pull::pull(&app, &wanted).await;
    let target = match &result {
        Ok(p) => p.reference.clone(),
        Err(_) => wanted.reference(),
    };
    let details = match &result {
        Ok(p) => json!({"id": p.id}),
        Err(e) => json!({"error_code": e.code}),
    };
    let ok = result.is_ok();
    audit_image(&app, &who, "images.pull", Some(&target), ok, details).await;
    Ok(Reply::ok(result?))
}

/// Query of `DELETE /images/{reference}`; unknown parameters are a 400.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// `true` or `false` (default false), passed to the engine: remove an id that several
    /// repositories name, or one that stopped foreign containers use. It never overrides
    /// a service's use.
    #[param(value_type = Option<String>, pattern = "^(true|false)$")]
    force: Option<String>,
}

/// Remove an image or one of its tags (Docker's rule: naming one of several tags removes
/// only that tag). Permission: `images:write`.
#[utoipa::path(delete, path = "/images/{*reference}", tag = "images", params(("reference" = String, Path, description = "Image reference (`repo:tag`, `repo@digest`), id (`sha256:…`) or id prefix; slashes as is or percent-encoded"), DeleteQuery),
    responses((status = 204, description = "Removed"),
        (status = 409, description = "`CONFLICT`: a service uses it (named in the message), or the engine refuses"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn delete(
    State(app): State<AppState>,
    Can(who, _): Can<ImagesWrite>,
    Path(reference): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Response> {
    let force = match q.force.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::field("force", "must be true or false")),
    };
    let reference = ImageRef::parse("reference", &reference)?;
    let result = remove::remove(&app, &reference, force).await;
    let details = match &result {
        Ok(r) => json!({"untagged": r.untagged, "deleted": r.deleted, "force": force}),
        Err(e) => json!({"error_code": e.code, "force": force}),
    };
    let (target, ok) = (Some(reference.as_str()), result.is_ok());
    audit_image(&app, &who, "images.delete", target, ok, details).await;
    result?;
    Ok(no_content())
}

/// Audits an image change (there is no database row to share a transaction with).
async fn audit_image(
    app: &App,
    who: &Principal,
    action: &'static str,
    target: Option<&str>,
    success: bool,
    details: serde_json::Value,
) {
    let entry = Entry::new(action)
        .on_any("image", target)
        .details(details)
        .succeeded(success);
    audit::record_alone(&app.store, Actor::from(who), entry).await;
}
