//! Usage queries over 1,000,000 request log rows spread over 29 days (inside the default
//! 30-day window), inserted through `request_log::store::insert_at` so the rollups are built the
//! way production builds them. Calls are drawn independently at random (seeded): 50
//! users, 20 servers × 10 tools, 1% errors, durations 0..500 ms; each user belongs to
//! one of 5 workspaces and their calls are attributed to it (as `access::attribute`
//! does for a member of one workspace).
//!
//! Prints: the insert rate with the rollups and without (the same rows into an empty
//! database, one row per transaction, 1,000 per transaction, and 1,000 through
//! `insert_many_at`, which updates the rollups once per distinct group; best of 2) as a ratio; then each
//! grouping, the summary, a caller without `logs:admin` and an odd window, as the median
//! of 5 runs and as a ratio to a plain `count(*)` over the window measured in the same
//! run (the cost of touching every row once). Goal: under 1 s each.
//!
//! Run: `cargo bench --bench usage`. Under `cargo test` it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops at its first failure

use mcpd::request_log::{Kind, NewRequestLog};
use mcpd::store::list::{Filter, ListQuery, Op};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Rows in the window: 1,000,000, or `USAGE_BENCH_ROWS` for a quick trial.
static ROWS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("USAGE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
});
const SPAN_S: i64 = 29 * 86_400;
const USERS: usize = 50;
const WORKSPACES: usize = 5;
const SERVERS: usize = 20;
const TOOLS: usize = 10;
const CAP: usize = 16 * 1024;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("usage: skipped (run it with `cargo bench --bench usage`)");
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run());
}

fn query(pairs: &[(&str, &str)]) -> ListQuery {
    let mut q = ListQuery::default();
    for (k, v) in pairs {
        q.filters.push(Filter {
            field: (*k).into(),
            op: Op::Eq,
            value: (*v).into(),
        });
    }
    q
}

async fn median<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    v.sort();
    v[2]
}

fn user(i: usize) -> String {
    format!("usr_{i:016}")
}

/// Row `i` of the data set (same rows for the same seed), and its time.
fn row(rng: &mut StdRng, i: usize, start: OffsetDateTime) -> (NewRequestLog, OffsetDateTime) {
    let u = rng.random_range(0..USERS);
    let s = rng.random_range(0..SERVERS);
    let t = rng.random_range(0..TOOLS);
    let error = rng.random_range(0..100) == 0;
    let at = start + time::Duration::milliseconds(i as i64 * SPAN_S * 1000 / *ROWS as i64);
    let log = NewRequestLog {
        user_id: Some(user(u)),
        api_key_id: None,
        workspace_id: Some(format!("wks_{:016}", u % WORKSPACES)),
        server_id: format!("mcp_{s:016}"),
        server_name: format!("server-{s}"),
        kind: Kind::Tool,
        name: format!("tool-{t}"),
        error_code: error.then(|| "MCP_TOOL_ERROR".to_string()),
        error_message: error.then(|| "the tool failed".to_string()),
        duration_ms: rng.random_range(0..500),
        arguments: json!({"message": "x".repeat(rng.random_range(0..200))}),
        result: (!error).then(|| json!({"content": [{"type": "text", "text": "ok"}]})),
    };
    (log, at)
}

async fn open(dir: &std::path::Path) -> mcpd::app::AppState {
    let config = mcpd::settings::Settings {
        server: mcpd::settings::ServerSettings {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        },
        ..Default::default()
    };
    mcpd::daemon::open(config).await.expect("open")
}

/// How rows are written.
#[derive(Clone, Copy, PartialEq)]
enum Write {
    /// `insert_without_rollup`: the row alone (the baseline).
    RowOnly,
    /// `insert_at`: row and rollups, per row.
    PerRow,
    /// `insert_many_at`: rows, then the rollups once per distinct group.
    Batch,
}

