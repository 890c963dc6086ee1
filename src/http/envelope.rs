//! The success envelope: `{"data": …, "meta": {"request_id", "timestamp", "version"}}`,
//! with `meta.pagination {total, page, limit, pages}` on lists (docs/api.md §1.2).

use crate::store::list::Page;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `meta.version` of every answer: the API version, as in the `/api/v1` prefix.
pub const API_VERSION: &str = "v1";

/// `meta` of every success answer (docs/api.md §1.2).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Meta {
    /// Id of the request, as in `X-Request-ID` (`req_` + 16 alphanumerics, or the client's own).
    pub request_id: String,
    /// When the answer was made (RFC 3339 UTC, milliseconds).
    pub timestamp: String,
    /// Always [`API_VERSION`] (`v1`).
    #[schema(value_type = String, example = "v1")]
    pub version: &'static str,
    /// Paged lists only; left out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `meta.pagination` of a paged list.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub struct Pagination {
    /// Items that matched, across all pages.
    pub total: u64,
    /// Page number from 1, as requested.
    pub page: u32,
    /// Items per page, as requested (1–100).
    pub limit: u32,
    /// `ceil(total / limit)`; 0 when `total` is 0.
    pub pages: u64,
}

impl Meta {
    /// `meta` stamped now, with the current request id.
    pub fn now(pagination: Option<Pagination>) -> Meta {
        Meta {
            request_id: crate::telemetry::request_id::current(),
            timestamp: crate::time::now_rfc3339(),
            version: API_VERSION,
            pagination,
        }
    }
}

/// The success envelope around `T`; in the OpenAPI document an answer's schema is
/// `Envelope<T>` with `T` the resource (a list's `T` is `Vec<…>` and its `meta` has
/// `pagination`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// The answer.
    pub data: T,
    /// Request id, time and version.
    pub meta: Meta,
}

/// A successful reply: the data, its status, and pagination for lists.
pub struct Reply<T> {
    status: StatusCode,
    data: T,
    pagination: Option<Pagination>,
}

impl<T: Serialize> Reply<T> {
    /// 200 with `data`.
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            pagination: None,
        }
    }
    /// 201 with the created resource.
    pub fn created(data: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            data,
            pagination: None,
        }
    }
    /// 202 with the job or backup id of long work.
    pub fn accepted(data: T) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            data,
            pagination: None,
        }
    }
}

impl<T: Serialize> Reply<Vec<T>> {
    /// 200 with one page of a list and its pagination.
    pub fn page(page: Page<T>) -> Self {
        let pages = if page.total == 0 {
            0
        } else {
            page.total.div_ceil(page.limit as u64)
        };
        Self {
            status: StatusCode::OK,
            pagination: Some(Pagination {
                total: page.total,
                page: page.page,
                limit: page.limit,
                pages,
            }),
            data: page.items,
        }
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let body = Envelope {
            data: self.data,
            meta: Meta::now(self.pagination),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// 204 for a delete.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
