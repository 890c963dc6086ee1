//! SQL of the `monitoring_points` table.

use super::{Metric, Point};
use crate::error::Result;
use rusqlite::{Connection, params};

/// Folds `p` into its point at `resolution` (created when missing): a count adds its
/// value, a gauge moves the point's mean.
pub fn fold(conn: &Connection, p: &Point, resolution: i64) -> Result<()> {
    let bucket = p.at - p.at.rem_euclid(resolution);
    let sql = if p.metric.is_count() {
        "INSERT INTO monitoring_points (resource_id, metric, resolution, bucket, value, samples)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT DO UPDATE SET value = value + excluded.value, samples = samples + 1"
    } else {
        "INSERT INTO monitoring_points (resource_id, metric, resolution, bucket, value, samples)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT DO UPDATE SET value = (value * samples + excluded.value) / (samples + 1),
                                   samples = samples + 1"
    };
    conn.execute(
        sql,
        params![
            p.resource_id,
            p.metric.as_str(),
            resolution,
            bucket,
            p.value
        ],
    )?;
    Ok(())
}

/// Deletes points at `resolution` older than `before` (Unix seconds); how many.
pub fn delete_before(conn: &Connection, resolution: i64, before: i64) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM monitoring_points WHERE resolution = ?1 AND bucket < ?2",
        params![resolution, before],
    )?)
}

/// The points of one series at `resolution` with `from <= bucket < to`, oldest first,
/// as `(bucket, value, samples)`.
pub fn series(
    conn: &Connection,
    resource_id: &str,
    metric: Metric,
    resolution: i64,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, f64, i64)>> {
    let mut st = conn.prepare_cached(
        "SELECT bucket, value, samples FROM monitoring_points
         WHERE resource_id = ?1 AND metric = ?2 AND resolution = ?3 AND bucket >= ?4 AND bucket < ?5
         ORDER BY bucket",
    )?;
    let rows = st.query_map(
        params![resource_id, metric.as_str(), resolution, from, to],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `metric` summed over the samples folded into the points at `resolution` with
/// `from <= bucket < to`, per resource: `(resource_id, sum of value × samples)`; for a
/// gauge read every sampling interval that is the integral over time divided by the
/// interval (billing).
pub fn sample_sums(
    conn: &Connection,
    metric: Metric,
    resolution: i64,
    (from, to): (i64, i64),
) -> Result<Vec<(String, f64)>> {
    let mut st = conn.prepare_cached(
        "SELECT resource_id, sum(value * samples) FROM monitoring_points
         WHERE metric = ?1 AND resolution = ?2 AND bucket >= ?3 AND bucket < ?4
         GROUP BY resource_id ORDER BY resource_id",
    )?;
    let rows = st.query_map(params![metric.as_str(), resolution, from, to], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
