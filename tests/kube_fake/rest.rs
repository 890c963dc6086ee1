//! The REST surface: routing, bearer-token auth, the request log, forbidden namespaces,
//! and the generic list/get/create/replace/patch/delete of every served resource.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::select::{FieldSelector, LabelSelector};
use super::state::{DEPLOYMENTS, Kind, NAMESPACES, NODES, PODS, SECRETS, SERVICES, Shared};
use super::status::{self, ApiError, ApiResult};
use super::{exec, logs, proxy, workloads};

/// The shared state as handlers see it.
pub type St = Arc<Shared>;

/// Query pairs (repeated keys kept, as exec's `command`).
pub type Query = Vec<(String, String)>;

/// The first value of `k` in a query.
pub fn q<'a>(query: &'a Query, k: &str) -> Option<&'a str> {
    query.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
}

/// Parses a raw query string.
pub fn parse_query(raw: Option<String>) -> Query {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default()
}

/// The whole API as an axum router.
pub fn router(shared: St) -> Router {
    let ns_core = "/api/v1/namespaces/{ns}";
    let ns_apps = "/apis/apps/v1/namespaces/{ns}";
    Router::new()
        .route("/version", get(version))
        .route("/api", get(api_versions))
        .route("/apis", get(api_groups))
        .route(
            "/api/v1/namespaces",
            get(namespaces_top).post(namespaces_top),
        )
        .route(
            "/api/v1/namespaces/{name}",
            get(namespace_one).put(namespace_one).delete(namespace_one),
        )
        .route("/api/v1/{res}", get(core_top).post(core_top))
        .route("/api/v1/{res}/{name}", get(core_one))
        .route(
            &format!("{ns_core}/{{res}}"),
            get(core_coll).post(core_coll),
        )
        .route(
            &format!("{ns_core}/{{res}}/{{name}}"),
            get(core_obj).put(core_obj).patch(core_obj).delete(core_obj),
        )
        .route(&format!("{ns_core}/pods/{{name}}/log"), get(logs::handler))
        .route(
            &format!("{ns_core}/pods/{{name}}/exec"),
            get(exec::exec_handler).post(exec::exec_handler),
        )
        .route(
            &format!("{ns_core}/pods/{{name}}/attach"),
            get(exec::attach_handler).post(exec::attach_handler),
        )
        .route(
            &format!("{ns_core}/services/{{svc}}/proxy"),
            axum::routing::any(proxy::root_handler),
        )
        .route(
            &format!("{ns_core}/services/{{svc}}/proxy/{{*path}}"),
            axum::routing::any(proxy::path_handler),
        )
        .route("/apis/apps/v1/{res}", get(apps_top))
        .route(
            &format!("{ns_apps}/{{res}}"),
            get(apps_coll).post(apps_coll),
        )
        .route(
            &format!("{ns_apps}/{{res}}/{{name}}"),
            get(apps_obj).put(apps_obj).patch(apps_obj).delete(apps_obj),
        )
        .route(
            &format!("{ns_apps}/deployments/{{name}}/scale"),
            get(workloads::scale_handler)
                .put(workloads::scale_handler)
                .patch(workloads::scale_handler),
        )
        .fallback(|| async { not_served() })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

fn not_served() -> ApiError {
    ApiError {
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource".into(),
        details: Some(json!({})),
    }
}

/// Records the request, then checks the bearer token and forbidden namespaces.
async fn gate(State(s): State<St>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let line = match uri.query() {
        Some(qs) => format!("{} {}?{qs}", req.method(), uri.path()),
        None => format!("{} {}", req.method(), uri.path()),
    };
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", s.token));
    let forbidden = {
        let mut inner = s.lock();
        inner.requests.push(line);
        forbidden_error(&inner.forbidden, req.method(), uri.path(), uri.query())
    };
    if !authorized {
        return status::unauthorized().into_response();
    }
    if let Some(e) = forbidden {
        return e.into_response();
    }
    next.run(req).await
}

/// The 403 for a request into a forbidden namespace, if it is one.
fn forbidden_error(
    forbidden: &std::collections::HashSet<String>,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", "apps", "v1", rest @ ..] => ("apps", rest),
        _ => return None,
    };
    let ["namespaces", ns, rest @ ..] = rest else {
        return None;
    };
    if !forbidden.contains(*ns) {
        return None;
    }
    let (plural, name, sub) = match rest {
        [] => ("namespaces".to_string(), ns.to_string(), None),
        [res] => (res.to_string(), String::new(), None),
        [res, name] => (res.to_string(), name.to_string(), None),
        [res, name, sub, ..] => (res.to_string(), name.to_string(), Some(*sub)),
    };
    let watch = query.is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"));
    let verb = match (method.as_str(), name.is_empty(), sub) {
        (_, _, Some("exec" | "attach")) => "create",
        ("GET", true, _) if watch => "watch",
        ("GET", true, _) => "list",
        ("GET", false, _) => "get",
        ("POST", ..) => "create",
        ("PUT", ..) => "update",
        ("PATCH", ..) => "patch",
        ("DELETE", true, _) => "deletecollection",
        ("DELETE", false, _) => "delete",
        _ => "get",
    };
    let resource = match sub {
        Some(sub) => format!("{plural}/{sub}"),
        None => plural.clone(),
    };
    let mut e = status::forbidden(group, &resource, &name, verb, ns);
    if sub.is_some() {
        e.message = e.message.replacen(&resource, &plural, 1);
    }
    Some(e)
}

