//! `GET /api/v1/billing/summary?month=YYYY-MM[&group_by=user|workspace][&format=csv]`
//! (`logs:admin`: it shows everyone's usage).

use super::{GroupBy, Summary};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm::LogsAdmin};
use crate::http::envelope::{Envelope, Reply};
use crate::http::extract::Query;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `YYYY-MM`: a calendar month in UTC, year 2000–9999 (required).
    #[param(required = true, pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    /// `user` or `workspace`; `none` or empty (the default): one group `all`.
    #[param(pattern = "^(user|workspace|none)?$")]
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// The routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}

fn group_by(v: Option<&str>) -> Result<GroupBy> {
    match v {
        None | Some("") | Some("none") => Ok(GroupBy::None),
        Some("user") => Ok(GroupBy::User),
        Some("workspace") => Ok(GroupBy::Workspace),
        Some(o) => Err(
            Error::validation(format!("group_by '{o}' is not user or workspace"))
                .with_detail("group_by", "user or workspace"),
        ),
    }
}

/// Whether `format` asks for CSV (`json`, the default, does not).
fn is_csv(format: Option<&str>) -> Result<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(o) => Err(
            Error::validation(format!("format '{o}' is not json or csv"))
                .with_detail("format", "json or csv"),
        ),
    }
}

/// A month's usage (MCP calls, container CPU and memory, backup storage) priced with the
/// rates of `[billing]`, as JSON or, with `format=csv`, as a CSV file. Permission:
/// `logs:admin`.
#[utoipa::path(get, path = "/billing/summary", tag = "billing", params(Params),
    responses((status = 200, description = "The summary: the envelope, or with `format=csv` an RFC 4180 file \
            (`Content-Disposition: attachment; filename=\"mcpd-billing-<month>.csv\"`)",
        content((Envelope<Summary> = "application/json"), (String = "text/csv; charset=utf-8")),
        headers(("content-disposition" = String, description = "CSV only: `attachment; filename=\"mcpd-billing-<month>.csv\"`")))))]
async fn summary(
    State(app): State<AppState>,
    _: Can<LogsAdmin>,
    Query(p): Query<Params>,
) -> Result<Response> {
    let month = p
        .month
        .ok_or_else(|| Error::validation("month is required").with_detail("month", "YYYY-MM"))?;
    let csv = is_csv(p.format.as_deref())?;
    let s: Summary = super::summary(&app, &month, group_by(p.group_by.as_deref())?).await?;
    if csv {
        let disposition = format!("attachment; filename=\"mcpd-billing-{}.csv\"", s.month);
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            super::csv(&s),
        )
            .into_response());
    }
    Ok(Reply::ok(s).into_response())
}
