//! The Docker engine as tests see it: the `docker` CLI, and a proxy whose stop is an
//! engine outage for one daemon (with the daemons started behind it).

use super::Daemon;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a Docker engine answers `docker info`.
pub fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a docker CLI command, returning stdout (trimmed) on success.
pub fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Container names (without the leading `/`) whose name starts with `prefix`.
pub fn containers_named(prefix: &str) -> Vec<String> {
    docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name=^/{prefix}"),
    ])
    .map(|s| {
        s.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// The ids of the Docker networks of exactly this name (none when the CLI fails).
pub fn networks_named(name: &str) -> Vec<String> {
    docker(&["network", "ls", "-q", "--filter", &format!("name=^{name}$")])
        .map(|out| out.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Whether a Docker network of exactly this name exists.
pub fn network_exists(name: &str) -> bool {
    !networks_named(name).is_empty()
}

/// The engine's socket, which [`EngineProxy`] forwards to.
const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// Forwards every connection on a socket of the test's own to the engine's until
/// stopped or dropped, so that stopping it is a Docker outage as one daemon (given
/// `MCPD_DOCKER__HOST=unix://<path>`) sees it, while other tests keep their engine.
pub struct EngineProxy {
    path: PathBuf,
    tasks: tokio::task::JoinSet<()>,
}

impl EngineProxy {
    pub fn start(path: &Path) -> EngineProxy {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind proxy socket");
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut engine) = tokio::net::UnixStream::connect(ENGINE_SOCKET).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
            // Dropping `conns` (when this task is aborted) closes every forwarded connection.
        });
        EngineProxy {
            path: path.to_path_buf(),
            tasks,
        }
    }

    /// The outage: no new connections (socket file gone) and every open one closed.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Daemons whose engine is a socket of the test's own.
impl Daemon {
    /// Starts a daemon that talks to Docker on the Unix socket `sock`.
    pub async fn start_on_socket(sock: &Path) -> Daemon {
        Self::start_with_var("MCPD_DOCKER__HOST", format!("unix://{}", sock.display())).await
    }

    /// Starts a daemon reaching the engine through an [`EngineProxy`] on socket
    /// `sock_name` of a new temporary directory, so that stopping the proxy is an outage
    /// for this daemon alone: the directory (keep it while the daemon runs), the proxy,
    /// the daemon and an admin token.
    pub async fn start_behind_proxy(
        sock_name: &str,
    ) -> (tempfile::TempDir, EngineProxy, Daemon, String) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join(sock_name);
        let proxy = EngineProxy::start(&sock);
        let mut d = Self::start_on_socket(&sock).await;
        let admin = d.admin().await;
        (dir, proxy, d, admin)
    }
}
