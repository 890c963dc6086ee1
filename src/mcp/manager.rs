//! MCP server lifecycle: create (managed: create and start the backing service, open a
//! session and discover; remote: record and try to connect), get, list, patch, delete,
//! start/stop/restart, `test` and `discover`, and the per-server session every call uses.

use super::backing::{self, ContainerPlan};
use super::model::{
    Catalog, Counts, Discovery, McpServer, ServerInfo, ServerRecord, Transport, status,
};
use super::session::{self, Client};
use super::store;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use crate::services::VolumeSpec;
use crate::store::cache::Cache;
use crate::store::list::{ListQuery, Page};
use rmcp::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long opening a session (attach or HTTP connect, then `initialize`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A managed HTTP server needs a moment to listen after its container starts; connects
/// are retried this often until [`CONNECT_TIMEOUT`].
const CONNECT_RETRY: Duration = Duration::from_millis(250);
/// How often open sessions are checked with an MCP `ping`, and how long one may take.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(30);
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest server name (same rule as service names, which it shares).
const MAX_NAME_LEN: usize = 63;

/// `POST /mcp/servers`: managed `{name, image, command?, args?, env?, volumes?,
/// transport, port?, path?}`, remote `{name, url, headers?}`, or from the catalog
/// `{name, registry, config?}` (see [`crate::catalog`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateServer {
    pub name: String,
    /// Managed: image of the container (must exist locally).
    pub image: Option<String>,
    /// Managed: replaces the image's CMD; `args` follow it.
    pub command: Option<Vec<String>>,
    /// Managed: arguments after the image's ENTRYPOINT (or after `command`).
    pub args: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub volumes: Option<Vec<VolumeSpec>>,
    /// `stdio` (default for managed) or `streamable_http` (the only one for remote).
    pub transport: Option<Transport>,
    /// Managed streamable HTTP: container port of the endpoint.
    pub port: Option<u16>,
    /// Managed streamable HTTP: path of the endpoint (default `/mcp`).
    pub path: Option<String>,
    /// Remote: `http(s)://…` endpoint.
    pub url: Option<String>,
    /// Remote: extra request headers; values are secrets, never returned, and may hold
    /// `${secret:<config key>}` references resolved when the session opens.
    pub headers: Option<BTreeMap<String, String>>,
    /// Catalog: name of the entry the server is made from (image, transport and
    /// arguments come from it).
    pub registry: Option<String>,
    /// Catalog: the configuration, checked against the entry's `config_schema`.
    pub config: Option<Value>,
}

/// `PUT /mcp/servers/{id}/config`: the whole new configuration of a server made from
/// a catalog entry (secret fields must be sent again).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconfigure {
    pub config: Value,
}

/// `PATCH /mcp/servers/{id}`: only the fields sent change.
///
/// Connection settings: remote `url`, `headers` (values are secrets, never returned);
/// managed streamable HTTP `port`, `path`. The session is reopened on the next call.
///
/// Container settings, for managed servers made without a catalog entry (a catalog
/// server's come from its entry: `PUT /mcp/servers/{id}/config`): `image` (must exist
/// locally), `command`, `args`, `env` (replaces the whole environment; values are
/// never returned or audited), `volumes` (replaces the list), validated like
/// [`CreateServer`]. `command` followed by `args` is the container's `Cmd`, stored as
/// one list, so sending either replaces both (send both to keep a `command`); empty
/// means the image's default. The container is recreated through the services
/// domain's update; a running server gets a new session on the new container and is
/// discovered again, a stopped one stays stopped. On failure (image missing, the new
/// container exits at once or does not speak MCP) the previous container settings are
/// restored and the error returned.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchServer {
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub volumes: Option<Vec<VolumeSpec>>,
}

impl PatchServer {
    /// Names of the fields sent, in declaration order (for errors and the audit entry).
    fn sent(&self) -> Vec<&'static str> {
        [
            ("url", self.url.is_some()),
            ("headers", self.headers.is_some()),
            ("port", self.port.is_some()),
            ("path", self.path.is_some()),
            ("image", self.image.is_some()),
            ("command", self.command.is_some()),
            ("args", self.args.is_some()),
            ("env", self.env.is_some()),
            ("volumes", self.volumes.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect()
    }

    /// The first container field sent, if any.
    fn container_field(&self) -> Option<&'static str> {
        self.sent()
            .into_iter()
            .find(|f| CONTAINER_FIELDS.contains(f))
    }

    /// `current` with the container fields sent applied.
    fn container_plan(&self, current: &ContainerPlan) -> ContainerPlan {
        let mut plan = current.clone();
        if let Some(image) = &self.image {
            plan.image = image.clone();
        }
        if self.command.is_some() || self.args.is_some() {
            plan.cmd = ContainerPlan::cmd_of(self.command.clone(), self.args.clone());
        }
        if let Some(env) = &self.env {
            plan.env = env.clone();
        }
        if let Some(volumes) = &self.volumes {
            plan.volumes = volumes.clone();
        }
        plan
    }
}

/// The [`PatchServer`] fields that change a managed server's container.
const CONTAINER_FIELDS: [&str; 5] = ["image", "command", "args", "env", "volumes"];

/// Result of `POST /mcp/servers/{id}/test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub ok: bool,
    /// Round trip of one MCP `ping`, in milliseconds.
    pub latency_ms: f64,
    pub server_info: Option<ServerInfo>,
    pub protocol_version: Option<String>,
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

/// 400 on `name` unless it is a valid server name.
pub fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::field(
            "name",
            "must be 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit",
        ))
    }
}

