//! `GET .../pods/{name}/log`: `container`, `tailLines`, `sinceSeconds`, `timestamps`,
//! `previous`, `limitBytes` and `follow` (a chunked stream that ends on `end_pod` and
//! is cut by `drop_log_streams` or `stop`).

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};

use super::rest::{St, parse_query, q};
use super::state::{Inner, LogEvent, LogLine, PODS, rfc3339_nano};
use super::status::{self, ApiResult};

/// The pod's container a log or exec request means (`None`: the first one if it has
/// only one, else the 400 the real server answers).
pub fn pick_container(
    inner: &Inner,
    ns: &str,
    pod: &str,
    wanted: Option<&str>,
) -> ApiResult<String> {
    let p = inner
        .get(&PODS, ns, pod)
        .ok_or_else(|| status::not_found("", "pods", pod))?;
    let names: Vec<String> = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    match wanted.filter(|w| !w.is_empty()) {
        Some(w) if names.iter().any(|n| n == w) => Ok(w.to_string()),
        Some(w) => Err(status::bad_request(format!(
            "container {w} is not valid for pod {pod}"
        ))),
        None if names.len() == 1 => Ok(names[0].clone()),
        None if names.is_empty() => Ok(String::new()),
        None => Err(status::bad_request(format!(
            "a container name must be specified for pod {pod}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

/// How to render lines.
struct Render {
    timestamps: bool,
}

impl Render {
    fn line(&self, l: &LogLine) -> String {
        if self.timestamps {
            format!("{} {}\n", rfc3339_nano(l.at), l.text)
        } else {
            format!("{}\n", l.text)
        }
    }
}

/// The log request handler.
pub async fn handler(
    State(s): State<St>,
    Path((ns, pod)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw);
    let flag = |k: &str| q(&query, k).is_some_and(|v| v == "true" || v == "1");
    let render = Render {
        timestamps: flag("timestamps"),
    };
    let r = (|| {
        let inner = s.lock();
        let c = pick_container(&inner, &ns, &pod, q(&query, "container"))?;
        if flag("previous") {
            return Err(status::bad_request(format!(
                "previous terminated container \"{c}\" in pod \"{pod}\" not found"
            )));
        }
        let mut lines: Vec<LogLine> = inner
            .logs
            .get(&(ns.clone(), pod.clone(), c.clone()))
            .cloned()
            .unwrap_or_default();
        if let Some(secs) = q(&query, "sinceSeconds").and_then(|v| v.parse::<i64>().ok()) {
            let from = OffsetDateTime::now_utc() - time::Duration::seconds(secs);
            lines.retain(|l| l.at >= from);
        }
        if let Some(n) = q(&query, "tailLines").and_then(|v| v.parse::<usize>().ok()) {
            lines.drain(..lines.len().saturating_sub(n));
        }
        let mut text: String = lines.iter().map(|l| render.line(l)).collect();
        if let Some(n) = q(&query, "limitBytes").and_then(|v| v.parse::<usize>().ok())
            && text.len() > n
        {
            let mut cut = n;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let follow = flag("follow").then(|| {
            let rx = inner.logs_tx.as_ref().map(broadcast::Sender::subscribe);
            (
                rx,
                s.down.subscribe(),
                inner.ended.contains(&(ns.clone(), pod.clone())),
            )
        });
        Ok((c, text, follow))
    })();
    let (c, text, follow) = match r {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let body = match follow {
        Some((Some(rx), down, false)) => {
            let first = futures::stream::iter([Ok::<_, io::Error>(Bytes::from(text))]);
            let rest = follow_stream(rx, down, ns, pod, c, render);
            Body::from_stream(first.chain(rest))
        }
        _ => Body::from(text),
    };
    ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// New lines of `(ns, pod, c)` until the pod ends (clean end) or the stream is cut
/// (an error, which makes hyper close the connection mid-body).
fn follow_stream(
    rx: broadcast::Receiver<LogEvent>,
    down: watch::Receiver<u64>,
    ns: String,
    pod: String,
    c: String,
    render: Render,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    let st = Some((rx, down));
    futures::stream::unfold(st, move |st| {
        let (ns, pod, c) = (ns.clone(), pod.clone(), c.clone());
        let timestamps = render.timestamps;
        async move {
            let (mut rx, mut down) = st?;
            let cut = || io::Error::new(io::ErrorKind::ConnectionAborted, "log stream cut");
            loop {
                let ev = tokio::select! {
                    ev = rx.recv() => ev,
                    _ = down.changed() => return Some((Err(cut()), None)),
                };
                match ev {
                    Ok(LogEvent::Line(n, p, cn, l)) if n == ns && p == pod && cn == c => {
                        let line = Render { timestamps }.line(&l);
                        return Some((Ok(Bytes::from(line)), Some((rx, down))));
                    }
                    Ok(LogEvent::End(n, p)) if n == ns && p == pod => return None,
                    Ok(LogEvent::Cut(n, p)) if n == ns && p == pod => {
                        return Some((Err(cut()), None));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
}
