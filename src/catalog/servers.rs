//! MCP servers made from catalog entries: `POST /mcp/servers {name, registry, config}`
//! and `PUT /mcp/servers/{id}/config`. The managed-server machinery of
//! [`crate::mcp::servers`] does the rest. Both run to their end even if their caller
//! stops waiting ([`crate::app::App::to_completion`]).

use super::model::{Entry, ServerConfig};
use super::server_config::{self as cfg, Checked, Rendered};
use super::store::{self as cstore, ServerSettings};
use crate::app::{App, AppState};
use crate::audit::{self, Actor, Entry as AuditEntry};
use crate::configuration::{self, ConfigWrite};
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::mcp::model::Lifecycle;
use crate::mcp::model::{McpServer, status};
use crate::mcp::requests::{self, CreateServer, Reconfigure};
use crate::mcp::{discovery, placement, records, servers};
use serde_json::{Value, json};

/// The entry a request names; an unknown name is a 400 on `registry`.
async fn entry(app: &App, name: &str) -> Result<Entry> {
    super::get(app, name).await.map_err(|e| match e.code {
        ErrorCode::ResourceNotFound => {
            Error::field("registry", format!("no catalog entry named '{name}'"))
        }
        _ => e,
    })
}

/// Writes the secret fields as secret config entries (sealed by the vault).
async fn write_secrets(app: &App, actor: &Actor, server: &str, r: &Rendered) -> Result<()> {
    for (key, value) in &r.secrets {
        let w = ConfigWrite {
            key: key.clone(),
            value: value.clone(),
            secret: Some(true),
            scope: None,
            description: Some(format!("secret configuration of MCP server '{server}'")),
        };
        configuration::put(app, actor, w, None).await?;
    }
    Ok(())
}

async fn drop_secrets(app: &App, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    if let Err(e) = app
        .store
        .write(move |tx| cstore::delete_secret_keys(tx, &keys))
        .await
    {
        tracing::warn!(error = %e, "could not remove the secret config of a failed MCP server");
    }
}

/// A fresh name stem for the secret keys of one configuration of `server`.
fn stem(server: &str) -> String {
    format!(
        "{server}-{}",
        crate::ids::random_alnum(8).to_ascii_lowercase()
    )
}

fn keys(r: &Rendered) -> Vec<String> {
    r.secrets.iter().map(|(k, _)| k.clone()).collect()
}

/// Creates a server from catalog entry `req.registry` with `req.config` (default
/// `{}`): the config is checked against the entry's schema (400 naming the JSON
/// pointer of each bad field; nothing is created), secret fields go to the vault, and
/// the managed server is created as with an explicit image. When only required fields
/// are missing the server is created `unconfigured` (its service not started).
///
/// Errors: 400 for `image`, `command`, `args`, `env`, `transport`, `port`, `path`,
/// `url`, `headers` (the entry sets them) or an unknown `registry`, 409 for a taken
/// name, and those of [`servers::create`]. `POST /mcp/servers` with `registry` set
/// comes here ([`crate::mcp::api`] dispatches on it).
pub async fn create(app: &AppState, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    let (app2, actor) = (app.clone(), actor.clone());
    app.to_completion(async move { create_now(&app2, &actor, req).await })
        .await
}

/// 400 naming every configuration field that is missing (JSON pointers).
fn missing(ptrs: &[String]) -> Error {
    let mut e = Error::field(ptrs[0].clone(), "required");
    for p in &ptrs[1..] {
        e = e.with_detail(p.clone(), "required");
    }
    e
}

/// 400 for the fields of a create that the catalog entry sets.
fn check_fields(req: &CreateServer) -> Result<()> {
    let set_by_entry = [
        ("image", req.image.is_some()),
        ("command", req.command.is_some()),
        ("args", req.args.is_some()),
        ("env", req.env.is_some()),
        ("transport", req.transport.is_some()),
        ("port", req.port.is_some()),
        ("path", req.path.is_some()),
        ("url", req.url.is_some()),
        ("headers", req.headers.is_some()),
    ];
    if let Some((field, _)) = set_by_entry.iter().find(|(_, set)| *set) {
        return Err(Error::field(
            *field,
            "set by the catalog entry; give config instead",
        ));
    }
    Ok(())
}

