//! Kubernetes failures in the API's terms. An API server answers errors as a `Status`
//! object (`kind: Status`, with `code`, `reason`, `message` and `details.causes`); its
//! code decides the mapping: 404 → `RESOURCE_NOT_FOUND`, 409 → `RESOURCE_ALREADY_EXISTS`
//! (`CONFLICT` for a stale write), 422 → `VALIDATION_ERROR` with the causes as details,
//! 401/403 → `K8S_CONNECTION_ERROR` naming the credential problem, anything else →
//! `K8S_OPERATION_ERROR` with the server's reason and message. Failures below HTTP
//! (DNS, connect, TLS) are `K8S_CONNECTION_ERROR` naming which.

use super::model::ClusterStatus;
use crate::error::{Error, ErrorCode};
use kube::core::Status;

/// The error for `what` (e.g. `listing pods`) failing with `e`.
pub fn from_kube(what: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(status) => from_status(what, &status),
        other => {
            let (_, cause) = transport_problem(&other);
            Error::new(
                ErrorCode::K8sConnectionError,
                format!("{what}: cannot reach the cluster: {cause}"),
            )
            .with_source(other)
        }
    }
}

/// The error for a `Status` answer.
pub fn from_status(what: &str, s: &Status) -> Error {
    let message = if s.message.is_empty() {
        s.reason.clone()
    } else {
        s.message.clone()
    };
    match s.code {
        404 => Error::new(ErrorCode::ResourceNotFound, message),
        409 if s.reason == "AlreadyExists" => Error::new(ErrorCode::ResourceAlreadyExists, message),
        409 => Error::conflict(message),
        422 => {
            let causes = s
                .details
                .as_ref()
                .map(|d| d.causes.as_slice())
                .unwrap_or_default();
            causes.iter().fold(Error::validation(message), |e, c| {
                let field = if c.field.is_empty() {
                    "body"
                } else {
                    c.field.as_str()
                };
                e.with_detail(field, c.message.clone())
            })
        }
        401 => Error::new(
            ErrorCode::K8sConnectionError,
            format!("{what}: the cluster refused the credentials (401 Unauthorized)"),
        ),
        403 => Error::new(
            ErrorCode::K8sConnectionError,
            format!(
                "{what}: the credentials are not allowed to do this (403 Forbidden): {message}"
            ),
        ),
        code => Error::new(
            ErrorCode::K8sOperationError,
            format!(
                "{what}: the cluster answered {code} {}: {message}",
                s.reason
            ),
        ),
    }
}

/// What a failed check says of the cluster: the status to record and a cause safe to
/// show (no credential ever appears in these texts).
pub fn probe_problem(e: &kube::Error) -> (ClusterStatus, String) {
    match e {
        kube::Error::Api(s) if s.code == 401 => (
            ClusterStatus::Unauthorized,
            "401 Unauthorized: the cluster refused the credentials".into(),
        ),
        kube::Error::Api(s) if s.code == 403 => (
            ClusterStatus::Unauthorized,
            format!("403 Forbidden: {}", s.message),
        ),
        kube::Error::Api(s) => (
            ClusterStatus::Unreachable,
            format!(
                "the cluster answered {} {}: {}",
                s.code, s.reason, s.message
            ),
        ),
        other => transport_problem(other),
    }
}

/// Names a failure below HTTP by walking its causes: TLS verification, DNS, connection
/// refused or timed out.
fn transport_problem(e: &kube::Error) -> (ClusterStatus, String) {
    let mut chain: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return (
                ClusterStatus::Unreachable,
                format!("TLS verification failed: {tls}"),
            );
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let why = match io.kind() {
                ConnectionRefused => Some("connection refused"),
                TimedOut => Some("connection timed out"),
                ConnectionReset | ConnectionAborted | BrokenPipe => Some("connection lost"),
                _ => None,
            };
            if let Some(why) = why {
                return (ClusterStatus::Unreachable, why.to_string());
            }
        }
        chain.push(err.to_string());
        cur = err.source();
    }
    let text = chain.join(": ");
    let lower = text.to_lowercase();
    let why = if lower.contains("dns error") || lower.contains("failed to lookup") {
        format!(
            "DNS lookup failed: {}",
            chain.last().cloned().unwrap_or_default()
        )
    } else if lower.contains("certificate") || lower.contains("tls") {
        format!(
            "TLS verification failed: {}",
            chain.last().cloned().unwrap_or_default()
        )
    } else if lower.contains("timed out") || lower.contains("elapsed") {
        "connection timed out".to_string()
    } else {
        chain.last().cloned().unwrap_or(text)
    };
    (ClusterStatus::Unreachable, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn status(code: u16, reason: &str) -> Status {
        Status {
            code,
            reason: reason.into(),
            message: format!("m{code}"),
            ..Status::default()
        }
    }

    #[test]
    fn status_codes_map_to_the_api_codes() {
        let cases = [
            (404, "NotFound", "RESOURCE_NOT_FOUND"),
            (409, "AlreadyExists", "RESOURCE_ALREADY_EXISTS"),
            (409, "Conflict", "CONFLICT"),
            (422, "Invalid", "VALIDATION_ERROR"),
            (401, "Unauthorized", "K8S_CONNECTION_ERROR"),
            (403, "Forbidden", "K8S_CONNECTION_ERROR"),
            (500, "InternalError", "K8S_OPERATION_ERROR"),
            (400, "BadRequest", "K8S_OPERATION_ERROR"),
        ];
        for (code, reason, want) in cases {
            assert_eq!(
                from_status("x", &status(code, reason)).code.as_str(),
                want,
                "{code}"
            );
        }
    }

    #[test]
    fn invalid_answers_carry_their_causes() {
        let mut s = status(422, "Invalid");
        s.details = Some(StatusDetails {
            causes: vec![StatusCause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.selector".into(),
            }],
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            retry_after_seconds: 0,
        });
        let e = from_status("creating", &s);
        assert_eq!(e.details[0].field, "spec.selector");
        assert_eq!(e.details[0].issue, "Required value");
    }
}
