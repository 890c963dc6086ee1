//! Running a command in a pod's container (`POST …/pods/{pod}/exec`) over the API
//! server's `pods/{name}/exec` WebSocket (the `v5.channel.k8s.io` channel protocol,
//! `v4` with older servers): stdin is written and closed, stdout and stderr collected
//! up to a cap, and the exit code read from the final `Status` (reason
//! `NonZeroExitCode`, cause `ExitCode`). A non-zero exit is a result, not an error.

use super::client::{call, connect};
use super::objects::{audited, check_label, check_subdomain};
use crate::app::App;
use crate::audit::{Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Most bytes of stdout (and of stderr) kept; the rest is read and dropped.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Default and largest `timeout_s`.
const DEFAULT_TIMEOUT_S: u64 = 30;
const MAX_TIMEOUT_S: u64 = 600;
/// Largest `stdin`, in bytes.
const MAX_STDIN_BYTES: usize = 512 * 1024;

/// `POST …/exec`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PodExecRequest)]
pub struct ExecRequest {
    /// Program and arguments, run without a shell (`["sh", "-c", "…"]` for one).
    #[schema(min_items = 1)]
    pub command: Vec<String>,
    /// Container; default the pod's only (or first, as the cluster decides) one.
    #[serde(default)]
    pub container: Option<String>,
    /// Text written to the command's stdin, which is then closed (at most 512 KiB).
    #[serde(default)]
    pub stdin: Option<String>,
    /// Allocate a terminal (stderr then comes on stdout).
    #[serde(default)]
    pub tty: Option<bool>,
    /// 1..=600 seconds; default 30.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600)]
    pub timeout_s: Option<u64>,
}

/// What the command did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PodExecResult)]
pub struct ExecResult {
    /// The exit code (0 on `Success`).
    pub exit_code: i64,
    /// UTF-8 (invalid bytes replaced), at most [`MAX_OUTPUT_BYTES`] (1 MiB).
    pub stdout: String,
    /// Like `stdout`, for the standard error stream.
    pub stderr: String,
    /// Wall time from start to exit, in milliseconds.
    pub duration_ms: u64,
    /// True when stdout or stderr went over [`MAX_OUTPUT_BYTES`] (1 MiB) and was cut.
    pub truncated: bool,
}

impl ExecRequest {
    fn validate(&self) -> Result<Duration> {
        match self.command.first() {
            None => return Err(Error::field("command", "must name a program")),
            Some(p) if p.is_empty() => return Err(Error::field("command", "must name a program")),
            _ => {}
        }
        if self.command.iter().any(|a| a.contains('\0')) {
            return Err(Error::field("command", "must not contain NUL"));
        }
        if let Some(c) = &self.container {
            check_label("container", c)?;
        }
        if self
            .stdin
            .as_ref()
            .is_some_and(|s| s.len() > MAX_STDIN_BYTES)
        {
            return Err(Error::field("stdin", "larger than 512 KiB"));
        }
        let t = self.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&t) {
            return Err(Error::field(
                "timeout_s",
                format!("must be 1 to {MAX_TIMEOUT_S}"),
            ));
        }
        Ok(Duration::from_secs(t))
    }
}

/// Reads `r` to its end, keeping at most [`MAX_OUTPUT_BYTES`]; whether it was cut.
async fn collect(r: Option<impl AsyncRead + Unpin>) -> (Vec<u8>, bool) {
    let Some(mut r) = r else {
        return (Vec::new(), false);
    };
    let (mut kept, mut buf, mut cut) = (Vec::new(), vec![0u8; 16 * 1024], false);
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT_BYTES - kept.len();
        cut |= n > room;
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    (kept, cut)
}

/// The exit code a final `Status` gives. Errors: `K8S_OPERATION_ERROR` when the
/// command could not run at all (or no status came).
fn exit_code(status: Option<Status>) -> Result<i64> {
    let s = status.ok_or_else(|| {
        Error::new(
            ErrorCode::K8sOperationError,
            "the exec stream ended without an exit status",
        )
    })?;
    if s.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = (s.reason.as_deref() == Some("NonZeroExitCode"))
        .then_some(s.details.as_ref())
        .flatten()
        .and_then(|d| d.causes.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<i64>().ok());
    code.ok_or_else(|| {
        Error::new(
            ErrorCode::K8sOperationError,
            format!(
                "the command could not run: {}",
                s.message.unwrap_or_default()
            ),
        )
    })
}

/// Runs `req.command` in the pod and waits for it (at most `timeout_s`, then
/// `GATEWAY_TIMEOUT` and the stream is closed). Audited as `kubernetes.pods.exec` with
/// the program name and exit code only (arguments and stdin may hold secrets).
pub async fn exec(
    app: &App,
    actor: &Actor,
    cluster: &str,
    ns: &str,
    pod: &str,
    req: ExecRequest,
) -> Result<ExecResult> {
    let r = run(app, cluster, ns, pod, &req).await;
    let cluster_id = super::get(app, cluster)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|_| cluster.to_string());
    let entry = Entry::new("kubernetes.pods.exec")
        .on("cluster", cluster_id)
        .details(json!({
            "namespace": ns, "pod": pod, "container": req.container,
            "program": req.command.first(), "exit_code": r.as_ref().ok().map(|x| x.exit_code),
        }));
    audited(app, actor, entry, r).await
}

async fn run(
    app: &App,
    cluster: &str,
    ns: &str,
    pod: &str,
    req: &ExecRequest,
) -> Result<ExecResult> {
    check_label("namespace", ns)?;
    check_subdomain("pod", pod)?;
    let limit = req.validate()?;
    let (_, client) = connect(app, cluster).await?;
    let tty = req.tty.unwrap_or(false);
    let ap = AttachParams {
        container: req.container.clone(),
        stdin: req.stdin.is_some(),
        stdout: true,
        stderr: !tty,
        tty,
        ..AttachParams::default()
    };
    let started = Instant::now();
    let pods = Api::<Pod>::namespaced(client, ns);
    let mut proc = call(
        app,
        "starting the command",
        pods.exec(pod, req.command.clone(), &ap),
    )
    .await?;
    let status = proc.take_status();
    let (out, err) = (proc.stdout(), proc.stderr());
    let input = proc.stdin();
    let stdin = req.stdin.clone();
    let run = async move {
        let feed = async move {
            if let (Some(mut w), Some(text)) = (input, stdin) {
                let _ = w.write_all(text.as_bytes()).await;
                let _ = w.shutdown().await;
            }
        };
        let ((so, so_cut), (se, se_cut), (), status) =
            tokio::join!(collect(out), collect(err), feed, async {
                match status {
                    Some(s) => s.await,
                    None => None,
                }
            });
        (so, se, so_cut || se_cut, status)
    };
    let Ok((so, se, truncated, status)) = tokio::time::timeout(limit, run).await else {
        proc.abort();
        return Err(Error::new(
            ErrorCode::GatewayTimeout,
            format!("the command did not finish within {} s", limit.as_secs()),
        ));
    };
    proc.abort();
    Ok(ExecResult {
        exit_code: exit_code(status)?,
        stdout: String::from_utf8_lossy(&so).into_owned(),
        stderr: String::from_utf8_lossy(&se).into_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
        truncated,
    })
}
