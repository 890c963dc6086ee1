//! The monthly billing summary (`GET /api/v1/billing/summary`, seed 000): usage-based
//! chargeback from what mcpd measured, priced with the rates of `[billing]`.
//!
//! Quantities of a UTC calendar month:
//! - `mcp_calls`: MCP calls (tools, resources, prompts) from the usage rollups;
//! - `cpu`: CPU-seconds of service containers, from the 1-day monitoring points
//!   (each sample's CPU share × the sampling interval);
//! - `memory`: GiB-hours of service container memory, from the same points;
//! - `backup_storage`: GiB-months of completed backup archives, for the part of the
//!   month each existed (archives deleted since are no longer counted).
//!
//! Every amount is an integer in minor units of the currency (cents): each line is
//! rounded half up once, and the total is the sum of the lines, so they add up exactly.
//! With `group_by=user`, calls go to the caller and container usage to the service's
//! creator; with `group_by=workspace`, calls go to their workspace and everything else
//! is `unattributed`.

pub mod api;

use crate::app::App;
use crate::error::{Error, Result};
use crate::monitoring::{DAY, Metric};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The group of what no user or workspace can be charged with.
pub const UNATTRIBUTED: &str = "unattributed";
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// How lines are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One group for everything.
    None,
    /// By user (`usr_…`).
    User,
    /// By workspace (`wks_…`).
    Workspace,
}

/// A month as `[start, end)` Unix seconds with its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    /// First second.
    pub start: i64,
    /// First second of the next month.
    pub end: i64,
}

impl Month {
    /// Parses `YYYY-MM` (years 2000-9999).
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (y, m): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
        if y < 2000 {
            return None;
        }
        let first = |y: i32, m: u8| -> Option<i64> {
            let month = time::Month::try_from(m).ok()?;
            Some(
                time::Date::from_calendar_date(y, month, 1)
                    .ok()?
                    .midnight()
                    .assume_utc()
                    .unix_timestamp(),
            )
        };
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Some(Month {
            label: s.to_string(),
            start: first(y, m)?,
            end: first(ny, nm)?,
        })
    }

    fn day(t: i64) -> String {
        crate::monitoring::rfc3339_day(t)
    }
}

/// One line of the summary.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = BillingLine)]
pub struct Line {
    /// The user or workspace id, `unattributed`, or `all` without grouping.
    pub group: String,
    /// `mcp_calls`, `cpu`, `memory` or `backup_storage`.
    pub item: &'static str,
    /// How much, in `unit`.
    pub quantity: f64,
    /// `calls`, `cpu_seconds`, `gib_hours` or `gib_months`.
    pub unit: &'static str,
    /// The configured rate, minor units per `rate_per`.
    pub rate: u64,
    /// What the rate prices: `1000 calls`, `cpu_hour`, `gib_hour`, `gib_month`.
    pub rate_per: &'static str,
    /// `quantity` priced, rounded half up, in minor units.
    pub amount_minor: u64,
}

/// The body of `GET /billing/summary`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = BillingSummary)]
pub struct Summary {
    /// `YYYY-MM`.
    pub month: String,
    /// The currency of every amount (ISO 4217).
    pub currency: String,
    /// Digits after the decimal point of the currency.
    pub minor_unit_digits: u32,
    /// `none`, `user` or `workspace`.
    pub group_by: &'static str,
    /// The lines: one per (group, item) with anything recorded (a quantity may be 0).
    pub lines: Vec<Line>,
    /// The sum of every line's `amount_minor`.
    pub total_minor: u64,
    /// `total_minor` in major units (seed 000's `total_cost`).
    pub total_cost: f64,
    /// Amounts in major units by category (seed 000): `compute` (cpu and memory),
    /// `storage` (backups), `calls`.
    pub breakdown: BTreeMap<&'static str, f64>,
}

/// Rounds `quantity × rate / per` half up to minor units.
fn price(quantity: f64, rate: u64, per: f64) -> u64 {
    (quantity * rate as f64 / per + 0.5).floor().max(0.0) as u64
}