async fn version() -> Response {
    axum::Json(json!({
        "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.2", "gitCommit": "a57b6f7709f6c2722b92f07b8b4c48210a51fc40",
        "gitTreeState": "clean", "buildDate": "2025-06-17T18:39:55Z", "goVersion": "go1.24.4",
        "compiler": "gc", "platform": "linux/amd64",
    }))
    .into_response()
}

async fn api_versions() -> Response {
    axum::Json(json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }))
    .into_response()
}

async fn api_groups() -> Response {
    let apps = json!({"groupVersion": "apps/v1", "version": "v1"});
    axum::Json(json!({
        "kind": "APIGroupList", "apiVersion": "v1",
        "groups": [{"name": "apps", "versions": [apps], "preferredVersion": apps}],
    }))
    .into_response()
}

/// The served core kind of a URL plural.
fn core_kind(res: &str) -> ApiResult<&'static Kind> {
    Ok(match res {
        "namespaces" => &NAMESPACES,
        "nodes" => &NODES,
        "pods" => &PODS,
        "secrets" => &SECRETS,
        "services" => &SERVICES,
        _ => return Err(not_served()),
    })
}

fn apps_kind(res: &str) -> ApiResult<&'static Kind> {
    match res {
        "deployments" => Ok(&DEPLOYMENTS),
        _ => Err(not_served()),
    }
}

/// A request as the generic handlers take it.
pub struct Call<'a> {
    /// The shared state.
    pub s: &'a Shared,
    /// The resource.
    pub kind: &'static Kind,
    /// Namespace (`None`: cluster scoped or all namespaces).
    pub ns: Option<String>,
    /// The query.
    pub query: Query,
}

async fn namespaces_top(
    State(s): State<St>,
    method: Method,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    top(&s, "namespaces", method, raw, &body)
}

async fn core_top(
    State(s): State<St>,
    Path(res): Path<String>,
    method: Method,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    top(&s, &res, method, raw, &body)
}

