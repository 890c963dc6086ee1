//! `GET /api/v1/health` (no auth) and `GET /api/v1/info`.

use crate::app::AppState;
use crate::error::{Error, ErrorCode, Result};
use crate::http::auth::{Can, perm::SystemRead};
use crate::http::envelope::Reply;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/info", get(info))
}

#[derive(Serialize)]
struct Health {
    /// `ok` when every check passes; `degraded` when Docker is down (the API still
    /// works); `down` when the database fails (503).
    status: &'static str,
    checks: Checks,
    uptime_s: u64,
}

#[derive(Serialize)]
struct Checks {
    database: Check,
    docker: Check,
    vault: Check,
    scheduler: Check,
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
}

impl Check {
    fn from(r: std::result::Result<(), Error>, started: std::time::Instant) -> Check {
        let latency_ms = Some(started.elapsed().as_millis() as u64);
        match r {
            Ok(()) => Check {
                status: "ok",
                message: None,
                latency_ms,
            },
            Err(e) => Check {
                status: "error",
                message: Some(e.message),
                latency_ms,
            },
        }
    }
}

async fn health(State(app): State<AppState>) -> Response {
    let t = std::time::Instant::now();
    let database = Check::from(app.store.ping().await, t);
    let t = std::time::Instant::now();
    let docker = Check::from(app.docker.ping().await, t);
    let t = std::time::Instant::now();
    let vault = Check::from(app.vault.verify(&app.store).await, t);
    let scheduler = Check::from(
        crate::backups::schedule::health(),
        std::time::Instant::now(),
    );
    let status = if database.status != "ok" || vault.status != "ok" {
        "down"
    } else if docker.status != "ok" || scheduler.status != "ok" {
        "degraded"
    } else {
        "ok"
    };
    let body = Health {
        status,
        checks: Checks {
            database,
            docker,
            vault,
            scheduler,
        },
        uptime_s: app.started.elapsed().as_secs(),
    };
    let code = if status == "down" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut resp = Reply::ok(body).into_response();
    *resp.status_mut() = code;
    resp
}

#[derive(Serialize)]
struct Info {
    name: &'static str,
    version: &'static str,
    commit: &'static str,
    build_date: &'static str,
    api_version: &'static str,
    docker_version: Option<String>,
    docker_api_version: Option<String>,
    started_at: String,
}

async fn info(State(app): State<AppState>, _: Can<SystemRead>) -> Result<Reply<Info>> {
    let docker = app.docker.version().await;
    if let Err(e) = &docker
        && e.code != ErrorCode::DockerUnavailable
    {
        tracing::warn!("docker version: {e}");
    }
    let (docker_version, docker_api_version) = docker
        .ok()
        .map(|(a, b)| (Some(a), Some(b)))
        .unwrap_or_default();
    Ok(Reply::ok(Info {
        name: "mcpd",
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("MCPD_GIT_COMMIT"),
        build_date: env!("MCPD_BUILD_DATE"),
        api_version: crate::http::envelope::API_VERSION,
        docker_version,
        docker_api_version,
        started_at: app.started_at.clone(),
    }))
}
