//! The health report: this run's results with uptime and response-time figures from the
//! history, open incidents, this run's alert actions, and the honest cadence of runs
//! (scheduled runs are late or skipped; the report says so instead of implying coverage).
//! Rendered through `sv_report::Render` as terminal text and GitHub Markdown (emoji status
//! badges and Mermaid `xychart-beta` charts, both rendered by GitHub with no network).

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sv_report::{Render, Styles, markdown_escape};

use crate::alert::{AlertAction, AlertState, Held, Severity, Silence, active_silence};
use crate::history::{Gap, History, Percentiles};
use crate::status::{HealthStatus, Status, overall};

/// Errors shown per check; the rest are counted.
const MAX_ERRORS: usize = 3;
/// Gaps listed; the rest are counted.
const MAX_GAPS: usize = 10;

/// Everything a report is built from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    pub environment: Option<&'a str>,
    /// This run's results (already appended to `history`, or not: either works).
    pub results: &'a [HealthStatus],
    pub history: &'a History,
    pub alert_state: Option<&'a AlertState>,
    /// This run's alert actions.
    pub actions: &'a [AlertAction],
    /// How often runs are scheduled (e.g. the workflow's cron).
    pub expected_interval: TimeDelta,
    /// `health.silences`; those in force at `now` are shown on their checks.
    pub silences: &'a [Silence],
    pub now: DateTime<Utc>,
}

/// A figure over the three standard windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Windows<T> {
    pub h24: T,
    pub d7: T,
    pub d30: T,
}

/// One check in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    #[serde(flatten)]
    pub result: HealthStatus,
    /// Percent of results not unhealthy.
    pub uptime: Windows<Option<f64>>,
    pub response_ms: Windows<Option<Percentiles>>,
    /// Hourly median response time for the current hour and the 23 before it (hours with
    /// data only).
    pub chart: Vec<(DateTime<Utc>, f64)>,
    /// The silence in force on this check: it ran and is reported, but never alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced: Option<Silence>,
}

/// How regularly runs really happened in the last 24 h.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub expected_interval_s: i64,
    pub runs_24h: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_interval_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_interval_s: Option<i64>,
    /// Intervals longer than 1.5× the expected one.
    pub gaps: Vec<Gap>,
}

/// An incident that is still open after this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenIncident {
    pub check: String,
    pub id: u64,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<u64>,
    pub escalation_level: u32,
}

/// The report (its JSON is the `--format json` output). People are named without `@`:
/// the report is re-posted every run and must not ping anyone; alerts do that.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub generated_at: DateTime<Utc>,
    pub overall: Status,
    pub checks: Vec<CheckReport>,
    pub coverage: Coverage,
    pub incidents: Vec<OpenIncident>,
    pub actions: Vec<AlertAction>,
}

