//! `sv-deploy`: ordered monorepo builds and health-gated gradual Worker rollouts with automatic rollback.
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates and prints their reports.

pub mod affected;
pub mod args;
pub mod build;
pub mod bundle;
pub mod console;
pub mod deploy;
pub mod gate;
pub mod lock;
pub mod migrate;
pub mod notify;
mod once;
pub mod pages;
pub mod records;
pub mod report;

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CompletionsArgs, ExitStatus, GlobalArgs};

/// Deploy the monorepo: ordered builds, gradual Worker rollouts with a health gate, automatic rollback
#[derive(Debug, Parser)]
#[command(name = "sv-deploy", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-deploy.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Deploy(args::DeployArgs),
    Rollback(args::RollbackArgs),
    Resume(args::ResumeArgs),
    History(args::HistoryArgs),
    Status(args::StatusArgs),
    Validate(ValidateArgs),
    Completions(CompletionsArgs),
}

/// Runs one invocation of `sv-deploy`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match cli.command {
        Command::Deploy(args) => deploy::deploy(&cli.global, &args).await,
        Command::Rollback(args) => deploy::rollback(&cli.global, &args).await,
        Command::Resume(args) => deploy::resume(&cli.global, &args).await,
        Command::History(args) => deploy::history(&cli.global, &args).await,
        Command::Status(args) => deploy::status(&cli.global, &args).await,
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
