//! What writes do per kind: create defaults and validation, replace, merge patches,
//! deletes and their side effects, and the deployment controller (its pods, its
//! status, its `scale` subresource), all applied at once as a settled cluster would be.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::rest::{Call, St, ok, parse_body};
use super::state::{DEPLOYMENTS, Inner, Kind, NAMESPACES, PODS, SECRETS, SERVICES, now_rfc3339};
use super::status::{self, ApiError, ApiResult, Cause, invalid};
use super::{pods, state};

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or \
'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
(e.g. 'example.com', regex used for validation is \
'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The name's causes for a 422 (empty when valid).
fn name_causes(kind: &Kind, name: &str) -> Vec<Cause> {
    let label_only = matches!(kind.plural, "namespaces" | "services");
    let ok = if label_only {
        is_label(name)
    } else {
        name.len() <= 253 && name.split('.').all(is_label)
    };
    if name.is_empty() {
        let m = "Required value: name or generateName is required".to_string();
        return vec![("FieldValueRequired", "metadata.name".into(), m)];
    }
    if ok {
        return vec![];
    }
    let msg = if label_only { LABEL_MSG } else { SUBDOMAIN_MSG };
    vec![(
        "FieldValueInvalid",
        "metadata.name".into(),
        format!("Invalid value: \"{name}\": {msg}"),
    )]
}

/// Go's `%#v` of a `map[string]string`, as validation messages print labels.
fn go_map(v: &Value) -> String {
    let pairs: Vec<String> = v
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k:?}:{}", v)).collect())
        .unwrap_or_default();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// Validation causes of a pod spec at `field` (containers and their images).
fn pod_spec_causes(spec: &Value, field: &str) -> Vec<Cause> {
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        let f = format!("{field}.containers");
        return vec![("FieldValueRequired", f, "Required value".into())];
    }
    let mut causes = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        for part in ["name", "image"] {
            if c[part].as_str().is_none_or(str::is_empty) {
                let f = format!("{field}.containers[{i}].{part}");
                causes.push(("FieldValueRequired", f, "Required value".into()));
            }
        }
    }
    causes
}

/// Validation causes of a deployment (selector, template labels, containers).
fn deployment_causes(d: &Value) -> Vec<Cause> {
    let spec = &d["spec"];
    let mut causes = Vec::new();
    let sel = &spec["selector"]["matchLabels"];
    let exprs = spec["selector"]["matchExpressions"].as_array();
    let sel_empty = sel.as_object().is_none_or(Map::is_empty) && exprs.is_none_or(Vec::is_empty);
    let labels = &spec["template"]["metadata"]["labels"];
    if sel_empty {
        causes.push((
            "FieldValueRequired",
            "spec.selector".into(),
            "Required value".into(),
        ));
    } else {
        let matches = sel
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| &labels[k] == v);
        if !matches {
            let m = format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                go_map(labels)
            );
            causes.push((
                "FieldValueInvalid",
                "spec.template.metadata.labels".into(),
                m,
            ));
        }
    }
    if let Some(r) = spec["replicas"].as_i64().filter(|r| *r < 0) {
        let m = format!("Invalid value: {r}: must be greater than or equal to 0");
        causes.push(("FieldValueInvalid", "spec.replicas".into(), m));
    }
    causes.extend(pod_spec_causes(
        &spec["template"]["spec"],
        "spec.template.spec",
    ));
    causes
}

