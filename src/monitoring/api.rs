//! `GET /api/v1/monitoring/metrics` (seed 000): time series of a service or an MCP
//! server. Permission: `services:read` for a service, `mcp:read` (and a workspace
//! grant) for an MCP server.

use super::query::{self, Answer, Params};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::Result;
use crate::http::envelope::Reply;
use crate::http::extract::Query;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// The routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/monitoring/metrics", get(metrics))
}

async fn metrics(
    State(app): State<AppState>,
    who: Principal,
    Query(p): Query<Params>,
) -> Result<Reply<Answer>> {
    Ok(Reply::ok(query::answer(&app, &who, p).await?))
}
