//! Backup schedules: cron expressions evaluated in a time zone, retention by age and/or
//! count, and the scheduler task that fires them.
//!
//! Cron forms accepted: the standard 5-field crontab (`min hour dom month dow`, day of
//! week 0–7 with 0 and 7 = Sunday, as in crontab(5)), the 6-field form with a leading
//! seconds field (passed to the `cron` crate as is: day of week 1–7 with 1 = Sunday, or
//! names), and `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`.
//!
//! The scheduler checks every second. A run missed while the daemon was down is due at
//! start-up and runs once (the next time is computed from now, so several missed runs
//! collapse into one). A schedule whose previous run has not ended skips that turn, so
//! runs never overlap.

pub use super::model::{RunOptions, Schedule, ScheduleSpec};

use super::model::Status;
use super::store;
use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use chrono::Utc;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Translates an API cron expression into the `cron` crate's 6-field form.
pub fn to_cron_crate(expr: &str) -> Result<String> {
    let e = expr.trim();
    let bad = |issue: String| Error::field("cron_expression", issue);
    let fixed = match e {
        "@yearly" | "@annually" => Some("0 0 0 1 1 *"),
        "@monthly" => Some("0 0 0 1 * *"),
        "@weekly" => Some("0 0 0 * * 1"),
        "@daily" | "@midnight" => Some("0 0 0 * * *"),
        "@hourly" => Some("0 0 * * * *"),
        _ if e.starts_with('@') => {
            return Err(bad(format!(
                "unknown shortcut {e}; use @hourly, @daily, @weekly, @monthly or @yearly"
            )));
        }
        _ => None,
    };
    let six = match fixed {
        Some(f) => f.to_string(),
        None => {
            let fields: Vec<&str> = e.split_whitespace().collect();
            match fields.len() {
                5 => format!(
                    "0 {} {} {} {} {}",
                    fields[0],
                    fields[1],
                    fields[2],
                    fields[3],
                    crontab_dow(fields[4]).map_err(bad)?
                ),
                6 => fields.join(" "),
                n => {
                    return Err(bad(format!(
                        "has {n} fields; expected 5 (min hour day month weekday), 6 (with seconds first) or an @shortcut"
                    )));
                }
            }
        }
    };
    cron::Schedule::from_str(&six).map_err(|err| bad(format!("invalid: {err}")))?;
    Ok(six)
}

/// crontab day of week (0–7, 0 and 7 = Sunday) → the `cron` crate's (1–7, 1 = Sunday).
/// Numeric values, ranges and steps are expanded into a list; names pass through.
fn crontab_dow(field: &str) -> std::result::Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (
                b,
                Some(
                    s.parse::<u32>()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or(format!("bad step in day of week: {item}"))?,
                ),
            ),
            None => (item, None),
        };
        let num = |s: &str| s.parse::<u32>().ok().filter(|n| *n <= 7);
        let range = if base == "*" {
            if step.is_none() {
                out.push("*".into());
                continue;
            }
            Some((0, 6))
        } else if let Some((a, b)) = base.split_once('-') {
            match (num(a), num(b)) {
                (Some(a), Some(b)) if a <= b => Some((a, b)),
                (Some(_), Some(_)) => return Err(format!("bad range in day of week: {item}")),
                _ => None,
            }
        } else {
            num(base).map(|n| (n, if step.is_some() { 7 } else { n }))
        };
        match range {
            Some((a, b)) => {
                for v in (a..=b).step_by(step.unwrap_or(1) as usize) {
                    let t = (v % 7 + 1).to_string();
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
            None if base.chars().all(|c| c.is_ascii_alphabetic() || c == '-') => {
                out.push(item.to_string())
            }
            None => return Err(format!("bad day of week: {item} (0-7 or SUN-SAT)")),
        }
    }
    Ok(out.join(","))
}

/// The first fire time strictly after `after` (UTC, RFC 3339 with ms), evaluated in `tz`.
pub fn next_after(cron6: &str, tz: &str, after: chrono::DateTime<Utc>) -> Option<String> {
    let s = cron::Schedule::from_str(cron6).ok()?;
    let tz: chrono_tz::Tz = tz.parse().ok()?;
    s.after(&after.with_timezone(&tz))
        .next()
        .map(|t| fmt(t.with_timezone(&Utc)))
}