/// `/api/v1/{res}`: a cluster-scoped list or create, or a list across namespaces.
fn top(s: &Shared, res: &str, method: Method, raw: Option<String>, body: &[u8]) -> Response {
    let r = core_kind(res).and_then(|kind| {
        let call = Call {
            s,
            kind,
            ns: None,
            query: parse_query(raw),
        };
        match method {
            Method::GET => list(&call),
            Method::POST if !kind.namespaced => create(&call, body),
            _ => Err(status::method_not_allowed()),
        }
    });
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn namespace_one(
    State(s): State<St>,
    Path(name): Path<String>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        s: &s,
        kind: &NAMESPACES,
        ns: None,
        query: parse_query(raw),
    };
    object(&call, &method, &name, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

async fn core_one(
    State(s): State<St>,
    Path((res, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let r = core_kind(&res).and_then(|kind| {
        if kind.namespaced {
            return Err(not_served());
        }
        let call = Call {
            s: &s,
            kind,
            ns: None,
            query: parse_query(raw),
        };
        get_one(&call, &name)
    });
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn core_coll(
    State(s): State<St>,
    Path((ns, res)): Path<(String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    collection(&s, core_kind(&res), ns, method, raw, &body)
}

async fn apps_coll(
    State(s): State<St>,
    Path((ns, res)): Path<(String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    collection(&s, apps_kind(&res), ns, method, raw, &body)
}

async fn apps_top(
    State(s): State<St>,
    Path(res): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let r = apps_kind(&res).and_then(|kind| {
        list(&Call {
            s: &s,
            kind,
            ns: None,
            query: parse_query(raw),
        })
    });
    r.unwrap_or_else(IntoResponse::into_response)
}

fn collection(
    s: &Shared,
    kind: ApiResult<&'static Kind>,
    ns: String,
    method: Method,
    raw: Option<String>,
    body: &[u8],
) -> Response {
    let r = kind.and_then(|kind| {
        if !kind.namespaced {
            return Err(not_served());
        }
        let call = Call {
            s,
            kind,
            ns: Some(ns),
            query: parse_query(raw),
        };
        match method {
            Method::GET => list(&call),
            Method::POST => create(&call, body),
            _ => Err(status::method_not_allowed()),
        }
    });
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn core_obj(
    State(s): State<St>,
    Path((ns, res, name)): Path<(String, String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    namespaced_object(&s, core_kind(&res), ns, &name, method, raw, &headers, &body)
}

async fn apps_obj(
    State(s): State<St>,
    Path((ns, res, name)): Path<(String, String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    namespaced_object(&s, apps_kind(&res), ns, &name, method, raw, &headers, &body)
}

#[allow(clippy::too_many_arguments)]
fn namespaced_object(
    s: &Shared,
    kind: ApiResult<&'static Kind>,
    ns: String,
    name: &str,
    method: Method,
    raw: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let r = kind.and_then(|kind| {
        if !kind.namespaced {
            return Err(not_served());
        }
        let call = Call {
            s,
            kind,
            ns: Some(ns),
            query: parse_query(raw),
        };
        object(&call, &method, name, headers, body)
    });
    r.unwrap_or_else(IntoResponse::into_response)
}

fn object(
    call: &Call<'_>,
    method: &Method,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    match *method {
        Method::GET => get_one(call, name),
        Method::PUT => workloads::replace(call, name, body),
        Method::PATCH => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            workloads::patch(call, name, ct, body)
        }
        Method::DELETE => workloads::delete(call, name),
        _ => Err(status::method_not_allowed()),
    }
}

/// 200 with a JSON body.
pub fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

/// 201 with a JSON body.
pub fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

/// Parses a JSON request body (400 when it is not a JSON object).
pub fn parse_body(body: &[u8]) -> ApiResult<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(status::bad_request(
            "the body of the request was not a JSON object",
        )),
        Err(e) => Err(status::bad_request(format!(
            "the object provided is unrecognized: {e}"
        ))),
    }
}

fn list(call: &Call<'_>) -> ApiResult {
    let labels = match q(&call.query, "labelSelector") {
        Some(s) => LabelSelector::parse(s)?,
        None => LabelSelector::default(),
    };
    let fields = match q(&call.query, "fieldSelector") {
        Some(s) => FieldSelector::parse(s)?,
        None => FieldSelector::default(),
    };
    let inner = call.s.lock();
    let items: Vec<Value> = inner
        .list(call.kind, call.ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|mut o| {
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    Ok(ok(json!({
        "kind": format!("{}List", call.kind.kind),
        "apiVersion": call.kind.api_version,
        "metadata": {"resourceVersion": inner.rv.to_string()},
        "items": items,
    })))
}

fn get_one(call: &Call<'_>, name: &str) -> ApiResult {
    let inner = call.s.lock();
    let ns = call.ns.as_deref().unwrap_or("");
    match inner.get(call.kind, ns, name) {
        Some(v) => Ok(ok(v.clone())),
        None => Err(status::not_found(call.kind.group, call.kind.plural, name)),
    }
}

fn create(call: &Call<'_>, body: &[u8]) -> ApiResult {
    let obj = parse_body(body)?;
    let v = workloads::create(call, obj)?;
    Ok(created(v))
}
