//! Domain entry points for services: create, read, change, run and remove, each
//! bringing Docker to the desired state stored in SQLite and auditing the change.
//!
//! Every function takes an id or a unique name. Operations on one service are
//! serialised by a per-service lock so that, say, a delete cannot interleave with a
//! start. Docker being down gives `DOCKER_UNAVAILABLE` for every operation that needs
//! it, while [`get`] and [`list`] still answer from the database with the status last
//! observed.

use super::model::{MAX_REPLICAS, Service, ServiceSpec};
use super::runtime::{self, Observed};
use super::store::{self, Row};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::docker::Engine;
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, Page};
use bollard::Docker;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// `desired_state` of a service that should run.
pub const DESIRED_RUNNING: &str = "running";
/// `desired_state` of a service that should not run.
pub const DESIRED_STOPPED: &str = "stopped";

type ServiceLock = Arc<tokio::sync::Mutex<()>>;
static LOCKS: LazyLock<Mutex<HashMap<String, ServiceLock>>> = LazyLock::new(Default::default);

/// Serialises operations on one service (keyed by id, or by name while creating).
pub(super) async fn lock(key: &str) -> tokio::sync::OwnedMutexGuard<()> {
    let m = {
        let mut map = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        // Drop entries nobody holds, so the map does not grow with deleted services.
        map.retain(|_, v| Arc::strong_count(v) > 1);
        map.entry(key.to_string()).or_default().clone()
    };
    m.lock_owned().await
}

