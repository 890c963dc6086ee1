//! The whole API: every domain's routes under `/api/v1`, the MCP gateway at `/mcp`, and
//! the layers every request passes (outermost first): request id, the envelope and
//! request metrics, the envelope and connection guard, panics as 500s, rate limit
//! headers, the body limit.

use super::openapi::{ApiDoc, DOCUMENT_PATH, PAGE_PATH};
use crate::app::AppState;
use crate::http::{guard, method_not_allowed, not_found, panic_response, ratelimit, request_id};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Every domain's routes under `/api/v1`, each with its OpenAPI entry.
fn api() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::new()
        .merge(crate::system::api::routes().into())
        .merge(crate::auth::api::routes().into())
        .merge(crate::users::api::routes().into())
        .merge(crate::services::api::routes().into())
        .merge(crate::services::ops_api::routes().into())
        .merge(crate::images::api::routes().into())
        .merge(crate::mcp::api::routes().into())
        .merge(crate::catalog::api::routes().into())
        .merge(crate::request_log::api::routes().into())
        .merge(crate::usage::api::routes().into())
        .merge(crate::workspaces::api::routes().into())
        .merge(crate::mappings::api::routes().into())
        .merge(crate::configuration::api::routes().into())
        .merge(crate::audit::api::routes().into())
        .merge(crate::backups::api::routes().into())
        .merge(crate::kubernetes::api::routes().into())
        .merge(crate::network::api::routes().into())
        .merge(crate::metrics::api::routes().into())
        .merge(crate::events::api::routes().into())
        .merge(crate::monitoring::api::routes().into())
        .merge(crate::inventory::api::routes().into())
        .merge(crate::billing::api::routes().into());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api)
}

/// The OpenAPI document of the whole API (served at `/api/v1/openapi.json`).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    super::openapi::complete(&mut doc);
    doc
}

/// The whole API under `/api/v1`, with its layers, the OpenAPI document and its page.
pub fn router(app: AppState) -> Router {
    let (api, mut doc) = api().split_for_parts();
    super::openapi::complete(&mut doc);
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new(PAGE_PATH).url(DOCUMENT_PATH, doc))
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