fn check_url(url: &str) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(Error::field("url", "must be an absolute http or https URL")),
    }
}

fn check_headers(headers: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(Error::field(format!("headers.{k}"), "invalid header name"));
        }
        if http::HeaderValue::from_str(v).is_err() {
            // Never echo the value: it is a secret.
            return Err(Error::field(format!("headers.{k}"), "invalid header value"));
        }
    }
    Ok(())
}

fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::field(
            "path",
            "must start with '/' and hold no spaces",
        ));
    }
    Ok(())
}

/// The vault row of a server's header values.
fn headers_row(server_id: &str) -> crate::vault::seal::RowRef<'_> {
    crate::vault::seal::RowRef {
        table: "mcp_servers",
        column: "headers",
        id: server_id,
    }
}

/// Seals `headers` into the record (names kept in clear for display).
fn set_headers(
    app: &App,
    rec: &mut ServerRecord,
    headers: &BTreeMap<String, String>,
) -> Result<()> {
    rec.header_names = headers.keys().cloned().collect();
    rec.headers_sealed = if headers.is_empty() {
        None
    } else {
        let clear = zeroize::Zeroizing::new(serde_json::to_vec(headers)?);
        Some(app.vault.seal(headers_row(&rec.id), &clear)?)
    };
    Ok(())
}

/// Opens a remote server's header values and resolves their `${secret:<key>}`
/// references (only to connect). A reference whose config key is gone is 503
/// `MCP_SERVICE_UNCONFIGURED`.
async fn open_headers(app: &App, rec: &ServerRecord) -> Result<BTreeMap<String, String>> {
    let Some(sealed) = &rec.headers_sealed else {
        return Ok(BTreeMap::new());
    };
    let clear = app.vault.open(headers_row(&rec.id), sealed)?;
    let headers: BTreeMap<String, String> = serde_json::from_slice(&clear)?;
    let vault = app.vault.clone();
    let resolved = app
        .store
        .read(move |c| crate::configuration::refs::resolve(c, &vault, &headers))
        .await
        .map_err(|e| match e.code {
            ErrorCode::ValidationError => Error::new(
                ErrorCode::McpServiceUnconfigured,
                format!(
                    "MCP server '{}' has a header that refers to a missing config entry",
                    rec.name
                ),
            ),
            _ => e,
        })?;
    Ok(resolved
        .into_iter()
        .map(|(k, v)| (k, v.as_str().to_string()))
        .collect())
}

/// Checks that every `${secret:<key>}` in header values names an existing config
/// entry (400 naming `headers.<Name>` otherwise).
async fn check_header_refs(app: &App, headers: &BTreeMap<String, String>) -> Result<()> {
    let headers = headers.clone();
    app.store
        .read(move |c| crate::configuration::refs::check(c, "headers", &headers))
        .await
}

/// Checks a create request and builds the record (not yet stored; header values are
/// sealed by [`create`]).
fn plan(req: &CreateServer, actor: &Actor) -> Result<ServerRecord> {
    if !valid_name(&req.name) {
        return Err(Error::field(
            "name",
            "must be 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit",
        ));
    }
    let now = crate::time::now_rfc3339();
    let mut r = ServerRecord {
        id: crate::ids::new_id("mcp"),
        name: req.name.clone(),
        transport: Transport::Stdio,
        service_id: None,
        url: None,
        header_names: Vec::new(),
        headers_sealed: None,
        port: None,
        path: None,
        status: status::RUNNING.into(),
        engine: None,
        server_info: None,
        capabilities: None,
        counts: Counts::default(),
        discovered_at: None,
        created_by: actor.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        registry: None,
    };
    match (&req.image, &req.url) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "url",
                "give either image (managed) or url (remote), not both",
            ));
        }
        (None, None) => {
            return Err(Error::field(
                "image",
                "required (or url for a remote server)",
            ));
        }
        (None, Some(url)) => {
            let managed_only = [
                ("command", req.command.is_some()),
                ("args", req.args.is_some()),
                ("env", req.env.is_some()),
                ("volumes", req.volumes.is_some()),
                ("port", req.port.is_some()),
                ("path", req.path.is_some()),
            ];
            if let Some((field, _)) = managed_only.iter().find(|(_, set)| *set) {
                return Err(Error::field(
                    *field,
                    "only for managed servers (with image)",
                ));
            }
            if req.transport == Some(Transport::Stdio) {
                return Err(Error::field(
                    "transport",
                    "a remote server speaks streamable_http",
                ));
            }
            check_url(url)?;
            check_headers(req.headers.as_ref().unwrap_or(&BTreeMap::new()))?;
            r.transport = Transport::StreamableHttp;
            r.url = Some(url.clone());
        }
        (Some(image), None) => {
            crate::images::reference::validate("image", image)?;
            if req.headers.is_some() {
                return Err(Error::field(
                    "headers",
                    "only for remote servers (with url)",
                ));
            }
            r.transport = req.transport.unwrap_or(Transport::Stdio);
            match r.transport {
                Transport::Stdio => {
                    if req.port.is_some() {
                        return Err(Error::field("port", "only for transport streamable_http"));
                    }
                    if req.path.is_some() {
                        return Err(Error::field("path", "only for transport streamable_http"));
                    }
                }
                Transport::StreamableHttp => {
                    let port = req.port.filter(|p| *p > 0).ok_or_else(|| {
                        Error::field("port", "required for transport streamable_http (1-65535)")
                    })?;
                    let path = req.path.clone().unwrap_or_else(|| "/mcp".into());
                    check_path(&path)?;
                    r.port = Some(port);
                    r.path = Some(path);
                }
            }
            // Placeholder until the service exists; set by `create`.
            r.service_id = Some(String::new());
        }
    }
    Ok(r)
}

