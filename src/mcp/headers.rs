//! The request headers of remote servers: their values are sealed in the vault (names
//! kept in clear for display), may hold `${secret:<config key>}` references, and are
//! opened only to connect.

use super::model::ServerRecord;
use crate::app::App;
use crate::error::{Error, ErrorCode, Result};
use std::collections::BTreeMap;

/// The vault row of a server's header values.
fn headers_row(server_id: &str) -> crate::vault::seal::RowRef<'_> {
    crate::vault::seal::RowRef {
        table: "mcp_servers",
        column: "headers",
        id: server_id,
    }
}

/// Seals `headers` into the record: `header_names` in clear, the values sealed in
/// `headers_sealed` (`None` when there are none). Fails only when sealing does (500).
pub(super) fn set_headers(
    app: &App,
    rec: &mut ServerRecord,
    headers: &BTreeMap<String, String>,
) -> Result<()> {
    rec.header_names = headers.keys().cloned().collect();
    rec.headers_sealed = if headers.is_empty() {
        None
    } else {
        let clear = zeroize::Zeroizing::new(serde_json::to_vec(headers)?);
        Some(app.vault.seal(headers_row(&rec.id), &clear)?)
    };
    Ok(())
}

/// Opens a remote server's header values (name → value) and resolves their
/// `${secret:<key>}` references (only to connect). A reference whose config key is gone
/// is 503 `MCP_SERVICE_UNCONFIGURED`.
pub(super) async fn open_headers(
    app: &App,
    rec: &ServerRecord,
) -> Result<BTreeMap<String, String>> {
    let Some(sealed) = &rec.headers_sealed else {
        return Ok(BTreeMap::new());
    };
    let clear = app.vault.open(headers_row(&rec.id), sealed)?;
    let headers: BTreeMap<String, String> = serde_json::from_slice(&clear)?;
    let vault = app.vault.clone();
    let resolved = app
        .store
        .read(move |c| crate::configuration::refs::resolve(c, &vault, &headers))
        .await
        .map_err(|e| match e.code {
            ErrorCode::ValidationError => Error::new(
                ErrorCode::McpServiceUnconfigured,
                format!(
                    "MCP server '{}' has a header that refers to a missing config entry",
                    rec.name
                ),
            ),
            _ => e,
        })?;
    Ok(resolved
        .into_iter()
        .map(|(k, v)| (k, v.as_str().to_string()))
        .collect())
}

/// Checks that every `${secret:<key>}` in header values names an existing config
/// entry (400 naming `headers.<Name>` otherwise).
pub(super) async fn check_header_refs(app: &App, headers: &BTreeMap<String, String>) -> Result<()> {
    let headers = headers.clone();
    app.store
        .read(move |c| crate::configuration::refs::check(c, "headers", &headers))
        .await
}
