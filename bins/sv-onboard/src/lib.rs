//! `sv-onboard`: developer onboarding (doctor, setup, dev, reset) and preview environments.
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates and prints their reports.

pub mod branch;
pub mod preview;
mod preview_report;

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CompletionsArgs, ExitStatus, GlobalArgs};

/// Get a developer running in one command; per-PR preview environments
#[derive(Debug, Parser)]
#[command(name = "sv-onboard", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-onboard.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(ValidateArgs),
    Completions(CompletionsArgs),
    #[command(subcommand)]
    Preview(preview::PreviewCommand),
}

/// Runs one invocation of `sv-onboard`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match &cli.command {
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Preview(cmd) => preview::run(&cli.global, cmd).await,
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
