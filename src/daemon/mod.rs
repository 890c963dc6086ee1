//! The top of the daemon: opens the data dir into an [`App`], bootstraps the first
//! admin, assembles the router from every domain's routes and serves it. This is the one
//! module that knows every domain; nothing else imports it (only `main.rs` and tests).

pub mod openapi;
mod router;
mod serve;

pub use router::{document, router};
pub use serve::serve;

use crate::app::{App, AppState, DB_FILE, INITIAL_PASSWORD_FILE, LEGACY_JWT_KEY_FILE};
use crate::docker::DockerClient;
use crate::settings::Settings;
use crate::store::Store;
use crate::vault::Vault;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Opens the data dir (creating what is missing: database, keys, TLS, admin user) and
/// returns the daemon's state, for `serve` and the offline commands (`mcpd init`,
/// `mcpd admin …`, `mcpd backup …`).
pub async fn open(config: Settings) -> anyhow::Result<AppState> {
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
        kubernetes_limiter: crate::auth::ratelimit::RequestLimiter::new(
            config.kubernetes.requests_per_minute,
        ),
        kubernetes: crate::kubernetes::cache::Clients::new(),
        network_limiter: crate::auth::ratelimit::RequestLimiter::new(
            config.network.requests_per_minute,
        ),
        network: crate::network::pool::Pool::default(),
        mcp: Arc::default(),
        metrics: crate::metrics::Metrics::default(),
        events: crate::events::Bus::default(),
        request_logs: crate::request_log::writer::Writer::new(
            store.clone(),
            config.mcp.request_log_payload_cap_bytes,
        ),
        settings: config,
        store,
        started: Instant::now(),
        started_at: crate::time::now_rfc3339(),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    }))
}

/// First start: creates user `admin` (role admin) with `MCPD_ADMIN_PASSWORD` (or
/// `MCPD_ADMIN_PASSWORD_FILE`), else a random password written to
/// `<data_dir>/initial-admin-password` (0600) and announced in the log.
async fn bootstrap_admin(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.read(crate::users::store::any).await? {
        return Ok(());
    }
    let (password, generated) = match crate::settings::secret_from_env("MCPD_ADMIN_PASSWORD")? {
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
