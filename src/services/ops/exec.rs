//! Running a command in a service's container (Docker exec): exit code, stdout and
//! stderr (each capped at [`MAX_OUTPUT_BYTES`]), duration. Past the timeout the call
//! answers `GATEWAY_TIMEOUT` and the process tree is killed when the daemon can see it
//! (same PID namespace and enough privilege, checked by the container id in its
//! cgroup); otherwise it is abandoned and runs on inside the container. The same
//! happens when the client goes away before the command ends.

use super::Target;
use crate::app::App;
use crate::error::{Error, ErrorCode, Internal, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Timeout when the request gives none, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 30;
/// Largest `timeout_s`.
pub const MAX_TIMEOUT_S: u64 = 600;
/// Each of stdout and stderr is kept up to this many bytes.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Most arguments in a command.
const MAX_ARGS: usize = 1024;

/// `POST /services/{id}/exec` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Program and arguments, run without a shell (`["sh", "-c", "…"]` for one).
    pub command: Vec<String>,
    /// 1..=600 seconds; default 30.
    pub timeout_s: Option<u64>,
    /// Replica number; default the first running container.
    pub replica: Option<u32>,
    /// Extra environment variables for this command.
    pub env: Option<BTreeMap<String, String>>,
    /// Absolute working directory in the container.
    pub workdir: Option<String>,
}

/// What the command did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecResult {
    /// The program's exit code as Docker's exec inspect reports it (any value answers 200).
    pub exit_code: i64,
    /// UTF-8 (invalid bytes replaced), at most [`MAX_OUTPUT_BYTES`].
    pub stdout: String,
    /// Like `stdout`, for the standard error stream.
    pub stderr: String,
    /// Wall time from start to exit, in milliseconds.
    pub duration_ms: u64,
    /// True when stdout or stderr went over [`MAX_OUTPUT_BYTES`] and was cut.
    pub truncated: bool,
    /// Name of the container it ran in.
    pub container: String,
    /// The service's id (`svc_…`).
    pub service_id: String,
}

impl ExecRequest {
    /// Checks the request: 400 naming the field.
    pub fn validate(&self) -> Result<()> {
        match self.command.first() {
            None => return Err(Error::field("command", "must not be empty")),
            Some(p) if p.is_empty() => {
                return Err(Error::field(
                    "command",
                    "the program (first element) must not be empty",
                ));
            }
            _ => {}
        }
        if self.command.len() > MAX_ARGS {
            return Err(Error::field(
                "command",
                format!("at most {MAX_ARGS} elements"),
            ));
        }
        if self.command.iter().any(|a| a.contains('\0')) {
            return Err(Error::field("command", "must not contain NUL characters"));
        }
        if let Some(t) = self.timeout_s
            && !(1..=MAX_TIMEOUT_S).contains(&t)
        {
            return Err(Error::field(
                "timeout_s",
                format!("must be from 1 to {MAX_TIMEOUT_S}"),
            ));
        }
        if self.replica == Some(0) {
            return Err(Error::field("replica", "must be an integer >= 1"));
        }
        for (k, v) in self.env.iter().flatten() {
            let mut chars = k.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(Error::field(
                    format!("env.{k}"),
                    "names are letters, digits and _, not starting with a digit",
                ));
            }
            if v.contains('\0') {
                return Err(Error::field(
                    format!("env.{k}"),
                    "must not contain NUL characters",
                ));
            }
        }
        if let Some(w) = &self.workdir
            && (!w.starts_with('/') || w.contains('\0'))
        {
            return Err(Error::field("workdir", "must be an absolute path"));
        }
        Ok(())
    }
}

