//! A pod's logs (`GET …/pods/{pod}/logs`): the API server's `pods/{name}/log`
//! subresource. One-shot reads are bounded by the request timeout; `follow=true`
//! streams lines as the cluster sends them until the client leaves, the container
//! ends, or the connection to the cluster is lost (then the stream ends cleanly).

use super::client::{call, connect};
use super::objects::{check_label, check_subdomain};
use crate::app::App;
use crate::error::{Error, Result};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde::Deserialize;

/// Largest `tail_lines` accepted.
const MAX_TAIL_LINES: i64 = 100_000;

/// The query of `GET …/logs`, Kubernetes' `PodLogOptions` in `snake_case`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Container (required when the pod has several).
    #[serde(default)]
    pub container: Option<String>,
    /// Only the last N lines (1..=100000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100000)]
    pub tail_lines: Option<i64>,
    /// Only lines newer than this many seconds (at least 1).
    #[serde(default)]
    #[param(minimum = 1)]
    pub since_seconds: Option<i64>,
    /// Prefix each line with its RFC 3339 time.
    #[serde(default)]
    pub timestamps: Option<bool>,
    /// The previous (crashed) instance of the container.
    #[serde(default)]
    pub previous: Option<bool>,
    /// Keep streaming new lines.
    #[serde(default)]
    pub follow: Option<bool>,
}

impl LogQuery {
    fn params(&self) -> Result<LogParams> {
        if let Some(c) = &self.container {
            check_label("container", c)?;
        }
        if self
            .tail_lines
            .is_some_and(|n| !(1..=MAX_TAIL_LINES).contains(&n))
        {
            return Err(Error::field(
                "tail_lines",
                format!("must be 1 to {MAX_TAIL_LINES}"),
            ));
        }
        if self.since_seconds.is_some_and(|n| n < 1) {
            return Err(Error::field("since_seconds", "must be at least 1"));
        }
        Ok(LogParams {
            container: self.container.clone(),
            tail_lines: self.tail_lines,
            since_seconds: self.since_seconds,
            timestamps: self.timestamps.unwrap_or(false),
            previous: self.previous.unwrap_or(false),
            follow: self.follow.unwrap_or(false),
            ..LogParams::default()
        })
    }
}

/// The log text as a stream of chunks: one chunk for a one-shot read, a line per chunk
/// when following. Errors before the first byte: the cluster's answers (404, 400 for a
/// missing container name, …) as mapped in [`super::errors`].
pub async fn logs(
    app: &App,
    cluster: &str,
    ns: &str,
    pod: &str,
    q: &LogQuery,
) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
    check_label("namespace", ns)?;
    check_subdomain("pod", pod)?;
    let lp = q.params()?;
    let (_, client) = connect(app, cluster).await?;
    let pods = Api::<Pod>::namespaced(client, ns);
    if !lp.follow {
        let text = call(app, "reading the logs", pods.logs(pod, &lp)).await?;
        return Ok(futures::stream::once(async move { Ok(Bytes::from(text)) }).boxed());
    }
    let reader = call(app, "following the logs", pods.log_stream(pod, &lp)).await?;
    let lines = reader
        .lines()
        .take_while(|line| {
            if let Err(e) = line {
                tracing::debug!(error = %e, "a followed pod log ended with an error");
            }
            futures::future::ready(line.is_ok())
        })
        .filter_map(|line| async move { line.ok().map(|l| Ok(Bytes::from(l + "\n"))) });
    Ok(lines.boxed())
}
