//! `GET /api/v1/billing/summary?month=YYYY-MM[&group_by=user|workspace][&format=csv]`
//! (`logs:admin`: it shows everyone's usage).

use super::{GroupBy, Summary};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::auth::{Can, perm::LogsAdmin};
use crate::http::envelope::Reply;
use crate::http::extract::Query;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `YYYY-MM` (required).
    pub month: Option<String>,
    /// `user` or `workspace`.
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/billing/summary", get(summary))
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
