//! The rollups answer exactly what aggregating the raw rows answers: rows with chosen
//! times inserted through `request_log::store::insert_at`, then every grouping and filter on
//! odd windows compared with a plain `GROUP BY` over `request_logs`.

use super::query::{self, Filters, Group};
use crate::request_log::store::insert_at;
use crate::request_log::{Kind, NewRequestLog};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::json;
use time::macros::datetime;

const DAY0: time::OffsetDateTime = datetime!(2026-03-01 00:00 UTC);

fn db() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    crate::store::migrations::apply(&mut c).unwrap();
    c
}

fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

/// 3,000 calls over 8 days with NULL users, workspaces and every kind, plus calls at
/// the exact window edges below.
fn calls() -> Vec<(NewRequestLog, time::OffsetDateTime)> {
    let mut rng = StdRng::seed_from_u64(7);
    let users = [None, Some("usr_a"), Some("usr_b"), Some("usr_c")];
    let workspaces = [None, Some("wks_one"), Some("wks_two")];
    let servers = [("mcp_1", "alpha"), ("mcp_2", "beta"), ("mcp_3", "gamma")];
    let kinds = [Kind::Tool, Kind::Tool, Kind::Resource, Kind::Prompt];
    let names = ["echo", "add", "fetch", "notes://x"];
    let at = |t: time::OffsetDateTime, rng: &mut StdRng| {
        let (sid, sname) = *pick(rng, &servers);
        let error = rng.random_range(0..10) == 0;
        let log = NewRequestLog {
            user_id: pick(rng, &users).map(str::to_string),
            api_key_id: None,
            workspace_id: pick(rng, &workspaces).map(str::to_string),
            server_id: sid.into(),
            server_name: sname.into(),
            kind: *pick(rng, &kinds),
            name: pick(rng, &names).to_string(),
            error_code: error.then(|| "MCP_TIMEOUT".to_string()),
            error_message: None,
            duration_ms: rng.random_range(0..5_000),
            arguments: json!({"pad": "x".repeat(rng.random_range(0..300))}),
            result: (!error).then(|| json!({"n": rng.random_range(0..1_000_000)})),
        };
        (log, t)
    };
    let mut out = Vec::new();
    for _ in 0..3_000 {
        let ms = rng.random_range(0..8 * 86_400_000i64);
        out.push(at(DAY0 + time::Duration::milliseconds(ms), &mut rng));
    }
    for t in [
        datetime!(2026-03-02 10:17 UTC),
        datetime!(2026-03-06 03:05 UTC),
        datetime!(2026-03-03 00:00 UTC),
        datetime!(2026-03-05 23:59:59.999 UTC),
    ] {
        out.push(at(t, &mut rng));
        out.push(at(t, &mut rng));
    }
    out
}

/// [`calls`] inserted one by one.
fn fill(c: &Connection) {
    for (log, t) in calls() {
        insert_at(c, &log, 1024, t).unwrap();
    }
}

/// Every row of every rollup table, rendered.
fn dump(c: &Connection) -> Vec<Vec<String>> {
    super::rollup::TABLES
        .iter()
        .map(|t| {
            let mut stmt = c
                .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5, 6"))
                .unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Sql>(i).map(|v| format!("{v:?}")))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|v| v.join("|"))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
        })
        .collect()
}

