//! The daemon's shared state: [`App`], which every handler and background task gets.
//! Plain state at the bottom of the crate: opening it, bootstrapping and serving live in
//! [`crate::daemon`], the one module that knows every domain.

use crate::docker::DockerClient;
use crate::settings::Settings;
use crate::store::Store;
use crate::vault::Vault;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state every handler gets.
pub type AppState = Arc<App>;

/// The daemon's state, built once at start and shared as [`AppState`].
pub struct App {
    /// The effective configuration, fixed for the daemon's life.
    pub settings: Settings,
    /// The SQLite database: one writer, closure transactions.
    pub store: Store,
    /// Keys that sign and check access tokens (JWT, HS256).
    pub jwt: crate::auth::jwt::JwtKeys,
    /// The Docker engine client (bollard).
    pub docker: DockerClient,
    /// Seals every secret before it reaches the database.
    pub vault: Arc<Vault>,
    /// Failed-login throttle per (username, client address).
    pub login_limiter: crate::auth::ratelimit::LoginLimiter,
    /// Authenticated requests per caller (`auth.requests_per_minute`).
    pub request_limiter: crate::auth::ratelimit::RequestLimiter,
    /// Requests per minute per caller on the Kubernetes routes (`kubernetes.requests_per_minute`),
    /// counted besides `request_limiter`.
    pub kubernetes_limiter: crate::auth::ratelimit::RequestLimiter,
    /// One client per registered Kubernetes cluster.
    pub kubernetes: crate::kubernetes::cache::Clients,
    /// Requests per minute per caller on the network device routes
    /// (`network.requests_per_minute`), counted besides `request_limiter`.
    pub network_limiter: crate::auth::ratelimit::RequestLimiter,
    /// Open SSH sessions to network devices, one per device.
    pub network: crate::network::pool::Pool,
    /// Live MCP client sessions, one per running MCP server.
    pub mcp: Arc<crate::mcp::sessions::Sessions>,
    /// The live events bus (`GET /api/v1/ws`).
    pub events: crate::events::Bus,
    /// Counters, histograms and samples of the daemon and what it runs.
    pub metrics: crate::metrics::Metrics,
    /// Group-committed request log rows (started by `serve`).
    pub request_logs: crate::request_log::writer::Writer,
    /// Monotonic start time, for `uptime_s`.
    pub started: Instant,
    /// Start time as RFC 3339 UTC (`GET /info` `started_at`).
    pub started_at: String,
    /// Cancelled on shutdown; background tasks watch it.
    pub shutdown: CancellationToken,
    /// Background tasks, awaited on shutdown.
    pub tasks: TaskTracker,
}

impl App {
    /// Runs `op` to its end even when the caller stops waiting for it: an HTTP client
    /// that goes away drops its handler's future, which would otherwise cut a
    /// multi-step change to Docker and the database off half-way. `op` runs on
    /// [`App::tasks`] (so shutdown waits for it too) in the request's id scope and
    /// tracing span. A panic in `op` is an internal error.
    pub async fn to_completion<T, F>(&self, op: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = crate::error::Result<T>> + Send + 'static,
    {
        self.tasks
            .spawn(crate::telemetry::request_id::propagate(op))
            .await
            .map_err(|e| {
                crate::error::Error::internal(anyhow::anyhow!("operation task failed: {e}"))
            })?
    }
}

/// Files in the data dir.
pub const DB_FILE: &str = "mcpd.db";
/// Where versions before the vault kept the token signing key; imported and removed.
pub const LEGACY_JWT_KEY_FILE: &str = "jwt.key";
/// `<data_dir>/listen-addr`: the bound address (`ip:port`, one line), written at start (useful with
/// port 0).
pub const LISTEN_ADDR_FILE: &str = "listen-addr";
/// `<data_dir>/initial-admin-password`: the generated password of the first `admin` user (mode
/// 0600).
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";