/// Runs `req` in service `id_or_name`. Errors: `RESOURCE_NOT_FOUND` (service or
/// replica), `CONFLICT` when no container runs, `GATEWAY_TIMEOUT` past the timeout,
/// `VALIDATION_ERROR` when the engine cannot start the program, `DOCKER_UNAVAILABLE`.
pub async fn exec(app: &App, id_or_name: &str, req: &ExecRequest) -> Result<ExecResult> {
    req.validate()?;
    let target = Target::load(app, id_or_name, req.replica).await?;
    let container = target.running()?.clone();
    let docker = &target.docker;
    let exec_id = create_exec(docker, &container.id, req).await?;
    let timeout = Duration::from_secs(req.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S));
    // If this future is dropped (the client went away), the command is killed too.
    let mut abandoned = KillOnDrop {
        app: Some((
            app.tasks.clone(),
            docker.clone(),
            exec_id.clone(),
            container.id.clone(),
        )),
    };
    let started = Instant::now();
    let (stdout, stderr) = match tokio::time::timeout(timeout, run(docker, &exec_id)).await {
        Ok(r) => r?,
        Err(_) => {
            abandoned.disarm();
            return Err(timed_out(docker, &exec_id, &container.id, timeout).await);
        }
    };
    abandoned.disarm();
    let duration_ms = started.elapsed().as_millis() as u64;
    let exit_code = exit_code(docker, &exec_id).await?;
    Ok(ExecResult {
        exit_code,
        truncated: stdout.truncated || stderr.truncated,
        stdout: String::from_utf8_lossy(&stdout.bytes).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.bytes).into_owned(),
        duration_ms,
        container: container.name,
        service_id: target.service.id.clone(),
    })
}

