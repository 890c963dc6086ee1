//! `Status` error bodies exactly as the real API server writes them (kind Status,
//! apiVersion v1, status Failure, message, reason, details, code).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error answered as a JSON `Status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code (also `code` in the body).
    pub code: u16,
    /// `reason` (NotFound, AlreadyExists, Invalid, BadRequest, ...).
    pub reason: &'static str,
    /// Human readable `message`.
    pub message: String,
    /// `details`, omitted when `None`.
    pub details: Option<Value>,
}

/// Handler results.
pub type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.body())).into_response()
    }
}

/// `details` naming an object: `{"name", "group" (if any), "kind": plural}`.
pub fn details(group: &str, plural: &str, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": plural});
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

/// `resource` or `resource.group`, as messages spell it.
pub fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// 404 `pods "x" not found`.
pub fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
    ApiError {
        code: 404,
        reason: "NotFound",
        message: format!("{} \"{name}\" not found", qualified(group, plural)),
        details: Some(details(group, plural, name)),
    }
}

/// 409 `namespaces "x" already exists`.
pub fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
    ApiError {
        code: 409,
        reason: "AlreadyExists",
        message: format!("{} \"{name}\" already exists", qualified(group, plural)),
        details: Some(details(group, plural, name)),
    }
}

/// 409 Conflict on a stale resourceVersion.
pub fn conflict(group: &str, plural: &str, name: &str) -> ApiError {
    ApiError {
        code: 409,
        reason: "Conflict",
        message: format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            qualified(group, plural)
        ),
        details: Some(details(group, plural, name)),
    }
}

/// One cause of a 422: `(reason, field, message)`.
pub type Cause = (&'static str, String, String);

/// 422 Invalid: `Deployment.apps "x" is invalid: field: message, ...`.
pub fn invalid(group: &str, kind: &str, name: &str, causes: &[Cause]) -> ApiError {
    let what = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let list: Vec<String> = causes.iter().map(|(_, f, m)| format!("{f}: {m}")).collect();
    let joined = if list.len() == 1 {
        list[0].clone()
    } else {
        format!("[{}]", list.join(", "))
    };
    let mut d = details(group, kind, name);
    d["causes"] = causes
        .iter()
        .map(|(r, f, m)| json!({"reason": r, "message": m, "field": f}))
        .collect();
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("{what} \"{name}\" is invalid: {joined}"),
        details: Some(d),
    }
}

/// 400 BadRequest with `message`.
pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError {
        code: 400,
        reason: "BadRequest",
        message: message.into(),
        details: None,
    }
}

/// 401 Unauthorized.
pub fn unauthorized() -> ApiError {
    ApiError {
        code: 401,
        reason: "Unauthorized",
        message: "Unauthorized".into(),
        details: None,
    }
}

/// 403 as RBAC words it: `pods "x" is forbidden: User ... cannot get resource ...`.
pub fn forbidden(group: &str, plural: &str, name: &str, verb: &str, ns: &str) -> ApiError {
    let subject = if name.is_empty() {
        plural.to_string()
    } else {
        format!("{plural} \"{name}\"")
    };
    ApiError {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "{subject} is forbidden: User \"system:serviceaccount:mcpd:mcpd\" cannot {verb} \
             resource \"{plural}\" in API group \"{group}\" in the namespace \"{ns}\""
        ),
        details: Some(details(group, plural, name)),
    }
}

/// 405 for a verb a resource does not serve.
pub fn method_not_allowed() -> ApiError {
    ApiError {
        code: 405,
        reason: "MethodNotAllowed",
        message: "the server does not allow this method on the requested resource".into(),
        details: None,
    }
}

/// A `Status` Success body (deletes that answer with a Status).
pub fn success(group: &str, plural: &str, name: &str, uid: &Value) -> Value {
    let mut d = details(group, plural, name);
    d["uid"] = uid.clone();
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d})
}
