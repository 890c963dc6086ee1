//! Command line: `mcpd serve | init | configtest | admin … | vault … | version`.

use crate::settings::{LogFormat, Overrides, Settings};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The parsed command line: global options and one subcommand.
#[derive(Parser, Debug, Clone)]
#[command(name = "mcpd", version, about = "Runs and governs MCP servers and the infrastructure around them", long_about = None)]
pub struct Cli {
    /// Settings file (default: /etc/mcpd/mcpd.toml when it exists).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory (overrides server.data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `mcpd`.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the daemon (the REST API on TLS).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8443; port 0 picks a free one.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Create the data dir, keys, TLS certificate and the admin user, then exit.
    Init,
    /// Validate the configuration and exit (0 when valid).
    Configtest,
    /// Offline administration (run with the daemon's data dir).
    Admin {
        /// The `admin` action.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Vault maintenance, offline (stop the daemon first: the database is written).
    Vault {
        /// The `vault` action.
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Backups with the daemon stopped (disaster recovery onto a fresh machine).
    Backup {
        /// The `backup` action.
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Print version, commit and build date.
    Version,
    /// Print the API's OpenAPI 3.1 document (as served at `/api/v1/openapi.json`).
    Openapi,
}

/// `mcpd backup …`: offline backups, with the daemon stopped.
#[derive(Subcommand, Debug, Clone)]
pub enum BackupCommand {
    /// Take a full backup of the data dir into the backups directory.
    Create {
        /// Encrypt with age (passphrase file, recipient, or the configured ones).
        #[arg(long)]
        encrypt: bool,
        /// File holding the age passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// age X25519 recipient (age1…).
        #[arg(long)]
        recipient: Option<String>,
        /// Put the vault master key into the (encrypted) archive.
        #[arg(long)]
        include_master_key: bool,
        /// Keep the request log in the copy and carry the daemon's log files (log.file).
        #[arg(long)]
        include_logs: bool,
        /// Leave out the effective configuration.
        #[arg(long)]
        no_config: bool,
    },
    /// List the backups recorded in the database.
    List,
    /// Check every file of an archive against its manifest.
    Verify {
        /// Archive to check (<id>.tar[.zst][.age]).
        file: PathBuf,
        /// File holding the age passphrase (else MCPD_BACKUP_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// age identity file (AGE-SECRET-KEY-1…).
        #[arg(long, value_name = "FILE")]
        identity_file: Option<PathBuf>,
    },
    /// Replace the data dir's database with the archive's (installing its master key
    /// when needed) and restore its service volumes (named volumes through Docker,
    /// bind mounts on disk); stop the daemon first.
    Restore {
        /// Archive to restore from (<id>.tar[.zst][.age]).
        file: PathBuf,
        /// File holding the age passphrase (else MCPD_BACKUP_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// age identity file (AGE-SECRET-KEY-1…).
        #[arg(long, value_name = "FILE")]
        identity_file: Option<PathBuf>,
        /// Master key file the archive's secrets are sealed with.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Report what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave service volumes alone (restore the database and key only).
        #[arg(long)]
        no_volumes: bool,
    },
}

/// `mcpd vault …`: offline vault maintenance.
#[derive(Subcommand, Debug, Clone)]
pub enum VaultCommand {
    /// Replace the master key: re-seal every stored secret with a new key in one
    /// transaction, then install the new key file. Back up the new key file afterwards.
    RotateKey,
}

/// `mcpd admin …`: offline administration.
#[derive(Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Set a new random password for USER, revoke their sessions, print the password.
    ResetPassword {
        /// Username or user id.
        user: String,
    },
}

impl Cli {
    /// Loads the configuration this invocation asks for.
    pub fn load_config(&self) -> anyhow::Result<Settings> {
        let listen = match &self.command {
            Command::Serve { listen } => *listen,
            _ => None,
        };
        Settings::load(
            self.config.as_deref(),
            std::env::vars(),
            &Overrides {
                data_dir: self.data_dir.clone(),
                listen,
                log_format: self.log_format,
            },
        )
    }
}
