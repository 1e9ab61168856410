//! `sv-plan`: declarative Cloudflare infrastructure from `sv.yaml`: plan, apply, destroy, import and state.
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates (`sv-infra` reads and changes the account, `sv-planner` decides)
//! and prints their reports.

pub mod args;
mod backup;
mod commands;
mod ctx;
mod generate;
mod github;
mod report;

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CloudflareArgs, CompletionsArgs, ExitStatus, GlobalArgs};

use crate::args::{
    ApplyArgs, CommentArgs, DestroyArgs, DriftArgs, GenerateArgs, ImportArgs, PlanArgs,
    RefreshArgs, StateCommand,
};

/// Plan and apply Cloudflare infrastructure declared in sv.yaml
#[derive(Debug, Parser)]
#[command(name = "sv-plan", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-plan.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare sv.yaml with the live account and show what apply would change
    Plan(PlanArgs),
    /// Apply a saved plan, or plan and apply after confirmation
    Apply(ApplyArgs),
    /// Delete every resource sv manages in the environment
    Destroy(DestroyArgs),
    /// Inspect or repair the state
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing Cloudflare resource as ADDR
    Import(ImportArgs),
    /// Record the live attributes of managed resources in state
    Refresh(RefreshArgs),
    /// Write the live account's resources as an sv.yaml `resources:` section, with the
    /// `sv-plan import` commands that adopt them
    Generate(GenerateArgs),
    /// Post a saved plan as the sticky comment of its environment on a pull request
    Comment(CommentArgs),
    /// Exit 2 when the live account drifted from sv.yaml; keep one GitHub issue per environment
    Drift(DriftArgs),
    Validate(ValidateArgs),
    /// Print the JSON Schema of sv.yaml (for editor completion and CI checks)
    Schema,
    Completions(CompletionsArgs),
}

/// Runs one invocation of `sv-plan`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    let ctx = || ctx::Ctx::new(&cli.global, &cli.cloudflare);
    match &cli.command {
        Command::Plan(args) => commands::plan(&ctx()?, args).await,
        Command::Apply(args) => commands::apply(&ctx()?, args).await,
        Command::Destroy(args) => commands::destroy(&ctx()?, args).await,
        Command::State(cmd) => commands::state(&ctx()?, cmd).await,
        Command::Import(args) => commands::import(&ctx()?, args).await,
        Command::Refresh(args) => commands::refresh(&ctx()?, args).await,
        Command::Generate(args) => generate::generate(&ctx()?, args).await,
        Command::Comment(args) => github::comment(&cli.global, args).await,
        Command::Drift(args) => github::drift(&ctx()?, args).await,
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Schema => {
            let mut text = serde_json::to_string_pretty(&sv_config::schema())?;
            text.push('\n');
            std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
            Ok(ExitStatus::Success)
        }
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
