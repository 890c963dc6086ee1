//! The shapes of configuration entries: an entry as the API shows it, and a write.

use serde::Serialize;
use serde_json::Value;

/// `{key, value, secret, scope, description, version, created_at, updated_at, updated_by}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConfigEntry {
    /// Dot-separated segments of `a-z 0-9 _ -`, 1–128 characters.
    pub key: String,
    /// The value, or `"********"` for a secret not revealed.
    pub value: Value,
    /// Whether the value is sealed by the vault.
    pub secret: bool,
    /// `global` or `service:<service id>`.
    pub scope: String,
    /// Free text, at most 1024 bytes.
    pub description: String,
    /// Bumped on every write; the entry's `ETag`.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Id of the user who last wrote it.
    pub updated_by: Option<String>,
}

/// A write: the new value and attributes. `None` keeps the stored attribute (or the
/// default for a new key: not secret, global, empty description).
#[derive(Debug, Clone)]
pub struct ConfigWrite {
    /// The key written.
    pub key: String,
    /// Any JSON value, at most 64 KiB as JSON text.
    pub value: Value,
    /// Seal the value.
    pub secret: Option<bool>,
    /// `global` or `service:<service id>`.
    pub scope: Option<String>,
    /// Free text, at most 1024 bytes.
    pub description: Option<String>,
}