impl HealthReport {
    pub fn build(input: &ReportInput<'_>) -> Self {
        let now = input.now;
        let (h24, d7, d30) = (
            TimeDelta::hours(24),
            TimeDelta::days(7),
            TimeDelta::days(30),
        );
        let h = input.history;
        // The chart covers the current hour and the 23 before it, so no hour label repeats.
        let hour_start = now - TimeDelta::seconds(now.timestamp().rem_euclid(3600));
        let chart_window = now - (hour_start - TimeDelta::hours(23));
        let mut results: Vec<HealthStatus> = input.results.to_vec();
        results.sort_by(|a, b| a.name.cmp(&b.name));
        let checks = results
            .into_iter()
            .map(|result| {
                let name = result.name.as_str();
                CheckReport {
                    uptime: Windows {
                        h24: h.uptime(name, h24, now),
                        d7: h.uptime(name, d7, now),
                        d30: h.uptime(name, d30, now),
                    },
                    response_ms: Windows {
                        h24: h.percentiles(name, h24, now),
                        d7: h.percentiles(name, d7, now),
                        d30: h.percentiles(name, d30, now),
                    },
                    chart: h.response_series(name, chart_window, TimeDelta::hours(1), now),
                    silenced: active_silence(input.silences, name, now).cloned(),
                    result,
                }
            })
            .collect();
        let intervals = h.intervals(h24, now);
        let coverage = Coverage {
            expected_interval_s: input.expected_interval.num_seconds(),
            runs_24h: intervals.map_or_else(
                || {
                    h.runs()
                        .iter()
                        .filter(|r| r.at > now - h24 && r.at <= now)
                        .count()
                },
                |i| i.runs,
            ),
            median_interval_s: intervals.map(|i| i.median_s),
            max_interval_s: intervals.map(|i| i.max_s),
            gaps: h.run_gaps(h24, now, input.expected_interval),
        };
        let incidents = input
            .alert_state
            .map(|s| {
                s.open_incidents()
                    .map(|(check, i)| OpenIncident {
                        check: check.to_owned(),
                        id: i.id,
                        severity: i.severity,
                        opened_at: i.opened_at,
                        acknowledged_by: i.acknowledged.as_ref().map(|a| a.by.clone()),
                        issue: i.issue,
                        escalation_level: i.escalation_level,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            environment: input.environment.map(str::to_owned),
            generated_at: now,
            overall: overall(input.results),
            checks,
            coverage,
            incidents,
            actions: input.actions.to_vec(),
        }
    }

    fn counts(&self) -> String {
        let count = |s: Status| self.checks.iter().filter(|c| c.result.status == s).count();
        format!(
            "{} healthy · {} degraded · {} unhealthy",
            count(Status::Healthy),
            count(Status::Degraded),
            count(Status::Unhealthy)
        )
    }

    /// The one-line statement of run cadence, and whether it deserves a warning.
    fn cadence(&self) -> (String, bool) {
        let c = &self.coverage;
        let expected = dur(c.expected_interval_s);
        let mut line = match (c.median_interval_s, c.max_interval_s) {
            (Some(median), Some(max)) => format!(
                "{} runs in the last 24h, every {} (median), longest interval {}; scheduled every {}.",
                c.runs_24h,
                dur(median),
                dur(max),
                expected
            ),
            _ => format!(
                "{} run(s) in the last 24h: too few to measure the interval; scheduled every {}.",
                c.runs_24h, expected
            ),
        };
        let warn = !c.gaps.is_empty();
        if warn {
            let total: i64 = c.gaps.iter().map(|g| g.seconds).sum();
            let _ = write!(
                line,
                " {} gap(s) longer than {} ({} in total without checks).",
                c.gaps.len(),
                dur(c.expected_interval_s * 3 / 2),
                dur(total)
            );
        }
        (line, warn)
    }
}

impl Render for HealthReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = String::new();
        let paint = |s: Status, text: &str| match s {
            Status::Healthy => styles.green(text),
            Status::Degraded => styles.yellow(text),
            Status::Unhealthy => styles.red(text),
        };
        let env = self
            .environment
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}{env} at {}: {}",
            styles.bold(&format!("Health: {}", self.overall.as_str().to_uppercase())),
            self.generated_at.format("%Y-%m-%d %H:%M UTC"),
            self.counts()
        );
        if !self.checks.is_empty() {
            let header = [
                "CHECK",
                "KIND",
                "STATUS",
                "RESPONSE",
                "UP 24H",
                "UP 7D",
                "UP 30D",
                "P50/P95/P99 24H",
            ];
            let rows: Vec<[String; 8]> = self
                .checks
                .iter()
                .map(|c| {
                    [
                        c.result.name.clone(),
                        c.result.kind.to_string(),
                        c.result.status.to_string(),
                        ms(c.result.response_time_ms),
                        pct(c.uptime.h24),
                        pct(c.uptime.d7),
                        pct(c.uptime.d30),
                        pcts(c.response_ms.h24),
                    ]
                })
                .collect();
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| {
                let mut l = String::new();
                for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                    let pad = w.saturating_sub(cell.chars().count());
                    if i > 0 {
                        l.push_str("  ");
                    }
                    // Numbers right-aligned, words left-aligned.
                    if i >= 3 {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(cell);
                    } else {
                        l.push_str(cell);
                        if i < cells.len() - 1 {
                            l.push_str(&" ".repeat(pad));
                        }
                    }
                }
                l.trim_end().to_owned()
            };
            out.push('\n');
            let _ = writeln!(out, "{}", styles.dim(&line(&header.map(str::to_owned))));
            for (row, c) in rows.iter().zip(&self.checks) {
                let mut text = line(row);
                // Colour the status word without disturbing alignment.
                let status = c.result.status.as_str();
                if let Some(at) = text.find(&format!("  {status}")) {
                    let at = at + 2;
                    text.replace_range(at..at + status.len(), &paint(c.result.status, status));
                }
                let _ = writeln!(out, "{text}");
                for e in c.result.errors.iter().take(MAX_ERRORS) {
                    let _ = writeln!(out, "    - {e}");
                }
                if c.result.errors.len() > MAX_ERRORS {
                    let _ = writeln!(
                        out,
                        "    - … and {} more",
                        c.result.errors.len() - MAX_ERRORS
                    );
                }
                if let Some(s) = &c.silenced {
                    let _ = writeln!(out, "    {} {}", styles.dim("silenced:"), silence_text(s));
                }
            }
        }
        if !self.incidents.is_empty() {
            out.push('\n');
            let _ = writeln!(out, "{}", styles.bold("Open incidents"));
            for i in &self.incidents {
                let _ = writeln!(out, "  {}", incident_line(i));
            }
        }
        if !self.actions.is_empty() {
            out.push('\n');
            let _ = writeln!(out, "{}", styles.bold("Alerts this run"));
            for a in &self.actions {
                let _ = writeln!(out, "  {}", action_line(a));
            }
        }
        let (cadence, warn) = self.cadence();
        out.push('\n');
        if warn {
            let _ = writeln!(out, "{} {cadence}", styles.yellow("warning:"));
            for g in self.coverage.gaps.iter().take(MAX_GAPS) {
                let _ = writeln!(out, "  - {}", gap_line(g));
            }
            if self.coverage.gaps.len() > MAX_GAPS {
                let _ = writeln!(
                    out,
                    "  - … and {} more",
                    self.coverage.gaps.len() - MAX_GAPS
                );
            }
        } else {
            let _ = writeln!(out, "{cadence}");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let env = self
            .environment
            .as_deref()
            .map(|e| format!(" — {}", markdown_escape(e)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "## {} Health: {}{env}\n",
            self.overall.emoji(),
            self.overall
        );
        let _ = writeln!(
            out,
            "{} · checked {}\n",
            self.counts(),
            self.generated_at.format("%Y-%m-%d %H:%M UTC")
        );
        if self.checks.is_empty() {
            out.push_str("No checks ran.\n\n");
        } else {
            out.push_str("| | Check | Kind | Status | Response | Uptime 24h | 7d | 30d | p50 / p95 / p99 (24h) |\n");
            out.push_str("|---|---|---|---|---:|---:|---:|---:|---:|\n");
            for c in &self.checks {
                let r = &c.result;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {}{} | {} | {} | {} | {} | {} |",
                    r.status.emoji(),
                    markdown_escape(&r.name),
                    r.kind,
                    r.status,
                    if c.silenced.is_some() {
                        " 🔕 silenced"
                    } else {
                        ""
                    },
                    ms(r.response_time_ms),
                    pct(c.uptime.h24),
                    pct(c.uptime.d7),
                    pct(c.uptime.d30),
                    pcts(c.response_ms.h24),
                );
            }
            out.push('\n');
            let failing: Vec<&CheckReport> = self
                .checks
                .iter()
                .filter(|c| !c.result.errors.is_empty())
                .collect();
            if !failing.is_empty() {
                out.push_str("### Problems\n\n");
                for c in failing {
                    let r = &c.result;
                    let mut errors: Vec<String> = r
                        .errors
                        .iter()
                        .take(MAX_ERRORS)
                        .map(|e| markdown_escape(e))
                        .collect();
                    if r.errors.len() > MAX_ERRORS {
                        errors.push(format!("… and {} more", r.errors.len() - MAX_ERRORS));
                    }
                    let retries = if r.attempts > 1 {
                        format!(" (after {} attempts)", r.attempts)
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "- {} **{}**{retries}: {}",
                        r.status.emoji(),
                        markdown_escape(&r.name),
                        errors.join("; ")
                    );
                }
                out.push('\n');
            }
        }
        let silenced: Vec<&CheckReport> = self
            .checks
            .iter()
            .filter(|c| c.silenced.is_some())
            .collect();
        if !silenced.is_empty() {
            out.push_str("### Silenced\n\nThese checks ran and are reported, but send no alert and open no issue.\n\n");
            for c in silenced {
                if let Some(s) = &c.silenced {
                    let _ = writeln!(
                        out,
                        "- 🔕 **{}**: {}",
                        markdown_escape(&c.result.name),
                        markdown_escape(&silence_text(s))
                    );
                }
            }
            out.push('\n');
        }
        if !self.incidents.is_empty() {
            out.push_str("### Open incidents\n\n| Check | Incident | Severity | Opened | Acknowledged | Issue |\n|---|---|---|---|---|---|\n");
            for i in &self.incidents {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    markdown_escape(&i.check),
                    i.id,
                    i.severity,
                    i.opened_at.format("%Y-%m-%d %H:%M UTC"),
                    i.acknowledged_by
                        .as_deref()
                        .map_or_else(|| "no".to_owned(), |b| format!("by {}", markdown_escape(b))),
                    i.issue.map_or_else(|| "—".to_owned(), |n| format!("#{n}")),
                );
            }
            out.push('\n');
        }
        if !self.actions.is_empty() {
            out.push_str("### Alerts this run\n\n");
            for a in &self.actions {
                let _ = writeln!(out, "- {}", markdown_escape(&action_line(a)));
            }
            out.push('\n');
        }
        let charted: Vec<&CheckReport> =
            self.checks.iter().filter(|c| !c.chart.is_empty()).collect();
        if !charted.is_empty() {
            let mut charts = String::new();
            for c in charted {
                charts.push_str(&mermaid_chart(&c.result.name, &c.chart));
            }
            let mut table =
                String::from("| Check | 24h p50 / p95 / p99 | 7d | 30d |\n|---|---:|---:|---:|\n");
            for c in &self.checks {
                let _ = writeln!(
                    table,
                    "| {} | {} | {} | {} |",
                    markdown_escape(&c.result.name),
                    pcts(c.response_ms.h24),
                    pcts(c.response_ms.d7),
                    pcts(c.response_ms.d30)
                );
            }
            out.push_str(&sv_report::details(
                "Response times (hourly median, last 24h)",
                &format!("{charts}\n{table}"),
            ));
            out.push('\n');
        }
        let (cadence, warn) = self.cadence();
        if warn {
            let _ = writeln!(out, "> [!WARNING]\n> {cadence}");
            for g in self.coverage.gaps.iter().take(MAX_GAPS) {
                let _ = writeln!(out, "> - {}", gap_line(g));
            }
            if self.coverage.gaps.len() > MAX_GAPS {
                let _ = writeln!(
                    out,
                    "> - … and {} more",
                    self.coverage.gaps.len() - MAX_GAPS
                );
            }
        } else {
            let _ = writeln!(out, "<sub>{cadence}</sub>");
        }
        out
    }
}