/// [`create`], in the caller's task.
async fn create_now(app: &AppState, actor: &Actor, req: CreateServer) -> Result<McpServer> {
    let registry = req.registry.clone().unwrap_or_default();
    check_fields(&req)?;
    let entry = entry(app, &registry).await?;
    let config = req.config.clone().unwrap_or_else(|| json!({}));
    let checked = cfg::check(&entry, &config)?;
    // A server on a cluster is made running; it needs its whole configuration.
    if let (Some(_), Checked::Missing(ptrs)) = (&req.placement, &checked) {
        return Err(missing(ptrs));
    }
    let name = req.name.clone();
    if app
        .store
        .read(move |c| crate::mcp::store::name_taken(c, &name))
        .await?
    {
        return Err(Error::already_exists("MCP server", &req.name));
    }
    let rendered = cfg::render(&entry, &stem(&req.name), &config);
    let managed = CreateServer {
        name: req.name.clone(),
        image: Some(entry.spec.image.clone()),
        args: Some(rendered.args.clone()),
        env: Some(rendered.env.clone()),
        volumes: req.volumes.clone(),
        transport: Some(entry.spec.transport),
        port: entry.spec.port,
        path: entry.spec.path.clone(),
        placement: req.placement.clone(),
        ..CreateServer::default()
    };
    // Invalid names fail before any secret is written.
    requests::check_name(&req.name)?;
    write_secrets(app, actor, &req.name, &rendered).await?;
    let made = match checked {
        Checked::Complete => servers::create(app, actor, managed).await,
        Checked::Missing(_) => servers::create_unconfigured(app, actor, managed).await,
    };
    let server = match made {
        Ok(s) => s,
        Err(e) => {
            drop_secrets(app, keys(&rendered)).await;
            return Err(e);
        }
    };
    let row = ServerSettings {
        server_id: server.id.clone(),
        registry: registry.clone(),
        config: rendered.public.clone(),
        secret_keys: keys(&rendered),
    };
    if let Err(e) = app
        .store
        .write(move |tx| cstore::save_config(tx, &row))
        .await
    {
        if let Err(de) = servers::delete(app, actor, &server.id).await {
            tracing::error!(server = %server.id, error = %de, "could not remove a half-created MCP server");
        }
        return Err(e);
    }
    // The view was made before the config row that names the entry existed.
    let mut server = server;
    server.registry = Some(registry);
    Ok(server)
}

/// Deletes a server made from a catalog entry as [`servers::delete`] does and, in the
/// same transaction, the secret config entries of its configuration (unreferenced once
/// its service is gone). 404 when there is none; the errors of [`servers::delete`].
pub async fn delete(app: &AppState, actor: &Actor, id_or_name: &str) -> Result<()> {
    let rec = records::lookup(app, id_or_name).await?;
    let id = rec.id.clone();
    let keys = app
        .store
        .read(move |c| cstore::load_config(c, &id))
        .await?
        .map(|c| c.secret_keys)
        .unwrap_or_default();
    let drop_keys = move |tx: &rusqlite::Connection| cstore::delete_secret_keys(tx, &keys);
    servers::delete_with(app, actor, &rec.id, Box::new(drop_keys)).await
}

/// The configuration of a catalog server, secret fields left out:
/// `{config, missing, registry, secret_fields, status}` (`missing`: JSON pointers of
/// required fields not set). 409 when the server was not made from the catalog.
pub async fn show(app: &App, id_or_name: &str) -> Result<ServerConfig> {
    let rec = records::get(app, id_or_name).await?;
    let stored = load(app, &rec.id, &rec.name).await?;
    let entry = super::get(app, &stored.registry).await?;
    let mut probe = stored.config.clone();
    if let Value::Object(m) = &mut probe {
        // Secrets are set when a key holds them; only their presence matters here.
        for s in &entry.secret_fields {
            if stored.secret_keys.iter().any(|k| cfg::key_holds(k, s)) {
                m.insert(s.clone(), Value::String(String::new()));
            }
        }
    }
    let missing = match cfg::check(&entry, &probe) {
        Ok(Checked::Missing(m)) => m,
        _ => Vec::new(),
    };
    Ok(ServerConfig {
        config: stored.config,
        missing,
        registry: stored.registry,
        secret_fields: entry.secret_fields,
        status: rec.status,
    })
}

async fn load(app: &App, id: &str, name: &str) -> Result<ServerSettings> {
    let key = id.to_string();
    app.store
        .read(move |c| cstore::load_config(c, &key))
        .await?
        .ok_or_else(|| {
            Error::conflict(format!(
                "MCP server '{name}' was not created from a catalog entry"
            ))
        })
}

