//! The configuration routes' domain work: reading a device's configuration, pushing
//! lines (merge), saving (commit) and rolling back, each on the device's pooled session
//! ([`super::session::with_session`]) and each change audited with its outcome (the
//! configuration text itself never goes to the audit log).

use super::config::{self, Merged};
use super::model::{
    CommitRequest, ConfigPush, ConfigQuery, ConfigText, DeviceType, PushMode, PushResult,
};
use super::record;
use super::session::with_session;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn timeout(app: &App) -> Duration {
    Duration::from_secs(app.settings.network.command_timeout_s)
}

/// Audits a configuration change with its outcome (`failed`: the error's code).
async fn audit_outcome(
    app: &App,
    actor: &Actor,
    (device, action): (&str, &'static str),
    mut details: Value,
    failed: Option<ErrorCode>,
) {
    let mut entry = Entry::new(action).on("device", device.to_string());
    if let Some(code) = failed {
        entry = entry.failed();
        details["error"] = json!(code.as_str());
    }
    audit::record_alone(&app.store, actor.clone(), entry.details(details)).await;
}

/// The code of a failed result.
fn failure<T>(r: &Result<T>) -> Option<ErrorCode> {
    r.as_ref().err().map(|e| e.code)
}

/// `GET …/config?source=running|startup`. Errors: 400 on `source` / `format`, the
/// session's errors, `NETWORK_COMMAND_ERROR` when the device refuses to show it.
pub async fn read(app: &App, actor: &Actor, id: &str, q: ConfigQuery) -> Result<ConfigText> {
    if q.format.as_deref().is_some_and(|f| f != "text") {
        return Err(Error::field("format", "only text for this platform"));
    }
    let source = q.source.unwrap_or_else(|| "running".into());
    if !matches!(source.as_str(), "running" | "startup") {
        return Err(Error::field(
            "source",
            "running or startup (candidate is Junos only)",
        ));
    }
    let rec = record(app, id).await?;
    config::check_push(rec.device.device_type, PushMode::Merge)?;
    let t = timeout(app);
    let src = source.clone();
    let text = with_session(app, actor, &rec, move |live| {
        config::show(&mut live.shell, &src, t)
    })
    .await?;
    Ok(ConfigText {
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        config: text,
        source,
        format: "text",
        retrieved_at: crate::time::now_rfc3339(),
    })
}

/// `PUT …/config`: merges the lines (see [`config::merge`]) and, with `commit`, saves.
/// Audited as `network.devices.config_push` (mode, line count, comment, outcome).
pub async fn push(app: &App, actor: &Actor, id: &str, req: ConfigPush) -> Result<PushResult> {
    let mode = req.mode.unwrap_or(PushMode::Merge);
    let (lines, text) = match mode {
        PushMode::Merge => (config::lines_of(&req.config)?, String::new()),
        PushMode::Replace => (Vec::new(), config::replacement(&req.config)?),
    };
    if let Some(c) = &req.comment {
        crate::text::check("comment", c, 1024)?;
    }
    let rec = record(app, id).await?;
    config::check_push(rec.device.device_type, mode)?;
    let (kind, t, commit) = (
        rec.device.device_type,
        timeout(app),
        req.commit.unwrap_or(false),
    );
    let n = match mode {
        PushMode::Merge => lines.len(),
        PushMode::Replace => text.lines().count(),
    };
    let done = with_session(app, actor, &rec, move |live| {
        let m = match mode {
            PushMode::Merge => config::merge(&mut live.shell, kind, &lines, t)?,
            PushMode::Replace => config::replace((&mut live.shell, &live.session), kind, &text, t)?,
        };
        if commit {
            config::save(&mut live.shell, t)?;
        }
        Ok(m)
    })
    .await;
    let details = json!({"mode": mode, "lines": n, "commit": commit, "comment": req.comment});
    let key = (rec.device.id.as_str(), "network.devices.config_push");
    audit_outcome(app, actor, key, details, failure(&done)).await;
    let Merged { before, after } = done?;
    let diff = config::unified_diff(&before, &after, ("running (before)", "running (after)"));
    Ok(PushResult {
        mode,
        lines_applied: n,
        committed: commit,
        changed: !diff.is_empty(),
        diff,
    })
}

/// `POST …/config/commit`: saves the running configuration as the startup one.
/// `confirm_timeout_s` is a 400 on IOS and NX-OS (no confirmed commit there).
pub async fn commit(app: &App, actor: &Actor, id: &str, req: CommitRequest) -> Result<Value> {
    if let Some(c) = &req.comment {
        crate::text::check("comment", c, 1024)?;
    }
    let rec = record(app, id).await?;
    config::check_push(rec.device.device_type, PushMode::Merge)?;
    if req.confirm_timeout_s.is_some() && rec.device.device_type != DeviceType::JuniperJunos {
        return Err(Error::field(
            "confirm_timeout_s",
            "a confirmed commit is a Junos feature; IOS and NX-OS save at once",
        ));
    }
    let t = timeout(app);
    let done = with_session(app, actor, &rec, move |live| {
        config::save(&mut live.shell, t)
    })
    .await;
    let details = json!({"comment": req.comment});
    let key = (rec.device.id.as_str(), "network.devices.config_commit");
    audit_outcome(app, actor, key, details, failure(&done)).await;
    done?;
    Ok(json!({"committed": true, "committed_at": crate::time::now_rfc3339()}))
}

/// `POST …/config/rollback`: puts back the snapshot mcpd took on the device before its
/// last configuration push, or with `to` (a config backup of this device) replaces the
/// running configuration with that version. Answers the diff of the running
/// configuration. Errors: 400 on `to` (unknown, another device's),
/// `NETWORK_CONFIG_ERROR` when the device has no snapshot or refuses it.
pub async fn rollback(app: &App, actor: &Actor, id: &str, to: Option<String>) -> Result<Value> {
    let rec = record(app, id).await?;
    if let Some(to) = to {
        let b = super::history::get(app, &to, None)
            .await
            .map_err(|e| match e.code {
                ErrorCode::ResourceNotFound => {
                    Error::field("to", format!("unknown config backup '{to}'"))
                }
                _ => e,
            })?;
        if b.device_id != rec.device.id {
            return Err(Error::field("to", "a config backup of another device"));
        }
        let r = super::history::restore(app, actor, &b.id).await?;
        return Ok(json!({"rolled_back": true, "changed": r.changed, "diff": r.diff}));
    }
    config::check_push(rec.device.device_type, PushMode::Merge)?;
    let (kind, t) = (rec.device.device_type, timeout(app));
    let done = with_session(app, actor, &rec, move |live| {
        let before = config::show(&mut live.shell, "running", t)?;
        config::restore_snapshot(&mut live.shell, kind, t)?;
        let after = config::show(&mut live.shell, "running", t)?;
        Ok(config::unified_diff(
            &before,
            &after,
            ("running (before)", "running (after)"),
        ))
    })
    .await;
    let key = (rec.device.id.as_str(), "network.devices.config_rollback");
    audit_outcome(app, actor, key, json!({}), failure(&done)).await;
    let diff = done?;
    Ok(json!({"rolled_back": true, "changed": !diff.is_empty(), "diff": diff}))
}
