//! The service proxy subresource:
//! `/api/v1/namespaces/{ns}/services/{name}[:{port}]/proxy/{path}` forwards the request
//! (method, query, body, headers other than hop-by-hop ones and `Authorization`, which
//! the real API server strips after authenticating) to the Service's `targetPort` on
//! 127.0.0.1, where the local process of a selected Running pod listens, and streams the
//! answer back. With no Running pod selected it answers 503 as the real server does
//! (`no endpoints available for service "<name>"`).

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt as _;
use serde_json::Value;

use super::rest::St;
use super::select::LabelSelector;
use super::state::{PODS, SERVICES};
use super::status::{self, ApiError, ApiResult};

/// Headers that are not forwarded either way (RFC 9110 §7.6.1 plus `host`).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
];

/// `/…/services/{svc}/proxy` (no path).
pub async fn root_handler(
    State(s): State<St>,
    Path((ns, svc)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Response {
    forward(&s, &ns, &svc, "", raw, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `/…/services/{svc}/proxy/{*path}`.
pub async fn path_handler(
    State(s): State<St>,
    Path((ns, svc, path)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Response {
    forward(&s, &ns, &svc, &path, raw, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn unavailable(message: String) -> ApiError {
    ApiError {
        code: 503,
        reason: "ServiceUnavailable",
        message,
        details: None,
    }
}

/// The local port behind `svc` (`name`, `name:port-number` or `name:port-name`).
fn target_port(s: &St, ns: &str, svc: &str) -> ApiResult<u16> {
    let (name, port) = match svc.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (svc, None),
    };
    let inner = s.lock();
    let service = inner
        .get(&SERVICES, ns, name)
        .ok_or_else(|| status::not_found("", "services", name))?;
    let ports = service["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let chosen = ports.iter().find(|p| match port {
        None => true,
        Some(x) => p["name"].as_str() == Some(x) || x.parse::<u64>().ok() == p["port"].as_u64(),
    });
    let Some(chosen) = chosen else {
        return Err(unavailable(format!(
            "no endpoints available for service \"{name}\""
        )));
    };
    let selector = selector_of(&service["spec"]["selector"]);
    let running = inner.list(&PODS, Some(ns)).into_iter().any(|p| {
        selector.as_ref().is_some_and(|s| s.matches(&p)) && p["status"]["phase"] == "Running"
    });
    if !running {
        return Err(unavailable(format!(
            "no endpoints available for service \"{name}\""
        )));
    }
    let target = match &chosen["targetPort"] {
        Value::Number(n) => n.as_u64(),
        _ => chosen["port"].as_u64(),
    };
    target
        .and_then(|t| u16::try_from(t).ok())
        .ok_or_else(|| unavailable(format!("no endpoints available for service \"{name}\"")))
}

/// A Service's `spec.selector` map as a label selector (`None`: selects nothing).
fn selector_of(sel: &Value) -> Option<LabelSelector> {
    let map = sel.as_object().filter(|m| !m.is_empty())?;
    let text: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    LabelSelector::parse(&text.join(",")).ok()
}

async fn forward(
    s: &St,
    ns: &str,
    svc: &str,
    path: &str,
    raw: Option<String>,
    req: Request,
) -> ApiResult {
    let port = target_port(s, ns, svc)?;
    let mut url = format!("http://127.0.0.1:{port}/{path}");
    if let Some(q) = raw {
        url.push('?');
        url.push_str(&q);
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| unavailable(format!("proxy client: {e}")))?;
    let (parts, body) = req.into_parts();
    let mut out = client.request(parts.method.clone(), &url);
    for (k, v) in &parts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            out = out.header(k, v);
        }
    }
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let answer = out.body(body).send().await.map_err(|e| ApiError {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("error trying to reach service: {e}"),
        details: None,
    })?;
    let code = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = Response::builder().status(code);
    for (k, v) in answer.headers() {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            resp = resp.header(k, v);
        }
    }
    let stream = answer.bytes_stream().map_err(std::io::Error::other);
    resp.body(Body::from_stream(stream))
        .map_err(|e| unavailable(format!("proxy answer: {e}")))
}
