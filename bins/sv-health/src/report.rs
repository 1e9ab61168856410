//! `sv-health report`: uptime (24 h, 7 d, 30 d), response-time percentiles, the hourly
//! chart and the real interval between runs, from the history file alone (no check runs).

use chrono::TimeDelta;
use sv_checks::{CheckKind, HealthReport, HealthStatus, ReportInput};
use sv_cli::{ExitStatus, GlobalArgs};

use crate::args::ReportArgs;
use crate::check::{default_path, latest_run, read_state};
use crate::store::{HistoryLocation, HistoryStore};

pub async fn run(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let location = args
        .history
        .clone()
        .unwrap_or_else(|| HistoryLocation::File(default_path(&loaded.root, &env.name, "history")));
    let cloudflare = if location.is_remote() {
        Some(sv_cli::context::cloudflare(&args.cloudflare, &runner)?)
    } else {
        None
    };
    let store = HistoryStore::open(location, env, cloudflare.as_ref()).await?;
    let history = store.load().await?;
    let state_path = args
        .alert_state
        .clone()
        .unwrap_or_else(|| default_path(&loaded.root, &env.name, "alerts.json"));
    let state = state_path
        .exists()
        .then(|| read_state(&state_path))
        .transpose()?;
    // Kinds and thresholds come from the config; a check removed from it since is shown as
    // HTTP and judged on its own.
    let specs: std::collections::BTreeMap<String, sv_checks::CheckSpec> =
        sv_checks::config::checks(env)
            .map(|c| c.specs.into_iter().map(|s| (s.name.clone(), s)).collect())
            .unwrap_or_default();
    let Some(at) = latest_run(&history) else {
        return Err(sv_cli::InputError::new(anyhow::anyhow!(
            "{} holds no runs yet: run `sv-health check` first",
            store.location()
        ))
        .into());
    };
    // The latest run stands for "now": the report describes the history, not the clock.
    let latest: Vec<HealthStatus> = history
        .runs()
        .last()
        .map(|run| {
            run.samples
                .iter()
                .map(|s| HealthStatus {
                    name: s.check.clone(),
                    kind: specs.get(&s.check).map_or(CheckKind::Http, |s| s.kind()),
                    status: s.status,
                    last_check: run.at,
                    response_time_ms: f64::from(s.response_ms),
                    errors: Vec::new(),
                    metrics: Default::default(),
                    attempts: 1,
                    probed: None,
                })
                .collect()
        })
        .unwrap_or_default();
    // `degraded_after` / `unhealthy_after`, as `check` applied them to that run (the
    // history stores what the probes found).
    let latest: Vec<HealthStatus> = latest
        .into_iter()
        .map(|mut r| {
            if let Some(spec) = specs.get(&r.name) {
                let before = sv_checks::streak::previous_failures(&history, &r.name);
                sv_checks::streak::judge(&mut r, spec, before.saturating_sub(1));
            }
            r
        })
        .collect();
    let silences = sv_checks::config::silences(env);
    let report = HealthReport::build(&ReportInput {
        environment: Some(&env.name),
        results: &latest,
        history: &history,
        alert_state: state.as_ref(),
        actions: &[],
        expected_interval: TimeDelta::from_std(args.run_interval).unwrap_or(TimeDelta::minutes(5)),
        silences: &silences,
        now: at,
    });
    global.output().print(&report)?;
    if runner.is_active() {
        runner.set_output("status", report.overall.as_str())?;
        runner.append_summary(&sv_cli::Render::markdown(&report))?;
    }
    Ok(ExitStatus::Success)
}
