//! `GET /api/v1/usage` and `GET /api/v1/usage/summary`. Need `logs:read`; callers
//! without `logs:admin` see only their own calls.

use super::{Summary, UsageRow};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::auth::rbac::Domain;
use crate::error::Result;
use crate::http::auth::{Can, perm};
use crate::http::envelope::Reply;
use crate::http::extract::List;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// `GET /usage` and `GET /usage/summary` (permission `logs:read`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/usage", get(grouped))
        .route("/usage/summary", get(summary))
}

fn only_user(who: &Principal) -> Option<String> {
    who.own_rows_unless_admin(Domain::Logs)
}

async fn grouped(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Vec<UsageRow>>> {
    super::grouped(&app, q, only_user(&who))
        .await
        .map(Reply::page)
}

async fn summary(
    State(app): State<AppState>,
    Can(who, _): Can<perm::LogsRead>,
    List(q): List,
) -> Result<Reply<Summary>> {
    super::summary(&app, q, only_user(&who))
        .await
        .map(Reply::ok)
}
