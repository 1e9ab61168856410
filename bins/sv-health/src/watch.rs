//! `sv-health watch`: every check on its own interval until Ctrl-C (or `--for`), with a
//! table redrawn in place on a terminal and one log line per result otherwise (CI, pipes).
//! Nothing is written: `check` owns history and alerts.

#![allow(clippy::print_stdout)] // this module is where the live view reaches stdout

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use sv_checks::{CheckSpec, HealthStatus, Probes, RunOptions, Status, SystemClock};
use sv_cli::{ExitStatus, GlobalArgs, Styles};
use tokio::sync::mpsc;

use crate::args::WatchArgs;

pub async fn run(global: &GlobalArgs, args: WatchArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let configured = sv_checks::config::checks(env)
        .and_then(|c| c.select(&args.only))
        .map_err(sv_cli::InputError::new)?;
    let probes: Probes = if configured.services.is_empty() {
        Probes::new()
    } else {
        let cf = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
        crate::probes::probes(&cf, &configured.services)
    };
    let client = sv_checks::http_client(concat!("sv-health/", env!("CARGO_PKG_VERSION")))?;
    let live = std::io::stdout().is_terminal();
    let styles = Styles::new(global.color(sv_cli::env_vars::process_env));
    let (tx, mut rx) = mpsc::channel::<HealthStatus>(64);
    // Polled in this task (not spawned): the loops borrow the probes and client.
    let loops = futures::future::join_all(
        configured
            .specs
            .iter()
            .map(|spec| check_loop(spec, &probes, &client, tx.clone())),
    );
    drop(tx);
    tokio::pin!(loops);
    let stop = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut latest: BTreeMap<String, HealthStatus> = BTreeMap::new();
    let mut out = std::io::stdout();
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = &mut loops => break, // every loop ended (a check could not run)
            result = rx.recv() => {
                let Some(result) = result else { break };
                if live {
                    latest.insert(result.name.clone(), result);
                    // Home, clear screen, redraw.
                    write!(out, "\x1b[H\x1b[2J{}", table(&latest, &styles))?;
                } else {
                    writeln!(out, "{}", line(&result))?;
                }
                out.flush()?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

async fn check_loop(
    spec: &CheckSpec,
    probes: &Probes,
    client: &reqwest::Client,
    tx: mpsc::Sender<HealthStatus>,
) {
    let mut ticker = tokio::time::interval(spec.interval.max(Duration::from_secs(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let options = RunOptions {
        concurrency: 1,
        ..RunOptions::default()
    };
    let specs = [spec.clone()];
    // `degraded_after` / `unhealthy_after` over this watch's own runs (no history file).
    let mut failures = 0u32;
    loop {
        ticker.tick().await;
        match sv_checks::run_checks(&specs, probes, client, &SystemClock, &options).await {
            Ok(results) => {
                for mut r in results {
                    let found = r.status;
                    sv_checks::streak::judge(&mut r, spec, failures);
                    failures = if found == sv_checks::Status::Unhealthy {
                        failures.saturating_add(1)
                    } else {
                        0
                    };
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!("check {}: {e}", specs[0].name);
                return;
            }
        }
    }
}

/// `2026-11-25T18:00:00Z api healthy 123.4ms` plus errors.
fn line(r: &HealthStatus) -> String {
    let mut s = format!(
        "{} {} {} {:.1}ms",
        r.last_check.format("%Y-%m-%dT%H:%M:%SZ"),
        r.name,
        r.status,
        r.response_time_ms
    );
    if !r.errors.is_empty() {
        s.push_str(": ");
        s.push_str(&r.errors.join("; "));
    }
    s
}

fn table(latest: &BTreeMap<String, HealthStatus>, styles: &Styles) -> String {
    let width = latest.keys().map(String::len).max().unwrap_or(5).max(5);
    let mut s = format!(
        "{}\n\n{:width$}  {:6}  {:9}  {:>10}  {}\n",
        styles.bold("sv-health watch (Ctrl-C to stop)"),
        "CHECK",
        "KIND",
        "STATUS",
        "RESPONSE",
        "LAST / ERRORS"
    );
    for r in latest.values() {
        let status = match r.status {
            Status::Healthy => styles.green(r.status.as_str()),
            Status::Degraded => styles.yellow(r.status.as_str()),
            Status::Unhealthy => styles.red(r.status.as_str()),
        };
        let pad = 9usize.saturating_sub(r.status.as_str().len());
        s.push_str(&format!(
            "{:width$}  {:6}  {status}{}  {:>8.1}ms  {} {}\n",
            r.name,
            r.kind.to_string(),
            " ".repeat(pad),
            r.response_time_ms,
            r.last_check.format("%H:%M:%S"),
            r.errors.join("; ")
        ));
    }
    s
}
