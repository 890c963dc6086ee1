//! `GET /api/v1/audit`: who changed or revealed what, and when.

use super::AuditEntry;
use crate::app::AppState;
use crate::error::Result;
use crate::http::auth::{Can, perm::AuditRead};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::List;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `GET /audit` (permission `audit:read`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

crate::list_params!(
    /// Query of `GET /audit`.
    AuditFilters,
    super::store::LIST
);

/// The audit log, newest first by default. Permission: `audit:read`.
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(AuditFilters,
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339; entries at or after this time (inclusive)"),
        ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339; entries before this time (exclusive)")),
    responses((status = 200, description = "One page of audit entries", body = Envelope<Vec<AuditEntry>>)))]
async fn list(
    State(app): State<AppState>,
    _: Can<AuditRead>,
    List(q): List,
) -> Result<Reply<Vec<AuditEntry>>> {
    super::list(&app.store, q).await.map(Reply::page)
}
