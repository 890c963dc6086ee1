//! The configuration routes' domain work: reading a device's configuration, pushing
//! lines (merge), saving (commit) and rolling back, each on the device's pooled session
//! ([`super::session::with_session`]) and each change audited with its outcome (the
//! configuration text itself never goes to the audit log).

use super::config::{self, Merged};
use super::model::{
    CommitRequest, Committed, ConfigPush, ConfigQuery, ConfigText, DeviceType, PushMode,
    PushResult, RolledBack,
};
use super::session::with_session;
use super::{junos, record};
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
    let rec = record(app, id).await?;
    let junos = rec.device.device_type == DeviceType::JuniperJunos;
    let (sources, format) = if junos {
        (["running", "candidate"], "xml")
    } else {
        (["running", "startup"], "text")
    };
    if q.format.as_deref().is_some_and(|f| f != format) {
        return Err(Error::field(
            "format",
            format!("only {format} for this platform"),
        ));
    }
    let source = q.source.unwrap_or_else(|| "running".into());
    if !sources.contains(&source.as_str()) {
        return Err(Error::field(
            "source",
            format!("{} or {} for this platform", sources[0], sources[1]),
        ));
    }
    let t = timeout(app);
    let src = source.clone();
    let text = with_session(app, actor, &rec, move |live| {
        if junos {
            junos::get_config(live.netconf()?, &src, t)
        } else {
            config::show(live.cli()?, &src, t)
        }
    })
    .await?;
    Ok(ConfigText {
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        config: text,
        source,
        format,
        retrieved_at: crate::time::now_rfc3339(),
    })
}

/// `PUT …/config`: merges the lines (see [`config::merge`]) and, with `commit`, saves.
/// Audited as `network.devices.config_push` (mode, line count, comment, outcome).
pub async fn push(app: &App, actor: &Actor, id: &str, req: ConfigPush) -> Result<PushResult> {
    let mode = req.mode.unwrap_or(PushMode::Merge);
    let rec = record(app, id).await?;
    let junos = rec.device.device_type == DeviceType::JuniperJunos;
    let (lines, text) = match mode {
        _ if junos => {
            junos::check_xml(&req.config)?;
            (Vec::new(), req.config.clone())
        }
        PushMode::Merge => (config::lines_of(&req.config)?, String::new()),
        PushMode::Replace => (Vec::new(), config::replacement(&req.config)?),
    };
    if let Some(c) = &req.comment {
        crate::text::check("comment", c, 1024)?;
    }
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
        if junos {
            return junos::push(live.netconf()?, (&text, mode), commit, t);
        }
        let m = match mode {
            PushMode::Merge => config::merge(live.cli()?, kind, &lines, t)?,
            PushMode::Replace => config::replace(live.cli_and_session()?, kind, &text, t)?,
        };
        if commit {
            config::save(live.cli()?, t)?;
        }
        Ok(m)
    })
    .await;
    let details = json!({"mode": mode, "lines": n, "commit": commit, "comment": req.comment});
    let key = (rec.device.id.as_str(), "network.devices.config_push");
    audit_outcome(app, actor, key, details, failure(&done)).await;
    let diff = done?.diff();
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
pub async fn commit(app: &App, actor: &Actor, id: &str, req: CommitRequest) -> Result<Committed> {
    if let Some(c) = &req.comment {
        crate::text::check("comment", c, 1024)?;
    }
    let rec = record(app, id).await?;
    let junos = rec.device.device_type == DeviceType::JuniperJunos;
    if req
        .confirm_timeout_s
        .is_some_and(|s| !(1..=86_400).contains(&s))
    {
        return Err(Error::field("confirm_timeout_s", "1 to 86400 seconds"));
    }
    if req.confirm_timeout_s.is_some() && !junos {
        return Err(Error::field(
            "confirm_timeout_s",
            "a confirmed commit is a Junos feature; IOS and NX-OS save at once",
        ));
    }
    let t = timeout(app);
    let confirm = req.confirm_timeout_s;
    let done = with_session(app, actor, &rec, move |live| {
        if junos {
            junos::commit(live.netconf()?, confirm, t)
        } else {
            config::save(live.cli()?, t)
        }
    })
    .await;
    let details = json!({"comment": req.comment});
    let key = (rec.device.id.as_str(), "network.devices.config_commit");
    audit_outcome(app, actor, key, details, failure(&done)).await;
    done?;
    Ok(Committed {
        committed: true,
        committed_at: crate::time::now_rfc3339(),
    })
}

/// `POST …/config/rollback` without `to`: puts back the snapshot mcpd took on the
/// device before its last configuration push (Junos: discards uncommitted changes, or
/// `rollback 1`). Answers the diff of the running configuration. Errors:
/// `NETWORK_CONFIG_ERROR` when the device has no snapshot or refuses it. (With `to`,
/// [`super::history::rollback_to`].)
pub async fn rollback(app: &App, actor: &Actor, id: &str) -> Result<RolledBack> {
    let rec = record(app, id).await?;
    let (kind, t) = (rec.device.device_type, timeout(app));
    let done = with_session(app, actor, &rec, move |live| {
        if kind == DeviceType::JuniperJunos {
            return Ok(junos::rollback(live.netconf()?, t)?.diff());
        }
        let before = config::show(live.cli()?, "running", t)?;
        config::restore_snapshot(live.cli()?, kind, t)?;
        let after = config::show(live.cli()?, "running", t)?;
        Ok(Merged { before, after }.diff())
    })
    .await;
    let key = (rec.device.id.as_str(), "network.devices.config_rollback");
    audit_outcome(app, actor, key, json!({}), failure(&done)).await;
    let diff = done?;
    Ok(RolledBack::of(diff))
}

/// `POST …/config/rollback {"to": N}` on Junos: loads rollback configuration `N`
/// (0–49, Junos's `rollback N`) and commits it. Errors: 400 on `to` for another
/// platform or an index over 49; `NETWORK_CONFIG_ERROR` with the device's text (e.g. no
/// such rollback).
pub async fn rollback_index(app: &App, actor: &Actor, id: &str, n: u32) -> Result<RolledBack> {
    let rec = record(app, id).await?;
    if rec.device.device_type != DeviceType::JuniperJunos {
        return Err(Error::field(
            "to",
            "a rollback number is a Junos feature; give a config backup id",
        ));
    }
    if n > 49 {
        return Err(Error::field("to", "Junos keeps rollbacks 0 to 49"));
    }
    let t = timeout(app);
    let done = with_session(app, actor, &rec, move |live| {
        Ok(junos::rollback_to(live.netconf()?, n, t)?.diff())
    })
    .await;
    let key = (rec.device.id.as_str(), "network.devices.config_rollback");
    audit_outcome(app, actor, key, json!({"to": n}), failure(&done)).await;
    let diff = done?;
    Ok(RolledBack::of(diff))
}
