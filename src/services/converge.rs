//! Bringing a service's containers to its spec: recreating out-of-date ones, creating
//! missing replicas, stopping and removing, and watching fresh containers for an
//! immediate failure.

use super::env::resolve_env;
use super::model::ServiceSpec;
use super::runtime::{self, Observed};
use crate::app::App;
use crate::error::{Error, Result};
use bollard::Docker;
use std::collections::HashMap;

/// Removes every container labelled with `service_id`, looking again until none is
/// left: a create or start cut off half-way may still be finishing inside Docker, and a
/// container that is starting refuses removal for a moment.
pub(super) async fn remove_service_containers(docker: &Docker, service_id: &str) {
    for attempt in 0..10 {
        match runtime::service_containers(docker, service_id).await {
            Ok(cs) if cs.is_empty() => return,
            Ok(cs) => {
                let ids: Vec<String> = cs.into_iter().map(|c| c.id).collect();
                remove_all(docker, &ids).await;
            }
            Err(e) => {
                tracing::warn!(service = %service_id, error = %e, "could not list containers to undo a failed create");
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
    }
    tracing::warn!(service = %service_id, "containers of a failed create are still there after retries");
}

/// How long a newly created service's containers are watched after start for an
/// immediate failure (with an init process as PID 1, a command that does not exist
/// makes the container exit with 127 just after Docker reported the start).
const START_SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// `VALIDATION_ERROR` (field `command`) when a just-started container exits with a
/// non-zero code within [`START_SETTLE`].
pub(super) async fn settle(docker: &Docker, ids: &[String]) -> Result<()> {
    let deadline = tokio::time::Instant::now() + START_SETTLE;
    loop {
        for c in ids {
            if let Some(o) = runtime::inspect(docker, c).await?
                && !o.running
                && o.exit_code.is_some_and(|code| code != 0)
            {
                let code = o.exit_code.unwrap_or_default();
                return Err(Error::validation(format!(
                    "container {} exited right after start with code {code}",
                    o.name
                ))
                .with_detail("command", format!("exited with code {code}")));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Stops (and with `remove`, removes) containers concurrently, each within
/// `docker.stop_timeout_s`.
pub(super) async fn stop_all(
    app: &App,
    docker: &Docker,
    containers: &[Observed],
    remove: bool,
) -> Result<()> {
    let timeout = app.settings.docker.stop_timeout_s;
    futures::future::try_join_all(containers.iter().map(|c| async move {
        runtime::stop_container(docker, &c.id, timeout).await?;
        if remove {
            runtime::remove_container(docker, &c.id).await?;
        }
        Ok::<(), Error>(())
    }))
    .await?;
    Ok(())
}

/// Removes the containers `ids`, logging (not returning) what fails: for undoing.
pub(super) async fn remove_all(docker: &Docker, ids: &[String]) {
    for c in ids {
        if let Err(e) = runtime::remove_container(docker, c).await {
            tracing::warn!(container = %c, error = %e, "could not remove container while undoing a failed operation");
        }
    }
}

/// Brings the containers of a service to its spec: removes containers that are out of
/// date (config hash or name changed) or beyond `replicas`, creates the missing
/// replicas, and when `run` starts every container. Containers created here are removed
/// again if a later step fails. Returns the containers afterwards.
pub(super) async fn converge(
    app: &App,
    docker: &Docker,
    id: &str,
    spec: &ServiceSpec,
    run: bool,
) -> Result<Vec<Observed>> {
    let network = &app.settings.docker.network;
    let want_hash = runtime::config_hash(spec, network);
    let existing = runtime::service_containers(docker, id).await?;
    let mut kept: HashMap<u32, Observed> = HashMap::new();
    for c in existing {
        let current = match c.replica {
            Some(n) => {
                n >= 1
                    && n <= spec.replicas
                    && c.config_hash.as_deref() == Some(want_hash.as_str())
                    && c.name == runtime::container_name(&spec.name, n)
                    && !kept.contains_key(&n)
            }
            None => false,
        };
        if current {
            kept.insert(c.replica.unwrap_or_default(), c);
        } else {
            runtime::stop_container(docker, &c.id, app.settings.docker.stop_timeout_s).await?;
            runtime::remove_container(docker, &c.id).await?;
        }
    }
    runtime::ensure_network(docker, network).await?;
    let mut made = Vec::new();
    // Resolved only if a container has to be created.
    let mut env: Option<runtime::ResolvedEnv> = None;
    let r: Result<()> = async {
        for n in 1..=spec.replicas {
            match kept.get(&n) {
                Some(c) if c.running || !run => {}
                Some(c) => runtime::start_container(docker, &c.id).await?,
                None => {
                    let env = match &env {
                        Some(env) => env,
                        None => env.insert(resolve_env(app, spec).await?),
                    };
                    let cid = runtime::create_container(docker, id, spec, env, n, network).await?;
                    made.push(cid.clone());
                    if run {
                        runtime::start_container(docker, &cid).await?;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = r {
        remove_all(docker, &made).await;
        return Err(e);
    }
    runtime::service_containers(docker, id).await
}
