//! `mcpd backup create|list|verify|restore`: the same backups with the daemon stopped,
//! for disaster recovery onto a fresh machine.

use super::archive::{self, Unseal};
use super::restore;
use crate::app::App;
use crate::config::Config;
use crate::vault::key;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Secrets that open an archive, from files or `MCPD_BACKUP_PASSPHRASE`, else from the
/// config's `backups.passphrase_file` / `backups.identity_file`.
pub fn unseal(
    config: &Config,
    passphrase_file: Option<&Path>,
    identity_file: Option<&Path>,
) -> anyhow::Result<Unseal> {
    let read = |p: &Path| -> anyhow::Result<age::secrecy::SecretString> {
        let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        Ok(s.trim_end_matches(['\r', '\n']).to_string().into())
    };
    let passphrase = match passphrase_file.or(config.backups.passphrase_file.as_deref()) {
        Some(p) => Some(read(p)?),
        None => crate::config::secret_from_env("MCPD_BACKUP_PASSPHRASE")?.map(Into::into),
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
/// atomically. With `dry_run` only reports.
pub fn restore(
    config: &Config,
    file: &Path,
    unseal: &Unseal,
    key_file: Option<&Path>,
    dry_run: bool,
) -> anyhow::Result<restore::Report> {
    let data_dir = &config.server.data_dir;
    crate::fsutil::create_private_dir(data_dir)?;
    let backups_dir = config.backups.dir(data_dir);
    std::fs::create_dir_all(&backups_dir)?;
    let staging = backups_dir.join(format!(".staging-restore-{}", crate::ids::random_alnum(8)));
    let staged = restore::stage(file, unseal, staging, true)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let live_db = data_dir.join(crate::app::DB_FILE);
    let mut report = restore::compare(&staged, &live_db, dry_run)
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
    if dry_run {
        return Ok(report);
    }
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
    restore::apply(&staged, &live_db).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    report.applied = true;
    Ok(report)
}

/// `mcpd backup create`: one backup with the daemon stopped; prints the archive path.
pub async fn create(
    config: Config,
    opts: super::BackupOptions,
    passphrase_file: Option<&Path>,
    recipient: Option<String>,
) -> anyhow::Result<super::Backup> {
    let app = App::open(config).await?;
    let passphrase = passphrase_file
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string());
    let seal = super::choose_seal(&app, opts.encrypt, passphrase, recipient)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let b = super::create(&app, &crate::audit::Actor::system(), opts, seal, None)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    app.tasks.close();
    app.tasks.wait().await;
    let b = super::get(&app, &b.id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    app.store.checkpoint().await.ok();
    if b.status != "completed" {
        bail!("backup failed: {}", b.error.unwrap_or_default());
    }
    Ok(b)
}
