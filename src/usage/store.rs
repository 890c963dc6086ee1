//! SQL of the usage domain's tables, the per-day rollups ([`super::rollup::TABLES`]).
//! For now only what other domains call; the rest of usage's SQL still lives beside
//! the code that uses it ([`super::rollup`], [`super::query`], [`super::retention`]).

use crate::error::Result;
use rusqlite::Connection;

/// Empties every rollup table. Used on a backup's copy of the database taken without
/// logs (the rollups are derived from the request log).
pub fn clear(conn: &Connection) -> Result<()> {
    for t in super::rollup::TABLES {
        conn.execute(&format!("DELETE FROM {t}"), [])?;
    }
    Ok(())
}
