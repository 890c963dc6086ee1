//! SSH network devices (`/network/devices…`): registering a device seals its
//! credentials in the vault; a session per device is opened on demand (or with
//! `connect`) and kept in a pool ([`pool`]); commands run over the device's CLI
//! ([`cli`]) with host keys pinned on first use ([`ssh`]). Shapes are in [`model`],
//! SQL in [`store`], device operations in [`ops`].

pub mod api;
pub mod api_config;
pub mod api_sessions;
pub mod changes;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod facts;
pub mod history;
pub mod junos;
pub mod model;
pub mod netconf;
pub mod ops;
pub mod pool;
pub mod session;
pub mod ssh;
pub mod store;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use model::{Credentials, Device, DevicePatch, DeviceRecord, DeviceStatus, NewDevice};
use serde_json::json;

/// `device` as answers show it: `connected` exactly when the pool holds a session.
pub fn view(app: &App, mut d: Device) -> Device {
    if app.network.is_open(&d.id) {
        d.status = DeviceStatus::Connected;
    } else if d.status == DeviceStatus::Connected {
        d.status = DeviceStatus::Disconnected;
    }
    d
}

/// One page of devices.
pub async fn list(app: &App, q: ListQuery) -> Result<Page<Device>> {
    let page = app.store.read(move |c| store::list(c, &q)).await?;
    Ok(page.map(|d| view(app, d)))
}

/// A device with its sealed credentials, by id or name. Errors: `RESOURCE_NOT_FOUND`.
pub async fn record(app: &App, id: &str) -> Result<DeviceRecord> {
    let key = id.to_string();
    app.store
        .read(move |c| store::find(c, &key))
        .await?
        .ok_or_else(|| Error::not_found("device", id))
}

/// A device by id or name. Errors: `RESOURCE_NOT_FOUND`.
pub async fn get(app: &App, id: &str) -> Result<Device> {
    Ok(view(app, record(app, id).await?.device))
}

/// 400 on `host` unless it is a DNS name or an IP address (no user, port or path).
fn check_host(host: &str) -> Result<()> {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    if ip.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() <= 253 && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(Error::field("host", "must be a host name or an IP address"))
    }
}

/// 400 on `username` unless it is 1–64 printable characters without spaces.
fn check_username(u: &str) -> Result<()> {
    if u.is_empty() || u.len() > 64 || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::field(
            "username",
            "1-64 characters, no spaces or control characters",
        ));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<()> {
    if tags.len() > 32 {
        return Err(Error::field("tags", "at most 32"));
    }
    for (i, t) in tags.iter().enumerate() {
        if t.is_empty() || t.len() > 63 || t.chars().any(char::is_control) {
            return Err(Error::field(
                format!("tags[{i}]"),
                "1-63 characters, no control characters",
            ));
        }
    }
    Ok(())
}

/// Checks the plain fields of a device.
fn check_device(d: &Device) -> Result<()> {
    crate::text::check_name(&d.name)?;
    crate::text::description(&d.description)?;
    check_host(&d.host)?;
    if d.port == 0 {
        return Err(Error::field("port", "must be 1-65535"));
    }
    check_username(&d.username)?;
    check_tags(&d.tags)?;
    check_options(&d.connection_options)?;
    if let Some(fp) = &d.host_key_fingerprint {
        ssh::check_fingerprint("host_key_fingerprint", fp)?;
    }
    Ok(())
}

/// The login of a create: flat fields and the seed's `credentials`, each given once.
/// Errors: 400 naming the field given twice, or `username` when there is none.
fn login_of(req: &mut NewDevice) -> Result<(String, Credentials)> {
    let seed = req.credentials.take().unwrap_or_default();
    let pick = |flat: Option<String>, nested: Option<String>, field: &str| match (flat, nested) {
        (Some(_), Some(_)) => Err(Error::field(
            format!("credentials.{field}"),
            "given twice (flat and in credentials)",
        )),
        (a, b) => Ok(a.or(b)),
    };
    let username = pick(req.username.take(), seed.username, "username")?
        .ok_or_else(|| Error::field("username", "required"))?;
    let creds = Credentials {
        password: pick(req.password.take(), seed.password, "password")?,
        private_key: pick(req.private_key.take(), seed.ssh_key, "ssh_key")?,
        passphrase: pick(req.passphrase.take(), seed.passphrase, "passphrase")?,
        enable_secret: req.enable_secret.take().filter(|s| !s.is_empty()),
    };
    Ok((username, creds))
}

/// 400 on `connection_options.timeout` outside 1–300 s.
fn check_options(o: &model::ConnectionOptions) -> Result<()> {
    if o.timeout.is_some_and(|t| !(1..=300).contains(&t)) {
        return Err(Error::field(
            "connection_options.timeout",
            "1 to 300 seconds",
        ));
    }
    Ok(())
}

