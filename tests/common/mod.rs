//! Test harness: runs the real `mcpd` binary on a temporary data dir and a free port,
//! talks to it over TLS (trusting the certificate it created), and cleans up every
//! Docker object a test made through it, even when the test panics.
//!
//! Docker-dependent tests call `require_docker!()`: on a developer machine without an
//! engine they skip loudly; under CI (`CI=true`) they fail.
//!
//! Every test file is its own crate and uses only some of these helpers, hence the
//! `allow(dead_code)` below (it covers the submodules too).

#![allow(dead_code)]

pub mod answers;
pub mod engine;
pub mod mcp;
pub mod netsim;
pub mod observed;
pub mod ws;

// Each test crate uses some of these (and `require_docker!` the last).
#[allow(unused_imports)]
pub use answers::{assert_error, assert_invalid_bodies, assert_invalid_queries};
#[allow(unused_imports)]
pub use answers::{assert_statuses, expect, expect_error};
#[allow(unused_imports)]
pub use engine::{EngineProxy, containers_named, docker, docker_available, networks_named};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Test images built by `tests/setup/images.sh`.
pub const BUSYBOX_IMAGE: &str = "mcpd-test/busybox:1";
pub const FILESYSTEM_IMAGE: &str = "mcpd-test/mcp-filesystem:1";
pub const EVERYTHING_IMAGE: &str = "mcpd-test/mcp-everything:1";

/// Skips (developer machine) or fails (CI) a test that needs Docker when none answers.
#[macro_export]
macro_rules! require_docker {
    () => {
        if !$crate::common::docker_available() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("this test needs a Docker engine and none answers (CI=true): run tests/setup/all.sh");
            }
            eprintln!("\n*** SKIPPED {}: no Docker engine answers; run tests/setup/all.sh ***\n", module_path!());
            return;
        }
    };
}

/// Variables besides `MCPD_*` that the binary reads and no test wants inherited:
/// `RUST_LOG` overrides the configured level, systemd's `CREDENTIALS_DIRECTORY` moves
/// the master key, `JOURNAL_STREAM`/`INVOCATION_ID` send the log to the journal.
const INHERITED_VARS_CLEARED: [&str; 4] = [
    "RUST_LOG",
    "CREDENTIALS_DIRECTORY",
    "JOURNAL_STREAM",
    "INVOCATION_ID",
];

/// The one way tests run the `mcpd` binary: a `Command` for it with every `MCPD_*`
/// variable of the environment running the tests removed (`MCPD_CONFIG`,
/// `MCPD_ADMIN_PASSWORD`, config overrides such as `MCPD_DOCKER__HOST` …) and the
/// [`INHERITED_VARS_CLEARED`], so a developer's environment cannot leak in. Callers
/// add the arguments and variables their test wants.
pub fn mcpd_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcpd"));
    for (name, _) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(b"MCPD_") {
            cmd.env_remove(name);
        }
    }
    for name in INHERITED_VARS_CLEARED {
        cmd.env_remove(name);
    }
    cmd
}

/// Runs the `mcpd` binary with `args` (offline subcommands such as `backup restore`).
pub fn mcpd<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    mcpd_command().args(args).output().expect("run mcpd")
}

/// [`mcpd`], asserting that it succeeded (the message is its stderr).
pub fn mcpd_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = mcpd(args);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// A process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// How often [`wait_for`] asks again.
const POLL: Duration = Duration::from_millis(100);