/// Builds the API shape from a row and, when Docker answered, its containers.
fn to_service(row: Row, observed: Option<&[Observed]>) -> Service {
    let (status, containers, engine) = match observed {
        Some(obs) => (
            runtime::derive_status(&row.desired_state, row.spec.replicas, obs),
            obs.iter().map(Observed::info).collect(),
            Engine::Available,
        ),
        None => (row.status.clone(), Vec::new(), Engine::Unavailable),
    };
    let s = row.spec;
    Service {
        id: row.id,
        name: s.name,
        image: s.image,
        command: s.command,
        env: s.env,
        ports: s.ports,
        volumes: s.volumes,
        networks: s.networks,
        labels: s.labels,
        resources: s.resources,
        health_check: s.health_check,
        replicas: s.replicas,
        restart_policy: s.restart_policy,
        status,
        engine,
        desired_state: row.desired_state,
        managed_by: s.managed_by,
        containers,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn load(app: &App, id_or_name: &str) -> Result<Row> {
    let key = id_or_name.to_string();
    app.store.read(move |c| store::get(c, &key)).await
}

/// Every `${secret:<key>}` in the env must name an existing config entry
/// (`VALIDATION_ERROR` on field `env.<VAR>` otherwise).
async fn check_env_refs(app: &App, spec: &ServiceSpec) -> Result<()> {
    let env = spec.env.clone();
    app.store
        .read(move |c| crate::configuration::refs::check(c, "env", &env))
        .await
}

/// Whether any env value refers to a config entry.
fn has_secret_refs(spec: &ServiceSpec) -> bool {
    spec.env
        .values()
        .any(|v| !crate::configuration::refs::referenced_keys(v).is_empty())
}

/// The env with its `${secret:…}` references resolved, for creating containers.
async fn resolve_env(app: &App, spec: &ServiceSpec) -> Result<runtime::ResolvedEnv> {
    let (env, vault) = (spec.env.clone(), app.vault.clone());
    app.store
        .read(move |c| crate::configuration::refs::resolve(c, &vault, &env))
        .await
}

/// Records the observed status and the audit entry of an operation in one transaction.
pub(super) async fn finish(
    app: &App,
    actor: &Actor,
    action: &'static str,
    id: &str,
    status: Option<String>,
    outcome: &Result<()>,
) -> Result<()> {
    let actor = actor.clone();
    let mut entry = Entry::new(action).on("service", id);
    if let Err(e) = outcome {
        entry = entry
            .failed()
            .details(serde_json::json!({"error": e.code.as_str()}));
    }
    let id = id.to_string();
    app.store
        .write(move |tx| {
            if let Some(s) = &status {
                store::set_status(tx, &id, s)?;
            }
            audit::record(tx, &actor, &entry)
        })
        .await
}

/// The service's containers and status now, or `None` (status as last stored) when
/// Docker does not answer.
async fn observe(app: &App, row: &Row) -> Option<Vec<Observed>> {
    let docker = app.docker.get().await.ok()?;
    match runtime::service_containers(&docker, &row.id).await {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::debug!(service = %row.id, error = %e, "containers not observable; using last known status");
            None
        }
    }
}

/// Creates a service: validates `spec` (400 naming the field; 409
/// `RESOURCE_ALREADY_EXISTS` for a taken name; image must exist locally), creates its
/// containers (`mcpd-<name>-<n>`) on the managed network and, when `start`, starts them
/// and returns once Docker reports them running. Any failure removes every container
/// made and stores nothing.
pub async fn create(
    app: &App,
    actor: &Actor,
    mut spec: ServiceSpec,
    start: bool,
) -> Result<Service> {
    spec.validate()?;
    check_env_refs(app, &spec).await?;
    let _guard = lock(&format!("name:{}", spec.name)).await;
    let name = spec.name.clone();
    if app
        .store
        .read(move |c| store::find(c, &name))
        .await?
        .is_some()
    {
        return Err(Error::already_exists("service", &spec.name));
    }
    let docker = app.docker.get().await?;
    runtime::check_image(&docker, &spec.image).await?;
    runtime::check_networks(&docker, &spec.networks).await?;
    let network = app.settings.docker.network.clone();
    runtime::ensure_network(&docker, &network).await?;

    let env = resolve_env(app, &spec).await?;
    let id = crate::ids::new_id("svc");
    // Events about the new containers wait until the row exists.
    let _id_guard = lock(&id).await;
    let undo = UndoCreate {
        docker: docker.clone(),
        service_id: id.clone(),
        armed: true,
    };
    let mut made = Vec::new();
    let realised: Result<()> = async {
        for n in 1..=spec.replicas {
            made.push(runtime::create_container(&docker, &id, &spec, &env, n, &network).await?);
        }
        if start {
            for c in &made {
                runtime::start_container(&docker, c).await?;
            }
            settle(&docker, &made).await?;
        }
        Ok(())
    }
    .await;
    let observed = match realised {
        Ok(()) => runtime::service_containers(&docker, &id).await,
        Err(e) => Err(e),
    };
    let observed = match observed {
        Ok(o) => o,
        Err(e) => {
            undo.now().await;
            audit_failure(app, actor, "services.create", &spec.name, &e).await;
            return Err(e);
        }
    };
    let desired = if start {
        DESIRED_RUNNING
    } else {
        DESIRED_STOPPED
    };
    let now = crate::time::now_rfc3339();
    let row = Row {
        id: id.clone(),
        status: runtime::derive_status(desired, spec.replicas, &observed),
        spec,
        desired_state: desired.to_string(),
        created_by: actor.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    let stored = row.clone();
    let actor2 = actor.clone();
    let inserted = app
        .store
        .write(move |tx| {
            store::insert(tx, &stored)?;
            audit::record(
                tx,
                &actor2,
                &Entry::new("services.create")
                    .on("service", &stored.id)
                    .details(serde_json::json!({
                        "name": stored.spec.name,
                        "image": stored.spec.image,
                        "replicas": stored.spec.replicas,
                        "start": start,
                    })),
            )
        })
        .await;
    if let Err(e) = inserted {
        undo.now().await;
        return Err(e);
    }
    undo.keep();
    tracing::info!(service = %row.spec.name, id = %row.id, "service created");
    Ok(to_service(row, Some(&observed)))
}

/// Removes every container of a service whose create did not complete: on a failure,
/// and also when the create's future is dropped half-way (the client went away), so
/// no container is left without a row.
struct UndoCreate {
    docker: Docker,
    service_id: String,
    armed: bool,
}

impl UndoCreate {
    async fn now(mut self) {
        self.armed = false;
        remove_service_containers(&self.docker, &self.service_id).await;
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for UndoCreate {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.service_id));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                // A Docker call cut off with the future may still complete inside the
                // engine: give it a moment to show up before looking.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                remove_service_containers(&docker, &id).await
            });
        }
    }
}

