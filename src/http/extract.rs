//! Extractors whose rejections speak the API's error envelope instead of axum's plain
//! text: a JSON body (content type checked, unknown fields and wrong types reported by
//! field, size limit → 413), list queries, and typed query strings and paths.

use crate::error::{Error, ErrorCode};
use crate::store::list::ListQuery;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

/// A JSON request body. Types deriving `Deserialize` should use
/// `#[serde(deny_unknown_fields)]`: an unknown field is then a 400 naming it.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !media_type(req.headers()).is_some_and(|m| is_json(&m)) {
            return Err(Error::validation("expected Content-Type: application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON document into `T`, naming the offending field on failure. Every body
/// of the API is a JSON object: an array or a scalar is refused (serde would otherwise
/// read an array as a struct's fields in order).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(Error::field("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            return Error::validation(format!("malformed JSON body: {msg}"));
        }
        // The path already names an unknown field; a missing one is named only in the
        // message ("missing field `x`") at its parent's path.
        let missing = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
            .map(|(n, _)| n);
        // A struct with `#[serde(flatten)]` reports an unknown field at its own path,
        // naming the field only in the message.
        let unknown = msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
            .map(|(n, _)| n);
        let field = match (missing.or(unknown), path.as_str()) {
            (Some(name), ".") => name.to_string(),
            (Some(name), parent) if missing.is_some() => format!("{parent}.{name}"),
            (_, ".") => "body".to_string(),
            (_, _) => path.clone(),
        };
        let issue = if missing.is_some() {
            "required".to_string()
        } else if msg.starts_with("unknown field") {
            "unknown field".to_string()
        } else {
            msg.clone()
        };
        Error::new(
            ErrorCode::ValidationError,
            format!("invalid request body: {field}: {issue}"),
        )
        .with_detail(field, issue)
    })?;
    // One JSON value and only whitespace after it (RFC 8259 §2): `{} x` is not a body.
    de.end().map_err(|e| {
        Error::validation(format!(
            "malformed JSON body: {}",
            strip_position(&e.to_string())
        ))
    })?;
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn body_error(e: BytesRejection) -> Error {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::new(
            ErrorCode::PayloadTooLarge,
            "request body is larger than the configured limit",
        )
    } else {
        Error::validation(format!("could not read request body: {e}"))
    }
}

/// The list parameters of a request (`page`, `limit`, `sort`, `order`, filters).
pub struct List(pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for List {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let pairs = query_pairs(parts)?;
        ListQuery::parse(&pairs).map(List)
    }
}

/// Decoded `key=value` pairs of the query string.
pub fn query_pairs(parts: &Parts) -> Result<Vec<(String, String)>, Error> {
    let q = parts.uri.query().unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .map_err(|e| Error::validation(format!("malformed query string: {e}")))
}

/// A typed query string; unknown parameters are rejected when `T` denies them.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<T>(q).map(Query).map_err(|e| {
            let msg = e.to_string();
            match msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split_once('`'))
            {
                Some((name, _)) => Error::field(name, "unknown query parameter"),
                None => Error::validation(format!("invalid query string: {msg}")),
            }
        })
    }
}

/// Path parameters, with a 400 in the envelope when they do not parse.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| Error::validation(format!("invalid path: {}", e.body_text())))
    }
}

/// The media type of a `Content-Type` header without its parameters, lower-cased
/// (`application/json; charset=utf-8` → `application/json`); `None` without one.
pub fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// Whether a media type is JSON: `application/json` or `application/<x>+json`.
pub fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        cpu: u32,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    fn err(json: &str) -> Error {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn field_errors_name_the_field() {
        let e = err(r#"{"name":"a","bogus":1}"#);
        assert_eq!(e.details[0].field, "bogus");
        let e = err(r#"{"name":5}"#);
        assert_eq!(e.details[0].field, "name");
        let e = err(r#"{}"#);
        assert_eq!(
            (e.details[0].field.as_str(), e.details[0].issue.as_str()),
            ("name", "required")
        );
        let e = err(r#"{"name":"a","inner":{"cpu":"x"}}"#);
        assert_eq!(e.details[0].field, "inner.cpu");
        let e = err(r#"{"name":"a","inner":{"cpu":1,"x":2}}"#);
        assert_eq!(e.details[0].field, "inner.x");
        let e = err(r#"{"name":"#);
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("malformed"));
        for trailing in [r#"{"name":"a"} x"#, r#"{"name":"a"}{}"#] {
            let e = err(trailing);
            assert_eq!(
                e.message, "malformed JSON body: trailing characters",
                "{trailing}"
            );
        }
        let ok: Result<serde_json::Value, Error> = parse_json(b"{\"name\":\"a\"} \n");
        assert!(ok.is_ok(), "whitespace after the value is allowed");
        for not_object in [r#"["a", null]"#, " 5", r#""a""#] {
            let e = err(not_object);
            assert_eq!(e.details[0].field, "body", "{not_object}");
        }
    }
}
