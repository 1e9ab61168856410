//! `sv-onboard`: developer onboarding — `doctor`, `setup`, `reset`, `guide`, `gc`,
//! `token check` — and (elsewhere) preview environments.
//!
//! `main.rs` parses arguments and calls [`run`]; each command lives in its own module and
//! turns arguments into requests for the library crates (`sv-config` for the developer's
//! derived environment, `sv-infra::converge` to create and delete its resources — the one
//! way resources are made) and prints a report (human, JSON, Markdown).

pub mod ctx;
pub mod dev;
pub mod devfiles;
pub mod doctor;
pub mod envfiles;
pub mod gc;
pub mod guide;
pub mod record;
pub mod reset;
pub mod setup;
pub mod steps;
pub mod token;

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
    /// Check tools (node, npm, wrangler, git), the token and its scope, the layout and config
    Doctor(doctor::DoctorArgs),
    /// Create your isolated dev-NAME- resources, env files and wrangler environment (idempotent)
    Setup(setup::SetupArgs),
    /// Delete your dev-NAME- resources and local state, then set them up again (needs --yes)
    Reset(reset::ResetArgs),
    /// Start every workspace's dev process in dependency order; rebuild on shared changes
    Dev(dev::DevArgs),
    /// List (and with --yes delete) dev/preview resources whose owner is gone or stale
    Gc(gc::GcArgs),
    /// Print a developer guide generated from sv.yaml, package.json and the wrangler configs
    Guide(guide::GuideArgs),
    /// Cloudflare API tokens: `check` (status, expiry, policies, last use) and `rotate`
    Token(token::TokenArgs),
    Validate(ValidateArgs),
    Completions(CompletionsArgs),
    #[command(subcommand)]
    Preview(preview::PreviewCommand),
}

/// Runs one invocation of `sv-onboard`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match cli.command {
        Command::Doctor(args) => doctor::run(&cli.global, args).await,
        Command::Setup(args) => setup::run(&cli.global, args).await,
        Command::Reset(args) => reset::run(&cli.global, args).await,
        Command::Dev(args) => dev::run(&cli.global, args).await,
        Command::Gc(args) => gc::run(&cli.global, args).await,
        Command::Guide(args) => guide::run(&cli.global, args),
        Command::Token(args) => token::run(&cli.global, args).await,
        Command::Preview(cmd) => preview::run(&cli.global, &cmd).await,
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
