use clap::Parser;
use mcpd::cli::{AdminCommand, Cli, Command, VaultCommand};
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
    mcpd::telemetry::init(&config.log);
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
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve { .. } => {
                let loader = cli.clone();
                mcpd::app::serve(config, Box::new(move || loader.load_config())).await
            }
            Command::Init => mcpd::app::App::open(config)
                .await
                .map(|_| println!("initialised")),
            Command::Admin {
                command: AdminCommand::ResetPassword { user },
            } => {
                let app = mcpd::app::App::open(config).await?;
                let password = mcpd::users::reset_password(&app.store, &user).await?;
                println!("{password}");
                Ok(())
            }
            Command::Vault {
                command: VaultCommand::RotateKey,
            } => {
                let app = mcpd::app::App::open(config).await?;
                let (old, new, n) = app.vault.rotate(&app.store).await?;
                println!("master key rotated: {old} -> {new}, {n} values re-sealed");
                Ok(())
            }
            Command::Version | Command::Configtest => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("mcpd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
