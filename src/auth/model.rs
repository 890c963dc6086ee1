//! Auth types: the request bodies the auth endpoints take (deserialized once and applied
//! by the domain) and the login sessions and API keys as the API shows them.

use serde::{Deserialize, Serialize};

/// `POST /auth/login` body. Errors for bad input are named by field (`docs/api.md`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email.
    pub username: String,
    /// In clear; checked against the stored argon2id hash, never kept.
    pub password: String,
    /// TOTP code, required when the account has MFA enabled.
    pub mfa_code: Option<String>,
}

/// Where a login comes from, for the session record and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Peer address of the connection.
    pub addr: Option<String>,
    /// `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
}

/// `POST /auth/token` form parameters (RFC 6749 §4.4.2). Unknown parameters are
/// ignored, as §3.2 requires, so this one does not deny unknown fields.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials` (the only grant served).
    pub grant_type: Option<String>,
    /// The API key's id (`key_…`); HTTP Basic credentials win over it.
    pub client_id: Option<String>,
    /// The API key itself (`mcpd_…`).
    pub client_secret: Option<String>,
    /// Space-separated scopes (RFC 6749 §3.3), each allowed by the key's; absent: the key's.
    pub scope: Option<String>,
}

/// A login session as its owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// `ses_…`.
    pub id: String,
    /// RFC 3339 UTC login time.
    pub created_at: String,
    /// RFC 3339 UTC time after which refreshing fails.
    pub expires_at: String,
    /// RFC 3339 UTC; set at login, updated at every refresh.
    pub last_used_at: Option<String>,
    /// Peer IP address at login.
    pub client_addr: Option<String>,
    /// First 256 characters of `User-Agent` at login; `client_credentials` for a token-endpoint session.
    pub user_agent: Option<String>,
    /// The session of the token used for this request.
    pub current: bool,
}

/// `{id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at, user_id}`;
/// `key` is present only in the creation response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// `key_…`.
    pub id: String,
    /// 1–64 printable characters, trimmed; unique per owner.
    pub name: String,
    /// The 8 characters after `mcpd_`, to recognise a key.
    pub prefix: String,
    /// `*` or `<domain>:<action>` each.
    pub scopes: Vec<String>,
    /// Owner (`usr_…`).
    pub user_id: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; null: never expires.
    pub expires_at: Option<String>,
    /// RFC 3339 UTC, recorded at most once a minute; null: never used.
    pub last_used_at: Option<String>,
    /// RFC 3339 UTC; null while the key works.
    pub revoked_at: Option<String>,
    /// The whole key `mcpd_<prefix>_<secret>`, only in the creation answer (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `POST /api-keys` body, checked by [`crate::auth::api_keys::validate`].
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// 1–64 printable characters, trimmed; unique per owner.
    pub name: String,
    /// `*` or `<domain>:<action>` each, within what the owner holds; absent: `["*"]`
    /// (every permission the owner holds).
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    /// RFC 3339 time in the future; absent (and no `expires_in`): never expires.
    pub expires_at: Option<String>,
    /// Seconds from now, 1 to [`MAX_KEY_LIFETIME_S`] (the seeds' spelling); not with
    /// `expires_at`.
    #[schema(minimum = 1, maximum = 315_360_000)]
    pub expires_in: Option<u64>,
}

/// The longest lifetime `expires_in` may give a key: ten years, in seconds.
pub const MAX_KEY_LIFETIME_S: u64 = 315_360_000;

/// Scopes of a key created without any: everything the owner holds.
fn all_scopes() -> Vec<String> {
    vec!["*".to_owned()]
}

/// An API key row as the credential check needs it: `(id, user_id, key_hash, scopes
/// (JSON array), expires_at, revoked_at, last_used_at)`.
pub type KeyRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
