//! Usage queries over 29 days of 1,000,000 request log rows (20 servers, 50 tools, 100
//! users, 1% errors, inside the default 30-day window): each grouping and the summary, as the median
//! of 5 runs, and as a ratio to a plain `count(*)` over the same window (the cost of
//! touching every row once), measured in the same run. Goal (issue 5): under 1 s each.
//!
//! Run: `cargo bench --bench usage`. Under `cargo test` it does nothing.

use mcpd::store::list::{Filter, ListQuery, Op};
use std::time::{Duration, Instant};

const ROWS: usize = 1_000_000;

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

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let config = mcpd::config::Config {
        server: mcpd::config::ServerConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        },
        ..Default::default()
    };
    let app = mcpd::app::App::open(config).await.expect("open");
    let t = Instant::now();
    app.store
        .write(|tx| {
            let now = time::OffsetDateTime::now_utc();
            let mut stmt = tx.prepare(
                "INSERT INTO request_logs (id, timestamp, user_id, server_id, server_name, kind, name, status, duration_ms, request_bytes, response_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'tool', ?6, ?7, ?8, 100, 400)",
            )?;
            for i in 0..ROWS {
                let ts = now - time::Duration::seconds((i as i64 * 2_505_600) / ROWS as i64);
                stmt.execute(rusqlite::params![
                    format!("rlog_{i:016}"),
                    mcpd::time::format_rfc3339(ts),
                    format!("usr_{:016}", i % 100),
                    format!("mcp_{:016}", i % 20),
                    format!("server-{}", i % 20),
                    format!("tool-{}", i % 50),
                    if i % 100 == 0 { "error" } else { "success" },
                    (i % 250) as i64,
                ])?;
            }
            Ok(())
        })
        .await
        .unwrap();
    println!(
        "\ninserted {ROWS} rows in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let base = median(|| async {
        app.store
            .read(|c| {
                let n: i64 = c.query_row(
                    "SELECT count(*) FROM request_logs WHERE timestamp >= ?1",
                    [mcpd::time::format_rfc3339(
                        time::OffsetDateTime::now_utc() - time::Duration::days(31),
                    )],
                    |r| r.get(0),
                )?;
                assert_eq!(n as usize, ROWS);
                Ok(())
            })
            .await
            .unwrap();
    })
    .await;
    println!("{:<28} {:>10} {:>10}", "query", "median ms", "ratio");
    println!(
        "{:<28} {:>10.1} {:>10.2}",
        "count(*) baseline",
        base.as_secs_f64() * 1e3,
        1.0
    );
    for group in ["server", "tool", "user", "day", "server,day"] {
        let d = median(|| async {
            let page = mcpd::usage::grouped(&app, query(&[("group_by", group)]), None)
                .await
                .unwrap();
            assert!(page.total > 0);
        })
        .await;
        println!(
            "{:<28} {:>10.1} {:>10.2}",
            format!("group_by={group}"),
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / base.as_secs_f64()
        );
    }
    let d = median(|| async {
        let s = mcpd::usage::summary(&app, query(&[]), None).await.unwrap();
        assert_eq!(s.calls as usize, ROWS);
    })
    .await;
    println!(
        "{:<28} {:>10.1} {:>10.2}",
        "summary",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() / base.as_secs_f64()
    );
}
