//! `/api/v1/mcp/…` and `/api/v1/logs/requests…`.

use crate::app::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
