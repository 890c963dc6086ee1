//! `GET /api/v1/audit`: who changed or revealed what, and when.

use super::AuditEntry;
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::AuditRead};
use crate::http::envelope::Reply;
use crate::http::extract::List;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// `GET /audit` (permission `audit:read`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

async fn list(
    State(app): State<AppState>,
    _: Can<AuditRead>,
    List(q): List,
) -> Result<Reply<Vec<AuditEntry>>> {
    super::list(&app.store, q).await.map(Reply::page)
}
