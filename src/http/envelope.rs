//! The success envelope: `{"data": …, "meta": {"request_id", "timestamp", "version"}}`,
//! with `meta.pagination {total, page, limit, pages}` on lists (DESIGN.md).

use crate::store::list::Page;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const API_VERSION: &str = "v1";

#[derive(Serialize)]
pub struct Meta {
    pub request_id: String,
    pub timestamp: String,
    pub version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub pages: u64,
}

impl Meta {
    pub fn now(pagination: Option<Pagination>) -> Meta {
        Meta {
            request_id: crate::telemetry::request_id::current(),
            timestamp: crate::time::now_rfc3339(),
            version: API_VERSION,
            pagination,
        }
    }
}

#[derive(Serialize)]
struct Body<T> {
    data: T,
    meta: Meta,
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
        let body = Body {
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
