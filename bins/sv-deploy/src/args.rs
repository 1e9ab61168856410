//! clap arguments of the subcommands and their conversion into requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use sv_cli::CloudflareArgs;
use url::Url;

/// Build, upload and gradually roll out the Worker of an environment
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,

    /// Show what would be built and deployed; change nothing (no builds, no uploads)
    #[arg(long)]
    pub dry_run: bool,

    /// Upload what is already built instead of running the workspace builds
    #[arg(long)]
    pub skip_build: bool,

    /// Do not deploy the web output to Pages (the Worker only)
    #[arg(long)]
    pub skip_pages: bool,

    /// How long each rollout step is watched (overrides sv.yaml deploy.gate.window), e.g. 30s, 2m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gate_window: Option<Duration>,

    /// Rollout percentages, comma-separated (overrides sv.yaml deploy.rollout), e.g. 10,50,100
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',')]
    pub rollout: Option<Vec<u32>>,

    /// Where the health gate reaches the Worker (default: its workers.dev URL); the paths of
    /// sv.yaml's HTTP health checks are requested there
    #[arg(long, value_name = "URL", env = "SV_DEPLOY_WORKER_URL")]
    pub worker_url: Option<Url>,

    /// Connect to this address for the Worker URL's host instead of resolving it (like
    /// curl --connect-to; for local emulators and pre-DNS checks)
    #[arg(long, value_name = "HOST:PORT")]
    pub connect_to: Option<SocketAddr>,

    /// Annotate the new version, KEY=VALUE (repeatable; e.g. workers/message=...)
    #[arg(long = "annotate", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub annotate: Vec<(String, String)>,

    /// Worker secret to set from the environment variable of the same name (repeatable);
    /// its value is masked and never printed
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Deploy even inside a freeze window from sv.yaml (recorded in the audit trail)
    #[arg(long, alias = "override-freeze")]
    pub ignore_freeze: bool,

    /// Deploy only what changed since --since REF (git diff) and what depends on it: the
    /// Worker if its workspace is affected, Pages if the web workspace is; nothing affected
    /// exits 0
    #[arg(long, requires = "since")]
    pub affected: bool,

    /// The git ref --affected compares with (e.g. origin/main, HEAD~1, a tag)
    #[arg(long, value_name = "REF", requires = "affected")]
    pub since: Option<String>,

    /// How long to wait for another deploy or rollback of this environment to finish (the
    /// deploy lock), e.g. 30s, 10m; then fail naming the holder
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub lock_timeout: Duration,

    /// When a gate before 100% is inconclusive (too little traffic to judge), hold the
    /// split and stop (outcome `paused`, exit 1) instead of moving on; a human then promotes
    /// with `rollback --to NEW` or returns with `rollback`
    #[arg(long)]
    pub pause_on_inconclusive: bool,
}

impl DeployArgs {
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.annotate.iter().cloned().collect()
    }
}

/// Return all traffic to an earlier version
#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,

    /// Release to undo (its id, as `history` shows it): the version it replaced returns to
    /// 100% (e.g. a paused release)
    #[arg(value_name = "RELEASE", conflicts_with = "to")]
    pub release: Option<String>,

    /// Version id to serve at 100% (default: the version before the one serving most traffic)
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Show what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Roll back even to a version older than the Worker's last secret change (Cloudflare
    /// refuses that otherwise, code 10220); it then runs with the current secrets
    #[arg(long)]
    pub force: bool,

    /// How long to wait for a deploy or rollback of this environment in progress (the
    /// deploy lock), then fail naming the holder
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub lock_timeout: Duration,

    /// Roll back even to a version made before a D1 migration marked
    /// `-- sv: not-backward-compatible` was applied (refused otherwise; recorded)
    #[arg(long)]
    pub allow_incompatible_migrations: bool,
}

/// Continue a rollout paused by --pause-on-inconclusive: its remaining steps, each gated
/// again, then Pages
#[derive(Debug, Clone, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,

    /// The paused release's id (as `history` shows it)
    #[arg(value_name = "ID")]
    pub id: String,

    /// How long each remaining step is watched (overrides sv.yaml deploy.gate.window)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gate_window: Option<Duration>,

    /// Where the health gate reaches the Worker (default: its workers.dev URL)
    #[arg(long, value_name = "URL", env = "SV_DEPLOY_WORKER_URL")]
    pub worker_url: Option<Url>,

    /// Connect to this address for the Worker URL's host instead of resolving it
    #[arg(long, value_name = "HOST:PORT")]
    pub connect_to: Option<SocketAddr>,

    /// Pause again when a remaining step's gate is inconclusive
    #[arg(long)]
    pub pause_on_inconclusive: bool,

    /// Do not deploy the web output to Pages after the Worker reaches 100%
    #[arg(long)]
    pub skip_pages: bool,

    /// Resume even inside a freeze window from sv.yaml (recorded in the audit trail)
    #[arg(long, alias = "override-freeze")]
    pub ignore_freeze: bool,

    /// How long to wait for another deploy or rollback of this environment (the deploy lock)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub lock_timeout: Duration,
}

/// Deployments recorded for an environment (newest last)
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show at most this many (the newest)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Also list the Worker's deployments from the Cloudflare API (newest first, at most
    /// --limit): works from any machine, without the local .sv/ records
    #[arg(long)]
    pub remote: bool,

    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// The serving split of the Worker, its versions, and its health
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,

    /// A release id (as `history` shows it): its records (the deploy, a resume) from the
    /// local history and the records kept in KV, instead of the serving split
    #[arg(value_name = "ID")]
    pub release: Option<String>,

    /// Where the health checks reach the Worker (default: its workers.dev URL)
    #[arg(long, value_name = "URL", env = "SV_DEPLOY_WORKER_URL")]
    pub worker_url: Option<Url>,

    /// Connect to this address for the Worker URL's host instead of resolving it
    #[arg(long, value_name = "HOST:PORT")]
    pub connect_to: Option<SocketAddr>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// `1500ms`, `30s`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 2m, 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pair("sv/response={\"a\":1}"),
            Ok(("sv/response".into(), "{\"a\":1}".into()))
        );
        assert!(parse_pair("novalue").is_err());
    }
}