fn fmt(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `"7d"`, `"12h"`, `"30m"`, `"90s"`, `"2w"` → seconds.
pub fn parse_retention(s: &str) -> Result<i64> {
    let bad = || {
        Error::field(
            "retention",
            "must be a positive duration such as \"7d\", \"12h\", \"30m\", \"90s\" or \"2w\"",
        )
    };
    let s = s.trim();
    // The unit is the last character, which may be more than one byte.
    let mut chars = s.chars();
    let unit = chars.next_back().ok_or_else(bad)?;
    let n: i64 = chars
        .as_str()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

impl ScheduleSpec {
    /// Checks every field; returns the next fire time (when enabled).
    fn validate(&self, app: &AppState) -> Result<Option<String>> {
        let n = &self.name;
        if n.is_empty()
            || n.len() > 64
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(Error::field(
                "name",
                "1-64 characters: letters, digits, '-', '_' and '.'",
            ));
        }
        let six = to_cron_crate(&self.cron_expression)?;
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::field(
                "timezone",
                "must be an IANA time zone such as UTC or Europe/Berlin",
            ));
        }
        if let Some(r) = &self.retention {
            parse_retention(r)?;
        }
        if self.keep_last == Some(0) {
            return Err(Error::field("keep_last", "must be at least 1"));
        }
        self.options.backup.validate()?;
        // An encrypted schedule must be able to encrypt unattended.
        super::seal::choose_seal(
            app,
            self.options.backup.encrypt,
            None,
            self.options.recipient.clone(),
        )?;
        Ok(if self.enabled {
            next_after(&six, &self.timezone, Utc::now())
        } else {
            None
        })
    }
}

/// `GET /backups/schedules` (paged in memory; schedules are few).
pub async fn list(app: &AppState, q: ListQuery) -> Result<Page<Schedule>> {
    if let Some(f) = q.filters.first() {
        return Err(Error::field(&f.field, "schedules cannot be filtered"));
    }
    let all = app.store.read(store::all_schedules).await?;
    Ok(Page::from_vec(all, &q))
}

/// One schedule by id or name.
pub async fn get(app: &AppState, id: &str) -> Result<Schedule> {
    let id = id.to_string();
    app.store.read(move |c| store::load_schedule(c, &id)).await
}

/// Creates a schedule (`RESOURCE_ALREADY_EXISTS` for a taken name); audited.
pub async fn create(app: &AppState, actor: &Actor, spec: ScheduleSpec) -> Result<Schedule> {
    let next = spec.validate(app)?;
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            if store::schedule_name_taken(tx, &spec.name)? {
                return Err(Error::already_exists("backup schedule", &spec.name));
            }
            let id = crate::ids::new_id("bks");
            let now = crate::time::now_rfc3339();
            store::insert_schedule(
                tx,
                &id,
                &spec,
                next.as_deref(),
                actor.user_id.as_deref(),
                &now,
            )?;
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.schedules.create").on("backup_schedule", &id).details(serde_json::json!({"name": spec.name, "cron_expression": spec.cron_expression})),
            )?;
            store::load_schedule(tx, &id)
        })
        .await
}

/// Replaces a schedule's writable fields (`PUT`); recomputes `next_run_at`; audited.
pub async fn replace(
    app: &AppState,
    actor: &Actor,
    id: &str,
    spec: ScheduleSpec,
) -> Result<Schedule> {
    let next = spec.validate(app)?;
    let (actor, id) = (actor.clone(), id.to_string());
    app.store
        .write(move |tx| {
            let cur = store::load_schedule(tx, &id)?;
            if store::schedule_name_clashes(tx, &spec.name, &cur.id)? {
                return Err(Error::already_exists("backup schedule", &spec.name));
            }
            let now = crate::time::now_rfc3339();
            store::update_schedule(tx, &cur.id, &spec, next.as_deref(), &now)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.schedules.update").on("backup_schedule", &cur.id),
            )?;
            store::load_schedule(tx, &cur.id)
        })
        .await
}