/// Registers a device; with `connection_options.auto_connect` it then connects (a
/// failure leaves it registered with `status: error`). Errors: `VALIDATION_ERROR`
/// naming the field, `RESOURCE_ALREADY_EXISTS`.
pub async fn create(app: &App, actor: &Actor, mut req: NewDevice) -> Result<Device> {
    let now = crate::time::now_rfc3339();
    let (username, creds) = login_of(&mut req)?;
    let d = Device {
        id: crate::ids::new_id("dev"),
        name: req.name,
        description: req.description.unwrap_or_default(),
        host: req.host,
        port: req.port.unwrap_or(22),
        device_type: req.device_type,
        username,
        auth_method: creds.auth_method().to_string(),
        has_enable_secret: creds.enable_secret.is_some(),
        tags: req.tags.unwrap_or_default(),
        connection_options: req.connection_options.unwrap_or_default(),
        host_key_fingerprint: req.host_key_fingerprint,
        status: DeviceStatus::Disconnected,
        error: None,
        last_connected: None,
        system_info: None,
        created_by: actor.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    check_device(&d)?;
    credentials::check(app, &creds).await?;
    let sealed = credentials::seal(app, &d.id, &creds)?;
    let (auto, who) = (
        d.connection_options.auto_connect == Some(true),
        actor.clone(),
    );
    let made = app
        .store
        .write(move |tx| {
            if store::name_taken(tx, &d.name, None)? {
                return Err(Error::already_exists("device", &d.name));
            }
            store::insert(tx, &d, &sealed)?;
            let details = json!({"name": d.name, "host": d.host, "port": d.port,
                "device_type": d.device_type.as_str(), "username": d.username,
                "auth_method": d.auth_method});
            audit::record(
                tx,
                &who,
                &Entry::new("network.devices.create")
                    .on("device", &d.id)
                    .details(details),
            )?;
            load(tx, &d.id)
        })
        .await?;
    if !auto {
        return Ok(made);
    }
    if let Err(e) = ops::connect(app, actor, &made.id).await {
        tracing::info!(device = %made.name, "auto_connect failed: {}", e.message);
    }
    get(app, &made.id).await
}

fn load(c: &rusqlite::Connection, id: &str) -> Result<Device> {
    store::find(c, id)?
        .map(|r| r.device)
        .ok_or_else(|| Error::not_found("device", id))
}

/// `PUT`: replaces every writable field (credentials must be sent again).
pub async fn replace(app: &App, actor: &Actor, id: &str, req: NewDevice) -> Result<Device> {
    let current = record(app, id).await?;
    if req.device_type != current.device.device_type {
        return Err(Error::field(
            "device_type",
            "cannot be changed; register the device again",
        ));
    }
    let mut req = req;
    let (username, creds) = login_of(&mut req)?;
    if creds.password.is_none() && creds.private_key.is_none() {
        return Err(Error::field("password", "required (or private_key)"));
    }
    let patch = DevicePatch {
        name: Some(req.name),
        host: Some(req.host),
        port: Some(req.port.unwrap_or(22)),
        username: Some(username),
        password: creds.password,
        private_key: creds.private_key,
        passphrase: creds.passphrase,
        enable_secret: Some(creds.enable_secret.unwrap_or_default()),
        tags: Some(req.tags.unwrap_or_default()),
        description: Some(req.description.unwrap_or_default()),
        connection_options: Some(req.connection_options.unwrap_or_default()),
    };
    ops::update(app, actor, current, patch).await
}

/// `PATCH`: changes the fields sent (see [`DevicePatch`]).
pub async fn update(app: &App, actor: &Actor, id: &str, patch: DevicePatch) -> Result<Device> {
    let current = record(app, id).await?;
    ops::update(app, actor, current, patch).await
}

/// Removes a device from mcpd (its session is closed; nothing on the device changes).
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let current = record(app, id).await?;
    let did = current.device.id.clone();
    let actor = actor.clone();
    let name = current.device.name.clone();
    app.store
        .write(move |tx| {
            if !store::delete(tx, &did)? {
                return Err(Error::not_found("device", &did));
            }
            audit::record(
                tx,
                &actor,
                &Entry::new("network.devices.delete")
                    .on("device", &did)
                    .details(json!({"name": name})),
            )
        })
        .await?;
    app.network.close(&current.device.id).await;
    Ok(())
}

/// At start: marks every device disconnected (no session survives a restart), then
/// closes sessions unused for `network.idle_timeout_s`, looking every 15 s (at most).
pub async fn spawn_idle_reaper(app: &crate::app::AppState) -> Result<()> {
    app.store.write(|tx| store::reset_sessions(tx)).await?;
    let idle = std::time::Duration::from_secs(app.settings.network.idle_timeout_s);
    let every = idle.min(std::time::Duration::from_secs(15));
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            for id in app2.network.close_idle(idle).await {
                tracing::debug!(device = %id, "closed an idle device session");
                let write = app2
                    .store
                    .write(move |tx| store::record_disconnected(tx, &id, None))
                    .await;
                if let Err(e) = write {
                    tracing::warn!("recording an idle device session's end: {e}");
                }
            }
        }
    });
    Ok(())
}
