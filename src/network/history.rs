//! Config backups: versions of each device's configuration, kept sealed in the vault
//! and diffable, taken on demand (`POST …/config/backup`) or by the poller the way
//! Oxidized does it (every `network.backup_interval_s`, each device read with a
//! timeout and retries, a new version stored only when the configuration changed once
//! volatile lines are left out). Restoring one replaces the running configuration
//! with it ([`super::changes::push`] in `replace` mode).

use super::config;
use super::model::{
    BackupRequest, ConfigBackup, ConfigPush, DeviceRecord, DeviceType, PushMode, PushResult,
    RolledBack,
};
use super::session::with_session;
use super::{record, store};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use crate::vault::seal::RowRef;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

fn row(id: &str) -> RowRef<'_> {
    RowRef {
        table: "network_config_backups",
        column: "content",
        id,
    }
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Reads `source` from the device and stores it as a new version, unless `only_changed`
/// and the newest version of that source compares equal (then `None`).
async fn take(
    app: &App,
    actor: &Actor,
    rec: &DeviceRecord,
    (source, trigger, comment): (&str, &str, &str),
    only_changed: bool,
) -> Result<Option<ConfigBackup>> {
    let t = Duration::from_secs(app.settings.network.command_timeout_s);
    let src = source.to_string();
    let junos = rec.device.device_type == DeviceType::JuniperJunos;
    let text = with_session(app, actor, rec, move |live| {
        if junos {
            super::junos::get_config(live.netconf()?, &src, t)
        } else {
            config::show(live.cli()?, &src, t)
        }
    })
    .await?;
    let compare = sha256(&config::comparable(&text));
    let (did, s) = (rec.device.id.clone(), source.to_string());
    let latest = app
        .store
        .read(move |c| store::latest_backup(c, &did, &s))
        .await?;
    if only_changed && latest.is_some_and(|l| l.compare_sha256 == compare) {
        return Ok(None);
    }
    let b = ConfigBackup {
        id: crate::ids::new_id("cfb"),
        device_id: rec.device.id.clone(),
        source: source.to_string(),
        trigger: trigger.to_string(),
        size: i64::try_from(text.len()).unwrap_or(i64::MAX),
        lines: i64::try_from(text.lines().count()).unwrap_or(i64::MAX),
        sha256: sha256(&text),
        comment: comment.to_string(),
        taken_by: actor.user_id.clone(),
        taken_at: crate::time::now_rfc3339(),
        config: None,
        diff: None,
    };
    let sealed = app.vault.seal(row(&b.id), text.as_bytes())?;
    let (stored, actor) = (b.clone(), actor.clone());
    app.store
        .write(move |tx| {
            store::insert_backup(tx, &stored, &sealed, &compare)?;
            let details = json!({"backup": stored.id, "source": stored.source,
                "trigger": stored.trigger, "sha256": stored.sha256});
            audit::record(
                tx,
                &actor,
                &Entry::new("network.devices.config_backup")
                    .on("device", &stored.device_id)
                    .details(details),
            )
        })
        .await?;
    Ok(Some(b))
}

/// `POST …/config/backup`: stores the device's configuration now (always a new
/// version). Errors: 400 on `source` / `comment`, the session's errors.
pub async fn backup(
    app: &App,
    actor: &Actor,
    id: &str,
    req: BackupRequest,
) -> Result<ConfigBackup> {
    let source = req.source.unwrap_or_else(|| "running".into());
    if !matches!(source.as_str(), "running" | "startup") {
        return Err(Error::field("source", "running or startup"));
    }
    let comment = req.comment.unwrap_or_default();
    crate::text::check("comment", &comment, 1024)?;
    let rec = record(app, id).await?;
    let taken = take(app, actor, &rec, (&source, "manual", &comment), false).await?;
    taken.ok_or_else(|| Error::internal(anyhow::anyhow!("a manual backup stored nothing")))
}

/// `GET …/config/backups`: the device's versions, newest first (no text).
pub async fn list(app: &App, id: &str, q: ListQuery) -> Result<Page<ConfigBackup>> {
    let rec = record(app, id).await?;
    let did = rec.device.id;
    app.store
        .read(move |c| store::list_backups(c, &did, &q))
        .await
}

