//! `mcpd backup create|list|verify|restore`: the same backups with the daemon stopped,
//! for disaster recovery onto a fresh machine. A restore brings back the database, the
//! master key it needs, and (unless `--no-volumes`) the service volumes, through the
//! Docker engine, which keeps running while the daemon is down.

use super::archive::{self, Unseal};
use super::restore;
use crate::app::AppState;
use crate::settings::Settings;
use crate::vault::key;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Secrets that open an archive, from files or `MCPD_BACKUP_PASSPHRASE`, else from the
/// config's `backups.passphrase_file` / `backups.identity_file`.
pub fn unseal(
    config: &Settings,
    passphrase_file: Option<&Path>,
    identity_file: Option<&Path>,
) -> anyhow::Result<Unseal> {
    let read = |p: &Path| -> anyhow::Result<age::secrecy::SecretString> {
        let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        Ok(s.trim_end_matches(['\r', '\n']).to_string().into())
    };
    let passphrase = match passphrase_file.or(config.backups.passphrase_file.as_deref()) {
        Some(p) => Some(read(p)?),
        None => crate::settings::secret_from_env("MCPD_BACKUP_PASSPHRASE")?.map(Into::into),
    };
    let identity = identity_file
        .or(config.backups.identity_file.as_deref())
        .map(read)
        .transpose()?;
    Ok(Unseal {
        passphrase,
        identity,
    })
}

/// `mcpd backup verify FILE`: checks every file against the manifest; returns the
/// manifest.
pub fn verify(file: &Path, unseal: &Unseal) -> anyhow::Result<archive::Manifest> {
    archive::verify(file, unseal, None).map_err(|e| anyhow::anyhow!("{}", describe(&e)))
}

fn describe(e: &crate::error::Error) -> String {
    match &e.source {
        Some(s) => format!("{}: {s:#}", e.message),
        None => e.message.clone(),
    }
}

/// `mcpd backup restore FILE` onto `config`'s data dir (daemon stopped). Verifies the
/// archive, finds the master key its secrets are sealed with (`key_file`, the key inside
/// the archive, or the data dir's current key), installs that key when it differs (the
/// old file is kept as `master.key.pre-restore-<unix time>`), then replaces the database
/// atomically. With `volumes`, the archive's service volumes are restored too (see
/// [`locate_volumes`]): their contents replaced (an incremental archive's chain of
/// bases read from the backups directory), the old contents kept aside until the
/// database is in place and put back if anything fails. Running containers using them
/// are stopped for the swap and started again. With `dry_run` only reports.
pub async fn restore(
    config: &Settings,
    file: &Path,
    unseal: &Unseal,
    key_file: Option<&Path>,
    dry_run: bool,
    volumes: bool,
) -> anyhow::Result<restore::Report> {
    let (config2, file2, unseal2, key_file2) = (
        config.clone(),
        file.to_path_buf(),
        unseal.clone(),
        key_file.map(Path::to_path_buf),
    );
    let (staged, mut report, install) = tokio::task::spawn_blocking(move || {
        prepare(&config2, &file2, &unseal2, key_file2.as_deref(), dry_run)
    })
    .await??;
    let targets = if volumes && !staged.manifest.volumes.is_empty() {
        locate_volumes(config, &staged.manifest.volumes, dry_run).await?
    } else {
        Vec::new()
    };
    for t in &targets {
        let name = format!("{}:{}", t.entry.service, t.entry.source);
        if t.created {
            report.volumes.added.push(name);
        } else {
            report.volumes.changed.push(name);
        }
    }
    if dry_run {
        // Volumes a dry run would create were not created: nothing to undo.
        return Ok(report);
    }
    let chain = if targets.is_empty() {
        Vec::new()
    } else {
        let (dir, base, u) = (
            config.backups.dir(&config.server.data_dir),
            staged.manifest.base_backup_id.clone(),
            unseal.clone(),
        );
        tokio::task::spawn_blocking(move || stage_chain(&dir, base, &u)).await??
    };
    let mut running: Vec<String> = targets.iter().flat_map(|t| t.running.clone()).collect();
    running.sort();
    running.dedup();
    let docker = stop_containers(config, &running).await?;
    let config2 = config.clone();
    let applied =
        tokio::task::spawn_blocking(move || swap_in(&config2, staged, chain, &targets, install))
            .await?;
    // Whatever happened, what was running runs again.
    if let Some(d) = &docker {
        for id in &running {
            if let Err(e) = crate::services::runtime::start_container(d, id).await {
                eprintln!("mcpd: starting container {id} again: {}", describe(&e));
            }
        }
    }
    applied?;
    report.applied = true;
    report.containers_restarted = running;
    Ok(report)
}

