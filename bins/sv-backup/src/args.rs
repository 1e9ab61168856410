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
    /// Also upload the archive and its `.sha256` to an R2 bucket (optionally under a folder)
    #[arg(long, value_name = "BUCKET[/PREFIX]")]
    pub upload_r2: Option<String>,
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

/// Where archives are kept (`list`, `prune`): a directory (the default), workflow
/// artifacts or an R2 bucket.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Directory holding `*.tar.gz.age` archives [default: .]
    #[arg(long, value_name = "DIR", conflicts_with_all = ["github", "r2"])]
    pub dir: Option<PathBuf>,
    /// The repository's workflow artifacts whose name starts with PREFIX (needs
    /// GITHUB_TOKEN and GITHUB_REPOSITORY; GITHUB_API_URL for GitHub Enterprise)
    #[arg(long, value_name = "PREFIX", num_args = 0..=1, default_missing_value = "", conflicts_with = "r2")]
    pub github: Option<String>,
    /// Objects of an R2 bucket, optionally under a folder (`backups/`)
    #[arg(long, value_name = "BUCKET[/PREFIX]")]
    pub r2: Option<String>,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// `sv-backup list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Key to read each archive's manifest (environment, resources), local directory
    /// only; without one only file facts are listed
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `sv-backup prune`. Without any `--keep-*`, the policy is `backup.keep` of sv.yaml.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("policy").multiple(true))]
pub struct PruneArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Keep the N newest archives
    #[arg(long, value_name = "N", group = "policy")]
    pub keep_last: Option<u32>,
    /// Keep the newest archive of each of the N latest UTC days that have one
    #[arg(long, value_name = "N", group = "policy")]
    pub keep_daily: Option<u32>,
    /// Keep the newest archive of each of the N latest ISO weeks (UTC) that have one
    #[arg(long, value_name = "N", group = "policy")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest archive of each of the N latest UTC months that have one
    #[arg(long, value_name = "N", group = "policy")]
    pub keep_monthly: Option<u32>,
    /// Show what would be kept and removed; delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `sv-backup fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Archive (or artifact) name; default: the newest archive of the source by the time in
    /// its name
    pub name: Option<String>,
    /// Only artifacts uploaded by this workflow run (with --github)
    #[arg(long, value_name = "ID", requires = "github")]
    pub run_id: Option<u64>,
    /// Directory the archive and its `.sha256` are written to
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// `sv-backup drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The `.tar.gz.age` archive (e.g. from `sv-backup fetch`)
    pub archive: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Leave the scratch `drill-ENV-` resources in place (to look at them)
    #[arg(long)]
    pub keep_scratch: bool,
    /// Open (or update) an issue when the drill fails, close it when it passes (needs
    /// GITHUB_TOKEN with `issues: write` and GITHUB_REPOSITORY)
    #[arg(long)]
    pub issue: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}
