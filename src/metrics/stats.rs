//! `GET /stats`: what the daemon holds, counted from the database in one read.

use crate::app::App;
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts by status; `total` is their sum.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = StatusCounts)]
pub struct Counts {
    /// Every row.
    pub total: u64,
    /// Rows by status (only statuses that occur).
    pub by_status: BTreeMap<String, u64>,
}

impl From<BTreeMap<String, u64>> for Counts {
    fn from(by_status: BTreeMap<String, u64>) -> Counts {
        Counts {
            total: by_status.values().sum(),
            by_status,
        }
    }
}

/// Backups: counts and the last outcome of each kind.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupStats {
    /// Backups by status.
    #[serde(flatten)]
    pub counts: Counts,
    /// When the last backup completed (RFC 3339), `null` if none ever did.
    pub last_success_at: Option<String>,
    /// When the last backup failed (RFC 3339), `null` if none ever did.
    pub last_failure_at: Option<String>,
}

/// Tool calls over a period.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = ToolCallCounts)]
pub struct Calls {
    /// Tool calls made.
    pub total: u64,
    /// Of those, calls that failed.
    pub errors: u64,
    /// `errors / total`, 4 decimals; 0 without calls.
    pub error_rate: f64,
}

impl Calls {
    fn of((total, errors): (u64, u64)) -> Calls {
        let error_rate = if total == 0 {
            0.0
        } else {
            (errors as f64 / total as f64 * 10000.0).round() / 10000.0
        };
        Calls {
            total,
            errors,
            error_rate,
        }
    }
}

/// Tool calls today (UTC) and over the last hour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ToolCallStats)]
pub struct ToolCalls {
    /// Since 00:00 UTC.
    pub today: Calls,
    /// Over the last 60 minutes.
    pub last_hour: Calls,
}

/// The body of `GET /stats`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DaemonStats)]
pub struct Stats {
    /// Services by status.
    pub services: Counts,
    /// MCP servers by status.
    pub mcp_servers: Counts,
    /// Users by status (`active`, `disabled`).
    pub users: Counts,
    /// API keys as `active` or `inactive` (revoked or expired).
    pub api_keys: Counts,
    /// Workspaces.
    pub workspaces: Counts,
    /// Backups by status, with the last success and failure.
    pub backups: BackupStats,
    /// Kubernetes clusters by status.
    pub clusters: Counts,
    /// Network devices by session status.
    pub devices: Counts,
    /// Tool calls today and in the last hour.
    pub tool_calls: ToolCalls,
    /// When these were counted, RFC 3339 UTC.
    pub at: String,
}

/// Counts everything on one reader connection.
pub async fn stats(app: &App) -> Result<Stats> {
    app.store
        .read(|c| {
            let now = time::OffsetDateTime::now_utc();
            let at = crate::time::format_rfc3339(now);
            let hour_ago = crate::time::format_rfc3339(now - time::Duration::hours(1));
            let today = at.get(..10).unwrap_or_default().to_string();
            let (last_success_at, last_failure_at) = crate::backups::store::last_outcomes(c)?;
            Ok(Stats {
                services: crate::services::store::count_by_status(c)?.into(),
                mcp_servers: crate::mcp::store::count_by_status(c)?.into(),
                users: crate::users::store::count_by_status(c)?.into(),
                api_keys: crate::auth::store::count_keys(c, &at)?.into(),
                workspaces: Counts {
                    total: crate::workspaces::store::count(c)?,
                    by_status: BTreeMap::new(),
                },
                backups: BackupStats {
                    counts: crate::backups::store::count_by_status(c)?.into(),
                    last_success_at,
                    last_failure_at,
                },
                clusters: crate::kubernetes::store::count_by_status(c)?.into(),
                devices: crate::network::store::count_by_status(c)?.into(),
                tool_calls: ToolCalls {
                    today: Calls::of(crate::usage::store::tool_calls_on(c, &today)?),
                    last_hour: Calls::of(crate::request_log::store::tool_calls_since(
                        c, &hour_ago,
                    )?),
                },
                at,
            })
        })
        .await
}
