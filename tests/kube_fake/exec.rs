//! Exec and attach: WebSocket upgrades speaking the `v5.channel.k8s.io` /
//! `v4.channel.k8s.io` channel protocol (0 stdin, 1 stdout, 2 stderr, 3 status,
//! 4 resize, 255 close). Exec runs the command as a real local process; attach connects
//! to the local process of a pod whose image was given to `run_image`.

use std::process::Stdio;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::logs::pick_container;
use super::rest::{Query, St, parse_query, q};
use super::status::{self, ApiResult};

const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The local process of a pod (`run_image`), killed when this is dropped.
pub struct PodProcess {
    /// Bytes for its stdin.
    pub stdin: mpsc::UnboundedSender<Bytes>,
    /// Its stdout (channel 1) and stderr (channel 2) output, for attaches.
    pub output: broadcast::Sender<(u8, Bytes)>,
    /// Its exit code once it exited.
    pub exited: watch::Receiver<Option<i32>>,
    _kill: oneshot::Sender<()>,
}

fn pump(mut r: impl AsyncRead + Unpin + Send + 'static, ch: u8, tx: mpsc::Sender<(u8, Bytes)>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0
                || tx
                    .send((ch, Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });
}

fn stdin_writer(mut w: tokio::process::ChildStdin) -> mpsc::UnboundedSender<Bytes> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                break;
            }
        }
    });
    tx
}

fn exit_code(st: std::io::Result<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    match st {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(9)),
        Err(_) => 255,
    }
}

/// Spawns `argv` with piped stdio; the output goes to the returned reader channel.
fn spawn(argv: &[String], stdin: bool) -> std::io::Result<(Child, mpsc::Receiver<(u8, Bytes)>)> {
    let (first, rest) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut child = Command::new(first)
        .args(rest)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (tx, rx) = mpsc::channel(64);
    if let Some(o) = child.stdout.take() {
        pump(o, 1, tx.clone());
    }
    if let Some(e) = child.stderr.take() {
        pump(e, 2, tx);
    }
    Ok((child, rx))
}

impl PodProcess {
    /// Starts `argv` as a pod's main process.
    pub fn spawn(argv: &[String]) -> std::io::Result<PodProcess> {
        let (mut child, mut out_rx) = spawn(argv, true)?;
        let stdin = stdin_writer(child.stdin.take().expect("piped stdin"));
        let (output, _) = broadcast::channel(1024);
        let (exit_tx, exited) = watch::channel(None);
        let (kill, mut kill_rx) = oneshot::channel::<()>();
        let out = output.clone();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                let _ = out.send(m);
            }
        });
        tokio::spawn(async move {
            tokio::select! {
                st = child.wait() => { let _ = exit_tx.send(Some(exit_code(st))); }
                _ = &mut kill_rx => { let _ = child.kill().await; }
            }
        });
        Ok(PodProcess {
            stdin,
            output,
            exited,
            _kill: kill,
        })
    }
}

