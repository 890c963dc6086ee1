//! Every route × every role (and a scoped API key, and no credentials): allowed or
//! denied exactly as the published role grants (`GET /roles`) say.
//!
//! Requests use ids that do not exist and empty or invalid bodies, so an allowed call
//! ends in a 400/404/409/503 without changing anything, and a denied one must be a 403
//! whatever the body (authorization runs before the body is read).
//!
//! The table must cover every route the daemon registers: the routes are read from the
//! OpenAPI document, and a registered method and path with no row (and not in
//! [`EXEMPT`]) fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::Daemon;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// `(method, path, body, permission)`; `None` = any authenticated caller.
type Route = (Method, &'static str, Option<Value>, Option<&'static str>);

fn routes() -> Vec<Route> {
    use Method as M;
    let e = || Some(json!({}));
    vec![
        (M::GET, "/info", None, Some("system:read")),
        (M::GET, "/stats", None, Some("system:read")),
        (M::GET, "/metrics", None, Some("system:read")),
        (M::GET, "/metrics/prometheus", None, Some("system:read")),
        // Any caller may open the socket; each channel checks its own permission
        // (tests/events.rs). Without an upgrade it answers 400.
        (M::GET, "/ws", None, None),
        (
            M::GET,
            "/monitoring/metrics?resource_id=svc_doesnotexist0000",
            None,
            Some("services:read"),
        ),
        (M::GET, "/resources", None, Some("system:read")),
        (M::POST, "/resources", e(), Some("services:write")),
        (
            M::GET,
            "/billing/summary?month=2026-01",
            None,
            Some("logs:admin"),
        ),
        (M::GET, "/users/me", None, None),
        (M::PATCH, "/users/me", e(), None),
        (M::GET, "/roles", None, None),
        (M::GET, "/auth/sessions", None, None),
        (M::DELETE, "/auth/sessions/ses_doesnotexist0000", None, None),
        (
            M::DELETE,
            "/users/usr_doesnotexist0000/mfa",
            None,
            Some("users:write"),
        ),
        (M::GET, "/api-keys", None, None),
        (M::DELETE, "/api-keys/key_doesnotexist0000", None, None),
        (M::GET, "/users", None, Some("users:read")),
        (
            M::GET,
            "/users/usr_doesnotexist0000/sessions",
            None,
            Some("users:admin"),
        ),
        (
            M::DELETE,
            "/users/usr_doesnotexist0000/sessions",
            None,
            Some("users:admin"),
        ),
        (
            M::DELETE,
            "/users/usr_doesnotexist0000/sessions/ses_doesnotexist000",
            None,
            Some("users:admin"),
        ),
        (M::POST, "/users", e(), Some("users:write")),
        (
            M::GET,
            "/users/usr_doesnotexist0000",
            None,
            Some("users:read"),
        ),
        (
            M::PUT,
            "/users/usr_doesnotexist0000",
            e(),
            Some("users:write"),
        ),
        (
            M::PATCH,
            "/users/usr_doesnotexist0000",
            e(),
            Some("users:write"),
        ),
        (
            M::DELETE,
            "/users/usr_doesnotexist0000",
            None,
            Some("users:write"),
        ),
        (
            M::POST,
            "/users/usr_doesnotexist0000/roles",
            e(),
            Some("users:write"),
        ),
        (
            M::DELETE,
            "/users/usr_doesnotexist0000/roles/viewer",
            None,
            Some("users:write"),
        ),
        (M::GET, "/services", None, Some("services:read")),
        (M::POST, "/services", e(), Some("services:write")),
        (
            M::GET,
            "/services/svc_doesnotexist0000",
            None,
            Some("services:read"),
        ),
        (
            M::PUT,
            "/services/svc_doesnotexist0000",
            e(),
            Some("services:write"),
        ),
        (
            M::PATCH,
            "/services/svc_doesnotexist0000",
            e(),
            Some("services:write"),
        ),
        (
            M::DELETE,
            "/services/svc_doesnotexist0000",
            None,
            Some("services:write"),
        ),
        (
            M::POST,
            "/services/svc_doesnotexist0000/start",
            None,
            Some("services:write"),
        ),
        (
            M::POST,
            "/services/svc_doesnotexist0000/stop",
            None,
            Some("services:write"),
        ),
        (
            M::POST,
            "/services/svc_doesnotexist0000/restart",
            None,
            Some("services:write"),
        ),
        (
            M::POST,
            "/services/svc_doesnotexist0000/scale",
            e(),
            Some("services:write"),
        ),
        (
            M::GET,
            "/services/svc_doesnotexist0000/logs",
            None,
            Some("services:read"),
        ),
        (
            M::POST,
            "/services/svc_doesnotexist0000/exec",
            e(),
            Some("services:execute"),
        ),
        (
            M::GET,
            "/services/svc_doesnotexist0000/health",
            None,
            Some("services:read"),
        ),
        (
            M::GET,
            "/services/svc_doesnotexist0000/stats",
            None,
            Some("services:read"),
        ),
        (M::GET, "/images", None, Some("images:read")),
        (M::GET, "/images/doesnotexist:0", None, Some("images:read")),
        (M::POST, "/images/load", None, Some("images:write")),
        (
            M::DELETE,
            "/images/doesnotexist:0",
            None,
            Some("images:write"),
        ),
        (M::POST, "/images/pull", e(), Some("images:write")),
        (M::GET, "/mcp/servers", None, Some("mcp:read")),
        (M::POST, "/mcp/servers", e(), Some("mcp:write")),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000",
            None,
            Some("mcp:read"),
        ),
        (
            M::PATCH,
            "/mcp/servers/mcp_doesnotexist0000",
            e(),
            Some("mcp:write"),
        ),
        (
            M::DELETE,
            "/mcp/servers/mcp_doesnotexist0000",
            None,
            Some("mcp:write"),
        ),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000/tools",
            None,
            Some("mcp:read"),
        ),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000/resources",
            None,
            Some("mcp:read"),
        ),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000/resource-templates",
            None,
            Some("mcp:read"),
        ),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000/prompts",
            None,
            Some("mcp:read"),
        ),
        (M::GET, "/mcp/resources", None, Some("mcp:read")),
        (
            M::POST,
            "/mcp/servers/mcp_doesnotexist0000/test",
            None,
            Some("mcp:execute"),
        ),
        (
            M::POST,
            "/mcp/servers/mcp_doesnotexist0000/discover",
            None,
            Some("mcp:write"),
        ),
        (
            M::POST,
            "/mcp/servers/mcp_doesnotexist0000/start",
            None,
            Some("mcp:write"),
        ),
        (
            M::POST,
            "/mcp/servers/mcp_doesnotexist0000/stop",
            None,
            Some("mcp:write"),
        ),
        (
            M::POST,
            "/mcp/servers/mcp_doesnotexist0000/restart",
            None,
            Some("mcp:write"),
        ),
        (M::POST, "/mcp/execute/tool", e(), Some("mcp:execute")),
        (M::POST, "/mcp/execute/resource", e(), Some("mcp:execute")),
        (M::POST, "/mcp/execute/prompt", e(), Some("mcp:execute")),
        (M::GET, "/mcp/registry", None, Some("mcp:read")),
        (M::POST, "/mcp/registry", e(), Some("mcp:admin")),
        (M::GET, "/mcp/registry/doesnotexist", None, Some("mcp:read")),
        (M::PUT, "/mcp/registry/doesnotexist", e(), Some("mcp:admin")),
        (
            M::DELETE,
            "/mcp/registry/doesnotexist",
            None,
            Some("mcp:admin"),
        ),
        (
            M::GET,
            "/mcp/registry/doesnotexist/config-schema",
            None,
            Some("mcp:read"),
        ),
        (
            M::GET,
            "/mcp/servers/mcp_doesnotexist0000/config",
            None,
            Some("mcp:read"),
        ),
        (
            M::PUT,
            "/mcp/servers/mcp_doesnotexist0000/config",
            e(),
            Some("mcp:write"),
        ),
        (M::GET, "/logs/requests", None, Some("logs:read")),
        (
            M::GET,
            "/logs/requests/rlog_doesnotexist0000",
            None,
            Some("logs:read"),
        ),
        (M::GET, "/config", None, Some("config:read")),
        (M::POST, "/config/bulk", e(), Some("config:write")),
        (M::GET, "/config/no.such.key", None, Some("config:read")),
        (
            M::GET,
            "/config/no.such.key?reveal=true",
            None,
            Some("config:admin"),
        ),
        (M::PUT, "/config/no.such.key", e(), Some("config:write")),
        (M::DELETE, "/config/no.such.key", None, Some("config:write")),
        (M::POST, "/config/rotate-key", None, Some("config:admin")),
        (M::GET, "/audit", None, Some("audit:read")),
        (M::GET, "/usage", None, Some("logs:read")),
        (M::GET, "/usage/summary", None, Some("logs:read")),
        (M::GET, "/organization", None, Some("workspaces:read")),
        (M::GET, "/mappings", None, Some("workspaces:read")),
        (M::POST, "/mappings", e(), Some("workspaces:write")),
        (
            M::GET,
            "/mappings/map_doesnotexist0000",
            None,
            Some("workspaces:read"),
        ),
        (
            M::PATCH,
            "/mappings/map_doesnotexist0000",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::DELETE,
            "/mappings/map_doesnotexist0000",
            None,
            Some("workspaces:write"),
        ),
        (M::POST, "/mappings/sync", None, Some("workspaces:write")),
        (M::PATCH, "/organization", e(), Some("workspaces:write")),
        (M::GET, "/workspaces", None, Some("workspaces:read")),
        (M::POST, "/workspaces", e(), Some("workspaces:write")),
        (
            M::GET,
            "/workspaces/wks_doesnotexist0000",
            None,
            Some("workspaces:read"),
        ),
        (
            M::PATCH,
            "/workspaces/wks_doesnotexist0000",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::DELETE,
            "/workspaces/wks_doesnotexist0000",
            None,
            Some("workspaces:write"),
        ),
        (
            M::GET,
            "/workspaces/wks_doesnotexist0000/members",
            None,
            Some("workspaces:read"),
        ),
        (
            M::POST,
            "/workspaces/wks_doesnotexist0000/members",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::DELETE,
            "/workspaces/wks_doesnotexist0000/members/nobody",
            None,
            Some("workspaces:write"),
        ),
        (
            M::GET,
            "/workspaces/wks_doesnotexist0000/access",
            None,
            Some("workspaces:read"),
        ),
        (
            M::POST,
            "/workspaces/wks_doesnotexist0000/access",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::PATCH,
            "/workspaces/wks_doesnotexist0000/access/x",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::DELETE,
            "/workspaces/wks_doesnotexist0000/access/x",
            None,
            Some("workspaces:write"),
        ),
        (
            M::POST,
            "/workspaces/wks_doesnotexist0000/access/x/add-resource",
            e(),
            Some("workspaces:write"),
        ),
        (
            M::POST,
            "/workspaces/wks_doesnotexist0000/access/x/remove-resource",
            e(),
            Some("workspaces:write"),
        ),
        // A backup holds the whole database (and, asked for, the master key).
        (M::GET, "/backups", None, Some("backups:read")),
        (
            M::POST,
            "/backups",
            Some(json!({"type": "not-a-type"})),
            Some("backups:write"),
        ),
        (
            M::GET,
            "/backups/bkp_doesnotexist0000",
            None,
            Some("backups:read"),
        ),
        (
            M::DELETE,
            "/backups/bkp_doesnotexist0000",
            None,
            Some("backups:write"),
        ),
        (
            M::GET,
            "/backups/bkp_doesnotexist0000/download",
            None,
            Some("backups:write"),
        ),
        (
            M::POST,
            "/backups/bkp_doesnotexist0000/restore",
            e(),
            Some("backups:admin"),
        ),
        (M::GET, "/backups/schedules", None, Some("backups:read")),
        (M::POST, "/backups/schedules", e(), Some("backups:write")),
        (
            M::GET,
            "/backups/schedules/bks_doesnotexist0000",
            None,
            Some("backups:read"),
        ),
        (
            M::PUT,
            "/backups/schedules/bks_doesnotexist0000",
            e(),
            Some("backups:write"),
        ),
        (
            M::DELETE,
            "/backups/schedules/bks_doesnotexist0000",
            None,
            Some("backups:write"),
        ),
        (
            M::GET,
            "/kubernetes/clusters",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::POST,
            "/kubernetes/clusters",
            e(),
            Some("kubernetes:write"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::PUT,
            "/kubernetes/clusters/cls_doesnotexist0000",
            e(),
            Some("kubernetes:write"),
        ),
        (
            M::PATCH,
            "/kubernetes/clusters/cls_doesnotexist0000",
            e(),
            Some("kubernetes:write"),
        ),
        (
            M::DELETE,
            "/kubernetes/clusters/cls_doesnotexist0000",
            None,
            Some("kubernetes:write"),
        ),
        (
            M::POST,
            "/kubernetes/clusters/cls_doesnotexist0000/test",
            None,
            Some("kubernetes:write"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::POST,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces",
            e(),
            Some("kubernetes:write"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/pods",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/pods/web-1",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/pods/web-1/logs",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::POST,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/pods/web-1/exec",
            e(),
            Some("kubernetes:execute"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/deployments",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::POST,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/deployments",
            e(),
            Some("kubernetes:write"),
        ),
        (
            M::GET,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/deployments/web",
            None,
            Some("kubernetes:read"),
        ),
        (
            M::DELETE,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/deployments/web",
            None,
            Some("kubernetes:write"),
        ),
        (
            M::PUT,
            "/kubernetes/clusters/cls_doesnotexist0000/namespaces/default/deployments/web/scale",
            e(),
            Some("kubernetes:write"),
        ),
        (M::GET, "/network/devices", None, Some("network:read")),
        (M::POST, "/network/devices", e(), Some("network:write")),
        (
            M::GET,
            "/network/devices/dev_doesnotexist0000",
            None,
            Some("network:read"),
        ),
        (
            M::PUT,
            "/network/devices/dev_doesnotexist0000",
            e(),
            Some("network:write"),
        ),
        (
            M::PATCH,
            "/network/devices/dev_doesnotexist0000",
            e(),
            Some("network:write"),
        ),
        (
            M::DELETE,
            "/network/devices/dev_doesnotexist0000",
            None,
            Some("network:write"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/connect",
            None,
            Some("network:execute"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/disconnect",
            None,
            Some("network:execute"),
        ),
        (
            M::GET,
            "/network/devices/dev_doesnotexist0000/status",
            None,
            Some("network:read"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/host-key/accept",
            e(),
            Some("network:admin"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/command",
            e(),
            Some("network:execute"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/commands",
            e(),
            Some("network:execute"),
        ),
        (
            M::GET,
            "/network/devices/dev_doesnotexist0000/config",
            None,
            Some("network:read"),
        ),
        (
            M::PUT,
            "/network/devices/dev_doesnotexist0000/config",
            e(),
            Some("network:write"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/config/commit",
            e(),
            Some("network:write"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/config/rollback",
            e(),
            Some("network:write"),
        ),
        (
            M::POST,
            "/network/devices/dev_doesnotexist0000/config/backup",
            e(),
            Some("network:write"),
        ),
        (
            M::GET,
            "/network/devices/dev_doesnotexist0000/config/backups",
            None,
            Some("network:read"),
        ),
        (
            M::GET,
            "/network/config-backups/cfb_doesnotexist0000",
            None,
            Some("network:read"),
        ),
        (
            M::POST,
            "/network/config-backups/cfb_doesnotexist0000/restore",
            e(),
            Some("network:write"),
        ),
    ]
}

/// Registered routes that have no row, and why: public ones answer without
/// credentials, and the caller's own session, password and MFA routes refuse API keys
/// on purpose (tests/auth.rs covers them).
const EXEMPT: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/token"),
    ("POST", "/auth/register"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/mfa/setup"),
    ("POST", "/auth/mfa/enable"),
    ("POST", "/auth/mfa/disable"),
    ("POST", "/users/me/password"),
    ("POST", "/api-keys"),
];

/// `(METHOD, path template)` of every operation under `/api/v1` in the OpenAPI
/// document (`mcpd openapi`), which lists exactly the registered routes
/// (tests/openapi.rs).
fn registered_routes() -> BTreeSet<(String, String)> {
    let out = common::mcpd_ok(["openapi"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(path) = path.strip_prefix("/api/v1") else {
            continue;
        };
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.to_string()));
            }
        }
    }
    routes
}

/// Whether a concrete request path (query left off) is an instance of `template`.
fn instance_of(path: &str, template: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (mut p, mut t) = (path.split('/'), template.split('/'));
    loop {
        match (p.next(), t.next()) {
            (None, None) => return true,
            (Some(_), Some(seg)) if seg.starts_with("{*") => return true,
            (Some(a), Some(b)) if b.starts_with('{') || a == b => {}
            _ => return false,
        }
    }
}

#[test]
fn every_registered_route_has_a_row() {
    let registered = registered_routes();
    assert!(
        registered.len() > 80,
        "routes not found in the OpenAPI document: {registered:?}"
    );
    let rows = routes();
    let missing: Vec<String> = registered
        .iter()
        .filter(|(m, t)| !EXEMPT.contains(&(m.as_str(), t.as_str())))
        .filter(|(m, t)| {
            !rows
                .iter()
                .any(|(rm, rp, _, _)| rm.as_str() == m && instance_of(rp, t))
        })
        .map(|(m, t)| format!("{m} {t}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in routes(): {missing:#?}"
    );
    let stale: Vec<&(String, String)> = registered
        .iter()
        .filter(|(m, t)| EXEMPT.contains(&(m.as_str(), t.as_str())))
        .collect();
    assert_eq!(
        stale.len(),
        EXEMPT.len(),
        "an EXEMPT entry names no registered route"
    );
}

/// Whether a set of held permissions implies `wanted` (admin implies all actions of its
/// domain; write and execute imply read) — the rule of docs/api.md §1.9.
fn implies(held: &BTreeSet<String>, wanted: &str) -> bool {
    let (domain, action) = wanted.split_once(':').unwrap();
    held.contains(wanted)
        || held.contains(&format!("{domain}:admin"))
        || (action == "read"
            && (held.contains(&format!("{domain}:write"))
                || held.contains(&format!("{domain}:execute"))))
}

#[tokio::test]
async fn every_route_by_every_role() {
    let (mut d, admin) = Daemon::start_admin().await;
    let (s, b) = d.get("/roles", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let grants: BTreeMap<String, BTreeSet<String>> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let perms = r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            (r["name"].as_str().unwrap().to_string(), perms)
        })
        .collect();
    assert_eq!(grants.len(), 4);

    // One caller per role, plus an admin's API key narrowed to `mcp:read`.
    let mut callers: Vec<(String, String, BTreeSet<String>)> = Vec::new();
    callers.push(("admin".into(), admin.clone(), grants["admin"].clone()));
    for role in ["operator", "developer", "viewer"] {
        let token = d.user_with_roles(&format!("u-{role}"), &[role]).await;
        callers.push((role.into(), token, grants[role].clone()));
    }
    let (_, key) = d.api_key(&admin, "narrow", &["mcp:read"]).await;
    callers.push((
        "admin key scoped mcp:read".into(),
        key,
        BTreeSet::from(["mcp:read".to_string()]),
    ));

    let mut failures = Vec::new();
    for (method, path, body, perm) in routes() {
        // No credentials: always 401.
        let (s, _) = d.call(method.clone(), path, None, body.clone()).await;
        if s != StatusCode::UNAUTHORIZED {
            failures.push(format!("{method} {path} without credentials → {s}"));
        }
        for (who, token, held) in &callers {
            let allowed = perm.is_none_or(|p| implies(held, p));
            let (s, b) = d
                .call(method.clone(), path, Some(token), body.clone())
                .await;
            let denied = s == StatusCode::FORBIDDEN;
            if allowed == denied
                || s == StatusCode::UNAUTHORIZED
                || s.is_server_error() && s != StatusCode::SERVICE_UNAVAILABLE
            {
                failures.push(format!(
                    "{method} {path} as {who} (needs {perm:?}): expected {}, got {s} {b}",
                    if allowed { "allowed" } else { "403" }
                ));
            }
            if denied {
                assert_eq!(b["error"]["code"], "FORBIDDEN", "{method} {path}: {b}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
