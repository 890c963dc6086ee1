//! `GET /logs/requests` and `GET /logs/requests/{id}`. Needs `logs:read`; callers
//! without `logs:admin` see only their own rows.

use super::{RequestLog, RequestLogDetail, store};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::rbac::Domain;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm};
use crate::http::envelope::Reply;
use crate::http::extract::{List, Path};
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// The request log routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/logs/requests", get(list))
        .route("/logs/requests/{id}", get(show))
}

/// Whose rows the caller may read.
fn visibility(who: &Principal) -> store::Visibility {
    who.own_rows_unless_admin(Domain::Logs)
}

async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Vec<RequestLog>>> {
    let only = visibility(&who);
    let page = app.store.read(move |c| store::list(c, q, only)).await?;
    Ok(Reply::page(page))
}

async fn show(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    Path(id): Path<String>,
) -> Result<Reply<RequestLogDetail>> {
    let only = visibility(&who);
    let key = id.clone();
    let row = app.store.read(move |c| store::get(c, &key, only)).await?;
    row.map(Reply::ok)
        .ok_or_else(|| Error::not_found("request log", &id))
}
