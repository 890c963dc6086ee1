//! `GET /api/v1/usage` and `GET /api/v1/usage/summary`. Need `logs:read`; callers
//! without `logs:admin` see only their own calls.

use super::{Summary, UsageRow};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::rbac::Domain;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::List;
use crate::request_log::Kind;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `GET /usage` and `GET /usage/summary` (permission `logs:read`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(grouped))
        .routes(routes!(summary))
}

/// `period` of a usage window: the 1, 7 or 30 days before `to`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Period {
    /// One day.
    Day,
    /// Seven days.
    Week,
    /// Thirty days.
    Month,
}

/// The window and filters both usage routes take (plain `=` form); any other filter-style
/// parameter is a 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// RFC 3339, inclusive; not together with `period`. Must be before `to`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// The 1, 7 or 30 days before `to`; default (neither `from` nor `period`): 30 days.
    #[param(inline)]
    pub period: Option<Period>,
    /// MCP server id or name.
    pub server: Option<String>,
    /// Another name for `server` (not both).
    pub connection: Option<String>,
    /// Only calls of this kind.
    #[param(inline)]
    pub kind: Option<Kind>,
    /// Workspace id or name (a name must exist; an id of a deleted workspace is accepted).
    pub workspace: Option<String>,
}

/// `group_by` of `GET /usage`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupBy {
    /// Comma-separated dimensions, default `server`: `server`, `tool` (alias `name`), `user`,
    /// `workspace`, `kind`, `status`, `day`.
    #[param(example = "server,day")]
    pub group_by: Option<String>,
}

fn only_user(who: &Principal) -> Option<String> {
    who.own_rows_unless_admin(Domain::Logs)
}

/// MCP executions grouped by `group_by`, most calls first (the caller's own without
/// `logs:admin`). Permission: `logs:read`.
#[utoipa::path(get, path = "/usage", tag = "usage", params(GroupBy, WindowParams, crate::http::openapi::Paging),
    responses((status = 200, description = "One page of usage rows", body = Envelope<Vec<UsageRow>>)))]
async fn grouped(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Vec<UsageRow>>> {
    super::grouped(&app, q, only_user(&who))
        .await
        .map(Reply::page)
}

/// Totals of a window and its top groups (the caller's own calls without `logs:admin`).
/// Permission: `logs:read`.
#[utoipa::path(get, path = "/usage/summary", tag = "usage", params(WindowParams),
    responses((status = 200, description = "The summary", body = Envelope<Summary>)))]
async fn summary(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Summary>> {
    super::summary(&app, q, only_user(&who))
        .await
        .map(Reply::ok)
}