/// The one polling loop of the tests: calls `f` until it returns `Some`, for at most
/// `within` (it is always called at least once), and returns that value; on timeout it
/// panics naming `what` (formatted only then, so it may show the latest state through
/// `std::fmt::from_fn`).
pub async fn wait_for<T>(
    what: impl std::fmt::Display,
    within: Duration,
    mut f: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A running `mcpd serve`.
pub struct Daemon {
    /// Short random tag; resource names made with [`Daemon::name`] carry it.
    pub tag: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub base: String,
    pub client: reqwest::Client,
    pub network: String,
    env: Vec<(String, String)>,
    /// A config file given with `--config`; see [`Daemon::start_with_config`].
    config: Option<PathBuf>,
    admin_token: Option<String>,
}

impl Daemon {
    /// Starts a daemon on a fresh data dir with admin password [`ADMIN_PASSWORD`].
    pub async fn start() -> Daemon {
        Self::start_with_env(Vec::new()).await
    }

    /// [`Daemon::start`], and an admin token for it.
    pub async fn start_admin() -> (Daemon, String) {
        let mut d = Self::start().await;
        let admin = d.admin().await;
        (d, admin)
    }

    /// Starts a daemon with extra environment (`MCPD_…` config variables).
    pub async fn start_with_env(env: Vec<(String, String)>) -> Daemon {
        Self::launch(env, None).await
    }

    /// Starts a daemon with one extra environment variable (an `MCPD_…` setting).
    pub async fn start_with_var(name: &str, value: impl Into<String>) -> Daemon {
        Self::start_with_env(vec![(name.to_string(), value.into())]).await
    }

    /// [`Daemon::start_with_var`], and an admin token for it.
    pub async fn start_admin_with_var(name: &str, value: impl Into<String>) -> (Daemon, String) {
        let mut d = Self::start_with_var(name, value).await;
        let admin = d.admin().await;
        (d, admin)
    }

    /// Starts a daemon reading the config file `config`. Its log level is the file's:
    /// no `RUST_LOG` is set (it would win over the file, and over a reload).
    pub async fn start_with_config(config: &Path) -> Daemon {
        Self::launch(Vec::new(), Some(config.to_path_buf())).await
    }

    async fn launch(env: Vec<(String, String)>, config: Option<PathBuf>) -> Daemon {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tmp = tempfile::Builder::new()
            .prefix("mcpd-test-")
            .tempdir()
            .expect("tempdir");
        let tag = random_tag();
        let mut d = Daemon {
            network: format!("mcpd-test-{tag}"),
            tag,
            data_dir: tmp.path().to_path_buf(),
            _tmp: Some(tmp),
            child: None,
            base: String::new(),
            client: reqwest::Client::new(),
            env,
            config,
            admin_token: None,
        };
        d.spawn().await;
        d
    }

    /// A resource name unique to this daemon: `t<tag>-<name>`.
    pub fn name(&self, name: &str) -> String {
        format!("t{}-{name}", self.tag)
    }

    /// Prefix of the Docker containers of services this daemon's tests created.
    pub fn container_prefix(&self) -> String {
        format!("mcpd-t{}-", self.tag)
    }

    async fn spawn(&mut self) {
        let addr_file = self.data_dir.join("listen-addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("daemon.log"))
            .expect("daemon log");
        let mut cmd = mcpd_command();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data_dir)
            .env("MCPD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("MCPD_DOCKER__NETWORK", &self.network)
            // Tests drive the API harder than one caller's default allowance; the limit
            // has its own test, which turns it back on through `start_with_env`.
            .env("MCPD_AUTH__REQUESTS_PER_MINUTE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        match &self.config {
            Some(config) => cmd.arg("--config").arg(config),
            None => cmd.env("RUST_LOG", "info,mcpd=debug"),
        };
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Held by `self` at once, so that `Drop` ends it even when the start fails.
        let child = self.child.insert(cmd.spawn().expect("spawn mcpd"));
        let log_path = self.data_dir.join("daemon.log");
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let what = std::fmt::from_fn(|f| write!(f, "mcpd to start; log:\n{}", log()));
        let addr = wait_for(what, Duration::from_secs(30), async || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("mcpd exited early ({status}); log:\n{}", log());
            }
            std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|s| s.ends_with('\n'))
                .map(|s| s.trim().to_string())
        })
        .await;
        let cert = std::fs::read(self.data_dir.join("tls/cert.pem")).expect("daemon certificate");
        self.client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        self.base = format!("https://{addr}/api/v1");
        self.admin_token = None;
    }

    /// The container ids of service `name` (a managed MCP server's name is its
    /// service's), as `GET /services/{name}` lists them.
    pub async fn container_ids(&self, token: &str, name: &str) -> Vec<String> {
        let (s, b) = self.get(&format!("/services/{name}"), token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["data"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c["id"].as_str().expect("container id").to_string())
            .collect()
    }

    /// The running daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// Sends `sig` (e.g. `libc::SIGHUP`) to the running daemon.
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid() as i32, sig) };
    }

    /// Waits up to `within` for `needle` to appear in the log; panics if it does not.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) {
        let what = format!("{needle:?} in the daemon log");
        wait_for(what, within, async || {
            self.log().contains(needle).then_some(())
        })
        .await;
    }

    /// Polls `GET path` until it answers 200 with a body `done` accepts, for at most
    /// `within`, and returns that body; the timeout shows the last answer.
    pub async fn get_until(
        &self,
        path: &str,
        token: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let last = std::sync::Mutex::new(String::new());
        let what =
            std::fmt::from_fn(|f| write!(f, "GET {path} (last answer: {})", last.lock().unwrap()));
        wait_for(what, within, async || {
            let (s, b) = self.get(path, token).await;
            if s == StatusCode::OK && done(&b) {
                return Some(b);
            }
            *last.lock().unwrap() = format!("{s} {b}");
            None
        })
        .await
    }

    /// Starts a backup (`POST /backups` with `body`, asserting 202) and waits for it to
    /// end ([`Daemon::backup_done`]); the data of the ended backup.
    pub async fn backup(&self, token: &str, body: Value) -> Value {
        let (s, b) = self.post("/backups", token, body.clone()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "backup {body}: {b}");
        self.backup_done(token, b["data"]["id"].as_str().unwrap())
            .await
    }

    /// Waits (up to 90 s) for backup `id` to end, completed or failed; its data.
    pub async fn backup_done(&self, token: &str, id: &str) -> Value {
        let path = format!("/backups/{id}");
        let b = self
            .get_until(&path, token, Duration::from_secs(90), |b| {
                ["completed", "failed"].contains(&b["data"]["status"].as_str().unwrap_or(""))
            })
            .await;
        b["data"].clone()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("daemon.log")).unwrap_or_default()
    }

    /// SIGTERM, wait for exit (bounded), keeping the data dir.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(40);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "mcpd did not stop within 40s after SIGTERM; log:\n{}",
                        self.log()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Stops and starts again on the same data dir.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in and returns an access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (s, body) = self
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login as {username} failed: {body}");
        body["data"]["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// An admin access token (cached).
    pub async fn admin(&mut self) -> String {
        if self.admin_token.is_none() {
            self.admin_token = Some(self.login("admin", ADMIN_PASSWORD).await);
        }
        self.admin_token.clone().unwrap()
    }

    /// Creates a user with `roles` and returns a token for them.
    pub async fn user_with_roles(&mut self, username: &str, roles: &[&str]) -> String {
        let admin = self.admin().await;
        let password = "user-password-for-tests";
        let (s, body) = self
            .call(
                Method::POST,
                "/users",
                Some(&admin),
                Some(json!({"username": username, "email": format!("{username}@example.test"), "password": password, "roles": roles})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create user {username}: {body}");
        self.login(username, password).await
    }

    /// Creates an API key of the caller of `token` with `scopes`, asserting 201;
    /// returns its id and its secret.
    pub async fn api_key(&self, token: &str, name: &str, scopes: &[&str]) -> (String, String) {
        let (s, b) = self
            .post("/api-keys", token, json!({"name": name, "scopes": scopes}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create API key {name}: {b}");
        let field = |f: &str| b["data"][f].as_str().unwrap().to_string();
        (field("id"), field("key"))
    }

    /// One JSON request; returns the status and the parsed body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("request")).await
    }

    /// `POST path` with `body` and no credentials.
    pub async fn post_anonymous(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub fn data_path(&self, rel: &str) -> PathBuf {
        self.data_dir.join(rel)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A graceful stop lets background work in flight (e.g. the network being
        // created at start-up) finish, so nothing appears after the clean-up below.
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Remove every container this daemon's tests created, then its network.
        let names = containers_named(&self.container_prefix());
        if !names.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(names.iter().map(String::as_str));
            let _ = docker(&args);
        }
        let _ = docker(&["network", "rm", &self.network]);
        // A network that shows up after the daemon stopped was made by a request it
        // left in flight at shutdown: remove it, and fail the test that shows it.
        std::thread::sleep(Duration::from_millis(300));
        if engine::network_exists(&self.network) {
            let _ = docker(&["network", "rm", &self.network]);
            if !std::thread::panicking() {
                panic!(
                    "Docker network {} appeared after the daemon stopped; log:\n{}",
                    self.network,
                    tail(&self.log(), 100)
                );
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- mcpd log ({}) ---\n{}",
                self.data_dir.display(),
                tail(&self.log(), 200)
            );
        }
    }
}

/// A response's status and parsed body (`Null` when empty, the text when not JSON).
pub async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, v)
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn random_tag() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let pid = std::process::id();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}", (nanos ^ (pid << 16) ^ (n << 8)) & 0xff_ffff)
}

/// `base` (an object) with the fields of `extra` set over it.
pub fn merged(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra fields") {
        base[k] = v.clone();
    }
    base
}

/// A busybox service body that runs until stopped (`sleep` under Docker's init stops
/// at once); tests add fields (`start`, `replicas` …) as they need.
pub fn sleeper(name: &str) -> Value {
    json!({"name": name, "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]})
}

/// Creates a service (`POST /services` with `body`), asserting 201; its data.
pub async fn create_service(d: &Daemon, token: &str, body: Value) -> Value {
    let (s, b) = d.post("/services", token, body.clone()).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "create service {}: {b}",
        body["name"]
    );
    b["data"].clone()
}

/// POSTs raw bytes to `/images/load` with `content_type`.
pub async fn upload_image(
    d: &Daemon,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = d
        .client
        .post(d.url("/images/load"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    read(req.send().await.expect("upload")).await
}

/// Path to a file in the repository.
/// The test cache dir the setup scripts fill (venvs, simulators):
/// `$MCPD_TEST_CACHE`, else `~/.cache/mcpd-test`.
pub fn test_cache() -> PathBuf {
    std::env::var_os("MCPD_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/mcpd-test")
        })
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
