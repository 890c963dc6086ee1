//! Health and build information: what `GET /health` and `GET /info` report.

pub mod api;

use crate::app::App;
use crate::error::{Error, ErrorCode};
use serde::Serialize;
use std::time::Instant;

/// `GET /health`: each dependency's check and the overall state.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when every check passes; `degraded` when Docker or the backup scheduler is
    /// down (the API still works); `down` when the database or the vault fails (503).
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    /// One check per dependency.
    pub checks: Checks,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
}

/// The checks of [`Health`].
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SystemChecks)]
pub struct Checks {
    /// A read on the database.
    pub database: Check,
    /// A ping of the Docker engine.
    pub docker: Check,
    /// The master key against the database's check value.
    pub vault: Check,
    /// The backup scheduler task.
    pub scheduler: Check,
}

/// One check: `status` `ok` or `error`, the error's message, how long it took (ms).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SystemCheck)]
pub struct Check {
    /// `ok` or `error`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Time the check took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl Check {
    fn from(r: std::result::Result<(), Error>, started: Instant) -> Check {
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

impl Health {
    /// Whether the daemon cannot serve (`status` `down`).
    pub fn is_down(&self) -> bool {
        self.status == "down"
    }
}

/// Runs every check.
pub async fn health(app: &App) -> Health {
    let t = Instant::now();
    let database = Check::from(app.store.ping().await, t);
    let t = Instant::now();
    let docker = Check::from(app.docker.ping().await, t);
    let t = Instant::now();
    let vault = Check::from(app.vault.verify(&app.store).await, t);
    let scheduler = Check::from(crate::backups::schedule::health(), Instant::now());
    let status = if database.status != "ok" || vault.status != "ok" {
        "down"
    } else if docker.status != "ok" || scheduler.status != "ok" {
        "degraded"
    } else {
        "ok"
    };
    Health {
        status,
        checks: Checks {
            database,
            docker,
            vault,
            scheduler,
        },
        uptime_s: app.started.elapsed().as_secs(),
    }
}

/// `GET /info`: version and build of mcpd and of the Docker engine.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SystemInfo)]
pub struct Info {
    /// Always `mcpd`.
    #[schema(value_type = String, example = "mcpd")]
    pub name: &'static str,
    /// The package version.
    #[schema(value_type = String)]
    pub version: &'static str,
    /// Git commit the binary was built from.
    #[schema(value_type = String)]
    pub commit: &'static str,
    /// When it was built (RFC 3339 UTC).
    #[schema(value_type = String)]
    pub build_date: &'static str,
    /// `v1`.
    #[schema(value_type = String, example = "v1")]
    pub api_version: &'static str,
    /// The engine's version, `null` while Docker is down.
    pub docker_version: Option<String>,
    /// The engine's API version, `null` while Docker is down.
    pub docker_api_version: Option<String>,
    /// When the daemon started (RFC 3339 UTC).
    pub started_at: String,
}

/// What [`Info`] reports now.
pub async fn info(app: &App) -> Info {
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
    Info {
        name: "mcpd",
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("MCPD_GIT_COMMIT"),
        build_date: env!("MCPD_BUILD_DATE"),
        api_version: crate::http::envelope::API_VERSION,
        docker_version,
        docker_api_version,
        started_at: app.started_at.clone(),
    }
}