/// Deletes a schedule; its backups stay (their `schedule_id` becomes null). Audited.
pub async fn delete(app: &AppState, actor: &Actor, id: &str) -> Result<()> {
    let (actor, id) = (actor.clone(), id.to_string());
    app.store
        .write(move |tx| {
            let cur = store::load_schedule(tx, &id)?;
            store::delete_schedule(tx, &cur.id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("backups.schedules.delete").on("backup_schedule", &cur.id),
            )
        })
        .await
}

/// Unix time of the scheduler's last tick (0: not running).
static LAST_TICK: AtomicI64 = AtomicI64::new(0);

/// Health check: the scheduler ticked within the last 10 seconds.
pub fn health() -> Result<()> {
    let last = LAST_TICK.load(Ordering::Relaxed);
    if last > 0 && crate::time::unix_now() - last <= 10 {
        Ok(())
    } else {
        Err(Error::new(
            crate::error::ErrorCode::ServiceUnavailable,
            "the backup scheduler is not running",
        ))
    }
}

/// Starts the scheduler task (stops when `app.shutdown` is cancelled).
pub fn spawn(app: &AppState) {
    // Healthy from the moment it is started, before the task's first tick runs.
    LAST_TICK.store(crate::time::unix_now(), Ordering::Relaxed);
    let app = app.clone();
    app.tasks.clone().spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            LAST_TICK.store(crate::time::unix_now(), Ordering::Relaxed);
            if let Err(e) = fire_due(&app).await {
                tracing::warn!("backup scheduler: {e:?}");
            }
        }
        LAST_TICK.store(0, Ordering::Relaxed);
    });
}

/// Fires every enabled schedule whose `next_run_at` has passed.
async fn fire_due(app: &AppState) -> Result<()> {
    let now = Utc::now();
    let now_s = fmt(now);
    let due = {
        let now_s = now_s.clone();
        app.store
            .read(move |c| store::due_schedules(c, &now_s))
            .await?
    };
    for (s, busy) in due {
        let next = to_cron_crate(&s.cron_expression)
            .ok()
            .and_then(|six| next_after(&six, &s.timezone, now));
        if busy {
            tracing::info!(schedule = %s.name, "previous scheduled backup still running; skipping this turn");
            let id = s.id.clone();
            app.store
                .write(move |tx| store::skip_schedule_turn(tx, &id, next.as_deref()))
                .await?;
            continue;
        }
        fire(app, s, next, now_s.clone()).await;
    }
    Ok(())
}

async fn fire(app: &AppState, s: Schedule, next: Option<String>, now_s: String) {
    let seal = super::seal::choose_seal(
        app,
        s.options.backup.encrypt,
        None,
        s.options.recipient.clone(),
    );
    let queued = match seal {
        Ok(seal) => super::job::queue(
            app,
            &Actor::system(),
            s.options.backup.clone(),
            Some(s.id.clone()),
        )
        .await
        .map(|b| (b, seal)),
        Err(e) => Err(e),
    };
    let (backup_id, status) = match &queued {
        Ok((b, _)) => (Some(b.id.clone()), "running"),
        Err(e) => {
            tracing::warn!(schedule = %s.name, "scheduled backup not started: {}", e.message);
            (None, "failed")
        }
    };
    {
        let (id, bid) = (s.id.clone(), backup_id.clone());
        let _ = app
            .store
            .write(move |tx| {
                store::record_schedule_fired(
                    tx,
                    &id,
                    next.as_deref(),
                    &now_s,
                    status,
                    bid.as_deref(),
                )
            })
            .await;
    }
    let Ok((b, seal)) = queued else { return };
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let st = super::job::run(app2.clone(), b.id.clone(), s.options.backup.clone(), seal).await;
        let status = if st == Status::Completed {
            "completed"
        } else {
            "failed"
        };
        let id = s.id.clone();
        let _ = app2
            .store
            .write(move |tx| store::set_schedule_status(tx, &id, status))
            .await;
        if let Err(e) = prune(&app2, &s).await {
            tracing::warn!(schedule = %s.name, "pruning: {e:?}");
        }
    });
}

