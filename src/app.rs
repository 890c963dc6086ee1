//! The daemon: shared state, first-start bootstrap (`mcpd init`), and `serve`.

use crate::config::Config;
use crate::docker::DockerClient;
use crate::store::Store;
use crate::vault::Vault;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state every handler gets.
pub type AppState = Arc<App>;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub jwt: crate::auth::jwt::JwtKeys,
    pub docker: DockerClient,
    /// Seals every secret before it reaches the database.
    pub vault: Arc<Vault>,
    /// Failed-login throttle per (username, client address).
    pub login_limiter: crate::auth::ratelimit::LoginLimiter,
    /// Authenticated requests per caller (`auth.requests_per_minute`).
    pub request_limiter: crate::auth::ratelimit::RequestLimiter,
    /// Live MCP client sessions, one per running MCP server.
    pub mcp: Arc<crate::mcp::sessions::Sessions>,
    /// Group-committed request log rows (started by `serve`).
    pub request_logs: crate::logs::writer::Writer,
    pub started: Instant,
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
            .spawn(crate::http::request_id::propagate(op))
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
pub const LISTEN_ADDR_FILE: &str = "listen-addr";
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

impl App {
    /// Opens the data dir (creating what is missing: database, keys, TLS, admin user).
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let data_dir = config.server.data_dir.clone();
        let store = {
            let d = data_dir.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
                crate::fsutil::create_private_dir(&d)?;
                Store::open(&d.join(DB_FILE))
            })
            .await??
        };
        let vault = {
            let d = data_dir.clone();
            let configured = config.vault.master_key_file.clone();
            // Returned inside Ok so the clear message reaches the operator; a failed
            // load writes nothing, so committing is harmless.
            let loaded = store
                .write(move |tx| Ok(Vault::load(tx, &d, configured.as_deref())))
                .await?;
            Arc::new(loaded?)
        };
        let jwt_key = crate::vault::daemon_secret(
            &vault,
            &store,
            "jwt_signing_key",
            32,
            Some(data_dir.join(LEGACY_JWT_KEY_FILE)),
        )
        .await?;
        bootstrap_admin(&store, &data_dir).await?;
        Ok(Arc::new(App {
            jwt: crate::auth::jwt::JwtKeys::new(&jwt_key),
            vault,
            docker: DockerClient::new(config.docker.host.clone()),
            login_limiter: crate::auth::ratelimit::LoginLimiter::new(
                config.auth.login_failures_per_minute,
            ),
            request_limiter: crate::auth::ratelimit::RequestLimiter::new(
                config.auth.requests_per_minute,
            ),
            mcp: Arc::default(),
            request_logs: Default::default(),
            config,
            store,
            started: Instant::now(),
            started_at: crate::time::now_rfc3339(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }))
    }
}

/// First start: creates user `admin` (role admin) with `MCPD_ADMIN_PASSWORD` (or
/// `MCPD_ADMIN_PASSWORD_FILE`), else a random password written to
/// `<data_dir>/initial-admin-password` (0600) and announced in the log.
async fn bootstrap_admin(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.read(crate::users::store::any).await? {
        return Ok(());
    }
    let (password, generated) = match crate::config::secret_from_env("MCPD_ADMIN_PASSWORD")? {
        Some(p) => {
            crate::auth::password::check_policy("MCPD_ADMIN_PASSWORD", &p)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            (p, false)
        }
        None => (crate::ids::random_alnum(24), true),
    };
    let hash = crate::auth::password::hash(password.clone()).await?;
    store
        .write(move |tx| {
            let user = crate::users::store::insert(
                tx,
                &crate::users::model::NewUser {
                    username: "admin".into(),
                    email: "admin@localhost".into(),
                    full_name: "Administrator".into(),
                    password_hash: hash,
                    roles: vec![crate::auth::rbac::Role::Admin],
                },
            )?;
            crate::audit::record(
                tx,
                &crate::audit::Actor::system(),
                &crate::audit::Entry::new("users.bootstrap").on("user", &user.id),
            )
        })
        .await?;
    if generated {
        let path = data_dir.join(INITIAL_PASSWORD_FILE);
        crate::fsutil::write_private(&path, format!("{password}\n").as_bytes())?;
        tracing::warn!(file = %path.display(), "created user 'admin' with a random password; read it from the file, then change it");
    } else {
        tracing::info!("created user 'admin' with the password from MCPD_ADMIN_PASSWORD");
    }
    Ok(())
}

/// Runs the daemon until SIGTERM/SIGINT: binds TLS, writes `listen-addr`, notifies
/// systemd, serves (SIGHUP reloads through `reload`), then drains requests (bounded), stops tasks and checkpoints the DB.
pub async fn serve(config: Config, reload: crate::systemd::ConfigLoader) -> anyhow::Result<()> {
    // Handlers first: a signal that arrives during start-up is then handled once the
    // daemon runs instead of killing it half-way (the default action).
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let app = App::open(config).await?;
    let cfg = &app.config.server;
    let tls_files = crate::http::tls::resolve(cfg)?;
    let fp = crate::http::tls::fingerprint(&tls_files.cert)?;
    let tls = crate::http::tls::rustls_config(&tls_files)?;

    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("binding {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    crate::fsutil::write_private(
        &cfg.data_dir.join(LISTEN_ADDR_FILE),
        format!("{addr}\n").as_bytes(),
    )?;
    tracing::info!(%addr, tls_sha256 = %fp, "mcpd listening on https://{addr}/api/v1");

    let handle = axum_server::Handle::<SocketAddr>::new();
    let router = crate::http::router(app.clone());
    let status = format!("listening on https://{addr}/api/v1");
    crate::systemd::spawn_reload(&app, tls.clone(), reload, hup, status.clone());
    crate::systemd::spawn_watchdog(&app);
    crate::auth::session::spawn_cleanup(&app);
    crate::usage::retention::spawn(&app);
    crate::backups::recover(&app).await?;
    crate::backups::schedule::spawn(&app);
    let server = axum_server::from_tcp_rustls(listener, tls)?
        // Small streamed writes (MCP responses over SSE on /mcp) must not wait for
        // Nagle's algorithm and the peer's delayed ACK (~40 ms each).
        // hyper's own answers to requests it cannot parse leave in the envelope too.
        .map(|rustls| {
            crate::http::conn::Acceptor::new(
                rustls.acceptor(axum_server::accept::NoDelayAcceptor::new()),
            )
        })
        .handle(handle.clone())
        .serve(router.into_make_service_with_connect_info::<SocketAddr>());

    crate::services::events::spawn(app.clone());
    crate::logs::writer::Writer::start(&app);
    crate::mcp::manager::spawn_background(&app);
    crate::catalog::announce(&app).await;
    let _ = sd_notify::notify(
        false,
        &[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&status),
        ],
    );
    let grace = Duration::from_secs(cfg.shutdown_grace_s);
    let watcher = {
        let app = app.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!(
                "shutting down: draining requests for up to {}s",
                grace.as_secs()
            );
            let _ = sd_notify::notify(
                false,
                &[
                    sd_notify::NotifyState::Stopping,
                    sd_notify::NotifyState::Status("draining requests"),
                ],
            );
            app.shutdown.cancel();
            handle.graceful_shutdown(Some(grace));
        })
    };
    server.await.context("serving")?;
    watcher.abort();
    app.shutdown.cancel();
    app.tasks.close();
    if tokio::time::timeout(Duration::from_secs(10), app.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 10s");
    }
    app.store.checkpoint().await.ok();
    tracing::info!("mcpd stopped");
    Ok(())
}
