//! `GET /monitoring/metrics`: which resource, metrics, range and step a request asks
//! for, which stored resolution answers it, and the points resampled to the step.

use super::{HOUR, Metric, store};
use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most points one series may have in an answer.
pub const MAX_POINTS: i64 = 10_000;

/// The query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Service or MCP server, by id or name (seed 000 calls it `id`, accepted instead;
    /// not both). Required.
    #[serde(alias = "id")]
    #[param(required = true, min_length = 1)]
    pub resource_id: Option<String>,
    /// One metric; all of the resource's when absent.
    #[param(value_type = Option<String>, inline, pattern = "^(cpu|memory|calls|errors|latency_p95)$")]
    pub metric: Option<String>,
    /// Start, RFC 3339 (default: an hour before `to`).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End, RFC 3339, exclusive (default: now).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Seconds per point: a number of seconds or `<n>s|m|h|d` (default: the finest
    /// stored resolution that covers `from`, coarsened to at most 1000 points).
    #[param(pattern = "^[0-9]+[smhd]?$")]
    pub step: Option<String>,
}

/// The resource a series belongs to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoredResource)]
pub struct Resource {
    /// `svc_…` or `mcp_…`.
    pub id: String,
    /// `service` or `mcp_server`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its name.
    pub name: String,
}

/// One point.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = MonitoringPoint)]
pub struct Value {
    /// Start of the step, RFC 3339 UTC.
    pub timestamp: String,
    /// The value, in the series' unit.
    pub value: f64,
}

/// One series.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringSeries)]
pub struct Series {
    /// `cpu`, `memory`, `calls`, `errors` or `latency_p95`.
    pub metric: &'static str,
    /// `percent` (of one core), `bytes`, `count` or `ms`.
    pub unit: &'static str,
    /// `sum` for counts, `mean` for gauges.
    pub aggregation: &'static str,
    /// Steps without data are left out.
    pub points: Vec<Value>,
}

/// The answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringMetrics)]
pub struct Answer {
    /// The resource.
    pub resource: Resource,
    /// Start, RFC 3339.
    pub from: String,
    /// End (exclusive), RFC 3339.
    pub to: String,
    /// Seconds per point.
    pub step_s: i64,
    /// The stored resolution the points were computed from, seconds.
    pub resolution_s: i64,
    /// One series per metric.
    pub series: Vec<Series>,
}