/// `until 2026-12-01 18:00 UTC (reason)`.
fn silence_text(s: &Silence) -> String {
    let mut text = format!("until {}", s.until.format("%Y-%m-%d %H:%M UTC"));
    if let Some(r) = s.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(text, " ({r})");
    }
    text
}

/// A Mermaid `xychart-beta` line chart; categorical x-axis, so hours without data are
/// simply absent rather than drawn as zero.
fn mermaid_chart(name: &str, points: &[(DateTime<Utc>, f64)]) -> String {
    // Mermaid has no escaping for titles: keep plain characters only.
    let title: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " -_.:/()".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let labels: Vec<String> = points
        .iter()
        .map(|(t, _)| format!("\"{}\"", t.format("%H:%M")))
        .collect();
    let values: Vec<String> = points.iter().map(|(_, v)| format!("{v:.0}")).collect();
    let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    // Headroom so the line does not touch the top.
    let top = ((max * 1.2) / 10.0).ceil().max(1.0) * 10.0;
    format!(
        "```mermaid\nxychart-beta\n    title \"{title} (ms)\"\n    x-axis [{}]\n    y-axis \"ms\" 0 --> {top:.0}\n    line [{}]\n```\n",
        labels.join(", "),
        values.join(", ")
    )
}

fn incident_line(i: &OpenIncident) -> String {
    let mut line = format!(
        "{}: incident #{} ({}) open since {}",
        i.check,
        i.id,
        i.severity,
        i.opened_at.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(by) = &i.acknowledged_by {
        let _ = write!(line, ", acknowledged by {by}");
    }
    if i.escalation_level > 0 {
        let _ = write!(line, ", escalation level {}", i.escalation_level);
    }
    if let Some(n) = i.issue {
        let _ = write!(line, ", issue #{n}");
    }
    line
}

fn action_line(a: &AlertAction) -> String {
    let to = |c: &[String]| {
        if c.is_empty() {
            String::new()
        } else {
            format!(" → {}", c.join(", "))
        }
    };
    match a {
        AlertAction::Open {
            check,
            incident,
            severity,
            channels,
            assignee,
            ..
        } => {
            let who = assignee
                .as_deref()
                .map(|a| format!(", assigned to {a}"))
                .unwrap_or_default();
            format!(
                "opened incident #{incident} for {check} ({severity}){}{who}",
                to(channels)
            )
        }
        AlertAction::Repeat {
            check,
            incident,
            channels,
            ..
        } => format!("repeated incident #{incident} for {check}{}", to(channels)),
        AlertAction::Escalate {
            check,
            incident,
            level,
            channels,
            assignee,
            ..
        } => {
            let who = assignee
                .as_deref()
                .map(|a| format!(", assigned to {a}"))
                .unwrap_or_default();
            format!(
                "escalated incident #{incident} for {check} to level {level}{}{who}",
                to(channels)
            )
        }
        AlertAction::Acknowledged {
            check,
            incident,
            by,
            ..
        } => format!("incident #{incident} for {check} acknowledged by {by}"),
        AlertAction::Resolve {
            check,
            incident,
            duration_s,
            channels,
            ..
        } => format!(
            "resolved incident #{incident} for {check} after {}{}",
            dur(*duration_s),
            to(channels)
        ),
        AlertAction::Suppressed {
            check,
            held,
            reason,
        } => {
            let held = match held {
                Held::Open => "opening an incident",
                Held::Repeat => "repeating the alert",
                Held::Escalate => "escalating",
            };
            format!("held back {held} for {check}: {reason}")
        }
    }
}

fn gap_line(g: &Gap) -> String {
    format!(
        "{} → {}: {} without a run",
        g.from.format("%m-%d %H:%M"),
        g.to.format("%m-%d %H:%M UTC"),
        dur(g.seconds)
    )
}

fn ms(v: f64) -> String {
    format!("{v:.0} ms")
}

fn pct(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if v >= 100.0 => "100%".to_owned(),
        // Floor, so 99.999% never shows as 100%.
        Some(v) => format!("{:.2}%", (v * 100.0).floor() / 100.0),
    }
}

fn pcts(p: Option<Percentiles>) -> String {
    p.map_or_else(
        || "—".to_owned(),
        |p| format!("{:.0} / {:.0} / {:.0} ms", p.p50, p.p95, p.p99),
    )
}

/// `45s`, `5m`, `7m 30s`, `1h 2m`, `2d 3h`.
fn dur(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m, sec) {
        (0, 0, 0, sec) => format!("{sec}s"),
        (0, 0, m, 0) => format!("{m}m"),
        (0, 0, m, sec) => format!("{m}m {sec}s"),
        (0, h, 0, _) => format!("{h}h"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (d, 0, _, _) => format!("{d}d"),
        (d, h, _, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_percentages_read_well() {
        assert_eq!(dur(45), "45s");
        assert_eq!(dur(300), "5m");
        assert_eq!(dur(450), "7m 30s");
        assert_eq!(dur(3720), "1h 2m");
        assert_eq!(dur(7200), "2h");
        assert_eq!(dur(183_600), "2d 3h");
        assert_eq!(pct(Some(99.999)), "99.99%");
        assert_eq!(pct(Some(100.0)), "100%");
        assert_eq!(pct(None), "—");
    }
}
