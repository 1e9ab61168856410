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
    /// Directory the archive and its `.sha256` are written to
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Resolve what would be backed up and print it; write nothing, call no API
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// `sv-backup verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The `.tar.gz.age` archive
    pub archive: PathBuf,
    /// age identity file (from `age-keygen`); else the key text in SV_BACKUP_IDENTITY
    #[arg(long, value_name = "KEYFILE")]
    pub identity: Option<PathBuf>,
}

/// `sv-backup list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory holding `*.tar.gz.age` archives
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// age identity file, to read each archive's manifest (environment, resources); else
    /// SV_BACKUP_IDENTITY; without either only file facts are listed
    #[arg(long, value_name = "KEYFILE")]
    pub identity: Option<PathBuf>,
}
