//! `sv-health`: health checks, alerting, history and debugging (logs, profile, troubleshoot).
//!
//! `main.rs` parses arguments and calls [`run`]; this crate turns arguments into requests
//! for the library crates and prints their reports.

pub mod alerting;
pub mod args;
pub mod check;
pub mod comment;
pub mod logs;
pub mod probes;
pub mod profile;
pub mod report;
pub mod store;
pub mod troubleshoot;
pub mod watch;

use clap::{Parser, Subcommand};
use sv_cli::validate::ValidateArgs;
use sv_cli::{CompletionsArgs, ExitStatus, GlobalArgs};

/// Check, watch and debug the health of the live app; alert on outages
#[derive(Debug, Parser)]
#[command(name = "sv-health", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the job failed, 2 bad usage, config or input.\nDocs: docs/sv-health.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every check once, append to the history, alert, and report (exit 1 when unhealthy)
    Check(args::CheckArgs),
    /// Uptime, response-time percentiles and run gaps from the history (runs no check)
    Report(args::ReportArgs),
    /// Stream a Worker's live logs (tail API) with filters until Ctrl-C or --for
    Logs(args::LogsArgs),
    /// Requests, errors, CPU time p50/p99 and subrequests per Worker version, with bottlenecks named
    Profile(args::ProfileArgs),
    /// Gather checks, analytics and deployments into a report: severity, affected services, likely causes, next steps
    Troubleshoot(args::TroubleshootArgs),
    /// Run each check on its interval until Ctrl-C: a live table on a terminal, log lines otherwise
    Watch(args::WatchArgs),
    Validate(ValidateArgs),
    Completions(CompletionsArgs),
}

/// Runs one invocation of `sv-health`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    sv_cli::logging::init(&cli.global);
    match cli.command {
        Command::Check(args) => check::run(&cli.global, args).await,
        Command::Report(args) => report::run(&cli.global, &args).await,
        Command::Logs(args) => logs::run(&cli.global, args).await,
        Command::Profile(args) => profile::run(&cli.global, args).await,
        Command::Troubleshoot(args) => troubleshoot::run(&cli.global, args).await,
        Command::Watch(args) => watch::run(&cli.global, args).await,
        Command::Validate(_) => sv_cli::validate::run(&cli.global),
        Command::Completions(args) => {
            args.print::<Cli>()?;
            Ok(ExitStatus::Success)
        }
    }
}