/// Stops the running containers (if any) for the swap; returns the Docker client to
/// start them again with.
async fn stop_containers(
    config: &Settings,
    running: &[String],
) -> anyhow::Result<Option<bollard::Docker>> {
    if running.is_empty() {
        return Ok(None);
    }
    let d = docker(config).await?;
    for id in running {
        crate::services::runtime::stop_container(&d, id, 10)
            .await
            .map_err(|e| anyhow::anyhow!("stopping container {id}: {}", describe(&e)))?;
    }
    Ok(Some(d))
}

/// Replaces the volumes' contents with their layers (the chain of bases, then the
/// archive), then installs the key and the database; puts the old volume contents back
/// when that fails.
fn swap_in(
    config: &Settings,
    staged: restore::Staged,
    chain: Vec<restore::Staged>,
    targets: &[VolumeTarget],
    install: Option<key::MasterKey>,
) -> anyhow::Result<()> {
    let mut layered: Vec<&restore::Staged> = chain.iter().collect();
    layered.push(&staged);
    let mut pairs = Vec::new();
    for t in targets {
        let layers = restore::layers(&layered, &t.entry.service, &t.entry.source)
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
        pairs.push((layers, t.path.clone()));
    }
    let swapped =
        super::volumes::restore_layers(&pairs).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    match apply(config, &staged, install) {
        Ok(()) => {
            swapped.commit();
            Ok(())
        }
        Err(e) => {
            swapped.roll_back();
            Err(e)
        }
    }
}

/// Verifies and stages the archive, compares it with the live database, and finds the
/// master key to install (if any).
fn prepare(
    config: &Settings,
    file: &Path,
    unseal: &Unseal,
    key_file: Option<&Path>,
    dry_run: bool,
) -> anyhow::Result<(restore::Staged, restore::Report, Option<key::MasterKey>)> {
    let data_dir = &config.server.data_dir;
    crate::fsutil::create_private_dir(data_dir)?;
    let backups_dir = config.backups.dir(data_dir);
    std::fs::create_dir_all(&backups_dir)?;
    let staging = backups_dir.join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
    let staged = restore::stage(file, unseal, staging, true)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let live_db = data_dir.join(crate::app::DB_FILE);
    let report = restore::compare(&staged, &live_db, dry_run)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let source = key::locate(data_dir, config.vault.master_key_file.as_deref());
    let wanted =
        restore::staged_key_id(&staged).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let install = match &wanted {
        None => None,
        Some(kid) => {
            let mut candidates: Vec<PathBuf> = Vec::new();
            if let Some(k) = key_file {
                candidates.push(k.to_path_buf());
            }
            if let Some(k) = staged.master_key() {
                candidates.push(k);
            }
            let current = source
                .path
                .exists()
                .then(|| key::read(&source.path))
                .transpose()?;
            if current
                .as_ref()
                .is_some_and(|k| crate::vault::seal::key_id(k) == *kid)
            {
                None
            } else {
                let found = candidates
                    .iter()
                    .map(|p| key::read(p).map(|k| (p.clone(), k)))
                    .collect::<anyhow::Result<Vec<_>>>()?
                    .into_iter()
                    .find(|(_, k)| crate::vault::seal::key_id(k) == *kid);
                match found {
                    Some((_, k)) if source.create_if_missing => Some(k),
                    Some(_) => bail!(
                        "the archive's secrets need master key {kid}; install it at {} (configured key file) and run again",
                        source.path.display()
                    ),
                    None => bail!(
                        "the archive's secrets are sealed with master key {kid}, which is neither this data dir's key nor in the archive; give it with --key-file"
                    ),
                }
            }
        }
    };
    Ok((staged, report, install))
}

/// Installs the master key (when it differs) and swaps the database in.
fn apply(
    config: &Settings,
    staged: &restore::Staged,
    install: Option<key::MasterKey>,
) -> anyhow::Result<()> {
    let data_dir = &config.server.data_dir;
    let source = key::locate(data_dir, config.vault.master_key_file.as_deref());
    if let Some(k) = install {
        if source.path.exists() {
            let keep = PathBuf::from(format!(
                "{}.pre-restore-{}",
                source.path.display(),
                crate::time::unix_now()
            ));
            std::fs::rename(&source.path, &keep)
                .with_context(|| format!("keeping the old key as {}", keep.display()))?;
            println!("previous master key kept as {}", keep.display());
        }
        key::write(&source.path, &k)?;
    }
    restore::apply(staged, &data_dir.join(crate::app::DB_FILE))
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))
}

/// A volume of the archive, found (or, outside a dry run, created) on this host.
pub struct VolumeTarget {
    /// The archive's volume.
    pub entry: archive::VolumeEntry,
    /// The directory whose contents are replaced.
    pub path: PathBuf,
    /// It did not exist: a named volume created (empty) or a bind directory made.
    pub created: bool,
    /// Running containers using it (stopped during the swap, started again after).
    pub running: Vec<String>,
}

async fn docker(config: &Settings) -> anyhow::Result<bollard::Docker> {
    crate::docker::DockerClient::new(config.docker.host.clone())
        .get()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "restoring service volumes needs the Docker engine ({}); start it, or pass --no-volumes",
                describe(&e)
            )
        })
}