/// Creates a server. Managed: creates and starts the service (same name), opens the
/// session and discovers; any failure removes what was made and nothing remains.
/// Remote: stored, then connected and discovered on a best-effort basis.
///
/// Errors: 400 on bad input, 409 when the name is taken (by a server or a service),
/// the services domain's errors (image missing, Docker down), 503
/// `MCP_SERVICE_UNAVAILABLE` when the container does not speak MCP.
pub async fn create(app: &App, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    if req.registry.is_some() {
        return crate::catalog::servers::create(app, actor, req).await;
    }
    if req.config.is_some() {
        return Err(Error::field("config", "only with registry"));
    }
    create_plain(app, actor, req).await
}

/// Creates a managed or remote server from explicit settings (see [`create`]).
pub(crate) async fn create_plain(app: &App, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    let mut rec = plan(&req, actor)?;
    let name = rec.name.clone();
    if app.store.read(move |c| store::name_taken(c, &name)).await? {
        return Err(Error::already_exists("MCP server", &rec.name));
    }
    let Some(image) = req.image.clone() else {
        check_header_refs(app, req.headers.as_ref().unwrap_or(&BTreeMap::new())).await?;
        set_headers(
            app,
            &mut rec,
            req.headers.as_ref().unwrap_or(&BTreeMap::new()),
        )?;
        insert(app, actor, &rec, None).await?;
        if let Err(e) = connect_and_discover(app, &rec).await {
            tracing::warn!(server = %rec.name, error = %e, "remote MCP server not reachable yet");
        }
        return get(app, &rec.id).await.map(|r| r.view());
    };
    let cmd = ContainerPlan::cmd_of(req.command.clone(), req.args.clone());
    let svc = backing::create(
        app,
        actor,
        &rec.id,
        ContainerPlan {
            name: rec.name.clone(),
            image,
            cmd,
            env: req.env.clone().unwrap_or_default(),
            volumes: req.volumes.clone().unwrap_or_default(),
            stdin: rec.transport == Transport::Stdio,
        },
    )
    .await
    .inspect_err(|e| audit_failure(app, actor, &req.name, e))?;
    rec.service_id = Some(svc.id.clone());
    // Session and discovery first, so the record is stored complete or not at all.
    let made = async {
        let client = session(app, &rec).await?;
        if let Some((info, caps)) = peer_identity(&client) {
            rec.server_info = Some(info);
            rec.capabilities = Some(caps);
        }
        let found = discover_with(app, &rec, &client).await?;
        insert(app, actor, &rec, Some(found)).await
    }
    .await;
    if let Err(e) = made {
        app.mcp.close(&rec.id).await;
        if let Err(de) = backing::delete(app, actor, &svc.id).await {
            tracing::error!(service = %svc.id, error = %de, "could not remove the service of a failed MCP server");
        }
        audit_failure(app, actor, &req.name, &e);
        return Err(e);
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Creates a managed server whose required configuration is missing: the record
/// (status `unconfigured`) and its service, not started. Nothing remains on failure.
pub(crate) async fn create_unconfigured(
    app: &App,
    actor: &Actor,
    req: CreateServer,
) -> Result<McpServer> {
    let mut rec = plan(&req, actor)?;
    rec.status = status::UNCONFIGURED.into();
    let name = rec.name.clone();
    if app.store.read(move |c| store::name_taken(c, &name)).await? {
        return Err(Error::already_exists("MCP server", &rec.name));
    }
    let spec = crate::services::ServiceSpec {
        name: rec.name.clone(),
        image: req.image.clone().unwrap_or_default(),
        command: req.args.clone().filter(|a| !a.is_empty()),
        env: req.env.clone().unwrap_or_default(),
        volumes: req.volumes.clone().unwrap_or_default(),
        replicas: 1,
        stdin_open: rec.transport == Transport::Stdio,
        managed_by: Some(rec.id.clone()),
        ..crate::services::ServiceSpec::default()
    };
    let svc = crate::services::manager::create(app, actor, spec, false)
        .await
        .inspect_err(|e| audit_failure(app, actor, &req.name, e))?;
    rec.service_id = Some(svc.id.clone());
    if let Err(e) = insert(app, actor, &rec, None).await {
        if let Err(de) = backing::delete(app, actor, &svc.id).await {
            tracing::error!(service = %svc.id, error = %de, "could not remove the service of a failed MCP server");
        }
        audit_failure(app, actor, &req.name, &e);
        return Err(e);
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Audits a create that failed (there is no record to point at). Runs detached: the
/// caller's error is what matters.
fn audit_failure(app: &App, actor: &Actor, name: &str, e: &Error) {
    let outcome = Entry::new("mcp.servers.create")
        .on_any("mcp_server", None)
        .details(json!({"name": name, "error": e.code.as_str()}))
        .failed();
    let (store, actor) = (app.store.clone(), actor.clone());
    tokio::spawn(async move { audit::record_alone(&store, actor, outcome).await });
}

/// Stores a new record (with its first discovery, when there is one) and its audit
/// entry in one transaction.
async fn insert(
    app: &App,
    actor: &Actor,
    rec: &ServerRecord,
    found: Option<Discovery>,
) -> Result<()> {
    let (rec, actor) = (rec.clone(), actor.clone());
    app.store
        .write(move |tx| {
            if store::name_taken(tx, &rec.name)? {
                return Err(Error::already_exists("MCP server", &rec.name));
            }
            store::insert(tx, &rec)?;
            if let (Some(info), Some(caps)) = (&rec.server_info, &rec.capabilities) {
                store::set_server_info(tx, &rec.id, info, caps)?;
            }
            if let Some(found) = &found {
                store::save_discovery(tx, &rec.id, found)?;
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("mcp.servers.create")
                    .on("mcp_server", &rec.id)
                    .details(json!({
                        "name": rec.name,
                        "transport": rec.transport.as_str(),
                        "service_id": rec.service_id,
                        "url": rec.url,
                    })),
            )
        })
        .await
}

async fn connect_and_discover(app: &App, rec: &ServerRecord) -> Result<()> {
    let client = session(app, rec).await?;
    discover_with(app, rec, &client).await.map(|_| ())
}

/// Server records as stored, by id or name (see [`lookup`]).
static RECORDS: Cache<ServerRecord> = Cache::new(1024);
/// Every server record, under the key [`ALL_KEY`] (see [`records`]).
static ALL: Cache<Arc<Vec<ServerRecord>>> = Cache::new(4);
const ALL_KEY: &str = "all";
/// Cached discovery lists, by `<server id>/<column>` (see [`cached_list`]).
static LISTS: Cache<Arc<Vec<Value>>> = Cache::new(1024);

/// The stored record of `id_or_name` (id or unique name) as last written, without
/// asking Docker about its status; kept in memory until the next database write (see
/// [`crate::store::cache`]), so a deleted or changed server is seen on the next call.
/// 404 when there is none.
pub async fn lookup(app: &App, id_or_name: &str) -> Result<ServerRecord> {
    let key = id_or_name.to_string();
    RECORDS
        .get_or_read(&app.store, id_or_name, move |c| {
            store::find(c, &key)?.ok_or_else(|| Error::not_found("MCP server", &key))
        })
        .await
}

/// Every server record as stored (cached like [`lookup`]), ordered by name.
pub async fn records(app: &App) -> Result<Arc<Vec<ServerRecord>>> {
    ALL.get_or_read(&app.store, ALL_KEY, |c| Ok(Arc::new(store::all(c)?)))
        .await
}

/// One discovery list of server `id` as stored (empty when never discovered), parsed
/// once and cached like [`lookup`].
pub async fn cached_list(app: &App, id: &str, which: Catalog) -> Result<Arc<Vec<Value>>> {
    let key = format!("{id}/{}", which.column());
    let sid = id.to_string();
    LISTS
        .get_or_read(&app.store, &key, move |c| {
            Ok(Arc::new(store::cached(c, &sid, which)?))
        })
        .await
}

/// The server named `id_or_name` (id or unique name), with the status of a managed
/// server refreshed from its service (one Docker listing). 404 when there is none.
pub async fn get(app: &App, id_or_name: &str) -> Result<ServerRecord> {
    let mut rec = lookup(app, id_or_name).await?;
    sync_status(app, &mut rec).await;
    Ok(rec)
}

/// Copies the backing service's status onto a managed server (kept as is when the
/// service cannot be read), and whether Docker answered (`engine`).
async fn sync_status(app: &App, rec: &mut ServerRecord) {
    let Some(service_id) = rec.service_id.clone() else {
        return;
    };
    let Ok(svc) = backing::get(app, &service_id).await else {
        return;
    };
    rec.engine = Some(svc.engine);
    if rec.status == status::UNCONFIGURED {
        return;
    }
    let svc_status = server_status(svc.status);
    if svc_status != rec.status {
        rec.status = svc_status.clone();
        let (id, st) = (rec.id.clone(), svc_status);
        let _ = app
            .store
            .write(move |tx| store::set_status(tx, &id, &st))
            .await;
    }
}

/// A managed server's status from its service's: `created` (containers made by a
/// change while stopped, never started) is `stopped` for an MCP server.
fn server_status(service_status: String) -> String {
    if service_status == "created" {
        status::STOPPED.to_string()
    } else {
        service_status
    }
}

/// One page of servers (filters: name, status, transport, backend, created_at, updated_at).
pub async fn list(app: &App, q: ListQuery) -> Result<Page<McpServer>> {
    let all = app.store.read(store::all).await?;
    let mut engine = HashMap::new();
    for mut rec in all.into_iter().filter(ServerRecord::is_managed) {
        sync_status(app, &mut rec).await;
        engine.insert(rec.id, rec.engine);
    }
    let page = app.store.read(move |c| store::list(c, &q)).await?;
    Ok(page.map(|mut rec| {
        rec.engine = engine.get(&rec.id).copied().flatten();
        rec.view()
    }))
}

/// Applies a [`PatchServer`]: connection settings are stored and the session reopens
/// on the next call; container settings go through [`backing::update`] and, for a
/// running server, a new session is opened and the server discovered again before
/// returning. Audited as `mcp.servers.update` with the names of the fields sent.
///
/// Errors: 400 naming the field (a field that does not apply to this kind of server,
/// bad values, an image that is not present locally, a new container that exits at
/// once), 503 `MCP_SERVICE_UNAVAILABLE` when the new container does not speak MCP;
/// after any of these the server runs as before.
pub async fn patch(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    req: PatchServer,
) -> Result<McpServer> {
    let mut rec = get(app, id_or_name).await?;
    let before = rec.clone();
    if rec.is_managed() {
        for (field, set) in [
            ("url", req.url.is_some()),
            ("headers", req.headers.is_some()),
        ] {
            if set {
                return Err(Error::field(field, "only for remote servers"));
            }
        }
        if let (Some(field), Some(entry)) = (req.container_field(), &rec.registry) {
            return Err(Error::field(
                field,
                format!(
                    "comes from catalog entry '{entry}': change the configuration with PUT /api/v1/mcp/servers/{}/config",
                    rec.name
                ),
            ));
        }
        if rec.transport == Transport::Stdio && (req.port.is_some() || req.path.is_some()) {
            let field = if req.port.is_some() { "port" } else { "path" };
            return Err(Error::field(field, "only for transport streamable_http"));
        }
        if let Some(port) = req.port {
            if port == 0 {
                return Err(Error::field("port", "must be 1-65535"));
            }
            rec.port = Some(port);
        }
        if let Some(path) = &req.path {
            check_path(path)?;
            rec.path = Some(path.clone());
        }
    } else {
        let managed_only = req
            .sent()
            .into_iter()
            .find(|f| *f == "port" || *f == "path" || CONTAINER_FIELDS.contains(f));
        if let Some(field) = managed_only {
            return Err(Error::field(field, "only for managed servers"));
        }
        if let Some(url) = &req.url {
            check_url(url)?;
            rec.url = Some(url.clone());
        }
        if let Some(headers) = &req.headers {
            check_headers(headers)?;
            check_header_refs(app, headers).await?;
            set_headers(app, &mut rec, headers)?;
        }
    }
    let container_change = req.container_field().is_some();
    if let (Some(sid), true) = (rec.service_id.clone(), container_change) {
        let old = backing::plan(app, &sid).await?;
        let new = req.container_plan(&old);
        let svc = recreate(app, actor, &rec, &sid, &old, new).await?;
        app.mcp.close(&rec.id).await;
        // A server meant to run must speak MCP on the new container before the change
        // is kept (one that exited at once is not running: 503, undone too).
        let meant_to_run = svc.desired_state == crate::services::manager::DESIRED_RUNNING;
        rec.status = if meant_to_run {
            status::RUNNING.to_string()
        } else {
            server_status(svc.status)
        };
        if meant_to_run && let Err(e) = connect_and_discover(app, &rec).await {
            restore(app, actor, &before, &sid, old).await;
            audit_update_failure(app, actor, &rec.id, &e).await;
            return Err(e);
        }
    }
    let (r, a, fields) = (rec.clone(), actor.clone(), req.sent());
    app.store
        .write(move |tx| {
            store::update_endpoint(tx, &r)?;
            audit::record(
                tx,
                &a,
                &Entry::new("mcp.servers.update")
                    .on("mcp_server", &r.id)
                    .details(json!({
                        "fields": fields,
                        "url": r.url,
                        "headers": r.header_names,
                        "port": r.port,
                        "path": r.path,
                    })),
            )
        })
        .await?;
    if !container_change {
        app.mcp.close(&rec.id).await;
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// Puts a server whose new container did not speak MCP back on its previous container
/// settings and opens a session on them (best effort: failures are logged, the
/// caller returns the original error).
async fn restore(
    app: &App,
    actor: &Actor,
    before: &ServerRecord,
    service_id: &str,
    old: ContainerPlan,
) {
    if let Err(e) = backing::update(app, actor, service_id, old).await {
        tracing::error!(server = %before.name, error = %e, "could not restore an MCP server's previous container");
        return;
    }
    app.mcp.close(&before.id).await;
    if let Ok(restored) = get(app, &before.id).await
        && restored.status == status::RUNNING
        && let Err(e) = connect_and_discover(app, &restored).await
    {
        tracing::warn!(server = %before.name, error = %e, "no session with the restored MCP server yet");
    }
}

/// Puts `new` into the server's service (a no-op when it equals `old`). The session on
/// the old container is closed when the container went away, also when the update
/// failed and the services domain restored the old settings in a new container.
async fn recreate(
    app: &App,
    actor: &Actor,
    rec: &ServerRecord,
    service_id: &str,
    old: &ContainerPlan,
    new: ContainerPlan,
) -> Result<crate::services::Service> {
    if &new == old {
        return backing::get(app, service_id).await;
    }
    let containers = |svc: &crate::services::Service| -> Vec<String> {
        svc.containers.iter().map(|c| c.id.clone()).collect()
    };
    let before = containers(&backing::get(app, service_id).await?);
    let updated = backing::update(app, actor, service_id, new).await;
    match &updated {
        Ok(svc) if containers(svc) == before => {}
        Ok(_) => app.mcp.close(&rec.id).await,
        Err(e) => {
            let now = backing::get(app, service_id).await.map(|s| containers(&s));
            if now.as_ref().ok() != Some(&before) {
                app.mcp.close(&rec.id).await;
            }
            audit_update_failure(app, actor, &rec.id, e).await;
        }
    }
    updated
}

/// Audits a `PATCH` that failed after it reached Docker.
async fn audit_update_failure(app: &App, actor: &Actor, server_id: &str, e: &Error) {
    let outcome = Entry::new("mcp.servers.update")
        .on("mcp_server", server_id.to_string())
        .details(json!({"error": e.code.as_str()}))
        .failed();
    audit::record_alone(&app.store, actor.clone(), outcome).await;
}

/// Deletes a server: closes its session, deletes its backing service (containers
/// gone), then the record.
pub async fn delete(app: &App, actor: &Actor, id_or_name: &str) -> Result<()> {
    let rec = get(app, id_or_name).await?;
    let id = rec.id.clone();
    let catalog_config = app
        .store
        .read(move |c| crate::catalog::store::load_config(c, &id))
        .await?;
    app.mcp.close(&rec.id).await;
    if let Some(service_id) = &rec.service_id {
        match backing::delete(app, actor, service_id).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::ResourceNotFound => {}
            Err(e) => return Err(e),
        }
    }
    let (id, a) = (rec.id.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::delete(tx, &id)?;
            // The secret fields of a catalog server, unreferenced once its service is gone.
            if let Some(c) = &catalog_config {
                crate::catalog::store::delete_secret_keys(tx, &c.secret_keys)?;
            }
            audit::record(
                tx,
                &a,
                &Entry::new("mcp.servers.delete").on("mcp_server", &id),
            )
        })
        .await
}

/// What `start`, `stop` and `restart` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Stop,
    Restart,
}

impl Lifecycle {
    fn action(self) -> &'static str {
        match self {
            Lifecycle::Start => "mcp.servers.start",
            Lifecycle::Stop => "mcp.servers.stop",
            Lifecycle::Restart => "mcp.servers.restart",
        }
    }
}

/// Starts, stops or restarts a server. Managed: drives the backing service; the
/// session follows (closed on stop and restart, reopened on start and restart).
/// Remote: enables or disables the server.
pub async fn lifecycle(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    op: Lifecycle,
) -> Result<McpServer> {
    let mut rec = get(app, id_or_name).await?;
    if rec.status == status::UNCONFIGURED && op != Lifecycle::Stop {
        return Err(unconfigured(&rec.name));
    }
    if op != Lifecycle::Start {
        app.mcp.close(&rec.id).await;
    }
    let new_status = match (&rec.service_id, op) {
        (Some(sid), Lifecycle::Start) => backing::start(app, actor, sid).await?.status,
        (Some(sid), Lifecycle::Stop) => backing::stop(app, actor, sid).await?.status,
        (Some(sid), Lifecycle::Restart) => backing::restart(app, actor, sid).await?.status,
        (None, Lifecycle::Stop) => status::STOPPED.to_string(),
        (None, _) => status::RUNNING.to_string(),
    };
    rec.status = new_status.clone();
    let (id, a) = (rec.id.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::set_status(tx, &id, &new_status)?;
            audit::record(tx, &a, &Entry::new(op.action()).on("mcp_server", &id))
        })
        .await?;
    if op != Lifecycle::Stop
        && rec.status == status::RUNNING
        && let Err(e) = session(app, &rec).await
    {
        tracing::warn!(server = %rec.name, error = %e, "MCP server started but no session yet");
    }
    get(app, &rec.id).await.map(|r| r.view())
}

/// The server's live session, opened (and initialised) when there is none or the old
/// one closed. 503 `MCP_SERVICE_UNAVAILABLE` when the server is stopped or cannot be
/// reached.
pub async fn session(app: &App, rec: &ServerRecord) -> Result<Arc<Client>> {
    if rec.status == status::UNCONFIGURED {
        return Err(unconfigured(&rec.name));
    }
    if rec.status != status::RUNNING {
        return Err(backing::not_running(&rec.name, &rec.status));
    }
    let (client, fresh) = app
        .mcp
        .get_or_connect(&rec.id, || async {
            tokio::time::timeout(CONNECT_TIMEOUT, open(app, rec))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorCode::McpServiceUnavailable,
                        format!(
                            "MCP server '{}' did not complete initialize in time",
                            rec.name
                        ),
                    ))
                })
        })
        .await?;
    if fresh {
        tracing::info!(server = %rec.name, "MCP session opened");
        if let Some((info, caps)) = peer_identity(&client) {
            let id = rec.id.clone();
            app.store
                .write(move |tx| store::set_server_info(tx, &id, &info, &caps))
                .await?;
        }
    }
    Ok(client)
}

