//! `degraded_after` / `unhealthy_after`: a check's reported status follows its consecutive
//! failing runs, so one blip does not turn the verdict red.
//!
//! Rules (per check, with `degraded_after = D`, `unhealthy_after = U`, `1 ≤ D ≤ U`):
//! - A run *fails* when the probe found the check unhealthy. `n` is the number of
//!   consecutive failing runs ending with this one: the failing runs just before it in the
//!   history (runs where the check did not run are skipped, not counted) plus this one.
//! - `n ≥ U` → unhealthy; `D ≤ n < U` → degraded; `n < D` → healthy. The errors stay on the
//!   result (with a note saying how many failures were seen), `probed` keeps what the probe
//!   found and the metric `consecutive_failures` is `n`.
//! - A run the probe found degraded (latency, a failed canary delete) or healthy is reported
//!   as found and ends the streak.
//! - With the defaults (`D = U = 1`) every run is judged on its own: nothing changes.
//!
//! The history stores what the probes found (see [`crate::History::append`]), so streaks
//! and uptime are measured on the probes, and the thresholds shape only this run's verdict
//! (exit code, report, alerts).

use crate::history::History;
use crate::spec::CheckSpec;
use crate::status::{HealthStatus, Status};

/// Consecutive failing runs of `check` at the end of `history` (runs without the check are
/// skipped).
pub fn previous_failures(history: &History, check: &str) -> u32 {
    let mut n = 0u32;
    for run in history.runs().iter().rev() {
        match run.samples.iter().find(|s| s.check == check) {
            None => {}
            Some(s) if s.status == Status::Unhealthy => n = n.saturating_add(1),
            Some(_) => break,
        }
    }
    n
}

/// Applies `spec`'s thresholds to one result given the failing runs just before it.
pub fn judge(result: &mut HealthStatus, spec: &CheckSpec, previous_failures: u32) {
    let probed = result.probed.unwrap_or(result.status);
    if probed != Status::Unhealthy {
        return;
    }
    let degraded_after = spec.degraded_after.max(1);
    let unhealthy_after = spec.unhealthy_after.max(degraded_after);
    if unhealthy_after == 1 {
        return;
    }
    let n = previous_failures.saturating_add(1);
    result
        .metrics
        .insert("consecutive_failures".to_owned(), f64::from(n));
    let status = if n >= unhealthy_after {
        Status::Unhealthy
    } else if n >= degraded_after {
        Status::Degraded
    } else {
        Status::Healthy
    };
    let next = match status {
        Status::Healthy => Some(format!("until {degraded_after} (degraded_after)")),
        Status::Degraded => Some(format!("until {unhealthy_after} (unhealthy_after)")),
        Status::Unhealthy => None,
    };
    if let Some(next) = next {
        result.probed = Some(probed);
        result.errors.push(format!(
            "{n} failing run(s) in a row: reported {status} {next}"
        ));
    }
    result.status = status;
}