/// The status (channel 3) for an exit code.
fn exit_status(argv: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {}, "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The status of a command the runtime could not start.
fn start_failure(argv: &[String], e: &std::io::Error) -> Value {
    let first = argv.first().map(String::as_str).unwrap_or("");
    let why = if e.kind() == std::io::ErrorKind::NotFound {
        format!("exec: \"{first}\": executable file not found in $PATH")
    } else {
        format!("exec: \"{first}\": {e}")
    };
    let msg = format!(
        "failed to exec in container: failed to start exec: OCI runtime exec failed: exec \
         failed: unable to start container process: {why}: unknown"
    );
    json!({
        "metadata": {}, "status": "Failure", "message": msg, "reason": "InternalError",
        "details": {"causes": [{"message": msg}]}, "code": 500,
    })
}

fn frame(ch: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(ch);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

/// What a client frame means.
enum Inbound {
    Stdin(Bytes),
    CloseStdin,
    Other,
    Gone,
}

fn inbound(m: Option<Result<Message, axum::Error>>) -> Inbound {
    let data: Bytes = match m {
        Some(Ok(Message::Binary(b))) => b,
        Some(Ok(Message::Text(t))) => Bytes::copy_from_slice(t.as_str().as_bytes()),
        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Inbound::Gone,
        Some(Ok(_)) => return Inbound::Other,
    };
    match data.first() {
        Some(0) if data.len() > 1 => Inbound::Stdin(data.slice(1..)),
        Some(255) if data.get(1) == Some(&0) => Inbound::CloseStdin,
        _ => Inbound::Other,
    }
}

/// Exec and attach parameters from the query.
struct Params {
    argv: Vec<String>,
    stdin: bool,
}

fn params(query: &Query) -> Params {
    Params {
        argv: query
            .iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.clone())
            .collect(),
        stdin: q(query, "stdin").is_some_and(|v| v == "true" || v == "1"),
    }
}

/// `.../pods/{name}/exec`.
pub async fn exec_handler(
    State(s): State<St>,
    Path((ns, pod)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let query = parse_query(raw);
    let p = params(&query);
    let check = || -> ApiResult<()> {
        let inner = s.lock();
        pick_container(&inner, &ns, &pod, q(&query, "container"))?;
        if p.argv.is_empty() {
            return Err(status::bad_request("you must specify at least 1 command"));
        }
        Ok(())
    };
    if let Err(e) = check() {
        return e.into_response();
    }
    let down = s.down.subscribe();
    ws.protocols(PROTOCOLS)
        .on_upgrade(move |socket| run_exec(socket, p, down))
}

async fn run_exec(socket: WebSocket, p: Params, mut down: watch::Receiver<u64>) {
    let (mut tx, mut rx) = socket.split();
    for ch in [1u8, 2, 3] {
        let _ = tx.send(Message::Binary(vec![ch].into())).await;
    }
    let (mut child, mut out_rx) = match spawn(&p.argv, p.stdin) {
        Ok(v) => v,
        Err(e) => {
            let st = start_failure(&p.argv, &e);
            let _ = tx.send(frame(3, st.to_string().as_bytes())).await;
            let _ = tx.send(Message::Close(None)).await;
            return;
        }
    };
    let mut stdin = child.stdin.take().map(stdin_writer);
    loop {
        tokio::select! {
            m = out_rx.recv() => match m {
                Some((ch, b)) => { if tx.send(frame(ch, &b)).await.is_err() { return; } }
                None => break,
            },
            m = rx.next() => match inbound(m) {
                Inbound::Stdin(b) => { if let Some(s) = &stdin { let _ = s.send(b); } }
                Inbound::CloseStdin => stdin = None,
                Inbound::Other => {}
                Inbound::Gone => return,
            },
            _ = down.changed() => return,
        }
    }
    drop(stdin);
    let code = tokio::select! {
        st = child.wait() => exit_code(st),
        _ = down.changed() => return,
    };
    let st = exit_status(&p.argv, code);
    let _ = tx.send(frame(3, st.to_string().as_bytes())).await;
    let _ = tx.send(Message::Close(None)).await;
}

/// `.../pods/{name}/attach`.
pub async fn attach_handler(
    State(s): State<St>,
    Path((ns, pod)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let query = parse_query(raw);
    let found = (|| -> ApiResult<_> {
        let inner = s.lock();
        pick_container(&inner, &ns, &pod, q(&query, "container"))?;
        let proc = inner.procs.get(&(ns.clone(), pod.clone())).ok_or_else(|| {
            status::bad_request(format!(
                "pod {pod} has no running process to attach to (no run_image for its image)"
            ))
        })?;
        Ok((
            proc.stdin.clone(),
            proc.output.subscribe(),
            proc.exited.clone(),
        ))
    })();
    let (stdin, out, exited) = match found {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let down = s.down.subscribe();
    ws.protocols(PROTOCOLS)
        .on_upgrade(move |socket| run_attach(socket, stdin, out, exited, down))
}

async fn run_attach(
    socket: WebSocket,
    stdin: mpsc::UnboundedSender<Bytes>,
    mut out: broadcast::Receiver<(u8, Bytes)>,
    mut exited: watch::Receiver<Option<i32>>,
    mut down: watch::Receiver<u64>,
) {
    let (mut tx, mut rx) = socket.split();
    for ch in [1u8, 2, 3] {
        let _ = tx.send(Message::Binary(vec![ch].into())).await;
    }
    loop {
        let code = *exited.borrow();
        if let Some(code) = code {
            let st = exit_status(&[], code);
            let _ = tx.send(frame(3, st.to_string().as_bytes())).await;
            let _ = tx.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            m = out.recv() => match m {
                Ok((ch, b)) => { if tx.send(frame(ch, &b)).await.is_err() { return; } }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    let _ = exited.changed().await;
                }
            },
            m = rx.next() => match inbound(m) {
                Inbound::Stdin(b) => { let _ = stdin.send(b); }
                Inbound::CloseStdin | Inbound::Other => {}
                Inbound::Gone => return,
            },
            r = exited.changed() => { if r.is_err() { return; } }
            _ = down.changed() => return,
        }
    }
}