/// 503 `MCP_SERVICE_UNCONFIGURED` for a server whose required configuration is missing.
pub fn unconfigured(name: &str) -> Error {
    Error::new(
        ErrorCode::McpServiceUnconfigured,
        format!(
            "MCP server '{name}' requires configuration: PUT /api/v1/mcp/servers/{name}/config"
        ),
    )
}

/// `serverInfo`, protocol version and capabilities from `initialize`.
fn peer_identity(client: &Client) -> Option<(ServerInfo, Value)> {
    let info = client.peer_info()?;
    let implementation = info.server_info.clone();
    let server_info = ServerInfo {
        name: implementation
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        version: implementation.map(|i| i.version).unwrap_or_default(),
        protocol_version: info.protocol_version.to_string(),
    };
    let caps = serde_json::to_value(&info.capabilities).unwrap_or(Value::Null);
    Some((server_info, caps))
}

/// Opens a new session: attach to the container (stdio), connect to the container's
/// address (managed HTTP, retried while it boots) or to the URL (remote).
async fn open(app: &App, rec: &ServerRecord) -> Result<Client> {
    let handler = app.mcp.handler(&rec.id);
    let unavailable = |e: anyhow::Error| {
        Error::new(
            ErrorCode::McpServiceUnavailable,
            format!("could not open an MCP session with '{}': {e:#}", rec.name),
        )
    };
    match (&rec.service_id, rec.transport) {
        (None, _) => {
            let url = rec.url.clone().unwrap_or_default();
            let headers = open_headers(app, rec).await?;
            session::connect_http(&url, &headers, handler)
                .await
                .map_err(unavailable)
        }
        (Some(sid), Transport::Stdio) => {
            let container = backing::running_container(app, &rec.name, sid).await?;
            let docker = app.docker.get().await?;
            session::connect_stdio(&docker, &container, handler)
                .await
                .map_err(unavailable)
        }
        (Some(sid), Transport::StreamableHttp) => {
            let container = backing::running_container(app, &rec.name, sid).await?;
            let ip = backing::container_ip(app, &container).await?;
            let url = format!(
                "http://{ip}:{}{}",
                rec.port.unwrap_or(80),
                rec.path.as_deref().unwrap_or("/mcp")
            );
            let empty = BTreeMap::new();
            loop {
                match session::connect_http(&url, &empty, handler.clone()).await {
                    Ok(c) => return Ok(c),
                    Err(e) => {
                        tracing::debug!(server = %rec.name, error = %e, "MCP server not answering yet; retrying");
                        tokio::time::sleep(CONNECT_RETRY).await;
                    }
                }
            }
        }
    }
}

