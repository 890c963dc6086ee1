//! `GET /api/v1/resources` (`system:read`; each kind also needs its own read
//! permission) and `POST /api/v1/resources` (`services:write`).

use super::{Filters, Item, NewResource};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::auth::{
    Can,
    perm::{ServicesWrite, SystemRead},
};
use crate::http::envelope::Reply;
use crate::http::extract::{Json, Query};
use crate::store::list::Page;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// Largest page.
const MAX_PAGE: u32 = 500;

/// The routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/resources", get(list).post(create))
}

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

async fn create(
    State(app): State<AppState>,
    Can(who, _): Can<ServicesWrite>,
    Json(r): Json<NewResource>,
) -> Result<Reply<crate::services::Service>> {
    Ok(Reply::created(super::create(&app, &who, r).await?))
}