/// One version with its text (opened from the vault). Errors: `RESOURCE_NOT_FOUND`.
async fn open(app: &App, id: &str) -> Result<ConfigBackup> {
    let key = id.to_string();
    let r = app
        .store
        .read(move |c| store::find_backup(c, &key))
        .await?
        .ok_or_else(|| Error::not_found("config backup", id))?;
    let text = app.vault.open_string(row(&r.backup.id), &r.sealed)?;
    let mut b = r.backup;
    b.config = Some(text.to_string());
    Ok(b)
}

/// Version `id` of device `device`, with its text, for a request field naming it.
/// Errors: 400 on `field` when there is no such version or it is another device's.
async fn open_of(app: &App, id: &str, device: &str, field: &str) -> Result<ConfigBackup> {
    let b = open(app, id).await.map_err(|e| match e.code {
        crate::error::ErrorCode::ResourceNotFound => {
            Error::field(field, format!("unknown config backup '{id}'"))
        }
        _ => e,
    })?;
    if b.device_id != device {
        return Err(Error::field(field, "a config backup of another device"));
    }
    Ok(b)
}

/// `GET /network/config-backups/{id}?diff_to=`: one version with its text and, with
/// `diff_to` (another version of the same device), the unified diff from that one to
/// this one. Errors: 404, 400 on `diff_to` (unknown, or another device's).
pub async fn get(app: &App, id: &str, diff_to: Option<String>) -> Result<ConfigBackup> {
    let mut b = open(app, id).await?;
    if let Some(other) = diff_to {
        let o = open_of(app, &other, &b.device_id, "diff_to").await?;
        let (from, to) = (
            o.config.unwrap_or_default(),
            b.config.clone().unwrap_or_default(),
        );
        b.diff = Some(config::unified_diff(&from, &to, (&o.id, &b.id)));
    }
    Ok(b)
}

/// Replaces the device's running configuration with version `b`'s text (a `replace`
/// push, see [`super::changes::push`]).
async fn push_version(app: &App, actor: &Actor, b: ConfigBackup) -> Result<PushResult> {
    let req = ConfigPush {
        config: b.config.unwrap_or_default(),
        mode: Some(PushMode::Replace),
        commit: Some(false),
        comment: Some(format!("restore of config backup {}", b.id)),
    };
    super::changes::push(app, actor, &b.device_id, req).await
}

/// `POST /network/config-backups/{id}/restore`: replaces the device's running
/// configuration with the version's text.
pub async fn restore(app: &App, actor: &Actor, id: &str) -> Result<PushResult> {
    push_version(app, actor, open(app, id).await?).await
}

/// `POST …/config/rollback {to}`: replaces device `id`'s running configuration with
/// its config backup `to` (as [`restore`]). Errors: 400 on `to` (unknown, another
/// device's), those of the push.
pub async fn rollback_to(app: &App, actor: &Actor, id: &str, to: &str) -> Result<RolledBack> {
    let rec = record(app, id).await?;
    let b = open_of(app, to, &rec.device.id, "to").await?;
    let r = push_version(app, actor, b).await?;
    Ok(RolledBack::of(r.diff))
}

/// One poll of every CLI device: a new version where the running configuration
/// changed. A device is tried `retries + 1` times; failures are logged and left for
/// the next poll. Returns how many versions were stored.
pub async fn poll_all(app: &App, retries: u32) -> usize {
    let devices = match app.store.read(store::all).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("listing devices to poll: {e}");
            return 0;
        }
    };
    let actor = Actor::system();
    let mut stored = 0;
    for rec in devices.iter() {
        for attempt in 0..=retries {
            match take(app, &actor, rec, ("running", "schedule", ""), true).await {
                Ok(v) => {
                    stored += usize::from(v.is_some());
                    break;
                }
                Err(e) if attempt == retries => {
                    tracing::warn!(device = %rec.device.name, "config poll failed: {}", e.message);
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }
    stored
}

/// Starts the poller when `network.backup_interval_s` is not 0.
pub fn spawn_poller(app: &crate::app::AppState) {
    let every = app.settings.network.backup_interval_s;
    if every == 0 {
        return;
    }
    let (app2, retries) = (app.clone(), app.settings.network.backup_retries);
    app.tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app2.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let n = poll_all(&app2, retries).await;
            tracing::info!(versions = n, "network config poll done");
        }
    });
}
