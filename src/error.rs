//! The one domain error type. Domain code returns [`Error`]; `http::error` turns it into
//! the documented envelope and status. The domain never chooses an HTTP status itself:
//! it picks an [`ErrorCode`], and the code's status is fixed by the table of docs/api.md
//! §1.3 "Errors".

use serde::Serialize;
use std::fmt;

/// Error codes of the API contract (docs/api.md §1.3 "Errors": each code fixes the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: bad body, query or path; a value Docker or a catalog schema refuses.
    ValidationError,
    /// 401: no credential sent.
    Unauthorized,
    /// 401: wrong username/password or one-time code at login, disabled account, wrong client
    /// credentials.
    AuthInvalidCredentials,
    /// 401: access token past its `exp`.
    AuthTokenExpired,
    /// 401: malformed or forged token, revoked session, disabled user, or invalid/revoked/expired
    /// API key or refresh token.
    AuthTokenInvalid,
    /// 401: login of an account with MFA on, without `mfa_code`.
    AuthMfaRequired,
    /// 403: missing permission, an action API keys may not take, a read-only workspace grant.
    Forbidden,
    /// 404: unknown (or, for MCP servers and workspaces, invisible) resource or route.
    ResourceNotFound,
    /// 409: a unique name or key is taken.
    ResourceAlreadyExists,
    /// 409: the resource's state forbids the change (in use, running, built in, …).
    Conflict,
    /// 412: `If-Match` named another version (RFC 9110 §13.1.1; optimistic concurrency on
    /// configuration keys), or a backup archive that cannot be used for a restore.
    PreconditionFailed,
    /// 413: body over `server.max_body_bytes`, or image archive over
    /// `docker.max_image_upload_bytes`.
    PayloadTooLarge,
    /// 429: too many requests or failed logins; sent with `Retry-After`.
    RateLimitExceeded,
    /// 500: anything unexpected; the message says only `internal server error`.
    InternalServerError,
    /// 502: an MCP server answered with a JSON-RPC error, or unexpectedly.
    McpServiceError,
    /// 502: reserved by the API contract; nothing produces it.
    K8sOperationError,
    /// 502: reserved by the API contract; nothing produces it.
    NetworkCommandError,
    /// 502: reserved by the API contract; nothing produces it.
    NetworkConfigError,
    /// 503: not enough disk for a backup, image registry unreachable, database stayed locked.
    ServiceUnavailable,
    /// 503: the Docker engine does not answer (or cannot create the managed network).
    DockerUnavailable,
    /// 503: MCP server stopped, unreachable, session closed, or not speaking MCP.
    McpServiceUnavailable,
    /// 503: catalog server lacks required configuration, or a remote header names a deleted config
    /// key.
    McpServiceUnconfigured,
    /// 503: reserved by the API contract; nothing produces it.
    K8sConnectionError,
    /// 503: reserved by the API contract; nothing produces it.
    NetworkConnectionError,
    /// 504: an MCP call or ping did not answer within its timeout.
    McpTimeout,
    /// 504: a service `exec` did not finish within `timeout_s`.
    GatewayTimeout,
}

impl ErrorCode {
    /// Every code, for tests that walk the whole table.
    pub const ALL: [ErrorCode; 26] = [
        Self::ValidationError,
        Self::Unauthorized,
        Self::AuthInvalidCredentials,
        Self::AuthTokenExpired,
        Self::AuthTokenInvalid,
        Self::AuthMfaRequired,
        Self::Forbidden,
        Self::ResourceNotFound,
        Self::ResourceAlreadyExists,
        Self::Conflict,
        Self::PreconditionFailed,
        Self::PayloadTooLarge,
        Self::RateLimitExceeded,
        Self::InternalServerError,
        Self::McpServiceError,
        Self::K8sOperationError,
        Self::NetworkCommandError,
        Self::NetworkConfigError,
        Self::ServiceUnavailable,
        Self::DockerUnavailable,
        Self::McpServiceUnavailable,
        Self::McpServiceUnconfigured,
        Self::K8sConnectionError,
        Self::NetworkConnectionError,
        Self::McpTimeout,
        Self::GatewayTimeout,
    ];