/// Applies every spec's thresholds to this run's results, counting failures in `history`
/// (which must not contain this run yet).
pub fn apply(results: &mut [HealthStatus], specs: &[CheckSpec], history: &History) {
    for result in results {
        if let Some(spec) = specs.iter().find(|s| s.name == result.name) {
            let previous = previous_failures(history, &result.name);
            judge(result, spec, previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::spec::{CheckKind, ServiceKind};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn result(name: &str, status: Status) -> HealthStatus {
        HealthStatus {
            name: name.into(),
            kind: CheckKind::Kv,
            status,
            last_check: t0(),
            response_time_ms: 10.0,
            errors: if status == Status::Healthy {
                vec![]
            } else {
                vec!["canary read back wrong".into()]
            },
            metrics: BTreeMap::new(),
            attempts: 1,
            probed: None,
        }
    }

    fn spec(degraded_after: u32, unhealthy_after: u32) -> CheckSpec {
        let mut s = CheckSpec::service("kv", ServiceKind::Kv);
        s.degraded_after = degraded_after;
        s.unhealthy_after = unhealthy_after;
        s
    }

    /// Plays a timeline of probe findings (`h`, `d`, `u`) through the history, one run
    /// every 5 minutes, and returns the reported statuses as the same letters.
    fn play(spec: &CheckSpec, found: &str) -> String {
        let mut history = History::new();
        let mut out = String::new();
        for (i, c) in found.chars().enumerate() {
            let status = match c {
                'h' => Status::Healthy,
                'd' => Status::Degraded,
                _ => Status::Unhealthy,
            };
            let mut results = vec![result("kv", status)];
            apply(&mut results, std::slice::from_ref(spec), &history);
            out.push(match results[0].status {
                Status::Healthy => 'h',
                Status::Degraded => 'd',
                Status::Unhealthy => 'u',
            });
            let at = t0() + TimeDelta::minutes(5 * i64::try_from(i).unwrap());
            history.append(at, &results);
        }
        out
    }

    #[test]
    fn timelines() {
        let cases = [
            (
                "defaults judge each run on its own",
                (1, 1),
                "huuhdu",
                "huuhdu",
            ),
            ("degraded then unhealthy", (1, 3), "huuuuh", "hdduuh"),
            ("healthy until the second failure", (2, 3), "huuuh", "hhduh"),
            ("a pass ends the streak", (1, 2), "uhuhuu", "dhdhdu"),
            ("a degraded run ends the streak", (1, 2), "ududu", "ddddd"),
            (
                "degraded_after = unhealthy_after skips degraded",
                (3, 3),
                "uuuu",
                "hhuu",
            ),
        ];
        for (name, (d, u), found, expected) in cases {
            assert_eq!(play(&spec(d, u), found), expected, "{name}");
        }
    }

    #[test]
    fn history_stores_what_the_probe_found() {
        let s = spec(1, 3);
        let mut history = History::new();
        let mut results = vec![result("kv", Status::Unhealthy)];
        apply(&mut results, std::slice::from_ref(&s), &history);
        assert_eq!(results[0].status, Status::Degraded);
        assert_eq!(results[0].probed, Some(Status::Unhealthy));
        assert_eq!(results[0].metrics["consecutive_failures"], 1.0);
        assert_eq!(
            results[0].errors,
            [
                "canary read back wrong",
                "1 failing run(s) in a row: reported degraded until 3 (unhealthy_after)"
            ]
        );
        history.append(t0(), &results);
        assert_eq!(history.runs()[0].samples[0].status, Status::Unhealthy);
        assert_eq!(previous_failures(&history, "kv"), 1);
    }

    #[test]
    fn the_note_names_the_threshold_still_ahead() {
        let s = spec(2, 3);
        let mut first = result("kv", Status::Unhealthy);
        judge(&mut first, &s, 0);
        assert_eq!(first.status, Status::Healthy);
        assert_eq!(
            first.errors.last().unwrap(),
            "1 failing run(s) in a row: reported healthy until 2 (degraded_after)"
        );
        let mut third = result("kv", Status::Unhealthy);
        judge(&mut third, &s, 2);
        assert_eq!(third.status, Status::Unhealthy);
        assert_eq!(third.probed, None);
        assert_eq!(third.errors, ["canary read back wrong"]);
        assert_eq!(third.metrics["consecutive_failures"], 3.0);
    }

    #[test]
    fn runs_without_the_check_are_skipped() {
        let mut history = History::new();
        history.append(t0(), &[result("kv", Status::Unhealthy)]);
        history.append(
            t0() + TimeDelta::minutes(5),
            &[result("other", Status::Healthy)],
        );
        history.append(
            t0() + TimeDelta::minutes(10),
            &[result("kv", Status::Unhealthy)],
        );
        assert_eq!(previous_failures(&history, "kv"), 2);
        assert_eq!(previous_failures(&history, "other"), 0);
        assert_eq!(previous_failures(&history, "missing"), 0);
    }
}