/// Removes every container labelled with `service_id`, looking again until none is
/// left: a create or start cut off half-way may still be finishing inside Docker, and a
/// container that is starting refuses removal for a moment.
async fn remove_service_containers(docker: &Docker, service_id: &str) {
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
async fn settle(docker: &Docker, ids: &[String]) -> Result<()> {
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

async fn remove_all(docker: &Docker, ids: &[String]) {
    for c in ids {
        if let Err(e) = runtime::remove_container(docker, c).await {
            tracing::warn!(container = %c, error = %e, "could not remove container while undoing a failed operation");
        }
    }
}

/// Audits a failed operation that has no row to attach to (create).
async fn audit_failure(app: &App, actor: &Actor, action: &'static str, name: &str, e: &Error) {
    let outcome = Entry::new(action)
        .on_any("service", None)
        .details(serde_json::json!({"name": name, "error": e.code.as_str()}))
        .failed();
    audit::record_alone(&app.store, actor.clone(), outcome).await;
}

/// The service with this id or name (`RESOURCE_NOT_FOUND` otherwise), its containers
/// and status read from Docker; while Docker is down, the last known status and no
/// containers.
pub async fn get(app: &App, id_or_name: &str) -> Result<Service> {
    let row = load(app, id_or_name).await?;
    let observed = observe(app, &row).await;
    Ok(to_service(row, observed.as_deref()))
}

/// One page of services matching `query` (filters `status`, `name`, `image`,
/// `desired_state`, `created_at`, `updated_at`). Containers come from one Docker
/// listing; while Docker is down they are empty and status is the last known.
pub async fn list(app: &App, query: ListQuery) -> Result<Page<Service>> {
    let page = app.store.read(move |c| store::list(c, &query)).await?;
    let ids = page.items.iter().map(|r| r.id.clone()).collect();
    let all = match app.docker.get().await {
        Ok(d) => runtime::containers_of(&d, &ids).await.ok(),
        Err(_) => None,
    };
    Ok(page.map(|row| match &all {
        Some(all) => {
            let mine: Vec<Observed> = all
                .iter()
                .filter(|c| c.service_id.as_deref() == Some(row.id.as_str()))
                .cloned()
                .collect();
            to_service(row, Some(&mine))
        }
        None => to_service(row, None),
    }))
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

/// Sets the desired state to running and starts the containers (creating missing or
/// out-of-date ones); returns once Docker reports them running. When the env refers to
/// secrets, stopped containers are created afresh so they start with current values.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "start"))]
pub async fn start(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.start",
        Some(DESIRED_RUNNING),
        false,
    )
    .await
}

/// Sets the desired state to stopped and stops every container (SIGTERM, then SIGKILL
/// after `docker.stop_timeout_s`).
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "stop"))]
pub async fn stop(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.stop",
        Some(DESIRED_STOPPED),
        false,
    )
    .await
}

/// Stops then starts every container (created afresh when the env refers to secrets);
/// the desired state becomes running.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "restart"))]
pub async fn restart(app: &App, actor: &Actor, id_or_name: &str) -> Result<Service> {
    run_op(
        app,
        actor,
        id_or_name,
        "services.restart",
        Some(DESIRED_RUNNING),
        true,
    )
    .await
}

async fn run_op(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    action: &'static str,
    desired: Option<&'static str>,
    stop_first: bool,
) -> Result<Service> {
    let row = load(app, id_or_name).await?;
    let _guard = lock(&row.id).await;
    let mut row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    if let Some(d) = desired {
        let (id, now) = (row.id.clone(), crate::time::now_rfc3339());
        app.store
            .write(move |tx| store::set_desired_state(tx, &id, d, &now))
            .await?;
        row.desired_state = d.to_string();
    }
    let outcome: Result<Vec<Observed>> = async {
        if stop_first || row.desired_state == DESIRED_STOPPED {
            let containers = runtime::service_containers(&docker, &row.id).await?;
            stop_all(app, &docker, &containers, false).await?;
        }
        if row.desired_state == DESIRED_RUNNING {
            if has_secret_refs(&row.spec) {
                // Docker fixes a container's env when it is created: containers that
                // are about to start are made again so they get the secrets' values
                // as of now.
                let stopped: Vec<Observed> = runtime::service_containers(&docker, &row.id)
                    .await?
                    .into_iter()
                    .filter(|c| !c.running)
                    .collect();
                stop_all(app, &docker, &stopped, true).await?;
            }
            converge(app, &docker, &row.id, &row.spec, true).await
        } else {
            runtime::service_containers(&docker, &row.id).await
        }
    }
    .await;
    let (status, result) = match &outcome {
        Ok(obs) => (
            Some(runtime::derive_status(
                &row.desired_state,
                row.spec.replicas,
                obs,
            )),
            Ok(()),
        ),
        Err(e) => (None, Err(Error::new(e.code, e.message.clone()))),
    };
    finish(app, actor, action, &row.id, status, &result).await?;
    let obs = outcome?;
    let row = load(app, &row.id).await?;
    Ok(to_service(row, Some(&obs)))
}

/// Changes the number of containers (0..=20): adds or removes the highest-numbered
/// ones (added ones are started when the service runs).
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "scale"))]
pub async fn scale(app: &App, actor: &Actor, id_or_name: &str, replicas: u32) -> Result<Service> {
    if replicas > MAX_REPLICAS {
        return Err(Error::field(
            "replicas",
            format!("must be 0-{MAX_REPLICAS}"),
        ));
    }
    let row = load(app, id_or_name).await?;
    let mut spec = row.spec.clone();
    spec.replicas = replicas;
    spec.validate()?;
    update_inner(app, actor, row, spec, "services.scale").await
}