/// Quantities by (group, item).
type Quantities = BTreeMap<(String, &'static str), f64>;

/// Reads every quantity of `month`, grouped.
async fn quantities(app: &App, month: &Month, by: GroupBy) -> Result<Quantities> {
    let interval = crate::monitoring::raw_resolution(app) as f64;
    let m = month.clone();
    app.store
        .read(move |c| {
            let mut q = Quantities::new();
            let group_of = |key: &str| match by {
                GroupBy::None => "all".to_string(),
                _ if key.is_empty() => UNATTRIBUTED.to_string(),
                _ => key.to_string(),
            };
            let (first, end) = (Month::day(m.start), Month::day(m.end));
            for (key, calls) in
                crate::usage::store::calls_by(c, (&first, &end), by == GroupBy::User)?
            {
                *q.entry((group_of(&key), "mcp_calls")).or_default() += calls as f64;
            }
            let owners: HashMap<String, String> = crate::services::store::all(c)?
                .into_iter()
                .map(|r| (r.id, r.created_by.unwrap_or_default()))
                .collect();
            let owner = |svc: &str| match by {
                GroupBy::User => group_of(owners.get(svc).map_or("", String::as_str)),
                GroupBy::Workspace => UNATTRIBUTED.to_string(),
                GroupBy::None => "all".to_string(),
            };
            for (svc, sum) in
                crate::monitoring::store::sample_sums(c, Metric::Cpu, DAY, (m.start, m.end))?
            {
                *q.entry((owner(&svc), "cpu")).or_default() += sum / 100.0 * interval;
            }
            for (svc, sum) in
                crate::monitoring::store::sample_sums(c, Metric::Memory, DAY, (m.start, m.end))?
            {
                *q.entry((owner(&svc), "memory")).or_default() += sum * interval / GIB / 3600.0;
            }
            let month_s = (m.end - m.start) as f64;
            for (_, size, completed) in crate::backups::store::completed_sizes(c)? {
                let Some(at) = crate::time::parse_rfc3339(&completed).map(|t| t.unix_timestamp())
                else {
                    continue;
                };
                let held = (m.end.min(crate::time::unix_now()) - at.max(m.start)).max(0) as f64;
                if held > 0.0 {
                    let group = if by == GroupBy::None {
                        "all".to_string()
                    } else {
                        UNATTRIBUTED.to_string()
                    };
                    *q.entry((group, "backup_storage")).or_default() +=
                        size as f64 / GIB * held / month_s;
                }
            }
            Ok(q)
        })
        .await
}

/// The summary of `month`.
pub async fn summary(app: &App, month: &str, by: GroupBy) -> Result<Summary> {
    let month = Month::parse(month).ok_or_else(|| {
        Error::validation(format!("month '{month}' is not YYYY-MM"))
            .with_detail("month", "e.g. 2026-05")
    })?;
    let rates = &app.settings.billing;
    let mut lines = Vec::new();
    for ((group, item), quantity) in quantities(app, &month, by).await? {
        let (unit, rate, rate_per, per) = match item {
            "mcp_calls" => ("calls", rates.calls_per_1000, "1000 calls", 1000.0),
            "cpu" => ("cpu_seconds", rates.cpu_hour, "cpu_hour", 3600.0),
            "memory" => ("gib_hours", rates.memory_gb_hour, "gib_hour", 1.0),
            _ => ("gib_months", rates.backup_gb_month, "gib_month", 1.0),
        };
        let amount_minor = price(quantity, rate, per);
        lines.push(Line {
            group,
            item,
            quantity,
            unit,
            rate,
            rate_per,
            amount_minor,
        });
    }
    let total_minor = lines.iter().map(|l| l.amount_minor).sum();
    let major = |minor: u64| minor as f64 / 10f64.powi(rates.minor_unit_digits as i32);
    let sum_of = |items: &[&str]| {
        major(
            lines
                .iter()
                .filter(|l| items.contains(&l.item))
                .map(|l| l.amount_minor)
                .sum(),
        )
    };
    let breakdown = BTreeMap::from([
        ("compute", sum_of(&["cpu", "memory"])),
        ("storage", sum_of(&["backup_storage"])),
        ("calls", sum_of(&["mcp_calls"])),
    ]);
    Ok(Summary {
        month: month.label,
        currency: rates.currency.clone(),
        minor_unit_digits: rates.minor_unit_digits,
        group_by: match by {
            GroupBy::None => "none",
            GroupBy::User => "user",
            GroupBy::Workspace => "workspace",
        },
        lines,
        total_minor,
        total_cost: major(total_minor),
        breakdown,
    })
}

/// The summary as CSV (RFC 4180): one row per line, then the total.
pub fn csv(s: &Summary) -> String {
    let mut out =
        String::from("month,group,item,quantity,unit,rate,rate_per,amount_minor,currency\r\n");
    let field = |v: &str| {
        if v.contains([',', '"', '\r', '\n']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    for l in &s.lines {
        out += &format!(
            "{},{},{},{},{},{},{},{},{}\r\n",
            s.month,
            field(&l.group),
            l.item,
            l.quantity,
            l.unit,
            l.rate,
            field(l.rate_per),
            l.amount_minor,
            s.currency
        );
    }
    out += &format!(
        "{},total,,,,,,{},{}\r\n",
        s.month, s.total_minor, s.currency
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_to_calendar_bounds() {
        let m = Month::parse("2026-02").unwrap();
        assert_eq!(m.end - m.start, 28 * 86400);
        let d = Month::parse("2026-12").unwrap();
        assert_eq!(d.end - d.start, 31 * 86400);
        for bad in [
            "2026-13",
            "2026-00",
            "26-01",
            "2026-1",
            "1999-01",
            "2026/01",
            "",
            "2026-01-01",
        ] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn amounts_round_half_up_once_per_line() {
        assert_eq!(price(1500.0, 1, 1000.0), 2);
        assert_eq!(price(1499.0, 1, 1000.0), 1);
        assert_eq!(price(3600.0, 250, 3600.0), 250);
        assert_eq!(price(0.0, 999, 1.0), 0);
    }
}