/// Finds each volume of the archive on this host: a named volume through Docker (its
/// mountpoint; created when missing, as on a fresh machine), a bind mount at its host
/// path (made when missing). With `dry_run` nothing is created.
pub async fn locate_volumes(
    config: &Settings,
    entries: &[archive::VolumeEntry],
    dry_run: bool,
) -> anyhow::Result<Vec<VolumeTarget>> {
    let docker = docker(config).await?;
    let mut out = Vec::new();
    for v in entries {
        let (path, created) = match v.kind.as_str() {
            "bind" => bind_dir(v, dry_run)?,
            _ => named_volume(&docker, v, dry_run).await?,
        };
        if !dry_run && !path.is_dir() {
            bail!(
                "{} ({}) is not a directory on this host",
                v.source,
                path.display()
            );
        }
        let running = running_using(&docker, &v.source).await?;
        out.push(VolumeTarget {
            entry: v.clone(),
            path,
            created,
            running,
        });
    }
    Ok(out)
}

/// A bind mount's host directory (made when missing, unless `dry_run`), and whether it
/// was missing.
fn bind_dir(v: &archive::VolumeEntry, dry_run: bool) -> anyhow::Result<(PathBuf, bool)> {
    let p = PathBuf::from(&v.source);
    if !p.is_absolute() {
        bail!("bind mount source {} is not an absolute path", v.source);
    }
    let missing = !p.exists();
    if missing && !dry_run {
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
    }
    Ok((p, missing))
}

/// A named volume's mountpoint (the volume created when missing, unless `dry_run`:
/// then the path is empty), and whether it was missing.
async fn named_volume(
    docker: &bollard::Docker,
    v: &archive::VolumeEntry,
    dry_run: bool,
) -> anyhow::Result<(PathBuf, bool)> {
    match docker
        .inspect_volume(&crate::docker::path_segment(&v.source))
        .await
    {
        Ok(vol) => Ok((PathBuf::from(vol.mountpoint), false)),
        Err(e) => {
            let e = crate::docker::map_err(e);
            if e.code != crate::error::ErrorCode::ResourceNotFound {
                bail!("inspecting volume {}: {}", v.source, describe(&e));
            }
            if dry_run {
                return Ok((PathBuf::new(), true));
            }
            let vol = docker
                .create_volume(bollard::models::VolumeCreateRequest {
                    name: Some(v.source.clone()),
                    ..Default::default()
                })
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "creating volume {}: {}",
                        v.source,
                        describe(&crate::docker::map_err(e))
                    )
                })?;
            Ok((PathBuf::from(vol.mountpoint), true))
        }
    }
}

/// Ids of the running containers using volume `source`.
async fn running_using(docker: &bollard::Docker, source: &str) -> anyhow::Result<Vec<String>> {
    let mut filters = std::collections::HashMap::new();
    filters.insert("volume".to_string(), vec![source.to_string()]);
    filters.insert("status".to_string(), vec!["running".to_string()]);
    Ok(docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "listing containers: {}",
                describe(&crate::docker::map_err(e))
            )
        })?
        .into_iter()
        .filter_map(|c| c.id)
        .collect())
}

/// Stages the base archives an incremental archive builds on, oldest (the full one)
/// first, found in the backups directory by id (`<id>.tar…`).
fn stage_chain(
    dir: &Path,
    mut next: Option<String>,
    unseal: &Unseal,
) -> anyhow::Result<Vec<restore::Staged>> {
    let mut chain = Vec::new();
    while let Some(id) = next.take() {
        if chain.len() > 1000 {
            bail!("the incremental chain does not end");
        }
        let prefix = format!("{id}.tar");
        let file = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .with_context(|| {
                format!(
                    "the archive builds on backup {id}, whose archive is not in {}; copy it there (or pass --no-volumes)",
                    dir.display()
                )
            })?;
        let staging = dir.join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
        let s = restore::stage(&file, unseal, staging, false)
            .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), describe(&e)))?;
        next = s.manifest.base_backup_id.clone();
        chain.push(s);
    }
    chain.reverse();
    Ok(chain)
}

/// `mcpd backup create`: one backup with the daemon stopped, on `app` opened by the
/// caller; waits for the app's tasks and returns the finished backup.
pub async fn create(
    app: &AppState,
    opts: super::BackupOptions,
    passphrase_file: Option<&Path>,
    recipient: Option<String>,
) -> anyhow::Result<super::Backup> {
    let passphrase = passphrase_file
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string());
    let seal = super::choose_seal(app, opts.encrypt, passphrase, recipient)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let b = super::create(app, &crate::audit::Actor::system(), opts, seal, None)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    app.tasks.close();
    app.tasks.wait().await;
    let b = super::get(app, &b.id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    app.store.checkpoint().await.ok();
    if b.status != "completed" {
        bail!("backup failed: {}", b.error.unwrap_or_default());
    }
    Ok(b)
}