/// Maps a failed MCP request: JSON-RPC error → 502 `MCP_SERVICE_ERROR` (message from
/// the server, JSON-RPC code in `details`), rmcp timeout → 504 `MCP_TIMEOUT`, closed
/// transport → 503 `MCP_SERVICE_UNAVAILABLE`.
pub fn map_service_error(server: &str, e: ServiceError) -> Error {
    match e {
        ServiceError::McpError(data) => Error::new(
            ErrorCode::McpServiceError,
            format!("MCP server '{server}' returned an error: {}", data.message),
        )
        .with_detail("jsonrpc_code", data.code.0.to_string()),
        ServiceError::Timeout { .. } => Error::new(
            ErrorCode::McpTimeout,
            format!("MCP server '{server}' did not answer in time"),
        ),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => Error::new(
            ErrorCode::McpServiceUnavailable,
            format!("the session with MCP server '{server}' closed"),
        ),
        other => Error::new(
            ErrorCode::McpServiceError,
            format!("MCP server '{server}' answered unexpectedly: {other}"),
        ),
    }
}

/// Whether an error means the session is gone (and should be reopened next time).
pub fn session_lost(e: &Error) -> bool {
    e.code == ErrorCode::McpServiceUnavailable
}

/// `POST /mcp/servers/{id}/discover`: refreshes and caches tools, resources, resource
/// templates and prompts (each only when the server declares the capability).
pub async fn discover(app: &App, id_or_name: &str) -> Result<McpServer> {
    let rec = get(app, id_or_name).await?;
    let client = session(app, &rec).await?;
    discover_with(app, &rec, &client).await?;
    get(app, &rec.id).await.map(|r| r.view())
}

