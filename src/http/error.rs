//! The one mapping from domain [`Error`] to HTTP: status by code (docs/api.md §1.3),
//! body `{"error": {code, message, details?, request_id, timestamp}}`, `Retry-After` for
//! rate limits. Internal causes are logged here and never sent.

use crate::error::{Error, ErrorCode, FieldIssue};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The status every code maps to.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        ValidationError => StatusCode::BAD_REQUEST,
        Unauthorized
        | AuthInvalidCredentials
        | AuthTokenExpired
        | AuthTokenInvalid
        | AuthMfaRequired => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        ResourceNotFound => StatusCode::NOT_FOUND,
        ResourceAlreadyExists | Conflict => StatusCode::CONFLICT,
        PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        McpServiceError | K8sOperationError | NetworkCommandError | NetworkConfigError => {
            StatusCode::BAD_GATEWAY
        }
        ServiceUnavailable
        | DockerUnavailable
        | McpServiceUnavailable
        | McpServiceUnconfigured
        | K8sConnectionError
        | NetworkConnectionError => StatusCode::SERVICE_UNAVAILABLE,
        McpTimeout | GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// The code an HTTP status stands for, for answers made below the handlers (axum's
/// rejections, the gateway's transport, hyper): the generic code of that status, else
/// `VALIDATION_ERROR` for a 4xx (400, 405, 406, 414, 415, 431 …) and
/// `INTERNAL_SERVER_ERROR` for a 5xx.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    use ErrorCode::*;
    match status.as_u16() {
        401 => Unauthorized,
        403 => Forbidden,
        404 => ResourceNotFound,
        409 => Conflict,
        412 => PreconditionFailed,
        413 => PayloadTooLarge,
        429 => RateLimitExceeded,
        503 => ServiceUnavailable,
        504 => GatewayTimeout,
        s if s < 500 => ValidationError,
        _ => InternalServerError,
    }
}

/// The envelope of `e` answered with `status` instead of its code's own: for HTTP
/// statuses the table has no code of their own (405, 406, 414, 415, 431), answered
/// with the code [`code_for_status`] gives them.
pub fn with_status(e: Error, status: StatusCode) -> Response {
    let mut r = e.into_response();
    *r.status_mut() = status;
    r
}

/// The error envelope, `{"error": {…}}` (docs/api.md §1.3); its schema in the OpenAPI
/// document is `ErrorBody`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// What went wrong.
    pub error: ErrorPayload<'a>,
}

/// `error` of the error envelope.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorPayload<'a> {
    /// The code; it fixes the HTTP status.
    pub code: ErrorCode,
    /// Safe to show; internal errors say only `internal server error`.
    pub message: &'a str,
    /// The offending inputs; left out when there are none.
    #[serde(skip_serializing_if = "<[FieldIssue]>::is_empty")]
    #[schema(value_type = Option<Vec<FieldIssue>>)]
    pub details: &'a [FieldIssue],
    /// Id of the request, as in `X-Request-ID`.
    pub request_id: String,
    /// When the answer was made (RFC 3339 UTC, milliseconds).
    pub timestamp: String,
}

/// The envelope of `e` (no internal cause in it), stamped with `request_id` and now.
fn envelope(e: &Error, request_id: String) -> ErrorBody<'_> {
    ErrorBody {
        error: ErrorPayload {
            code: e.code,
            message: &e.message,
            details: &e.details,
            request_id,
            timestamp: crate::time::now_rfc3339(),
        },
    }
}

/// The envelope of `e` as JSON bytes, for answers written below axum (see
/// [`super::conn`]).
pub fn envelope_bytes(e: &Error, request_id: String) -> Vec<u8> {
    serde_json::to_vec(&envelope(e, request_id)).unwrap_or_default()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let request_id = crate::telemetry::request_id::current();
        if status.is_server_error() {
            match &self.source {
                Some(src) => {
                    tracing::error!(%request_id, code = %self.code, "{}: {src:#}", self.message)
                }
                None => tracing::warn!(%request_id, code = %self.code, "{}", self.message),
            }
        } else if let Some(src) = &self.source {
            tracing::debug!(%request_id, code = %self.code, "{}: {src:#}", self.message);
        }
        let mut resp = (status, axum::Json(envelope(&self, request_id))).into_response();
        if let Some(secs) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_documented_status() {
        // The table of docs/api.md §1.3 "Errors", written out independently of `status_of`.
        let table: &[(&str, u16)] = &[
            ("VALIDATION_ERROR", 400),
            ("UNAUTHORIZED", 401),
            ("AUTH_INVALID_CREDENTIALS", 401),
            ("AUTH_TOKEN_EXPIRED", 401),
            ("AUTH_TOKEN_INVALID", 401),
            ("AUTH_MFA_REQUIRED", 401),
            ("FORBIDDEN", 403),
            ("RESOURCE_NOT_FOUND", 404),
            ("RESOURCE_ALREADY_EXISTS", 409),
            ("CONFLICT", 409),
            ("PRECONDITION_FAILED", 412),
            ("PAYLOAD_TOO_LARGE", 413),
            ("RATE_LIMIT_EXCEEDED", 429),
            ("INTERNAL_SERVER_ERROR", 500),
            ("MCP_SERVICE_ERROR", 502),
            ("K8S_OPERATION_ERROR", 502),
            ("NETWORK_COMMAND_ERROR", 502),
            ("NETWORK_CONFIG_ERROR", 502),
            ("SERVICE_UNAVAILABLE", 503),
            ("DOCKER_UNAVAILABLE", 503),
            ("MCP_SERVICE_UNAVAILABLE", 503),
            ("MCP_SERVICE_UNCONFIGURED", 503),
            ("K8S_CONNECTION_ERROR", 503),
            ("NETWORK_CONNECTION_ERROR", 503),
            ("MCP_TIMEOUT", 504),
            ("GATEWAY_TIMEOUT", 504),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, code.as_str());
            let (_, status) = table.iter().find(|(n, _)| *n == code.as_str()).unwrap();
            assert_eq!(status_of(code).as_u16(), *status, "{code}");
        }
    }

    #[test]
    fn statuses_map_back_to_their_codes() {
        let c = |s: u16| code_for_status(StatusCode::from_u16(s).unwrap()).as_str();
        assert_eq!(c(413), "PAYLOAD_TOO_LARGE");
        assert_eq!(c(404), "RESOURCE_NOT_FOUND");
        assert_eq!(c(401), "UNAUTHORIZED");
        assert_eq!(c(409), "CONFLICT");
        assert_eq!(c(431), "VALIDATION_ERROR");
        assert_eq!(c(405), "VALIDATION_ERROR");
        assert_eq!(c(503), "SERVICE_UNAVAILABLE");
        assert_eq!(c(501), "INTERNAL_SERVER_ERROR");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let e = Error::internal(anyhow::anyhow!("secret path /var/lib/x"));
        let resp = e.into_response();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "INTERNAL_SERVER_ERROR");
        assert!(
            v["error"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("req_")
        );
    }

    #[tokio::test]
    async fn rate_limit_sets_retry_after_and_details_serialize() {
        let resp = Error::new(ErrorCode::RateLimitExceeded, "slow down")
            .with_retry_after(7)
            .into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let resp = Error::field("image", "required").into_response();
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["details"][0]["field"], "image");
        assert_eq!(v["error"]["details"][0]["issue"], "required");
    }
}
