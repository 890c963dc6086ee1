//! The whole API: every domain's routes under `/api/v1`, the MCP gateway at `/mcp`, and
//! the layers every request passes (outermost first): request id, the envelope and
//! request metrics, the envelope and connection guard, panics as 500s, rate limit
//! headers, the body limit.

use crate::app::AppState;
use crate::http::{guard, method_not_allowed, not_found, panic_response, ratelimit, request_id};
use axum::Router;
use axum::extract::DefaultBodyLimit;

/// The whole API under `/api/v1`, with its layers.
pub fn router(app: AppState) -> Router {
    let api = Router::new()
        .merge(crate::system::api::routes())
        .merge(crate::auth::api::routes())
        .merge(crate::users::api::routes())
        .merge(crate::services::api::routes())
        .merge(crate::services::ops_api::routes())
        .merge(crate::images::api::routes())
        .merge(crate::mcp::api::routes())
        .merge(crate::catalog::api::routes())
        .merge(crate::request_log::api::routes())
        .merge(crate::usage::api::routes())
        .merge(crate::workspaces::api::routes())
        .merge(crate::mappings::api::routes())
        .merge(crate::configuration::api::routes())
        .merge(crate::audit::api::routes())
        .merge(crate::backups::api::routes())
        .merge(crate::kubernetes::api::routes())
        .merge(crate::network::api::routes())
        .merge(crate::metrics::api::routes())
        .merge(crate::events::api::routes())
        .merge(crate::monitoring::api::routes())
        .merge(crate::inventory::api::routes())
        .merge(crate::billing::api::routes());
    Router::new()
        .nest("/api/v1", api)
        .merge(crate::gateway::routes(&app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.settings.server.max_body_bytes))
        .layer(axum::middleware::from_fn(ratelimit::middleware))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn(guard::middleware))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::metrics::http::middleware,
        ))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(app)
}
