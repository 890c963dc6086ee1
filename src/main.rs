//! The `mcpd` binary: parses the command line, loads the settings, sets up logging and
//! the runtime, and runs one command (the daemon, or an offline admin command).

use clap::Parser;
use mcpd::backups::{BackupOptions, offline};
use mcpd::cli::{AdminCommand, BackupCommand, Cli, Command, VaultCommand};
use mcpd::settings::Settings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Everything the daemon writes (database, keys, backups) is private to its user.
    unsafe { libc::umask(0o077) };
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!(
            "mcpd {} (commit {}, built {})",
            env!("CARGO_PKG_VERSION"),
            env!("MCPD_GIT_COMMIT"),
            env!("MCPD_BUILD_DATE")
        );
        return ExitCode::SUCCESS;
    }
    if let Command::Openapi = cli.command {
        return match mcpd::daemon::document().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mcpd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mcpd: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Command::Configtest = cli.command {
        println!(
            "configuration OK (data_dir {}, listen {})",
            config.server.data_dir.display(),
            config.server.listen
        );
        return ExitCode::SUCCESS;
    }
    // Held to the end of main: dropping it flushes the log file.
    let _log_guard = match mcpd::telemetry::init(&config.log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("mcpd: {e:#}");
            return ExitCode::from(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("mcpd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that needs the runtime (every one but `version` and `configtest`).
async fn run(cli: Cli, config: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { .. } => {
            let loader = cli.clone();
            mcpd::daemon::serve(config, Box::new(move || loader.load_config())).await
        }
        Command::Init => mcpd::daemon::open(config)
            .await
            .map(|_| println!("initialised")),
        Command::Admin {
            command: AdminCommand::ResetPassword { user },
        } => {
            let app = mcpd::daemon::open(config).await?;
            let password = mcpd::users::reset_password(&app.store, &user).await?;
            println!("{password}");
            Ok(())
        }
        Command::Vault {
            command: VaultCommand::RotateKey,
        } => {
            let app = mcpd::daemon::open(config).await?;
            let (old, new, n) = app.vault.rotate(&app.store).await?;
            println!("master key rotated: {old} -> {new}, {n} values re-sealed");
            Ok(())
        }
        Command::Backup { command } => backup(config, command).await,
        Command::Version | Command::Configtest | Command::Openapi => Ok(()),
    }
}

/// `mcpd backup …`, with the daemon stopped.
async fn backup(config: Settings, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create {
            encrypt,
            passphrase_file,
            recipient,
            include_master_key,
            include_logs,
            no_config,
        } => {
            let opts = BackupOptions {
                encrypt,
                include_master_key,
                include_logs,
                include_config: !no_config,
                ..BackupOptions::default()
            };
            backup_create(config, opts, passphrase_file.as_deref(), recipient).await
        }
        BackupCommand::List => backup_list(config).await,
        BackupCommand::Verify {
            file,
            passphrase_file,
            identity_file,
        } => {
            let u = offline::unseal(
                &config,
                passphrase_file.as_deref(),
                identity_file.as_deref(),
            )?;
            backup_verify(file, u).await
        }
        BackupCommand::Restore {
            file,
            passphrase_file,
            identity_file,
            key_file,
            dry_run,
            no_volumes,
        } => {
            let u = offline::unseal(
                &config,
                passphrase_file.as_deref(),
                identity_file.as_deref(),
            )?;
            let r = offline::restore(
                &config,
                &file,
                &u,
                key_file.as_deref(),
                dry_run,
                !no_volumes,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            Ok(())
        }
    }
}

/// `mcpd backup create`: prints the archive's path, size and SHA-256.
async fn backup_create(
    config: Settings,
    opts: BackupOptions,
    passphrase_file: Option<&Path>,
    recipient: Option<String>,
) -> anyhow::Result<()> {
    let dir = config.backups.dir(&config.server.data_dir);
    let app = mcpd::daemon::open(config).await?;
    let b = offline::create(&app, opts, passphrase_file, recipient).await?;
    println!(
        "{} {} bytes sha256 {}",
        dir.join(b.file_name.unwrap_or_default()).display(),
        b.size_bytes.unwrap_or_default(),
        b.sha256.unwrap_or_default()
    );
    Ok(())
}

/// `mcpd backup list`: one line per backup (id, status, time, size, file).
async fn backup_list(config: Settings) -> anyhow::Result<()> {
    let app = mcpd::daemon::open(config).await?;
    let q = mcpd::store::list::ListQuery {
        limit: mcpd::store::list::MAX_LIMIT,
        ..Default::default()
    };
    let page = mcpd::backups::list(&app, q)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    for b in page.items {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            b.id,
            b.status,
            b.created_at,
            b.size_bytes.unwrap_or_default(),
            b.file_name.unwrap_or_default()
        );
    }
    Ok(())
}

/// `mcpd backup verify`: every file of the archive with its size and checksum (daemon
/// logs under `logs/daemon/`).
async fn backup_verify(
    file: PathBuf,
    unseal: mcpd::backups::archive::Unseal,
) -> anyhow::Result<()> {
    let m = tokio::task::spawn_blocking(move || offline::verify(&file, &unseal)).await??;
    println!(
        "OK: backup {} of {} (mcpd {}, schema {}), {} files verified",
        m.backup_id,
        m.created_at,
        m.mcpd_version,
        m.schema_version,
        m.files.len()
    );
    for f in &m.files {
        println!("  {}\t{} bytes\tsha256 {}", f.path, f.size_bytes, f.sha256);
    }
    Ok(())
}
