//! `/api/v1/users…` and `/api/v1/roles`.

use crate::app::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