/// Lists everything the server offers on `client` and stores it.
pub async fn discover_with(
    app: &App,
    rec: &ServerRecord,
    client: &Arc<Client>,
) -> Result<Discovery> {
    let caps = client
        .peer_info()
        .map(|i| serde_json::to_value(&i.capabilities).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let has = |k: &str| caps.get(k).is_some_and(|v| !v.is_null());
    let fail = |e: ServiceError| {
        let err = map_service_error(&rec.name, e);
        if session_lost(&err) {
            let (mcp, id, c) = (app.mcp.clone(), rec.id.clone(), client.clone());
            tokio::spawn(async move { mcp.discard(&id, &c).await });
        }
        err
    };
    fn values<T: Serialize>(items: Vec<T>) -> Vec<Value> {
        items
            .into_iter()
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect()
    }
    let mut d = Discovery::default();
    if has("tools") {
        d.tools = values(client.list_all_tools().await.map_err(fail)?);
    }
    if has("resources") {
        d.resources = values(client.list_all_resources().await.map_err(fail)?);
        d.resource_templates = values(client.list_all_resource_templates().await.map_err(fail)?);
    }
    if has("prompts") {
        d.prompts = values(client.list_all_prompts().await.map_err(fail)?);
    }
    let (id, saved) = (rec.id.clone(), d.clone());
    app.store
        .write(move |tx| store::save_discovery(tx, &id, &saved))
        .await?;
    tracing::debug!(server = %rec.name, tools = d.tools.len(), resources = d.resources.len(), prompts = d.prompts.len(), "discovered");
    Ok(d)
}

/// One cached list of a server; discovers first when the server never was.
pub async fn catalog(app: &App, id_or_name: &str, which: Catalog) -> Result<Vec<Value>> {
    let rec = lookup(app, id_or_name).await?;
    if rec.discovered_at.is_none() && rec.status == status::RUNNING {
        let client = session(app, &rec).await?;
        discover_with(app, &rec, &client).await?;
    }
    Ok(cached_list(app, &rec.id, which).await?.as_ref().clone())
}

/// Resources of every server, each with `server_id` and `server_name` added.
pub async fn all_resources(app: &App) -> Result<Vec<Value>> {
    app.store
        .read(|c| {
            let mut out = Vec::new();
            for rec in store::all(c)? {
                for mut r in store::cached(c, &rec.id, Catalog::Resources)? {
                    if let Value::Object(m) = &mut r {
                        m.insert("server_id".into(), Value::String(rec.id.clone()));
                        m.insert("server_name".into(), Value::String(rec.name.clone()));
                    }
                    out.push(r);
                }
            }
            Ok(out)
        })
        .await
}

/// `test`: opens the session if needed and times one MCP `ping`.
pub async fn test(app: &App, id_or_name: &str) -> Result<TestResult> {
    let rec = get(app, id_or_name).await?;
    let client = session(app, &rec).await?;
    let started = Instant::now();
    let ping = rmcp::model::ClientRequest::PingRequest(Default::default());
    match tokio::time::timeout(
        Duration::from_secs(app.config.mcp.call_timeout_s),
        client.send_request(ping),
    )
    .await
    {
        Err(_) => Err(Error::new(
            ErrorCode::McpTimeout,
            format!("MCP server '{}' did not answer ping in time", rec.name),
        )),
        Ok(Err(e)) => {
            let err = map_service_error(&rec.name, e);
            if session_lost(&err) {
                app.mcp.discard(&rec.id, &client).await;
            }
            Err(err)
        }
        Ok(Ok(_)) => {
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let identity = peer_identity(&client);
            Ok(TestResult {
                ok: true,
                latency_ms: (latency_ms * 1000.0).round() / 1000.0,
                protocol_version: identity.as_ref().map(|(i, _)| i.protocol_version.clone()),
                server_info: identity.map(|(i, _)| i),
            })
        }
    }
}

/// Background work of the MCP domain, spawned on `app.tasks`: refresh a server's cache
/// when it announces a list change, reopen the sessions of running servers after a
/// daemon restart (attaching to the containers that kept running), and ping every open
/// session periodically, dropping those that do not answer (the next call reopens
/// them). Stops on shutdown; sessions are closed then.
pub fn spawn_background(app: &crate::app::AppState) {
    if let Some(mut changes) = app.mcp.take_changes() {
        let app2 = app.clone();
        app.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = app2.shutdown.cancelled() => break,
                    msg = changes.recv() => {
                        let Some(msg) = msg else { break };
                        refresh_after_change(&app2, &msg.server_id).await;
                    }
                }
            }
            app2.mcp.close_all().await;
        });
    }
    let app2 = app.clone();
    app.tasks.spawn(async move {
        tokio::select! {
            _ = app2.shutdown.cancelled() => {}
            _ = reconnect_all(&app2) => {}
        }
    });
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(LIVENESS_INTERVAL);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => break,
                _ = tick.tick() => check_liveness(&app2).await,
            }
        }
    });
}

