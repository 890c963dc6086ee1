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
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api)
}

/// The OpenAPI document of the whole API (served at `/api/v1/openapi.json`).
pub fn document() -> utoipa::openapi::OpenApi {
    finish(api().into_openapi())
}

/// `doc` with the gateway's entry and what every operation shares.
fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc.paths.paths.insert(
        crate::gateway::PATH.to_owned(),
        crate::gateway::doc::path_item(),
    );
    super::openapi::complete(&mut doc);
    doc
}

/// The whole API under `/api/v1`, with its layers, the OpenAPI document and its page.
pub fn router(app: AppState) -> Router {
    let (api, doc) = api().split_for_parts();
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new(PAGE_PATH).url(DOCUMENT_PATH, finish(doc)))
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
