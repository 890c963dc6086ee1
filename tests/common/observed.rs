//! A daemon with something to observe: it samples every second, runs a managed MCP
//! server (server-everything) whose `echo` tool was called, and a running service.

use super::answers::expect;
use super::mcp::{stdio_server, tool};
use super::{Daemon, EVERYTHING_IMAGE, create_service, sleeper};
use serde_json::json;

/// What [`observed`] made.
pub struct Observed {
    pub d: Daemon,
    pub admin: String,
    pub viewer: String,
    /// The MCP server's name.
    pub server: String,
    /// The running service's id.
    pub service_id: String,
}

/// Starts a daemon sampling every second (plus the `MCPD_…` settings in `extra`), with
/// a viewer, an MCP server whose `echo` was called `calls` times (each a success), and
/// a started sleeper service.
pub async fn observed(extra: &[(&str, &str)], calls: usize) -> Observed {
    let mut env = vec![(
        "MCPD_METRICS__SAMPLE_INTERVAL_S".to_string(),
        "1".to_string(),
    )];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut d = Daemon::start_with_env(env).await;
    let admin = d.admin().await;
    let viewer = d.user_with_roles("viewer", &["viewer"]).await;
    let server = d.name("everything");
    stdio_server(&d, &admin, &server, EVERYTHING_IMAGE).await;
    let svc = create_service(&d, &admin, sleeper(&d.name("sleeper"))).await;
    let service_id = svc["id"].as_str().unwrap().to_string();
    let start = format!("/services/{service_id}/start");
    expect(200, d.post(&start, &admin, json!({})).await);
    for i in 0..calls {
        let args = json!({"message": format!("m{i}")});
        let r = expect(200, tool(&d, &admin, &server, "echo", args).await);
        assert_eq!(r["data"]["is_error"], false, "{r}");
    }
    Observed {
        d,
        admin,
        viewer,
        server,
        service_id,
    }
}
