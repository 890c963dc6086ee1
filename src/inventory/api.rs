//! `GET /api/v1/resources` (`system:read`; each kind also needs its own read
//! permission) and `POST /api/v1/resources` (`services:write`).

use super::{Filters, Item, NewResource};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::auth::{
    Can,
    perm::{ServicesWrite, SystemRead},
};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{Json, Query};
use crate::services::Service;
use crate::store::list::Page;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest page.
const MAX_PAGE: u32 = 500;

/// The routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// One inventory of the services, containers, MCP servers, clusters and network devices
/// the caller may read (kinds it may not read are left out). Permission: `system:read`.
#[utoipa::path(get, path = "/resources", tag = "inventory", params(Filters),
    responses((status = 200, description = "One page of items, sorted by kind then name", body = Envelope<Vec<Item>>)))]
async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<SystemRead>,
    Query(f): Query<Filters>,
) -> Result<Reply<Vec<Item>>> {
    let limit = f.size.or(f.limit).unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE || f.page == Some(0) {
        return Err(
            Error::validation(format!("size must be 1 to {MAX_PAGE} and page at least 1"))
                .with_detail("size", "1 to 500"),
        );
    }
    let page = f.page.unwrap_or(1);
    let (items, _engine) = super::list(&app, &who, &f).await?;
    let total = items.len() as u64;
    let start = ((page - 1) as usize).saturating_mul(limit as usize);
    let data: Vec<Item> = items.into_iter().skip(start).take(limit as usize).collect();
    Ok(Reply::page(Page {
        items: data,
        total,
        page,
        limit,
    }))
}

/// Create a service from a size template of `[resources]` (started at once unless
/// `start` is false). Permission: `services:write`.
#[utoipa::path(post, path = "/resources", tag = "inventory", request_body = NewResource,
    responses((status = 201, description = "The service", body = Envelope<Service>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: name taken; `CONFLICT`: a container of that name exists outside mcpd"),
        (status = 503, description = "`DOCKER_UNAVAILABLE`")))]
async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Json(r): Json<NewResource>,
) -> Result<Reply<Service>> {
    Ok(Reply::created(super::create(&app, &who, r).await?))
}
