//! `sv-backup`: age-encrypted, verifiable backups and trustworthy restores.
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates and prints their reports.

pub mod args;
pub mod create;
pub mod drill;
pub mod fetch;
pub mod keys;
pub mod list;
pub mod prune;
pub mod recovery;
pub mod restore;
pub mod sources;
pub mod verify;
pub mod workers;

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CompletionsArgs, ExitStatus, GlobalArgs};

/// Create, verify, list and restore age-encrypted backups of D1, KV, R2, DNS and sv state
#[derive(Debug, Parser)]
#[command(name = "sv-backup", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-backup.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Back up the environment's `backup.include` set into one age-encrypted .tar.gz.age
    Create(args::CreateArgs),
    /// Decrypt an archive and check every checksum; report counts per resource
    Verify(args::VerifyArgs),
    /// List the archives in a directory, the workflow artifacts or an R2 bucket
    List(args::ListArgs),
    /// Delete the archives a --keep-last/daily/weekly/monthly policy does not keep
    Prune(args::PruneArgs),
    /// Download an archive (default: the newest) and its .sha256 from a source; check it
    Fetch(args::FetchArgs),
    /// Verify an archive and show what restoring it would do: order, overwrites, time, risks
    Plan(args::PlanArgs),
    /// Verify the whole archive, then restore it (or some resources) into an environment
    Restore(args::RestoreArgs),
    /// Restore an archive's D1/KV/R2 data into scratch drill- resources, check it, delete them
    Drill(args::DrillArgs),
    Validate(ValidateArgs),
    Completions(CompletionsArgs),
}

/// Runs one invocation of `sv-backup`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match cli.command {
        Command::Create(args) => create::run(&cli.global, args).await,
        Command::Verify(args) => verify::run(&cli.global, args).await,
        Command::List(args) => list::run(&cli.global, args).await,
        Command::Prune(args) => prune::run(&cli.global, args).await,
        Command::Fetch(args) => fetch::run(&cli.global, args).await,
        Command::Plan(args) => restore::plan(&cli.global, args).await,
        Command::Restore(args) => restore::run(&cli.global, args).await,
        Command::Drill(args) => drill::run(&cli.global, args).await,
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
