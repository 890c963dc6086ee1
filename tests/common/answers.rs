//! Checking answers: the status and error envelope of one answer, and tables of bad
//! inputs that must each be refused naming the field.

use super::Daemon;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Asserts an error envelope with `code` and returns the error object.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) -> Value {
    assert_eq!(
        status.as_u16(),
        want_status,
        "unexpected status; body: {body}"
    );
    let err = &body["error"];
    assert_eq!(err["code"], want_code, "unexpected code; body: {body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message missing: {body}"
    );
    assert!(
        err["request_id"].as_str().is_some(),
        "request_id missing: {body}"
    );
    assert!(
        err["timestamp"].as_str().is_some(),
        "timestamp missing: {body}"
    );
    err.clone()
}

/// Asserts that an answer has status `want` (the message shows the body); its body.
pub fn expect(want: u16, (status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status.as_u16(), want, "{body}");
    body
}

/// [`assert_error`] on a whole answer, as the request helpers return it.
pub fn expect_error(answer: (StatusCode, Value), want_status: u16, want_code: &str) -> Value {
    assert_error(answer.0, &answer.1, want_status, want_code)
}

/// Sends `method path` with each body of `cases` and asserts a 400 `VALIDATION_ERROR`
/// whose first detail names the case's field (`details[0].field`).
pub async fn assert_invalid_bodies(
    d: &Daemon,
    token: &str,
    method: Method,
    path: &str,
    cases: Vec<(Value, &str)>,
) {
    for (body, field) in cases {
        let answer = d
            .call(method.clone(), path, Some(token), Some(body.clone()))
            .await;
        let e = expect_error(answer, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{body}: {e}");
    }
}

/// GETs each path of `cases` and asserts a 400 `VALIDATION_ERROR` whose first detail
/// names the case's field.
pub async fn assert_invalid_queries<'a>(
    d: &Daemon,
    token: &str,
    cases: impl IntoIterator<Item = (String, &'a str)>,
) {
    for (path, field) in cases {
        let e = expect_error(d.get(&path, token).await, 400, "VALIDATION_ERROR");
        assert_eq!(e["details"][0]["field"], field, "{path}: {e}");
    }
}

/// Sends `method path` with each body of `cases` and asserts its status and, when a
/// field is given, that the first error detail names it.
pub async fn assert_statuses(
    d: &Daemon,
    token: &str,
    method: Method,
    path: &str,
    cases: Vec<(Value, u16, Option<&str>)>,
) {
    for (body, status, field) in cases {
        let (s, b) = d
            .call(method.clone(), path, Some(token), Some(body.clone()))
            .await;
        assert_eq!(s.as_u16(), status, "{body}: {b}");
        if let Some(f) = field {
            assert_eq!(b["error"]["details"][0]["field"], f, "{b}");
        }
    }
}
