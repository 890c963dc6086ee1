//! `GET /api/v1/monitoring/metrics` (seed 000): time series of a service or an MCP
//! server. Permission: `services:read` for a service, `mcp:read` (and a workspace
//! grant) for an MCP server.

use super::query::{self, Answer, Params};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Result;
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::Query;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Time series (CPU, memory, MCP calls, errors, p95 latency) of one service or MCP
/// server over a range. Permission: `services:read` for a service; `mcp:read` and a
/// workspace grant for an MCP server.
#[utoipa::path(get, path = "/monitoring/metrics", tag = "monitoring", params(Params),
    responses((status = 200, description = "The series", body = Envelope<Answer>),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: no such service, or no MCP server the caller's workspaces grant")))]
async fn metrics(
    State(app): State<AppState>,
    who: Principal,
    Query(p): Query<Params>,
) -> Result<Reply<Answer>> {
    Ok(Reply::ok(query::answer(&app, &who, p).await?))
}
