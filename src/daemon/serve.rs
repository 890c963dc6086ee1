//! `mcpd serve`: binds TLS, starts the background tasks of every domain, serves the
//! router until SIGTERM/SIGINT, then drains requests and stops the tasks.

use crate::app::{AppState, LISTEN_ADDR_FILE};
use crate::settings::Settings;
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// How long shutdown waits for background tasks after requests have drained.
const TASKS_GRACE: Duration = Duration::from_secs(10);

/// Runs the daemon until SIGTERM/SIGINT: binds TLS, writes `listen-addr`, notifies
/// systemd, serves (SIGHUP reloads through `reload`), then drains requests (bounded by
/// `server.shutdown_grace_s`), stops tasks and checkpoints the database.
pub async fn serve(config: Settings, reload: crate::systemd::SettingsLoader) -> anyhow::Result<()> {
    // Handlers first: a signal that arrives during start-up is then handled once the
    // daemon runs instead of killing it half-way (the default action).
    let term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let app = super::open(config).await?;
    let cfg = &app.settings.server;
    let tls_files = crate::http::tls::resolve(cfg)?;
    let fp = crate::http::tls::fingerprint(&tls_files.cert)?;
    let tls = crate::http::tls::rustls_config(&tls_files)?;
    let (listener, addr) = bind(&app)?;
    tracing::info!(%addr, tls_sha256 = %fp, "mcpd listening on https://{addr}/api/v1");
    let status = format!("listening on https://{addr}/api/v1");
    crate::systemd::spawn_reload(&app, tls.clone(), reload, hup, status.clone());
    crate::systemd::spawn_watchdog(&app);
    crate::auth::session::spawn_cleanup(&app);
    crate::usage::retention::spawn(&app);
    crate::backups::recover(&app).await?;
    crate::backups::schedule::spawn(&app);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let router = super::router(app.clone());
    let server = axum_server::from_tcp_rustls(listener, tls)?
        // Small streamed writes (MCP responses over SSE on /mcp) must not wait for
        // Nagle's algorithm and the peer's delayed ACK (~40 ms each); hyper's own
        // answers to requests it cannot parse leave in the envelope too.
        .map(|rustls| {
            crate::http::conn::Acceptor::new(
                rustls.acceptor(axum_server::accept::NoDelayAcceptor::new()),
            )
        })
        .handle(handle.clone())
        .serve(router.into_make_service_with_connect_info::<SocketAddr>());
    crate::services::events::spawn(app.clone());
    app.request_logs.start(&app.tasks, app.shutdown.clone());
    crate::mcp::liveness::spawn_background(&app);
    crate::network::spawn_idle_reaper(&app).await?;
    crate::network::history::spawn_poller(&app);
    crate::metrics::sampler::spawn(&app);
    crate::events::feed::spawn(&app);
    crate::monitoring::spawn(&app);
    spawn_exporter(&app).await?;
    crate::catalog::announce(&app).await;
    notify(sd_notify::NotifyState::Ready, &status);
    let watcher = tokio::spawn(stop_on_signal(app.clone(), handle, term, int));
    server.await.context("serving")?;
    watcher.abort();
    stop(&app).await;
    Ok(())
}

/// Binds `server.listen` and writes the bound address to `<data_dir>/listen-addr`.
fn bind(app: &AppState) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let cfg = &app.settings.server;
    let listener =
        TcpListener::bind(cfg.listen).with_context(|| format!("binding {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    crate::fsutil::write_private(
        &cfg.data_dir.join(LISTEN_ADDR_FILE),
        format!("{addr}\n").as_bytes(),
    )?;
    Ok((listener, addr))
}

/// Serves the plain `/metrics` exporter on `metrics.listen` (HTTP, no auth) until
/// shutdown, when that is set.
async fn spawn_exporter(app: &AppState) -> anyhow::Result<()> {
    let Some(addr) = app.settings.metrics.listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding metrics.listen {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "Prometheus exporter listening on /metrics");
    let router = crate::metrics::api::exporter(app.clone());
    let shutdown = app.shutdown.clone();
    app.tasks.spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics exporter stopped");
        }
    });
    Ok(())
}

/// Tells systemd `state` with `status` (a no-op outside systemd).
fn notify(state: sd_notify::NotifyState<'_>, status: &str) {
    let _ = sd_notify::notify(false, &[state, sd_notify::NotifyState::Status(status)]);
}

/// Waits for SIGTERM or SIGINT, then cancels the background tasks and lets requests
/// drain for up to `server.shutdown_grace_s`.
async fn stop_on_signal(
    app: AppState,
    handle: axum_server::Handle<SocketAddr>,
    mut term: Signal,
    mut int: Signal,
) {
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    let grace = Duration::from_secs(app.settings.server.shutdown_grace_s);
    tracing::info!(
        "shutting down: draining requests for up to {}s",
        grace.as_secs()
    );
    notify(sd_notify::NotifyState::Stopping, "draining requests");
    app.shutdown.cancel();
    handle.graceful_shutdown(Some(grace));
}

/// After the server returned: stops the background tasks (bounded) and checkpoints the
/// database.
async fn stop(app: &AppState) {
    app.shutdown.cancel();
    app.tasks.close();
    if tokio::time::timeout(TASKS_GRACE, app.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 10s");
    }
    app.store.checkpoint().await.ok();
    tracing::info!("mcpd stopped");
}