/// Removes this schedule's backups beyond `keep_last` completed ones or older than
/// `retention`, never the newest completed one (and never another schedule's or a
/// manual backup). Returns the ids removed.
pub async fn prune(app: &AppState, s: &Schedule) -> Result<Vec<String>> {
    if s.retention.is_none() && s.keep_last.is_none() {
        return Ok(Vec::new());
    }
    let cutoff = s
        .retention
        .as_deref()
        .map(parse_retention)
        .transpose()?
        .map(|secs| fmt(Utc::now() - chrono::Duration::seconds(secs)));
    let (sid, keep_last) = (s.id.clone(), s.keep_last);
    let rows = app
        .store
        .read(move |c| store::ended_of_schedule(c, &sid))
        .await?;
    let mut completed_seen = 0u32;
    let mut doomed = Vec::new();
    for (id, status, created_at) in rows {
        let expired = cutoff.as_deref().is_some_and(|c| created_at.as_str() < c);
        if status == "completed" {
            completed_seen += 1;
            if completed_seen == 1 {
                continue; // the newest successful backup always stays
            }
            if expired || keep_last.is_some_and(|k| completed_seen > k) {
                doomed.push(id);
            }
        } else if expired || keep_last.is_some_and(|k| completed_seen >= k) {
            // Failed runs past retention, or with keep_last newer successes, go too.
            doomed.push(id);
        }
    }
    // A base of a newer incremental backup stays (delete refuses it) until that one goes.
    let mut removed = Vec::new();
    for id in doomed {
        match super::records::delete(app, &Actor::system(), &id).await {
            Ok(()) => removed.push(id),
            Err(e) => tracing::info!(backup = %id, "kept by pruning: {}", e.message),
        }
    }
    let doomed = removed;
    if !doomed.is_empty() {
        tracing::info!(schedule = %s.name, removed = doomed.len(), "pruned scheduled backups");
    }
    Ok(doomed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_forms_translate() {
        assert_eq!(to_cron_crate("0 2 * * *").unwrap(), "0 0 2 * * *");
        assert_eq!(
            to_cron_crate("*/5 * * * 1-5").unwrap(),
            "0 */5 * * * 2,3,4,5,6"
        );
        assert_eq!(to_cron_crate("0 3 * * 0").unwrap(), "0 0 3 * * 1");
        assert_eq!(to_cron_crate("0 3 * * 7").unwrap(), "0 0 3 * * 1");
        assert_eq!(to_cron_crate("0 3 * * 5-7").unwrap(), "0 0 3 * * 6,7,1");
        assert_eq!(
            to_cron_crate("0 3 * * MON-FRI").unwrap(),
            "0 0 3 * * MON-FRI"
        );
        assert_eq!(to_cron_crate("*/2 * * * * *").unwrap(), "*/2 * * * * *");
        assert_eq!(to_cron_crate("@daily").unwrap(), "0 0 0 * * *");
        assert_eq!(to_cron_crate("@hourly").unwrap(), "0 0 * * * *");
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 2 * * 8",
            "@sometimes",
            "a b c d e",
        ] {
            let e = to_cron_crate(bad).unwrap_err();
            assert_eq!(e.details[0].field, "cron_expression", "{bad}");
        }
    }

    #[test]
    fn crontab_weekday_means_the_same_day() {
        // 2026-11-23 is a Monday. "0 2 * * 1" (crontab Monday) must fire on a Monday.
        let after = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let six = to_cron_crate("0 2 * * 1").unwrap();
        assert_eq!(
            next_after(&six, "UTC", after).unwrap(),
            "2026-11-30T02:00:00.000Z"
        );
        // In a time zone: 02:00 Berlin (UTC+1 in November) is 01:00 UTC.
        let daily = to_cron_crate("0 2 * * *").unwrap();
        assert_eq!(
            next_after(&daily, "Europe/Berlin", after).unwrap(),
            "2026-11-24T01:00:00.000Z"
        );
    }

    #[test]
    fn retention_durations() {
        assert_eq!(parse_retention("7d").unwrap(), 7 * 86_400);
        assert_eq!(parse_retention("12h").unwrap(), 43_200);
        assert_eq!(parse_retention("90s").unwrap(), 90);
        for bad in ["", "d", "0d", "-1h", "7x", "1.5h"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
    }
}