/// Creates the exec of `req` in container `container_id` (stdout and stderr attached,
/// no tty); returns its id.
async fn create_exec(
    docker: &bollard::Docker,
    container_id: &str,
    req: &ExecRequest,
) -> Result<String> {
    let env: Vec<String> = req
        .env
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let created = docker
        .create_exec(
            &crate::docker::path_segment(container_id),
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                attach_stdin: Some(false),
                tty: Some(false),
                cmd: Some(req.command.clone()),
                env: (!env.is_empty()).then_some(env),
                working_dir: req.workdir.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(exec_error)?;
    Ok(created.id)
}

/// Starts the exec and reads its output to the end: stdout (with console frames) and
/// stderr, each capped.
async fn run(docker: &bollard::Docker, exec_id: &str) -> Result<(Capped, Capped)> {
    let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(
            &crate::docker::path_segment(exec_id),
            Some(StartExecOptions::default()),
        )
        .await
        .map_err(exec_error)?
    else {
        return None.internal("exec started detached");
    };
    let mut stdout = Capped::default();
    let mut stderr = Capped::default();
    while let Some(frame) = output.next().await {
        match frame.map_err(exec_error)? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => stdout.push(&message),
            LogOutput::StdErr { message } => stderr.push(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok((stdout, stderr))
}

/// `GATEWAY_TIMEOUT` for an exec that ran past `timeout`, after killing it when
/// possible (the message says which).
async fn timed_out(
    docker: &bollard::Docker,
    exec_id: &str,
    container_id: &str,
    timeout: Duration,
) -> Error {
    let killed = kill_exec(docker, exec_id, container_id).await;
    let what = if killed {
        "it was killed"
    } else {
        "it was abandoned and may still be running"
    };
    Error::new(
        ErrorCode::GatewayTimeout,
        format!(
            "command did not finish within {}s; {what}",
            timeout.as_secs()
        ),
    )
}

/// The engine's answer to a bad exec (no such program, bad workdir) is a 4xx/500
/// naming the problem: a 400 for the caller. Connection trouble stays 503.
fn exec_error(e: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code: 409,
            message,
        } => Error::conflict(message),
        B::DockerResponseServerError {
            status_code: 400 | 500,
            message,
        } => Error::validation(format!("Docker could not run the command: {message}")),
        other => crate::docker::map_err(other),
    }
}

/// Output kept up to [`MAX_OUTPUT_BYTES`]; the rest is read and dropped.
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Capped {
    fn push(&mut self, chunk: &[u8]) {
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.bytes.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

/// The exit code once the engine has recorded it (it may lag the end of the output
/// stream by a few milliseconds).
async fn exit_code(docker: &bollard::Docker, exec_id: &str) -> Result<i64> {
    for _ in 0..50 {
        let info = docker
            .inspect_exec(&crate::docker::path_segment(exec_id))
            .await
            .map_err(crate::docker::map_err)?;
        if info.running != Some(true)
            && let Some(code) = info.exit_code
        {
            return Ok(code);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None.internal(format!(
        "exec {exec_id} ended its output but reports no exit code"
    ))
}

/// Kills the exec when the request is dropped before the command finished.
struct KillOnDrop {
    app: Option<(
        tokio_util::task::TaskTracker,
        bollard::Docker,
        String,
        String,
    )>,
}

impl KillOnDrop {
    fn disarm(&mut self) {
        self.app = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some((tasks, docker, exec_id, container_id)) = self.app.take() {
            tasks.spawn(async move {
                let killed = kill_exec(&docker, &exec_id, &container_id).await;
                tracing::info!(exec = %exec_id, killed, "exec request dropped by its client");
            });
        }
    }
}

/// Kills the exec's process and its descendants with SIGKILL when they are visible
/// from here and belong to `container_id`. Returns whether anything was killed.
async fn kill_exec(docker: &bollard::Docker, exec_id: &str, container_id: &str) -> bool {
    let Ok(info) = docker
        .inspect_exec(&crate::docker::path_segment(exec_id))
        .await
    else {
        return false;
    };
    let Some(pid) = info.pid.filter(|p| *p > 0) else {
        return false;
    };
    let container_id = container_id.to_string();
    tokio::task::spawn_blocking(move || proc_tree::kill_tree(pid as i32, &container_id))
        .await
        .unwrap_or(false)
}

/// Process-tree helpers over `/proc` (Linux).
mod proc_tree {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    /// Parent pid of `pid` from `/proc/<pid>/stat` (the field after the `)` of comm).
    pub(super) fn ppid(pid: i32) -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split_whitespace().nth(1)?.parse().ok()
    }

    fn in_container(pid: i32, container_id: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.contains(container_id))
    }

    /// SIGKILLs `root` and every descendant, after checking `root` runs in the
    /// container (so a recycled pid is never hit).
    pub fn kill_tree(root: i32, container_id: &str) -> bool {
        if !in_container(root, container_id) {
            return false;
        }
        let mut tree = vec![root];
        let all: Vec<i32> = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let parents: Vec<(i32, i32)> = all.iter().filter_map(|p| Some((*p, ppid(*p)?))).collect();
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(
                parents
                    .iter()
                    .filter(|(_, pp)| *pp == parent)
                    .map(|(p, _)| *p),
            );
            i += 1;
        }
        let mut killed = false;
        for pid in tree {
            if in_container(pid, container_id) {
                killed |= kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok();
            }
        }
        killed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> Result<ExecRequest> {
        let r: ExecRequest = crate::http::extract::parse_json(v.to_string().as_bytes())?;
        r.validate().map(|_| r)
    }

    #[test]
    fn validation_names_the_field() {
        use serde_json::json;
        assert!(req(json!({"command": ["echo", "hi"]})).is_ok());
        for (body, field) in [
            (json!({"command": []}), "command"),
            (json!({"command": [""]}), "command"),
            (json!({"command": ["a"], "timeout_s": 0}), "timeout_s"),
            (json!({"command": ["a"], "timeout_s": 601}), "timeout_s"),
            (json!({"command": ["a"], "replica": 0}), "replica"),
            (json!({"command": ["a"], "env": {"1X": "y"}}), "env.1X"),
            (json!({"command": ["a"], "workdir": "tmp"}), "workdir"),
            (json!({"command": ["a"], "shell": true}), "shell"),
            (json!({"command": "echo"}), "command"),
        ] {
            let e = req(body.clone()).unwrap_err();
            assert_eq!(e.details[0].field, field, "{body}");
        }
    }

    #[test]
    fn output_is_capped() {
        let mut c = Capped::default();
        c.push(&vec![b'a'; MAX_OUTPUT_BYTES - 1]);
        assert!(!c.truncated);
        c.push(b"bc");
        assert!(c.truncated);
        assert_eq!(c.bytes.len(), MAX_OUTPUT_BYTES);
    }

    #[test]
    fn reads_parent_pids() {
        let me = std::process::id() as i32;
        assert_eq!(
            proc_tree::ppid(me),
            Some(std::os::unix::process::parent_id() as i32)
        );
        assert!(
            !proc_tree::kill_tree(me, "not-a-container-id"),
            "never outside the container"
        );
    }
}
