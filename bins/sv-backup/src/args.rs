//! Command-line arguments of the subcommands.

use std::path::PathBuf;

use clap::Args;
use sv_cli::CloudflareArgs;

/// `sv-backup create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// age recipient (`age1…`); repeatable. Default: `backup.recipients` of sv.yaml
    #[arg(long = "recipient", value_name = "AGE1…")]
    pub recipients: Vec<String>,
    /// File of age recipients, one per line (`#` comments allowed)
    #[arg(long, value_name = "FILE", conflicts_with = "recipients")]
    pub recipients_file: Option<PathBuf>,
    /// Encrypt with a passphrase (age scrypt) read from the environment variable VAR
    /// instead of recipients; never give the passphrase itself as a flag
    #[arg(long, value_name = "VAR", conflicts_with_all = ["recipients", "recipients_file"])]
    pub passphrase_env: Option<String>,
    /// Directory the archive and its `.sha256` are written to
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Resolve what would be backed up and print it; write nothing, call no API
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// How to decrypt an archive.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// age identity file (from `age-keygen`); else the key text in SV_BACKUP_IDENTITY
    #[arg(long, value_name = "KEYFILE")]
    pub identity: Option<PathBuf>,
    /// For archives made with a passphrase: the environment variable holding it
    #[arg(long, value_name = "VAR", conflicts_with = "identity")]
    pub passphrase_env: Option<String>,
}

/// `sv-backup verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The `.tar.gz.age` archive
    pub archive: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `sv-backup plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The `.tar.gz.age` archive
    pub archive: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Restore only these resources: `KIND:NAME` (`kv:sessions`, `d1:main`), or a kind
    /// (`r2`, `dns`, `worker`, `state`); repeatable. Default: everything in the archive
    #[arg(long = "only", value_name = "KIND:NAME")]
    pub only: Vec<String>,
    /// Environment to restore into (names resolved with its prefix). Default: the one the
    /// backup was taken from
    #[arg(long, value_name = "ENV")]
    pub target_env: Option<String>,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// `sv-backup restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print the recovery plan and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long)]
    pub yes: bool,
}

/// `sv-backup list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory holding `*.tar.gz.age` archives
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Key to read each archive's manifest (environment, resources); without one only
    /// file facts are listed
    #[command(flatten)]
    pub key: KeyArgs,
}
