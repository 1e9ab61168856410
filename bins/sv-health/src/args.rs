//! Command-line arguments of the subcommands, turned into plain requests for the modules
//! that do the work.

use std::path::PathBuf;

use clap::Args;
use sv_cli::CloudflareArgs;

/// Arguments of `sv-health check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run only this check (repeatable)
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,

    /// Count degraded checks as failures (exit 1, alerts)
    #[arg(long)]
    pub degraded_is_failure: bool,

    /// Where results are kept: a file (appended to), kv://NAMESPACE/KEY or r2://BUCKET/KEY
    /// (an sv.yaml resource name or a Cloudflare name) [default: <app root>/.sv/health/<env>.history]
    #[arg(long, value_name = "FILE|URL")]
    pub history: Option<crate::store::HistoryLocation>,

    /// Alert state file [default: <app root>/.sv/health/<env>.alerts.json]
    #[arg(long, value_name = "FILE")]
    pub alert_state: Option<PathBuf>,

    /// Do not evaluate or send alerts
    #[arg(long)]
    pub no_alert: bool,

    /// How often this command is scheduled; used for gap detection and to turn
    /// `alert.escalate_after` failures into time
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub run_interval: std::time::Duration,

    /// Checks in flight at once
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,

    /// Run the checks and show what would be alerted, but write no history or state and
    /// open, comment on or close no issue and send no message
    #[arg(long)]
    pub dry_run: bool,

    /// Post the report as the sticky health comment of this pull request (created once,
    /// then updated in place) [default: the pull request of a pull_request run]
    #[arg(long, value_name = "N", conflicts_with = "no_comment")]
    pub comment_pr: Option<u64>,

    /// Do not post the report on the pull request of a pull_request run
    #[arg(long)]
    pub no_comment: bool,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// Arguments of `sv-health watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Watch only this check (repeatable)
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,

    /// Stop after this long instead of at Ctrl-C
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// Arguments of `sv-health profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Worker script to profile (repeatable) [default: every worker of the environment]
    #[arg(long = "worker", value_name = "SCRIPT")]
    pub workers: Vec<String>,

    /// How far back to read analytics
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub since: std::time::Duration,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// Arguments of `sv-health troubleshoot`.
#[derive(Debug, Args)]
pub struct TroubleshootArgs {
    /// What is wrong, in words (kept in the report)
    #[arg(value_name = "DESCRIPTION")]
    pub description: Option<String>,

    /// How far back to read analytics; deployments after its start count as recent
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub since: std::time::Duration,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// Outcome groups for `logs --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogStatus {
    /// Invocations that succeeded
    Ok,
    /// Exceptions, exceeded CPU or memory, unknown failures
    Error,
    /// Canceled invocations
    Canceled,
}

/// Arguments of `sv-health logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Worker script [default: the environment's only worker]
    #[arg(long, value_name = "SCRIPT")]
    pub worker: Option<String>,

    /// Only invocations with this outcome (repeatable)
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Vec<LogStatus>,

    /// Only requests with this HTTP method (repeatable)
    #[arg(long, value_name = "METHOD")]
    pub method: Vec<String>,

    /// Only events whose logs or exceptions contain this text
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// Only requests from this client IP (repeatable)
    #[arg(long, value_name = "IP")]
    pub ip: Vec<String>,

    /// Keep this share of events, 0 to 1
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub sample: Option<f64>,

    /// Stop after this long instead of at Ctrl-C
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("a rate between 0 and 1, e.g. 0.1".to_owned()),
    }
}

/// Arguments of `sv-health report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// History to read: a file, kv://NAMESPACE/KEY or r2://BUCKET/KEY [default: <app root>/.sv/health/<env>.history]
    #[arg(long, value_name = "FILE|URL")]
    pub history: Option<crate::store::HistoryLocation>,

    /// Alert state file whose open incidents are listed [default: <app root>/.sv/health/<env>.alerts.json]
    #[arg(long, value_name = "FILE")]
    pub alert_state: Option<PathBuf>,

    /// How often runs are scheduled; longer intervals are reported as gaps
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub run_interval: std::time::Duration,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// `30s`, `5m`, `1h30m` (sv.yaml's duration syntax).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let d: sv_config::Duration = text
        .parse()
        .map_err(|e: <sv_config::Duration as std::str::FromStr>::Err| e.to_string())?;
    if d.get().is_zero() {
        return Err("must be above zero".to_owned());
    }
    Ok(d.get())
}
