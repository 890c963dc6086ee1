//! `GET /logs/requests` and `GET /logs/requests/{id}`. Needs `logs:read`; callers
//! without `logs:admin` see only their own rows.

use super::{RequestLog, RequestLogDetail, store};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::rbac::Domain;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::{List, Path};
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The request log routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
}

crate::list_params!(
    /// Query of `GET /logs/requests`.
    RequestLogFilters,
    store::LIST_SPEC
);

/// Whose rows the caller may read.
fn visibility(who: &Principal) -> store::Visibility {
    who.own_rows_unless_admin(Domain::Logs)
}

/// MCP executions, newest first by default (the caller's own without `logs:admin`).
/// Permission: `logs:read`.
#[utoipa::path(get, path = "/logs/requests", tag = "request-logs",
    params(RequestLogFilters,
        ("server" = Option<String>, Query, description = "MCP server id or name, as logged"),
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339; rows at or after this time (inclusive)"),
        ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339; rows at or before this time (inclusive)")),
    responses((status = 200, description = "One page of request logs (without arguments and result)",
        body = Envelope<Vec<RequestLog>>)))]
async fn list(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Vec<RequestLog>>> {
    let only = visibility(&who);
    let page = app.store.read(move |c| store::list(c, q, only)).await?;
    Ok(Reply::page(page))
}

/// One MCP execution with its capped, redacted arguments and result (the caller's own
/// without `logs:admin`). Permission: `logs:read`.
#[utoipa::path(get, path = "/logs/requests/{id}", tag = "request-logs",
    params(("id" = String, Path, description = "Request log id (`rlog_…`)")),
    responses((status = 200, description = "The row with arguments and result", body = Envelope<RequestLogDetail>)))]
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