/// The reference: a plain GROUP BY over the raw rows.
fn raw(c: &Connection, from: &str, to: &str, keys: &[&str], f: &Filters) -> Vec<(Group, f64)> {
    let cols: String = keys
        .iter()
        .map(|k| match *k {
            "day" => "substr(timestamp, 1, 10), ".to_string(),
            k => format!("{k}, "),
        })
        .collect();
    let mut sql = format!(
        "SELECT {cols}count(*), coalesce(sum(status = 'error'), 0), coalesce(sum(duration_ms), 0),
                coalesce(max(duration_ms), 0), coalesce(sum(request_bytes), 0),
                coalesce(sum(response_bytes), 0), coalesce(min(timestamp), ''),
                coalesce(max(timestamp), ''), coalesce(avg(duration_ms), 0)
         FROM request_logs WHERE timestamp >= ? AND timestamp < ?"
    );
    let mut params = vec![Sql::Text(from.into()), Sql::Text(to.into())];
    if let Some(u) = &f.user_id {
        sql.push_str(" AND user_id = ?");
        params.push(Sql::Text(u.clone()));
    }
    if let Some(s) = &f.server {
        sql.push_str(" AND (server_id = ? OR server_name = ?)");
        params.push(Sql::Text(s.clone()));
        params.push(Sql::Text(s.clone()));
    }
    if let Some(k) = &f.kind {
        sql.push_str(" AND kind = ?");
        params.push(Sql::Text(k.clone()));
    }
    if let Some(w) = &f.workspace_id {
        sql.push_str(" AND workspace_id = ?");
        params.push(Sql::Text(w.clone()));
    }
    if !keys.is_empty() {
        let n: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
        sql.push_str(&format!(" GROUP BY {}", n.join(", ")));
    }
    let n = keys.len();
    let mut stmt = c.prepare(&sql).unwrap();
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        Ok((
            Group {
                key: (0..n)
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<rusqlite::Result<_>>()?,
                calls: r.get(n)?,
                errors: r.get(n + 1)?,
                duration_sum: r.get(n + 2)?,
                duration_max: r.get(n + 3)?,
                request_bytes: r.get(n + 4)?,
                response_bytes: r.get(n + 5)?,
                first_at: r.get(n + 6)?,
                last_at: r.get(n + 7)?,
            },
            r.get(n + 8)?,
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<Vec<_>>>()
    .unwrap()
}

#[test]
fn rollups_answer_exactly_what_raw_rows_do() {
    let c = db();
    fill(&c);
    let windows = [
        ("2026-03-02T10:17:00.000Z", "2026-03-06T03:05:00.000Z"),
        ("2026-03-03T00:00:00.000Z", "2026-03-06T00:00:00.000Z"),
        ("2026-03-02T10:17:00.000Z", "2026-03-03T00:00:00.000Z"),
        ("2026-03-04T05:00:00.000Z", "2026-03-05T04:00:00.000Z"),
        ("2026-02-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"),
        ("2026-03-05T23:59:59.999Z", "2026-03-08T12:00:00.001Z"),
    ];
    let filters = [
        Filters::default(),
        Filters {
            user_id: Some("usr_a".into()),
            ..Filters::default()
        },
        Filters {
            server: Some("beta".into()),
            kind: Some("tool".into()),
            ..Filters::default()
        },
        Filters {
            server: Some("mcp_3".into()),
            workspace_id: Some("wks_two".into()),
            user_id: Some("usr_c".into()),
            ..Filters::default()
        },
        Filters {
            workspace_id: Some("wks_one".into()),
            ..Filters::default()
        },
    ];
    let key_sets: [&[&str]; 11] = [
        &[],
        &["day"],
        &["server_id", "server_name"],
        &["server_name", "kind", "name"],
        &["user_id"],
        &["workspace_id"],
        &["status"],
        &["kind", "day"],
        &["day", "workspace_id", "user_id"],
        &["server_id", "server_name", "kind", "name"],
        &[
            "day",
            "workspace_id",
            "user_id",
            "server_id",
            "server_name",
            "kind",
            "name",
            "status",
        ],
    ];
    let mut compared = 0;
    for (from, to) in windows {
        for f in &filters {
            for keys in key_sets {
                let mut want = raw(&c, from, to, keys, f);
                let mut got = query::groups(&c, from, to, keys, f, true).unwrap();
                let mut reference = query::groups(&c, from, to, keys, f, false).unwrap();
                want.sort_by(|a, b| query::by_calls(&a.0, &b.0));
                got.sort_by(query::by_calls);
                reference.sort_by(query::by_calls);
                let ctx = format!("{from}..{to} {f:?} {keys:?}");
                let groups: Vec<Group> = want.iter().map(|(g, _)| g.clone()).collect();
                assert_eq!(got, groups, "{ctx}");
                assert_eq!(reference, groups, "{ctx}");
                for (g, (_, avg)) in got.iter().zip(&want) {
                    // Bit for bit: sum / count as SQLite's avg divides.
                    assert_eq!(g.avg_duration_ms().to_bits(), avg.to_bits(), "{ctx}");
                }
                compared += groups.len();
            }
        }
    }
    assert!(compared > 10_000, "{compared} groups compared");
}

#[test]
fn backfill_builds_the_same_rollups_as_inserts() {
    let c = db();
    fill(&c);
    let incremental = dump(&c);
    assert!(incremental.iter().all(|t| !t.is_empty()));
    for t in super::rollup::TABLES {
        c.execute(&format!("DROP TABLE {t}"), []).unwrap();
    }
    c.execute_batch(include_str!("../store/migrations/0009_usage_rollups.sql"))
        .unwrap();
    assert_eq!(dump(&c), incremental);
}

#[test]
fn batched_inserts_build_the_same_rollups() {
    let one_by_one = db();
    fill(&one_by_one);
    let batched = db();
    let calls = calls();
    for chunk in calls.chunks(100) {
        let rows: Vec<_> = chunk.iter().map(|(l, t)| (l, *t)).collect();
        let ids = crate::request_log::store::insert_many_at(&batched, &rows, 1024).unwrap();
        assert_eq!(ids.len(), chunk.len());
    }
    assert_eq!(dump(&batched), dump(&one_by_one));
    let n: i64 = batched
        .query_row("SELECT count(*) FROM request_logs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n as usize, calls.len());
}
