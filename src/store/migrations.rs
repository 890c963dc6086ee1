//! Versioned schema migrations, tracked in the database's `user_version`
//! (rusqlite_migration). Migrations only ever get appended.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_init.sql")),
        M::up(include_str!("migrations/0002_vault.sql")),
        M::up(include_str!("migrations/0003_config.sql")),
        M::up(include_str!("migrations/0004_backups.sql")),
        M::up(include_str!("migrations/0005_workspaces.sql")),
        M::up(include_str!("migrations/0006_mappings.sql")),
        M::up(include_str!("migrations/0007_catalog.sql")),
        M::up(include_str!("migrations/0008_request_log_workspace.sql")),
        M::up(include_str!("migrations/0009_usage_rollups.sql")),
        M::up(include_str!("migrations/0010_kubernetes.sql")),
        M::up(include_str!("migrations/0011_mcp_placement.sql")),
        M::up(include_str!("migrations/0012_network.sql")),
        M::up(include_str!("migrations/0013_network_config_backups.sql")),
        M::up(include_str!("migrations/0014_network_options.sql")),
        M::up(include_str!("migrations/0015_monitoring.sql")),
    ])
}

/// Brings the schema to the latest version in one transaction per migration.
pub fn apply(conn: &mut Connection) -> anyhow::Result<()> {
    migrations().to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
