//! `sv-emulator`: run the local Cloudflare API emulator (see `sv-emulator --help`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sv_emulator::config::{self, Config, FaultConfig, FaultKind};

/// A local, stateful emulator of the Cloudflare API v4 (the subset the sv tools use).
///
/// It serves the API under `/client/v4` (point `CLOUDFLARE_API_BASE_URL` at
/// `http://HOST:PORT/client/v4`), answers requests for deployed Workers on
/// `SCRIPT.SUBDOMAIN.workers.dev` hosts, routes and custom domains, and offers test controls
/// under `/__admin`. The GitHub REST calls sv makes (comments, issues, artifacts) are served
/// under `/github` (point `GITHUB_API_URL` at `http://HOST:PORT/github`). The first line on
/// stdout is `listening on http://HOST:PORT`.
///
/// Examples:
///
///   sv-emulator --listen 127.0.0.1:0 --in-memory --seed 1
///
///   sv-emulator --data ./.emulator --token local-token
///
///   sv-emulator --in-memory --latency 50ms --fault-rate 0.2 --faults 429,500,502,503,reset,slow
///
///   sv-emulator --in-memory --rate-limit 0.01   # 12 requests per 3 s, then 429 for 3 s
///
/// One request can ask for its own fault with the header `sv-emulator-fault: 503` (or 429,
/// 500, 502, reset, slow) and for extra latency with `sv-emulator-latency: 200ms`.
#[derive(Debug, Parser)]
#[command(name = "sv-emulator", version, verbatim_doc_comment)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    listen: String,

    /// Keep state in this directory (created if missing) so it survives restarts.
    #[arg(long, value_name = "DIR", conflicts_with = "in_memory")]
    data: Option<PathBuf>,

    /// Keep all state in memory (the default when --data is not given).
    #[arg(long)]
    in_memory: bool,

    /// Accept only this bearer token; anything else gets Cloudflare's authentication error.
    /// Without it any token is accepted.
    #[arg(
        long,
        env = "SV_EMULATOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Accept only this token on the GitHub API (`/github`); default: the --token value.
    /// Tests give GitHub and Cloudflare different tokens to tell their leaks apart.
    #[arg(
        long,
        env = "SV_EMULATOR_GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    github_token: Option<String>,

    /// Id of the seeded account (32 hex characters).
    #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID, value_name = "ID")]
    account_id: String,

    /// Name of the seeded account.
    #[arg(long, default_value = "sv-emulator account", value_name = "NAME")]
    account_name: String,

    /// Id of the seeded zone (32 hex characters).
    #[arg(long, default_value = config::DEFAULT_ZONE_ID, value_name = "ID")]
    zone_id: String,

    /// Name of the seeded zone.
    #[arg(long, default_value = "example.com", value_name = "FQDN")]
    zone_name: String,

    /// The account's pre-registered workers.dev subdomain.
    #[arg(long, default_value = "sv-emulator", value_name = "NAME")]
    workers_subdomain: String,

    /// Start without a workers.dev subdomain (first deploys must register one).
    #[arg(long)]
    no_workers_subdomain: bool,

    /// Email of the seeded user.
    #[arg(long, default_value = "dev@example.com", value_name = "EMAIL")]
    email: String,

    /// Seed for generated ids (reproducible ids for tests and snapshots).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Latency added to every API response, e.g. 50ms or 1s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    latency: Option<Duration>,

    /// Probability (0 to 1) that an API request gets a random fault from --faults.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    fault_rate: f64,

    /// Comma-separated faults to draw from: HTTP statuses (429, 500, 502, 503, …), reset
    /// (TCP reset), slow (answer after --slow).
    #[arg(long, value_delimiter = ',', value_parser = parse_fault, value_name = "LIST")]
    faults: Vec<FaultKind>,

    /// Delay of the `slow` fault.
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    slow: Duration,

    /// Enforce Cloudflare's rate limit (1,200 requests per 5 minutes); an optional factor
    /// scales both the count and the window (0.01 → 12 requests per 3 s).
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "1")]
    rate_limit: Option<f64>,

    /// Log filter (tracing syntax), logs go to stderr.
    #[arg(long, default_value = "warn", value_name = "FILTER")]
    log: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    config::parse_duration(s).ok_or_else(|| format!("invalid duration {s:?} (use e.g. 50ms, 2s)"))
}

fn parse_fault(s: &str) -> Result<FaultKind, String> {
    FaultKind::parse(s)
        .ok_or_else(|| format!("invalid fault {s:?} (use 429, 500, 502, 503, reset or slow)"))
}

impl Args {
    fn into_config(self) -> anyhow::Result<Config> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            anyhow::bail!("--fault-rate must be between 0 and 1");
        }
        let mut faults = FaultConfig {
            latency: self.latency.unwrap_or_default(),
            rate: self.fault_rate,
            slow: self.slow,
            ..FaultConfig::default()
        };
        if !self.faults.is_empty() {
            faults.kinds = self.faults;
        }
        Ok(Config {
            account_id: self.account_id,
            account_name: self.account_name,
            zone_id: self.zone_id,
            zone_name: self.zone_name,
            workers_subdomain: (!self.no_workers_subdomain).then_some(self.workers_subdomain),
            user_email: self.email,
            token: self.token,
            data_dir: if self.in_memory { None } else { self.data },
            seed: self.seed,
            faults,
            rate_limit_scale: self.rate_limit,
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let listen = args.listen.clone();
    let github_token = args.github_token.clone().or_else(|| args.token.clone());
    let cfg = args.into_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The GitHub REST subset lives beside the Cloudflare API, under /github; with --data its
    // state is loaded at start and saved at shutdown (github.json).
    let github_file = cfg.data_dir.as_ref().map(|d| d.join("github.json"));
    let mut github = match &github_file {
        Some(path) if path.exists() => sv_emu_github::GithubState::from_file(path)
            .with_context(|| format!("loading {}", path.display()))?,
        _ => sv_emu_github::GithubState::new(),
    };
    if let Some(token) = github_token {
        github = github.with_token(token);
    }
    runtime.block_on(async move {
        let emu = sv_emulator::Emulator::builder()
            .config(cfg)
            .build()
            .context("opening the emulator state")?
            .nest("/github", sv_emu_github::router(github.clone()));
        let running = emu.spawn(&listen).await.context("starting the server")?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", running.base_url)?;
        out.flush()?;
        drop(out);
        shutdown_signal().await;
        running.shutdown().await;
        if let Some(path) = &github_file {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            github
                .to_file(path)
                .with_context(|| format!("saving {}", path.display()))?;
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