/// Replaces a catalog server's configuration (complete: a missing required field is a
/// 400 naming it), updates its service's arguments and environment and (re)starts it,
/// then reopens the session and rediscovers. Secret fields no longer given are removed
/// from the vault. 409 when the server was not made from the catalog.
pub async fn reconfigure(
    app: &AppState,
    actor: &Actor,
    id_or_name: &str,
    req: Reconfigure,
) -> Result<McpServer> {
    let (app2, actor, id) = (app.clone(), actor.clone(), id_or_name.to_string());
    app.to_completion(async move { reconfigure_now(&app2, &actor, &id, req).await })
        .await
}

/// [`reconfigure`], in the caller's task.
async fn reconfigure_now(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    req: Reconfigure,
) -> Result<McpServer> {
    let rec = records::get(app, id_or_name).await?;
    let stored = load(app, &rec.id, &rec.name).await?;
    let entry = super::get(app, &stored.registry).await?;
    if let Checked::Missing(ptrs) = cfg::check(&entry, &req.config)? {
        return Err(missing(&ptrs));
    }
    let rendered = cfg::render(&entry, &stem(&rec.name), &req.config);
    write_secrets(app, actor, &rec.name, &rendered).await?;
    // New keys: the running configuration keeps its own until the change succeeds.
    let applied = if rec.is_placed() {
        apply_placed(app, &rec, &rendered).await
    } else {
        let sid = rec
            .service_id
            .clone()
            .internal("catalog server without a service")?;
        apply(app, actor, &rec, &sid, &rendered).await
    };
    let started = match applied {
        Ok(started) => started,
        Err(e) => {
            drop_secrets(app, keys(&rendered)).await;
            return Err(e);
        }
    };
    let new_keys = keys(&rendered);
    let stale: Vec<String> = stored
        .secret_keys
        .iter()
        .filter(|k| !new_keys.contains(k))
        .cloned()
        .collect();
    let row = ServerSettings {
        server_id: rec.id.clone(),
        registry: stored.registry.clone(),
        config: rendered.public.clone(),
        secret_keys: new_keys,
    };
    let (a, id) = (actor.clone(), rec.id.clone());
    // Not `unconfigured` any more; a managed server's status then follows its service.
    let now = if started.is_ok() {
        status::RUNNING
    } else {
        status::STOPPED
    };
    app.store
        .write(move |tx| {
            cstore::save_config(tx, &row)?;
            cstore::delete_secret_keys(tx, &stale)?;
            crate::mcp::store::set_status(tx, &id, now)?;
            audit::record(
                tx,
                &a,
                &AuditEntry::new("mcp.servers.configure")
                    .on("mcp_server", &id)
                    .details(json!({"registry": row.registry})),
            )
        })
        .await?;
    started?;
    discovery::discover(app, &rec.id).await
}

/// Puts the rendered arguments and environment into the server's service and
/// (re)starts it: an update recreates the container, an unchanged spec is restarted.
/// The outer error means the service kept its previous spec; the inner one that the
/// new spec is in place but the service did not start.
async fn apply(
    app: &App,
    actor: &Actor,
    rec: &crate::mcp::model::ServerRecord,
    sid: &str,
    rendered: &Rendered,
) -> Result<Result<()>> {
    let mut spec = crate::services::lifecycle::spec(app, sid).await?;
    let command = Some(rendered.args.clone()).filter(|a| !a.is_empty());
    let changed = spec.command != command || spec.env != rendered.env;
    spec.command = command;
    spec.env = rendered.env.clone();
    app.mcp.close(&rec.id).await;
    if changed {
        crate::services::lifecycle::update(app, actor, sid, spec).await?;
        Ok(crate::services::lifecycle::start(app, actor, sid)
            .await
            .map(|_| ()))
    } else {
        Ok(crate::services::lifecycle::restart(app, actor, sid)
            .await
            .map(|_| ()))
    }
}

/// [`apply`] for a server placed on a cluster: the rendered arguments and environment
/// roll its Deployment (put back on failure: the outer error), then it is started.
async fn apply_placed(
    app: &App,
    rec: &crate::mcp::model::ServerRecord,
    rendered: &Rendered,
) -> Result<Result<()>> {
    let change = placement::Change {
        args: Some(Some(rendered.args.clone()).filter(|a| !a.is_empty())),
        env: Some(rendered.env.clone()),
        ..placement::Change::default()
    };
    app.mcp.close(&rec.id).await;
    placement::update(app, rec, change).await?;
    Ok(placement::drive(app, rec, Lifecycle::Start).await.map(drop))
}
