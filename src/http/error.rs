//! The one mapping from domain [`Error`] to HTTP: status by code (DESIGN.md's table),
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

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorPayload<'a>,
}

#[derive(Serialize)]
struct ErrorPayload<'a> {
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldIssue]>::is_empty")]
    details: &'a [FieldIssue],
    request_id: String,
    timestamp: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let request_id = super::request_id::current();
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
        let body = ErrorBody {
            error: ErrorPayload {
                code: self.code,
                message: &self.message,
                details: &self.details,
                request_id,
                timestamp: crate::time::now_rfc3339(),
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
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
        // DESIGN.md's table, written out independently of `status_of`.
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
