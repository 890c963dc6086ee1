//! Monitoring series, the resource inventory and the billing summary through the real
//! binary: samples stored every second (the test's interval) answer
//! `GET /monitoring/metrics` with units, the inventory lists and creates what the
//! daemon runs, and the billing lines price what was measured and add up exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::answers::{expect, expect_error};
use common::observed::observed;
use common::{BUSYBOX_IMAGE, Daemon};
use serde_json::{Value, json};
use std::time::Duration;

fn sum(series: &Value) -> f64 {
    series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn series_inventory_and_billing_report_what_was_measured() {
    let rates = [
        ("MCPD_BILLING__CALLS_PER_1000", "1500"),
        ("MCPD_BILLING__MEMORY_GB_HOUR", "7"),
        ("MCPD_BILLING__BACKUP_GB_MONTH", "3"),
    ];
    let o = observed(&rates, 5).await;
    let (d, admin, viewer, server, svc_id) = (&o.d, &o.admin, &o.viewer, &o.server, &o.service_id);

    // The MCP server's calls arrive in its series; its container's memory too.
    let q = format!("/monitoring/metrics?resource_id={server}&metric=calls&step=1h");
    let calls = d
        .get_until(&q, admin, Duration::from_secs(20), |b| {
            sum(&b["data"]["series"][0]) >= 5.0
        })
        .await;
    let calls = &calls["data"];
    assert_eq!(calls["resource"]["type"], "mcp_server", "{calls}");
    assert_eq!(
        (
            calls["series"][0]["unit"].as_str(),
            calls["series"][0]["aggregation"].as_str()
        ),
        (Some("count"), Some("sum"))
    );
    assert_eq!(sum(&calls["series"][0]), 5.0, "{calls}");
    assert_eq!(calls["step_s"], 3600, "{calls}");
    let all = expect(
        200,
        d.get(&format!("/monitoring/metrics?id={server}"), admin)
            .await,
    )["data"]
        .clone();
    let metrics: Vec<&str> = all["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        ["cpu", "memory", "calls", "errors", "latency_p95"],
        "{all}"
    );
    assert_eq!(
        all["resolution_s"], 1,
        "an hour back is within the samples' retention: {all}"
    );
    let mem_q = format!("/monitoring/metrics?resource_id={svc_id}&metric=memory");
    let mem = d
        .get_until(&mem_q, viewer, Duration::from_secs(20), |b| {
            !b["data"]["series"][0]["points"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .await;
    let point = &mem["data"]["series"][0]["points"][0];
    assert!(
        point["value"].as_f64().unwrap() > 0.0 && point["timestamp"].is_string(),
        "{mem}"
    );
    assert_eq!(mem["data"]["series"][0]["unit"], "bytes");

    for (query, status, code) in [
        (
            format!("metric=cpu&resource_id={svc_id}&metric=nope"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            format!("resource_id={svc_id}&metric=nope"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            format!("resource_id={svc_id}&metric=calls"),
            400,
            "VALIDATION_ERROR",
        ),
        ("metric=cpu".to_string(), 400, "VALIDATION_ERROR"),
        (
            format!("resource_id={svc_id}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            format!("resource_id={svc_id}&step=5x"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            format!("resource_id={svc_id}&step=1s&from=2020-01-01T00:00:00Z"),
            200,
            "",
        ),
        (
            format!("resource_id={svc_id}&bogus=1"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "resource_id=svc_doesnotexist0000".to_string(),
            404,
            "RESOURCE_NOT_FOUND",
        ),
    ] {
        let (s, b) = d.get(&format!("/monitoring/metrics?{query}"), admin).await;
        assert_eq!(s.as_u16(), status, "{query}: {b}");
        if status != 200 {
            assert_eq!(b["error"]["code"], code, "{query}: {b}");
        }
    }
    expect_error(
        d.call(
            reqwest::Method::GET,
            &format!("/monitoring/metrics?resource_id={svc_id}"),
            None,
            None,
        )
        .await,
        401,
        "UNAUTHORIZED",
    );

    inventory(d, admin, viewer, svc_id, server).await;
    billing(d, admin, viewer).await;
}

async fn inventory(d: &Daemon, admin: &str, viewer: &str, svc_id: &str, server: &str) {
    let all = expect(200, d.get("/resources?size=500", admin).await);
    let items = all["data"].as_array().unwrap();
    let find = |kind: &str, pred: &dyn Fn(&Value) -> bool| {
        items.iter().find(|i| i["type"] == kind && pred(i)).cloned()
    };
    let svc = find("service", &|i| i["id"] == svc_id).expect("the service");
    assert_eq!(svc["status"], "running", "{svc}");
    assert!(
        find("container", &|i| i["details"]["service_id"] == svc_id).is_some(),
        "{all}"
    );
    assert!(
        find("mcp_server", &|i| i["name"] == server).is_some(),
        "{all}"
    );
    assert_eq!(
        all["meta"]["pagination"]["total"].as_u64().unwrap() as usize,
        items.len()
    );
    let page = expect(
        200,
        d.get("/resources?type=service,mcp_server&page=2&size=1", viewer)
            .await,
    );
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(
        page["meta"]["pagination"]["total"], 3,
        "two services and one MCP server: {page}"
    );
    let found = expect(
        200,
        d.get(
            &format!("/resources?search={}", &server[..8].to_uppercase()),
            admin,
        )
        .await,
    );
    assert!(
        found["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"].as_str().unwrap().contains(&server[..8])),
        "{found}"
    );
    for q in ["size=0", "size=501", "page=0", "type=VM", "colour=red"] {
        expect_error(
            d.get(&format!("/resources?{q}"), admin).await,
            400,
            "VALIDATION_ERROR",
        );
    }

    let name = d.name("sized");
    let body = json!({"type": "service", "name": name, "image": BUSYBOX_IMAGE, "size": "medium", "start": false});
    let created = expect(201, d.post("/resources", admin, body.clone()).await)["data"].clone();
    let shown = expect(
        200,
        d.get(
            &format!("/services/{}", created["id"].as_str().unwrap()),
            admin,
        )
        .await,
    )["data"]
        .clone();
    assert_eq!(
        shown["resources"],
        json!({"cpu_millicores": 500, "memory_mb": 512}),
        "{shown}"
    );
    expect_error(
        d.post("/resources", admin, body).await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );
    for bad in [
        json!({"type": "VM", "name": "x", "image": BUSYBOX_IMAGE}),
        json!({"type": "service", "name": "x", "image": BUSYBOX_IMAGE, "size": "huge"}),
        json!({"type": "service", "name": "x", "image": BUSYBOX_IMAGE, "cpu": 4}),
        json!({"type": "service", "name": "x"}),
    ] {
        expect_error(
            d.post("/resources", admin, bad).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    expect_error(
        d.post("/resources", viewer, json!({})).await,
        403,
        "FORBIDDEN",
    );
}

async fn billing(d: &Daemon, admin: &str, viewer: &str) {
    let backup = d.backup(admin, json!({})).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let now = time::OffsetDateTime::now_utc();
    let month = &format!("{:04}-{:02}", now.year(), u8::from(now.month()));
    let q = format!("/billing/summary?month={month}");
    let s = d
        .get_until(&q, admin, Duration::from_secs(20), |b| {
            let lines = b["data"]["lines"].as_array().unwrap();
            ["mcp_calls", "memory", "backup_storage"]
                .iter()
                .all(|i| lines.iter().any(|l| l["item"] == *i))
        })
        .await["data"]
        .clone();
    let lines = s["lines"].as_array().unwrap();
    let line = |item: &str| lines.iter().find(|l| l["item"] == item).unwrap().clone();
    assert_eq!(line("mcp_calls")["quantity"], 5.0, "{s}");
    assert_eq!(
        line("mcp_calls")["amount_minor"],
        8,
        "5 calls at 15.00 per 1000 is 7.5 cents, rounded half up: {s}"
    );
    assert!(line("memory")["quantity"].as_f64().unwrap() > 0.0, "{s}");
    assert!(
        line("backup_storage")["quantity"].as_f64().unwrap() > 0.0,
        "{s}"
    );
    let total: u64 = lines
        .iter()
        .map(|l| l["amount_minor"].as_u64().unwrap())
        .sum();
    assert_eq!(s["total_minor"].as_u64().unwrap(), total, "{s}");
    assert_eq!(
        (s["currency"].as_str(), s["group_by"].as_str()),
        (Some("USD"), Some("none"))
    );

    let me = expect(200, d.get("/users/me", admin).await)["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_user = expect(200, d.get(&format!("{q}&group_by=user"), admin).await)["data"].clone();
    assert!(
        by_user["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["item"] == "mcp_calls" && l["group"] == me.as_str()),
        "{by_user}"
    );

    let resp = d
        .client
        .get(d.url(&format!("{q}&format=csv")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "month,group,item,quantity,unit,rate,rate_per,amount_minor,currency"
    );
    assert!(
        rows.last().unwrap().starts_with(&format!("{month},total,")),
        "{csv}"
    );
    assert_eq!(rows.len(), lines.len() + 2, "{csv}");

    for bad in [
        "",
        "month=2026-13",
        "month=May",
        &format!("month={month}&group_by=team"),
        &format!("month={month}&format=xml"),
        &format!("month={month}&x=1"),
    ] {
        expect_error(
            d.get(&format!("/billing/summary?{bad}"), admin).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    expect_error(d.get(&q, viewer).await, 403, "FORBIDDEN");
}