/// Pings every open session; one that fails or does not answer in time is dropped.
async fn check_liveness(app: &App) {
    for (id, client) in app.mcp.live().await {
        let ping = rmcp::model::ClientRequest::PingRequest(Default::default());
        let alive = matches!(
            tokio::time::timeout(LIVENESS_TIMEOUT, client.send_request(ping)).await,
            Ok(Ok(_))
        );
        if !alive {
            tracing::warn!(server_id = %id, "MCP session did not answer ping; dropping it");
            app.mcp.discard(&id, &client).await;
        }
    }
}

async fn refresh_after_change(app: &App, server_id: &str) {
    let Ok(rec) = get(app, server_id).await else {
        return;
    };
    let Some(client) = app.mcp.current(server_id).await else {
        return;
    };
    if let Err(e) = discover_with(app, &rec, &client).await {
        tracing::warn!(server = %rec.name, error = %e, "refresh after list_changed failed");
    }
}

async fn reconnect_all(app: &App) {
    let Ok(all) = app.store.read(store::all).await else {
        return;
    };
    for rec in all {
        let Ok(rec) = get(app, &rec.id).await else {
            continue;
        };
        if rec.status != status::RUNNING {
            continue;
        }
        match session(app, &rec).await {
            Ok(_) => tracing::info!(server = %rec.name, "MCP session re-established after start"),
            Err(e) => {
                tracing::warn!(server = %rec.name, error = %e, "MCP session not re-established; retried on the next call")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ContainerPlan {
        ContainerPlan {
            name: "fs".into(),
            image: "img:1".into(),
            cmd: Some(vec!["/data".into()]),
            env: BTreeMap::from([("A".into(), "1".into())]),
            volumes: Vec::new(),
            stdin: true,
        }
    }

    #[test]
    fn cmd_is_command_then_args_and_empty_means_the_image_default() {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(ContainerPlan::cmd_of(None, None), None);
        assert_eq!(ContainerPlan::cmd_of(v(&[]), v(&[])), None);
        assert_eq!(ContainerPlan::cmd_of(None, v(&["stdio"])), v(&["stdio"]));
        assert_eq!(
            ContainerPlan::cmd_of(v(&["node", "x.js"]), v(&["/data"])),
            v(&["node", "x.js", "/data"])
        );
    }

    #[test]
    fn a_patch_changes_only_the_container_fields_sent() {
        let none = PatchServer::default();
        assert_eq!(none.container_plan(&plan()), plan());
        assert_eq!(none.container_field(), None);

        let args = PatchServer {
            args: Some(vec!["/data/notes".into()]),
            ..PatchServer::default()
        };
        let p = args.container_plan(&plan());
        assert_eq!(p.cmd, Some(vec!["/data/notes".to_string()]));
        assert_eq!((p.image.as_str(), &p.env), ("img:1", &plan().env));
        assert_eq!(args.container_field(), Some("args"));

        let image = PatchServer {
            port: Some(8080),
            image: Some("img:2".into()),
            env: Some(BTreeMap::new()),
            ..PatchServer::default()
        };
        let p = image.container_plan(&plan());
        assert_eq!((p.image.as_str(), p.env.len()), ("img:2", 0));
        assert_eq!(
            p.cmd,
            plan().cmd,
            "Cmd kept when neither command nor args is sent"
        );
        assert_eq!(image.sent(), vec!["port", "image", "env"]);
        assert_eq!(image.container_field(), Some("image"));
    }
}
