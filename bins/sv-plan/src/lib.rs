//! `sv-plan`: declarative Cloudflare infrastructure from `sv.yaml`: plan, apply, destroy, import and state.
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates and prints their reports.

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CompletionsArgs, ExitStatus, GlobalArgs};

/// Plan and apply Cloudflare infrastructure declared in sv.yaml
#[derive(Debug, Parser)]
#[command(name = "sv-plan", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-plan.md"
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
    /// Print the JSON Schema of sv.yaml (for editor completion and CI checks)
    Schema,
    Completions(CompletionsArgs),
}

/// Runs one invocation of `sv-plan`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match cli.command {
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
