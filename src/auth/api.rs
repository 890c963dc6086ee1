//! `/api/v1/auth/…` and `/api/v1/api-keys…`.

use crate::app::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
