//! Usage rollups: request log rows pre-aggregated per UTC day (migration
//! `0009_usage_rollups.sql`), at three levels of detail so a query reads the fewest
//! rows that still hold every column it groups or filters by. [`record`] adds one call
//! to every level; [`crate::request_log::store::insert_at`] calls it in the same transaction
//! as the row, so the rollups never drift from `request_logs`.
//!
//! NULL dimensions are stored as `''` (a primary key cannot group NULLs) and read back
//! as NULL; every nullable dimension is an id or a name, never legitimately empty.

use crate::error::Result;
use rusqlite::Connection;
use std::collections::HashMap;

use super::model::Sums;
pub use super::model::{Call, LEVELS, Level, NULLABLE, TABLES};

/// Adds one call to every rollup level (blocking; call inside the transaction that
/// inserts the request log row).
pub fn record(conn: &Connection, call: &Call<'_>) -> Result<()> {
    let day = call.timestamp.get(..10).unwrap_or(call.timestamp);
    let sums = Sums::of(call);
    for (i, level) in LEVELS.iter().enumerate() {
        let dims: Vec<&str> = level.dims.iter().map(|d| call.dim(d)).collect();
        super::store::upsert(conn, i, day, &dims, &sums)?;
    }
    Ok(())
}

/// Many calls summed in memory first, then written with one UPSERT per distinct
/// (level, day, dimensions): a batch of rows written in one transaction costs one
/// rollup write per distinct group, not three per row. Same result as [`record`]
/// for each call.
#[derive(Debug, Default)]
pub struct Batch {
    sums: HashMap<(usize, Vec<String>), Sums>,
}

impl Batch {
    /// Adds one call (nothing is written yet).
    pub fn add(&mut self, call: &Call<'_>) {
        let day = call.timestamp.get(..10).unwrap_or(call.timestamp);
        let sums = Sums::of(call);
        for (i, level) in LEVELS.iter().enumerate() {
            let mut key = Vec::with_capacity(level.dims.len() + 1);
            key.push(day.to_string());
            key.extend(level.dims.iter().map(|d| call.dim(d).to_string()));
            match self.sums.get_mut(&(i, key.clone())) {
                Some(acc) => acc.add(&sums),
                None => {
                    self.sums.insert((i, key), sums.clone());
                }
            }
        }
    }

    /// Writes the sums (blocking; inside the transaction that inserted the rows).
    pub fn write(self, conn: &Connection) -> Result<()> {
        for ((level, key), sums) in &self.sums {
            let dims: Vec<&str> = key[1..].iter().map(String::as_str).collect();
            super::store::upsert(conn, *level, &key[0], &dims, sums)?;
        }
        Ok(())
    }
}