/// Seconds in `s`: `90`, `15s`, `5m`, `1h`, `1d`.
pub fn parse_step(s: &str) -> Option<i64> {
    let (num, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn time_param(field: &str, v: Option<&str>, default: i64) -> Result<i64> {
    match v {
        None => Ok(default),
        Some(s) => crate::time::parse_input(s)
            .map(|t| t.unix_timestamp())
            .ok_or_else(|| {
                Error::validation(format!("{field} is not an RFC 3339 time"))
                    .with_detail(field, "e.g. 2026-01-31T12:00:00Z")
            }),
    }
}

/// The resource `id_or_name` names for `who`: an MCP server its workspaces grant
/// (`mcp:read`) or a service (`services:read`). A name shared by a managed MCP server
/// and its backing service is the MCP server (its series include the service's CPU and
/// memory). 404 when neither exists, 403 without the permission.
async fn resource(
    app: &App,
    who: &Principal,
    id_or_name: &str,
) -> Result<(Resource, Vec<(Metric, String)>)> {
    if !id_or_name.starts_with("svc_") {
        let server = crate::mcp::records::lookup(app, id_or_name).await;
        if server.is_ok() || id_or_name.starts_with("mcp_") {
            who.require(Permission(Domain::Mcp, Action::Read))?;
            let (rec, _, _) = crate::mcp::records::visible(app, &who.user_id, id_or_name).await?;
            let mut sources: Vec<(Metric, String)> =
                [Metric::Calls, Metric::Errors, Metric::LatencyP95]
                    .into_iter()
                    .map(|m| (m, rec.id.clone()))
                    .collect();
            if let Some(svc) = &rec.service_id {
                sources.extend([(Metric::Cpu, svc.clone()), (Metric::Memory, svc.clone())]);
            }
            sources.sort();
            return Ok((
                Resource {
                    id: rec.id,
                    kind: "mcp_server",
                    name: rec.name,
                },
                sources,
            ));
        }
    }
    who.require(Permission(Domain::Services, Action::Read))?;
    let key = id_or_name.to_string();
    let row = app
        .store
        .read(move |c| crate::services::store::get(c, &key))
        .await?;
    let sources = [Metric::Cpu, Metric::Memory]
        .into_iter()
        .map(|m| (m, row.id.clone()))
        .collect();
    Ok((
        Resource {
            id: row.id,
            kind: "service",
            name: row.spec.name,
        },
        sources,
    ))
}

/// `n` rounded up to a multiple of `m` (both positive).
fn ceil_to(n: i64, m: i64) -> i64 {
    (n + m - 1) / m * m
}

/// The resolution to read and the step to answer with for `[from, to)`: the finest
/// resolution still kept at `from` bounds the step from below; without a step, the
/// answer has at most 1000 points; the coarsest resolution that divides the step is read.
fn plan(app: &App, (from, to): (i64, i64), step: Option<i64>) -> Result<(i64, i64)> {
    let now = crate::time::unix_now();
    let kept = super::retention(app);
    let covering = kept
        .iter()
        .find(|(_, k)| from >= now - k)
        .map_or(super::DAY, |(r, _)| *r);
    let span = to - from;
    let step = match step {
        Some(s) => s.max(covering),
        None => ceil_to(ceil_to(span, 1000) / 1000, covering).max(covering),
    };
    let resolution = kept
        .iter()
        .rev()
        .map(|(r, _)| *r)
        .find(|r| *r <= step && *r >= covering && step % r == 0)
        .unwrap_or(covering);
    if span / step > MAX_POINTS {
        return Err(Error::validation(format!(
            "more than {MAX_POINTS} points: use a larger step or a shorter range"
        ))
        .with_detail("step", "too small for this range"));
    }
    Ok((resolution, step))
}

/// Answers `p` for `who`.
pub async fn answer(app: &App, who: &Principal, p: Params) -> Result<Answer> {
    let id = p
        .resource_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::validation("resource_id is required")
                .with_detail("resource_id", "a service or MCP server id or name")
        })?;
    let metric = match p.metric.as_deref() {
        None => None,
        Some(m) => Some(Metric::parse(m).ok_or_else(|| {
            Error::validation(format!("unknown metric '{m}'"))
                .with_detail("metric", "one of cpu, memory, calls, errors, latency_p95")
        })?),
    };
    let now = crate::time::unix_now();
    let to = time_param("to", p.to.as_deref(), now)?;
    let from = time_param("from", p.from.as_deref(), to - HOUR)?;
    if from >= to {
        return Err(
            Error::validation("from must be before to").with_detail("from", "must be before to")
        );
    }
    let step = match p.step.as_deref() {
        None => None,
        Some(s) => Some(parse_step(s).ok_or_else(|| {
            Error::validation(format!("step '{s}' is not a duration"))
                .with_detail("step", "seconds, or <n>s, <n>m, <n>h, <n>d")
        })?),
    };
    let (resource, sources) = resource(app, who, id).await?;
    let (resolution, step) = plan(app, (from, to), step)?;
    let wanted: Vec<(Metric, String)> = sources
        .into_iter()
        .filter(|(m, _)| metric.is_none_or(|w| w == *m))
        .collect();
    if wanted.is_empty() {
        let m = metric.map_or("", Metric::as_str);
        return Err(
            Error::validation(format!("a {} has no {m} series", resource.kind))
                .with_detail("metric", "not measured for this resource"),
        );
    }
    let series = app
        .store
        .read(move |c| {
            wanted
                .into_iter()
                .map(|(m, source)| {
                    Ok(resample(
                        m,
                        &store::series(c, &source, m, resolution, (from, to))?,
                        step,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Answer {
        resource,
        from: super::rfc3339(from),
        to: super::rfc3339(to),
        step_s: step,
        resolution_s: resolution,
        series,
    })
}

/// Points `(bucket, value, samples)` folded into steps of `step` seconds.
fn resample(metric: Metric, points: &[(i64, f64, i64)], step: i64) -> Series {
    let mut out: Vec<(i64, f64, i64)> = Vec::new();
    for (bucket, value, samples) in points {
        let at = bucket - bucket.rem_euclid(step);
        match out.last_mut() {
            Some(last) if last.0 == at => {
                if metric.is_count() {
                    last.1 += value;
                } else {
                    last.1 = (last.1 * last.2 as f64 + value * *samples as f64)
                        / (last.2 + samples) as f64;
                }
                last.2 += samples;
            }
            _ => out.push((at, *value, *samples)),
        }
    }
    Series {
        metric: metric.as_str(),
        unit: metric.unit(),
        aggregation: if metric.is_count() { "sum" } else { "mean" },
        points: out
            .into_iter()
            .map(|(at, v, _)| Value {
                timestamp: super::rfc3339(at),
                value: (v * 1000.0).round() / 1000.0,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_as_durations() {
        assert_eq!(parse_step("90"), Some(90));
        assert_eq!(parse_step("15s"), Some(15));
        assert_eq!(parse_step("5m"), Some(300));
        assert_eq!(parse_step("1h"), Some(3600));
        assert_eq!(parse_step("2d"), Some(172_800));
        for bad in ["", "0", "-5", "5x", "m", "1.5m", "99999999999999999999d"] {
            assert_eq!(parse_step(bad), None, "{bad}");
        }
    }

    #[test]
    fn resampling_sums_counts_and_weighs_gauge_means() {
        let pts = [(0, 2.0, 1), (60, 4.0, 1), (120, 10.0, 2)];
        let calls = resample(Metric::Calls, &pts, 120);
        assert_eq!(
            calls.points.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![6.0, 10.0]
        );
        let mem = resample(Metric::Memory, &[(0, 2.0, 1), (60, 5.0, 2)], 120);
        assert_eq!(mem.points[0].value, 4.0);
        assert_eq!((mem.unit, mem.aggregation), ("bytes", "mean"));
    }
}
