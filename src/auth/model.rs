//! Auth types: the request bodies the auth endpoints take (deserialized once and applied
//! by the domain) and the login sessions and API keys as the API shows them.

use serde::{Deserialize, Serialize};

/// `POST /auth/login` body. Errors for bad input are named by field (`docs/api.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email.
    pub username: String,
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
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

/// A login session as its owner sees it.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the token used for this request.
    pub current: bool,
}

/// `{id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at, user_id}`;
/// `key` is present only in the creation response.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub user_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `POST /api-keys` body, checked by [`crate::auth::api_keys::validate`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
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