    /// The wire name, e.g. `RESOURCE_NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::AuthInvalidCredentials => "AUTH_INVALID_CREDENTIALS",
            Self::AuthTokenExpired => "AUTH_TOKEN_EXPIRED",
            Self::AuthTokenInvalid => "AUTH_TOKEN_INVALID",
            Self::AuthMfaRequired => "AUTH_MFA_REQUIRED",
            Self::Forbidden => "FORBIDDEN",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            Self::Conflict => "CONFLICT",
            Self::PreconditionFailed => "PRECONDITION_FAILED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::McpServiceError => "MCP_SERVICE_ERROR",
            Self::K8sOperationError => "K8S_OPERATION_ERROR",
            Self::NetworkCommandError => "NETWORK_COMMAND_ERROR",
            Self::NetworkConfigError => "NETWORK_CONFIG_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::DockerUnavailable => "DOCKER_UNAVAILABLE",
            Self::McpServiceUnavailable => "MCP_SERVICE_UNAVAILABLE",
            Self::McpServiceUnconfigured => "MCP_SERVICE_UNCONFIGURED",
            Self::K8sConnectionError => "K8S_CONNECTION_ERROR",
            Self::NetworkConnectionError => "NETWORK_CONNECTION_ERROR",
            Self::McpTimeout => "MCP_TIMEOUT",
            Self::GatewayTimeout => "GATEWAY_TIMEOUT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one input field, e.g. `{"field": "image", "issue": "required"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    /// Input path: body field (`ports[0].host_ip`), query parameter, header, or JSON pointer.
    pub field: String,
    /// What is wrong with it, e.g. `required`, `unknown field`.
    pub issue: String,
}

/// A domain error: a code, a message safe to show the caller, optional field details,
/// and (for internal errors) the hidden cause that is logged but never sent.
#[derive(Debug)]
pub struct Error {
    /// Decides the HTTP status and the envelope's `error.code`.
    pub code: ErrorCode,
    /// Safe to show the caller; `internal server error` for internal errors.
    pub message: String,
    /// Per-field problems, sent as `error.details` (left out when empty).
    pub details: Vec<FieldIssue>,
    /// Seconds the caller should wait, sent as `Retry-After` (rate limits).
    pub retry_after_s: Option<u64>,
    /// Cause kept for the log only (internal errors); never serialized.
    pub source: Option<anyhow::Error>,
}

/// Result with the domain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `code` and `message` and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_s: None,
            source: None,
        }
    }

    /// 400 with one field issue: `Error::field("image", "required")`.
    pub fn field(field: impl Into<String>, issue: impl Into<String>) -> Self {
        let (field, issue) = (field.into(), issue.into());
        Self::new(ErrorCode::ValidationError, format!("{field}: {issue}")).with_detail(field, issue)
    }

    /// 400 with a free-form message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    /// 404: `Error::not_found("service", "web")` → "service 'web' not found".
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("{kind} '{id}' not found"),
        )
    }

    /// 409 for a unique name or id already taken.
    pub fn already_exists(kind: &str, name: &str) -> Self {
        Self::new(
            ErrorCode::ResourceAlreadyExists,
            format!("{kind} '{name}' already exists"),
        )
    }

    /// 409 `CONFLICT`: the resource's state forbids the change.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 403 `FORBIDDEN` with this message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 401 `UNAUTHORIZED` (no credential sent) with this message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 500 whose cause is logged and whose message says nothing of internals.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::InternalServerError, "internal server error");
        e.source = Some(cause.into());
        e
    }

    /// Appends one `{field, issue}` to `details`, leaving code and message as they are.
    pub fn with_detail(mut self, field: impl Into<String>, issue: impl Into<String>) -> Self {
        self.details.push(FieldIssue {
            field: field.into(),
            issue: issue.into(),
        });
        self
    }

    /// Sets the `Retry-After` seconds (429 answers).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// Attach a cause for the log without changing what the caller sees.
    pub fn with_source(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.source = Some(cause.into());
        self
    }
}

/// The one way to turn a failure that is the daemon's own fault into an internal
/// [`Error`] with context: `file.sync_all().internal("syncing the archive")?`. The cause
/// and the context go to the daemon log; the caller sees only "internal server error".
pub trait Internal<T> {
    /// `INTERNAL_SERVER_ERROR` with `what` as context when `self` is an error or `None`.
    fn internal(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<anyhow::Error>> Internal<T> for std::result::Result<T, E> {
    fn internal(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::internal(e.into().context(what.to_string())))
    }
}

impl<T> Internal<T> for Option<T> {
    fn internal(self, what: impl fmt::Display) -> Result<T> {
        self.ok_or_else(|| Error::internal(anyhow::anyhow!("{what}")))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(src) = &self.source {
            write!(f, " ({src:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(e)
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        // Keep a domain error that travelled through anyhow intact.
        match e.downcast::<Error>() {
            Ok(inner) => inner,
            Err(e) => Error::internal(e),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(e)
    }
}