/// Inserts rows `range` in transactions of `batch` rows; returns rows per second.
async fn insert(
    app: &mcpd::app::App,
    range: std::ops::Range<usize>,
    batch: usize,
    how: Write,
    start: OffsetDateTime,
) -> f64 {
    let n = range.len();
    let mut rng = StdRng::seed_from_u64(range.start as u64);
    let rows: Vec<_> = range.map(|i| row(&mut rng, i, start)).collect();
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        let chunk = chunk.to_vec();
        app.store
            .write(move |tx| {
                if how == Write::Batch {
                    let rows: Vec<_> = chunk.iter().map(|(l, t)| (l, *t)).collect();
                    mcpd::request_log::store::insert_many_at(tx, &rows, CAP)?;
                    return Ok(());
                }
                for (log, at) in &chunk {
                    if how == Write::PerRow {
                        mcpd::request_log::store::insert_at(tx, log, CAP, *at)?;
                    } else {
                        mcpd::request_log::store::insert_without_rollup(tx, log, CAP, *at)?;
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn line(what: &str, d: Duration, base: Duration) {
    println!(
        "{:<44} {:>10.1} {:>10.2}",
        what,
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() / base.as_secs_f64()
    );
}

async fn run() {
    let start = OffsetDateTime::now_utc() - time::Duration::seconds(SPAN_S);

    // Write cost: the same rows into empty databases, with and without the rollups,
    // alternating twice (the machine is shared) and keeping each side's best run.
    println!(
        "\ninsert rate (rows/s)        {:>12} {:>12} {:>8} {:>14}",
        "rollups", "row only", "ratio", "µs added/row"
    );
    for (label, rows, batch, how) in [
        ("1 row per transaction", 5_000.min(*ROWS), 1, Write::PerRow),
        (
            "1000 rows per transaction",
            100_000.min(*ROWS),
            1000,
            Write::PerRow,
        ),
        (
            "1000 per transaction, batch",
            100_000.min(*ROWS),
            1000,
            Write::Batch,
        ),
    ] {
        let (mut r_with, mut r_without) = (0f64, 0f64);
        for _ in 0..2 {
            for w in [Write::RowOnly, how] {
                let dir = tempfile::tempdir().unwrap();
                let app = open(dir.path()).await;
                let r = insert(&app, 0..rows, batch, w, start).await;
                let best = if w == how {
                    &mut r_with
                } else {
                    &mut r_without
                };
                *best = best.max(r);
            }
        }
        println!(
            "{label:<27} {r_with:>12.0} {r_without:>12.0} {:>8.2} {:>14.1}",
            r_with / r_without,
            (1.0 / r_with - 1.0 / r_without) * 1e6
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let t = Instant::now();
    let mut i = 0;
    while i < *ROWS {
        let end = (i + 50_000).min(*ROWS);
        insert(&app, i..end, 1000, Write::PerRow, start).await;
        i = end;
    }
    println!(
        "\ninserted {} rows with rollups in {:.1}s",
        *ROWS,
        t.elapsed().as_secs_f64()
    );
    let sizes = app
        .store
        .read(|c| {
            mcpd::usage::rollup::TABLES
                .iter()
                .map(|t| {
                    c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map(|n| format!("{t} {n}"))
                    .map_err(Into::into)
                })
                .collect::<mcpd::error::Result<Vec<_>>>()
        })
        .await
        .unwrap();
    println!("rollup rows: {}", sizes.join(", "));

    let base = median(|| async {
        app.store
            .read(|c| {
                let n: i64 = c.query_row(
                    "SELECT count(*) FROM request_logs WHERE timestamp >= ?1",
                    [mcpd::time::format_rfc3339(
                        OffsetDateTime::now_utc() - time::Duration::days(30),
                    )],
                    |r| r.get(0),
                )?;
                assert_eq!(n as usize, *ROWS);
                Ok(())
            })
            .await
            .unwrap();
    })
    .await;
    println!(
        "\n{:<44} {:>10} {:>10}",
        "query (30-day window)", "median ms", "ratio"
    );
    line("count(*) baseline", base, base);
    for group in [
        "server",
        "tool",
        "user",
        "workspace",
        "day",
        "server,day",
        "user,tool",
    ] {
        let d = median(|| async {
            let page = mcpd::usage::grouped(&app, query(&[("group_by", group)]), None)
                .await
                .unwrap();
            assert!(page.total > 0);
        })
        .await;
        line(&format!("group_by={group}"), d, base);
    }
    let d = median(|| async {
        let s = mcpd::usage::summary(&app, query(&[]), None).await.unwrap();
        assert_eq!(s.calls as usize, *ROWS);
    })
    .await;
    line("summary", d, base);
    let d = median(|| async {
        let s = mcpd::usage::summary(&app, query(&[("workspace", "wks_0000000000000002")]), None)
            .await
            .unwrap();
        assert!(s.calls > 0);
    })
    .await;
    line("summary workspace=…", d, base);
    let me = user(7);
    let d = median(|| async {
        let page = mcpd::usage::grouped(&app, query(&[("group_by", "tool")]), Some(me.clone()))
            .await
            .unwrap();
        assert!(page.total > 0 && page.total as usize <= SERVERS * TOOLS);
    })
    .await;
    line("group_by=tool, own calls only", d, base);
    let d = median(|| async {
        let s = mcpd::usage::summary(&app, query(&[]), Some(me.clone()))
            .await
            .unwrap();
        assert!(s.calls > 0);
    })
    .await;
    line("summary, own calls only", d, base);
    // An odd window: 10:17 one day to 03:05 four days later, one server's tools.
    let day = (start + time::Duration::days(10)).date();
    let from = format!("{day}T10:17:00Z");
    let to = format!("{}T03:05:00Z", day + time::Duration::days(4));
    let d = median(|| async {
        let page = mcpd::usage::grouped(
            &app,
            query(&[
                ("group_by", "tool"),
                ("from", &from),
                ("to", &to),
                ("server", "server-3"),
            ]),
            None,
        )
        .await
        .unwrap();
        assert_eq!(page.total as usize, TOOLS);
    })
    .await;
    line("group_by=tool server=… 10:17 → +4d 03:05", d, base);
}