/// Defaults and validation of a new or replaced object.
fn prepare(kind: &Kind, name: &str, obj: &mut Value) -> ApiResult<()> {
    let mut causes = name_causes(kind, name);
    match kind.plural {
        "namespaces" => {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        "pods" => causes.extend(pod_spec_causes(&obj["spec"], "spec")),
        "deployments" => {
            causes.extend(deployment_causes(obj));
            let spec = &mut obj["spec"];
            if spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            for (k, v) in [
                ("revisionHistoryLimit", json!(10)),
                ("progressDeadlineSeconds", json!(600)),
                (
                    "strategy",
                    json!({"type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                ),
            ] {
                if spec[k].is_null() {
                    spec[k] = v;
                }
            }
        }
        "secrets" => prepare_secret(obj),
        "services" => prepare_service(obj),
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(kind.group, kind.kind, name, &causes))
    }
}

fn prepare_secret(obj: &mut Value) {
    use base64::Engine as _;
    if let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
        for (k, v) in sd.as_object().into_iter().flatten() {
            let enc = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
            obj["data"][k] = json!(enc);
        }
    }
    if obj["type"].is_null() {
        obj["type"] = json!("Opaque");
    }
}

fn prepare_service(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if spec["type"].is_null() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["clusterIP"].is_null() {
        let n: u8 = rand::random();
        spec["clusterIP"] = json!(format!("10.96.{}.{}", n / 2, n / 3 + 2));
        spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
    }
    for p in spec["ports"].as_array_mut().into_iter().flatten() {
        if p["protocol"].is_null() {
            p["protocol"] = json!("TCP");
        }
        if p["targetPort"].is_null() {
            p["targetPort"] = p["port"].clone();
        }
    }
    spec["sessionAffinity"] = spec["sessionAffinity"].take();
    if spec["sessionAffinity"].is_null() {
        spec["sessionAffinity"] = json!("None");
    }
}

/// POST: creates an object (201 body).
pub fn create(call: &Call<'_>, mut obj: Value) -> ApiResult<Value> {
    let kind = call.kind;
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    let mut name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if name.is_empty()
        && let Some(g) = obj["metadata"]["generateName"].as_str()
    {
        name = format!("{g}{}", state::rand_suffix(5));
        obj["metadata"]["name"] = json!(name);
    }
    if kind.plural == "nodes" {
        return Err(status::method_not_allowed());
    }
    let ns = call.ns.clone().unwrap_or_default();
    prepare(kind, &name, &mut obj)?;
    let mut inner = call.s.lock();
    if kind.namespaced && inner.get(&NAMESPACES, "", &ns).is_none() {
        return Err(status::not_found("", "namespaces", &ns));
    }
    if inner.get(kind, &ns, &name).is_some() {
        return Err(status::already_exists(kind.group, kind.plural, &name));
    }
    match kind.plural {
        "pods" => {
            if obj["status"].is_null() {
                obj["spec"]["nodeName"] = json!("node-2");
                obj["status"] = pods::running_status(&inner, &obj["spec"]);
            }
            Ok(pods::add_pod(&mut inner, &ns, obj))
        }
        "deployments" => {
            obj["metadata"]["generation"] = json!(1);
            obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
            inner.insert_new(kind, &ns, obj);
            Ok(pods::reconcile(&mut inner, &ns, &name))
        }
        _ => Ok(inner.insert_new(kind, &ns, obj)),
    }
}

/// Stores `new` in place of the existing object (PUT, and PATCH after merging).
fn update(call: &Call<'_>, name: &str, mut new: Value) -> ApiResult {
    let kind = call.kind;
    let ns = call.ns.clone().unwrap_or_default();
    let mut inner = call.s.lock();
    let old = inner
        .get(kind, &ns, name)
        .cloned()
        .ok_or_else(|| status::not_found(kind.group, kind.plural, name))?;
    let body_name = new["metadata"]["name"].as_str().unwrap_or(name);
    if body_name != name {
        return Err(status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let want_rv = new["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if !want_rv.is_empty() && want_rv != old["metadata"]["resourceVersion"] {
        return Err(status::conflict(kind.group, kind.plural, name));
    }
    new["metadata"]["name"] = json!(name);
    prepare(kind, name, &mut new)?;
    new["kind"] = json!(kind.kind);
    new["apiVersion"] = json!(kind.api_version);
    for k in ["uid", "creationTimestamp", "namespace", "generation"] {
        new["metadata"][k] = old["metadata"][k].clone();
    }
    if let Some(m) = new["metadata"].as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    if matches!(kind.plural, "namespaces" | "pods" | "deployments") {
        new["status"] = old["status"].clone();
    }
    if kind.plural == "deployments" {
        if new["spec"] != old["spec"] {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        inner.store(kind, &ns, new);
        return Ok(ok(pods::reconcile(&mut inner, &ns, name)));
    }
    Ok(ok(inner.store(kind, &ns, new)))
}

/// PUT: replaces an object.
pub fn replace(call: &Call<'_>, name: &str, body: &[u8]) -> ApiResult {
    let new = parse_body(body)?;
    update(call, name, new)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in p {
        if v.is_null() {
            if let Some(m) = target.as_object_mut() {
                m.remove(k);
            }
        } else {
            merge_patch(&mut target[k], v);
        }
    }
}

/// The patch types served (JSON patch is not).
fn check_patch_type(ct: &str) -> ApiResult<()> {
    let ct = ct.split(';').next().unwrap_or("").trim();
    match ct {
        "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/apply-patch+yaml" => Ok(()),
        _ => Err(ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (not {ct})"
            ),
            details: None,
        }),
    }
}

/// PATCH: merge-patches an object (strategic merge and apply treated as merge).
pub fn patch(call: &Call<'_>, name: &str, ct: &str, body: &[u8]) -> ApiResult {
    check_patch_type(ct)?;
    let p = parse_body(body)?;
    let ns = call.ns.clone().unwrap_or_default();
    let mut cur = {
        let inner = call.s.lock();
        inner
            .get(call.kind, &ns, name)
            .cloned()
            .ok_or_else(|| status::not_found(call.kind.group, call.kind.plural, name))?
    };
    merge_patch(&mut cur, &p);
    if p["metadata"]["resourceVersion"].is_null()
        && let Some(m) = cur["metadata"].as_object_mut()
    {
        m.remove("resourceVersion");
    }
    update(call, name, cur)
}

/// DELETE: removes an object (and what it owns); answers as the real server does.
pub fn delete(call: &Call<'_>, name: &str) -> ApiResult {
    let kind = call.kind;
    let ns = call.ns.clone().unwrap_or_default();
    let mut inner = call.s.lock();
    if inner.get(kind, &ns, name).is_none() {
        return Err(status::not_found(kind.group, kind.plural, name));
    }
    match kind.plural {
        "pods" => {
            let v = pods::delete_pod(&mut inner, &ns, name).unwrap_or_default();
            Ok(ok(v))
        }
        "deployments" => {
            let d = inner.remove(kind, &ns, name).unwrap_or_default();
            for pod in pods::owned_pods(&inner, &ns, name) {
                pods::delete_pod(&mut inner, &ns, &pod);
            }
            Ok(ok(status::success(
                "apps",
                "deployments",
                name,
                &d["metadata"]["uid"],
            )))
        }
        "namespaces" => delete_namespace(&mut inner, name),
        "secrets" => {
            let s = inner.remove(kind, &ns, name).unwrap_or_default();
            Ok(ok(status::success(
                "",
                "secrets",
                name,
                &s["metadata"]["uid"],
            )))
        }
        _ => Ok(ok(inner.remove(kind, &ns, name).unwrap_or_default())),
    }
}

fn delete_namespace(inner: &mut Inner, name: &str) -> ApiResult {
    if matches!(name, "default" | "kube-system" | "kube-public") {
        let mut e = status::forbidden("", "namespaces", name, "delete", name);
        e.message =
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted");
        return Err(e);
    }
    for d in inner.list(&DEPLOYMENTS, Some(name)) {
        let dn = d["metadata"]["name"].as_str().unwrap_or("").to_string();
        inner.remove(&DEPLOYMENTS, name, &dn);
    }
    for p in inner.list(&PODS, Some(name)) {
        let pn = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        pods::delete_pod(inner, name, &pn);
    }
    for k in [&SECRETS, &SERVICES] {
        for o in inner.list(k, Some(name)) {
            let on = o["metadata"]["name"].as_str().unwrap_or("").to_string();
            inner.remove(k, name, &on);
        }
    }
    let mut ns = inner.remove(&NAMESPACES, "", name).unwrap_or_default();
    ns["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
    ns["status"]["phase"] = json!("Terminating");
    Ok(ok(ns))
}

/// `.../deployments/{name}/scale`: GET, PUT and PATCH of the autoscaling/v1 Scale.
pub async fn scale_handler(
    State(s): State<St>,
    Path((ns, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = (|| -> ApiResult {
        let mut inner = s.lock();
        let d = inner
            .get(&DEPLOYMENTS, &ns, &name)
            .cloned()
            .ok_or_else(|| status::not_found("apps", "deployments", &name))?;
        if method == Method::GET {
            return Ok(ok(pods::scale_of(&d)));
        }
        let mut scale = pods::scale_of(&d);
        let p = parse_body(&body)?;
        if method == Method::PATCH {
            let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
            check_patch_type(ct.unwrap_or(""))?;
            merge_patch(&mut scale, &p);
        } else {
            scale = p;
        }
        let Some(n) = scale["spec"]["replicas"].as_i64().filter(|n| *n >= 0) else {
            let c = (
                "FieldValueInvalid",
                "spec.replicas".to_string(),
                "Invalid value: must be greater than or equal to 0".to_string(),
            );
            return Err(invalid("autoscaling", "Scale", &name, &[c]));
        };
        let mut d = d;
        if d["spec"]["replicas"] != json!(n) {
            d["spec"]["replicas"] = json!(n);
            let g = d["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            d["metadata"]["generation"] = json!(g);
            inner.store(&DEPLOYMENTS, &ns, d);
        }
        let d = pods::reconcile(&mut inner, &ns, &name);
        Ok(ok(pods::scale_of(&d)))
    })();
    r.unwrap_or_else(IntoResponse::into_response)
}