/// Replaces the desired state with `spec` (validated like create; a new name must be
/// free; the caller decides `stdin_open` and `managed_by`, see [`spec`]). Containers
/// whose configuration changed are recreated (and started again when the service
/// runs). If Docker refuses the new configuration the previous one is restored and the
/// error returned.
pub async fn update(
    app: &App,
    actor: &Actor,
    id_or_name: &str,
    mut spec: ServiceSpec,
) -> Result<Service> {
    spec.validate()?;
    check_env_refs(app, &spec).await?;
    let row = load(app, id_or_name).await?;
    if spec.name != row.spec.name {
        let name = spec.name.clone();
        if app
            .store
            .read(move |c| store::find(c, &name))
            .await?
            .is_some()
        {
            return Err(Error::already_exists("service", &spec.name));
        }
    }
    update_inner(app, actor, row, spec, "services.update").await
}

async fn update_inner(
    app: &App,
    actor: &Actor,
    row: Row,
    spec: ServiceSpec,
    action: &'static str,
) -> Result<Service> {
    let _guard = lock(&row.id).await;
    let row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    if spec.image != row.spec.image {
        runtime::check_image(&docker, &spec.image).await?;
    }
    runtime::check_networks(&docker, &spec.networks).await?;
    let before: std::collections::HashSet<String> = runtime::service_containers(&docker, &row.id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let run = row.desired_state == DESIRED_RUNNING;
    let (id, now) = (row.id.clone(), crate::time::now_rfc3339());
    let new = spec.clone();
    app.store
        .write(move |tx| store::update_spec(tx, &id, &new, &now))
        .await?;
    let outcome = match converge(app, &docker, &row.id, &spec, run).await {
        // New containers that die at once (a bad command) fail the change too.
        Ok(obs) if run => {
            let new: Vec<String> = obs
                .iter()
                .filter(|c| !before.contains(&c.id))
                .map(|c| c.id.clone())
                .collect();
            match settle(&docker, &new).await {
                Ok(()) => runtime::service_containers(&docker, &row.id).await,
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    let obs = match outcome {
        Ok(obs) => obs,
        Err(e) => {
            // Put the previous desired state back, in the database and in Docker.
            let (id, old) = (row.id.clone(), row.spec.clone());
            let restored = app
                .store
                .write(move |tx| store::update_spec(tx, &id, &old, &row.updated_at))
                .await;
            if let Err(re) = restored {
                tracing::error!(error = %re, "could not restore a service's previous spec");
            } else if let Err(ce) = converge(app, &docker, &row.id, &row.spec, run).await {
                tracing::warn!(error = %ce, "could not restore a service's previous containers");
            }
            let failed = Err(Error::new(e.code, e.message.clone()));
            finish(app, actor, action, &row.id, None, &failed).await?;
            return Err(e);
        }
    };
    let status = runtime::derive_status(&row.desired_state, spec.replicas, &obs);
    finish(app, actor, action, &row.id, Some(status), &Ok(())).await?;
    let row = load(app, &row.id).await?;
    Ok(to_service(row, Some(&obs)))
}

/// Stops and removes every container of the service, then its row. Nothing is
/// orphaned: if Docker fails (or is down, `DOCKER_UNAVAILABLE`) the row stays.
#[tracing::instrument(name = "service", skip_all, fields(service = %id_or_name, op = "delete"))]
pub async fn delete(app: &App, actor: &Actor, id_or_name: &str) -> Result<()> {
    let row = load(app, id_or_name).await?;
    let _guard = lock(&row.id).await;
    let row = load(app, &row.id).await?;
    let docker = app.docker.get().await?;
    let containers = runtime::service_containers(&docker, &row.id).await?;
    // Readers see `removing` while the containers go.
    let id = row.id.clone();
    app.store
        .write(move |tx| store::set_status(tx, &id, "removing"))
        .await?;
    let removed: Result<()> = async {
        stop_all(app, &docker, &containers, true).await?;
        // Containers made meanwhile (none expected under the lock) go too.
        let rest = runtime::service_containers(&docker, &row.id).await?;
        stop_all(app, &docker, &rest, true).await
    }
    .await;
    if let Err(e) = removed {
        let failed = Err(Error::new(e.code, e.message.clone()));
        // Back to the last status; the events watcher corrects it from Docker.
        let status = Some(row.status.clone());
        finish(app, actor, "services.delete", &row.id, status, &failed).await?;
        return Err(e);
    }
    let (actor, id, name) = (actor.clone(), row.id.clone(), row.spec.name.clone());
    app.store
        .write(move |tx| {
            store::delete(tx, &id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("services.delete")
                    .on("service", &id)
                    .details(serde_json::json!({"name": name})),
            )
        })
        .await?;
    tracing::info!(service = %row.spec.name, id = %row.id, "service deleted");
    Ok(())
}

/// The stored desired state of a service (including the fields the HTTP body cannot
/// set, `stdin_open` and `managed_by`), for callers that change a few fields and pass
/// the result to [`update`].
pub async fn spec(app: &App, id_or_name: &str) -> Result<ServiceSpec> {
    Ok(load(app, id_or_name).await?.spec)
}
