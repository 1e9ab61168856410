//! `sv-backup prune`: which archives a retention policy keeps, and deleting the others.
//!
//! The selection follows restic's `forget` policy exactly, on UTC calendar buckets:
//!
//! - Archives are grouped by the name before their timestamp (`PROJECT-ENV`), and the policy
//!   applies to each group on its own, so staging backups never push out production ones.
//! - In a group, archives are walked newest first (ties: the greater name first). Each rule
//!   has a budget (its `N`) and remembers the bucket of the last archive it kept:
//!   - `last`: every archive is a bucket of its own, so the `N` newest are kept;
//!   - `daily`: the bucket is the UTC day (`2026-11-25`);
//!   - `weekly`: the ISO 8601 week of the UTC day (`2026-W48`, weeks start on Monday);
//!   - `monthly`: the UTC month (`2026-11`).
//! - An archive whose bucket differs from the one the rule kept last is kept by that rule
//!   while the rule has budget left, which spends one. So a rule keeps the newest archive of
//!   each of the `N` most recent buckets that hold any archive: days (weeks, months) without
//!   backups do not count against `N`.
//! - An archive is kept when at least one rule keeps it, and it records every rule that did
//!   (an archive can spend `last`, `daily` and `monthly` budget at once). The others are
//!   removed.
//!
//! [`select`] is pure (times in, reasons out), so it is tested without files or an API;
//! [`run`] lists a [`crate::sources::Source`], deletes what no rule keeps (archive and
//! `.sha256` together) and appends one `backup.prune` audit record per deletion.
//! Archives whose names are not sv-backup names are never touched.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use serde::Serialize;
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_report::{Render, Styles};

use crate::args::PruneArgs;
use crate::sources::{Store, Stored, parse_name};

/// How many archives each rule keeps (0: the rule is off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Policy {
    /// True when no rule keeps anything: such a policy would delete every archive.
    pub fn is_empty(&self) -> bool {
        self.last == 0 && self.daily == 0 && self.weekly == 0 && self.monthly == 0
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            ("last", self.last),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(rule, n)| format!("{rule} {n}"))
        .collect();
        f.write_str(&parts.join(", "))
    }
}

/// A retention rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    Last,
    Daily,
    Weekly,
    Monthly,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Last => "last",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
        })
    }
}

/// Why an archive is kept: the rule and the bucket it was kept for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: Rule,
    /// `#1` … for `last`; the day, ISO week or month otherwise.
    pub bucket: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rule, self.bucket)
    }
}

fn bucket(rule: Rule, time: DateTime<Utc>, rank: usize) -> String {
    match rule {
        Rule::Last => format!("#{}", rank + 1),
        Rule::Daily => time.format("%Y-%m-%d").to_string(),
        Rule::Weekly => {
            let week = time.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Rule::Monthly => time.format("%Y-%m").to_string(),
    }
}

/// For each archive of one group (`(name, time)` in any order), the reasons it is kept;
/// an empty list means it is removed. The answer is in the input's order.
pub fn select(archives: &[(&str, DateTime<Utc>)], policy: &Policy) -> Vec<Vec<Reason>> {
    let mut order: Vec<usize> = (0..archives.len()).collect();
    order.sort_by(|&a, &b| {
        archives[b]
            .1
            .cmp(&archives[a].1)
            .then_with(|| archives[b].0.cmp(archives[a].0))
    });
    let mut rules: Vec<(Rule, u32, Option<String>)> = [
        (Rule::Last, policy.last),
        (Rule::Daily, policy.daily),
        (Rule::Weekly, policy.weekly),
        (Rule::Monthly, policy.monthly),
    ]
    .into_iter()
    .map(|(rule, budget)| (rule, budget, None))
    .collect();
    let mut out = vec![Vec::new(); archives.len()];
    for (rank, &index) in order.iter().enumerate() {
        let time = archives[index].1;
        for (rule, budget, last) in &mut rules {
            if *budget == 0 {
                continue;
            }
            let b = bucket(*rule, time, rank);
            if last.as_deref() != Some(b.as_str()) {
                *budget -= 1;
                out[index].push(Reason {
                    rule: *rule,
                    bucket: b.clone(),
                });
                *last = Some(b);
            }
        }
    }
    out
}

/// What happens (or, with `--dry-run`, would happen) to one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Keep,
    /// `--dry-run`: would be removed.
    Remove,
    Removed,
    /// Deleting it failed (see `error`).
    Failed,
}

/// One archive of a group.
#[derive(Debug, Serialize)]
pub struct PruneEntry {
    pub name: String,
    pub backup_time: String,
    pub action: Action,
    /// The rules that keep it (empty when removed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The archives of one `PROJECT-ENV`, newest first.
#[derive(Debug, Serialize)]
pub struct PruneGroup {
    pub group: String,
    pub archives: Vec<PruneEntry>,
}

/// What `prune` did.
#[derive(Debug, Serialize)]
pub struct PruneReport {
    pub source: String,
    pub dry_run: bool,
    pub policy: Policy,
    pub groups: Vec<PruneGroup>,
    /// Archives whose names are not sv-backup names: never touched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    pub kept: u64,
    pub removed: u64,
    pub failed: u64,
}

impl PruneReport {
    fn verb(&self, action: Action) -> &'static str {
        match action {
            Action::Keep => "keep",
            Action::Remove => "would remove",
            Action::Removed => "removed",
            Action::Failed => "FAILED to remove",
        }
    }
}

impl Render for PruneReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} {} with policy {} (UTC calendar){}\n",
            styles.bold("Prune"),
            self.source,
            self.policy,
            if self.dry_run { ", dry run" } else { "" }
        );
        for g in &self.groups {
            out.push_str(&format!("{}\n", styles.bold(&g.group)));
            for a in &g.archives {
                let why = if a.reasons.is_empty() {
                    String::new()
                } else {
                    format!(
                        "  ({})",
                        a.reasons
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let error = a
                    .error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  {:<16} {}{why}{error}\n",
                    self.verb(a.action),
                    a.name
                ));
            }
        }
        for name in &self.ignored {
            out.push_str(&format!(
                "  {:<16} {name} (not an sv-backup name)\n",
                "ignored"
            ));
        }
        out.push_str(&format!(
            "{} kept, {} {}{}\n",
            self.kept,
            self.removed,
            if self.dry_run {
                "would be removed"
            } else {
                "removed"
            },
            if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            }
        ));
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Prune {}{}\n\nPolicy: {} (UTC calendar). {} kept, {} {}{}.\n\n| Archive | Action | Kept by |\n|---|---|---|\n",
            sv_report::markdown_escape(&self.source),
            if self.dry_run { " (dry run)" } else { "" },
            self.policy,
            self.kept,
            self.removed,
            if self.dry_run {
                "would be removed"
            } else {
                "removed"
            },
            if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            }
        );
        for g in &self.groups {
            for a in &g.archives {
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    a.name,
                    self.verb(a.action),
                    a.reasons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        out
    }
}

/// Runs `prune`.
pub async fn run(global: &GlobalArgs, args: PruneArgs) -> anyhow::Result<ExitStatus> {
    let flags = [
        args.keep_last,
        args.keep_daily,
        args.keep_weekly,
        args.keep_monthly,
    ];
    let policy = if flags.iter().any(Option::is_some) {
        Policy {
            last: args.keep_last.unwrap_or(0),
            daily: args.keep_daily.unwrap_or(0),
            weekly: args.keep_weekly.unwrap_or(0),
            monthly: args.keep_monthly.unwrap_or(0),
        }
    } else {
        let config = sv_cli::context::load_config(global)?;
        let keep = config
            .config
            .backup
            .as_ref()
            .map(|b| b.keep.clone())
            .unwrap_or_default();
        Policy {
            last: 0,
            daily: keep.daily.unwrap_or(0),
            weekly: keep.weekly.unwrap_or(0),
            monthly: keep.monthly.unwrap_or(0),
        }
    };
    if policy.is_empty() {
        return Err(InputError::new(anyhow::anyhow!(
            "no archive would be kept: pass --keep-last/--keep-daily/--keep-weekly/--keep-monthly \
             (at least one above 0) or set `backup.keep` in sv.yaml; a policy that keeps nothing \
             would delete every archive"
        ))
        .into());
    }
    let store = Store::open(&args.source)?;
    let listed = store.list().await?;
    let mut groups: BTreeMap<String, Vec<(Stored, DateTime<Utc>)>> = BTreeMap::new();
    let mut ignored = Vec::new();
    for stored in listed {
        match parse_name(&stored.name) {
            Some((group, time)) => {
                let group = group.to_owned();
                groups.entry(group).or_default().push((stored, time));
            }
            None => ignored.push(stored.name),
        }
    }
    let audit = sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(
        global
            .config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    ));
    let runner = sv_cli::context::runner();
    let mut report = PruneReport {
        source: store.source.to_string(),
        dry_run: args.dry_run,
        policy,
        groups: Vec::new(),
        ignored,
        kept: 0,
        removed: 0,
        failed: 0,
    };
    for (group, mut archives) in groups {
        archives.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.name.cmp(&a.0.name)));
        let keys: Vec<(&str, DateTime<Utc>)> = archives
            .iter()
            .map(|(s, t)| (s.name.as_str(), *t))
            .collect();
        let reasons = select(&keys, &policy);
        let mut entries = Vec::new();
        for ((stored, time), reasons) in archives.iter().zip(reasons) {
            let mut entry = PruneEntry {
                name: stored.name.clone(),
                backup_time: time.to_rfc3339(),
                action: Action::Keep,
                reasons,
                error: None,
            };
            if !entry.reasons.is_empty() {
                report.kept += 1;
            } else if args.dry_run {
                entry.action = Action::Remove;
                report.removed += 1;
            } else {
                let result = store.delete(stored).await;
                audit
                    .append(&sv_audit::AuditRecord {
                        time: Utc::now(),
                        actor: sv_audit::Actor::from_env(|k| std::env::var(k).ok()).0,
                        tool: "sv-backup".into(),
                        environment: None,
                        operation: "backup.prune".into(),
                        target: format!("{} ({})", stored.name, store.source),
                        result: if result.is_ok() {
                            sv_audit::Outcome::Succeeded
                        } else {
                            sv_audit::Outcome::Failed
                        },
                        detail: result.as_ref().err().map(|e| format!("{e:#}")),
                        run_url: None,
                    })
                    .context("writing the audit trail")?;
                match result {
                    Ok(()) => {
                        entry.action = Action::Removed;
                        report.removed += 1;
                    }
                    Err(e) => {
                        entry.action = Action::Failed;
                        entry.error = Some(format!("{e:#}"));
                        report.failed += 1;
                    }
                }
            }
            entries.push(entry);
        }
        report.groups.push(PruneGroup {
            group,
            archives: entries,
        });
    }
    runner.set_output("kept", &report.kept.to_string())?;
    runner.set_output("removed", &report.removed.to_string())?;
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if report.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap()
    }

    fn policy(last: u32, daily: u32, weekly: u32, monthly: u32) -> Policy {
        Policy {
            last,
            daily,
            weekly,
            monthly,
        }
    }

    /// Runs the selection and renders it as `name: reasons` or `name: remove`, newest first.
    fn run(archives: &[(&str, DateTime<Utc>)], p: Policy) -> Vec<String> {
        let reasons = select(archives, &p);
        let mut rows: Vec<(DateTime<Utc>, &str, String)> = archives
            .iter()
            .zip(reasons)
            .map(|((name, time), r)| {
                let what = if r.is_empty() {
                    "remove".to_owned()
                } else {
                    r.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (*time, *name, what)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(a.1)));
        rows.into_iter()
            .map(|(_, n, w)| format!("{n}: {w}"))
            .collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            archives: Vec<(&'static str, DateTime<Utc>)>,
            policy: Policy,
            expected: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "no archives",
                archives: vec![],
                policy: policy(3, 0, 0, 0),
                expected: vec![],
            },
            Case {
                name: "keep-last keeps the N newest whatever the input order",
                archives: vec![
                    ("b", at(2026, 11, 2, 1, 0)),
                    ("d", at(2026, 11, 4, 1, 0)),
                    ("a", at(2026, 11, 1, 1, 0)),
                    ("c", at(2026, 11, 3, 1, 0)),
                ],
                policy: policy(2, 0, 0, 0),
                expected: vec!["d: last #1", "c: last #2", "b: remove", "a: remove"],
            },
            Case {
                name: "keep-last larger than the number of archives keeps all",
                archives: vec![("a", at(2026, 11, 1, 1, 0)), ("b", at(2026, 11, 2, 1, 0))],
                policy: policy(10, 0, 0, 0),
                expected: vec!["b: last #1", "a: last #2"],
            },
            Case {
                name: "same day: daily keeps only the newest of the day",
                archives: vec![
                    ("a", at(2026, 11, 25, 1, 0)),
                    ("b", at(2026, 11, 25, 13, 0)),
                    ("c", at(2026, 11, 25, 23, 59)),
                    ("d", at(2026, 11, 24, 23, 0)),
                ],
                policy: policy(0, 2, 0, 0),
                expected: vec![
                    "c: daily 2026-11-25",
                    "b: remove",
                    "a: remove",
                    "d: daily 2026-11-24",
                ],
            },
            Case {
                name: "gaps: days without a backup do not spend the daily budget",
                archives: vec![
                    ("a", at(2026, 11, 1, 2, 0)),
                    ("b", at(2026, 11, 10, 2, 0)),
                    ("c", at(2026, 11, 20, 2, 0)),
                    ("d", at(2026, 11, 21, 2, 0)),
                ],
                policy: policy(0, 3, 0, 0),
                expected: vec![
                    "d: daily 2026-11-21",
                    "c: daily 2026-11-20",
                    "b: daily 2026-11-10",
                    "a: remove",
                ],
            },
            Case {
                name: "UTC buckets: 23:30 and 00:30 UTC are two days",
                archives: vec![
                    ("late", at(2026, 11, 24, 23, 30)),
                    ("early", at(2026, 11, 25, 0, 30)),
                ],
                policy: policy(0, 2, 0, 0),
                expected: vec!["early: daily 2026-11-25", "late: daily 2026-11-24"],
            },
            Case {
                name: "one archive can be kept by several rules, each recorded",
                archives: vec![("a", at(2026, 10, 31, 3, 0)), ("b", at(2026, 11, 25, 3, 0))],
                policy: policy(1, 1, 1, 2),
                expected: vec![
                    "b: last #1, daily 2026-11-25, weekly 2026-W48, monthly 2026-11",
                    "a: monthly 2026-10",
                ],
            },
            Case {
                name: "weekly uses ISO weeks (Monday start) across a year end",
                archives: vec![
                    // Sunday 2026-12-27 is in 2026-W52; Monday 2026-12-28 starts 2026-W53;
                    // Friday 2027-01-01 is still 2026-W53.
                    ("sun", at(2026, 12, 27, 12, 0)),
                    ("mon", at(2026, 12, 28, 12, 0)),
                    ("fri", at(2027, 1, 1, 12, 0)),
                    ("next", at(2027, 1, 4, 12, 0)),
                ],
                policy: policy(0, 0, 3, 0),
                expected: vec![
                    "next: weekly 2027-W01",
                    "fri: weekly 2026-W53",
                    "mon: remove",
                    "sun: weekly 2026-W52",
                ],
            },
            Case {
                name: "monthly keeps the newest of each month; older months beyond N go",
                archives: vec![
                    ("jan", at(2026, 1, 15, 0, 0)),
                    ("feb1", at(2026, 2, 1, 0, 0)),
                    ("feb28", at(2026, 2, 28, 0, 0)),
                    ("mar", at(2026, 3, 31, 23, 59)),
                ],
                policy: policy(0, 0, 0, 2),
                expected: vec![
                    "mar: monthly 2026-03",
                    "feb28: monthly 2026-02",
                    "feb1: remove",
                    "jan: remove",
                ],
            },
            Case {
                name: "same second: the greater name counts as newer",
                archives: vec![
                    ("x-a", at(2026, 11, 25, 1, 0)),
                    ("x-b", at(2026, 11, 25, 1, 0)),
                ],
                policy: policy(1, 0, 0, 0),
                expected: vec!["x-b: last #1", "x-a: remove"],
            },
            Case {
                name: "restic's example shape: last 2 + daily 3 overlap",
                archives: vec![
                    ("d1a", at(2026, 11, 21, 1, 0)),
                    ("d2a", at(2026, 11, 22, 1, 0)),
                    ("d3a", at(2026, 11, 23, 1, 0)),
                    ("d3b", at(2026, 11, 23, 13, 0)),
                    ("d4a", at(2026, 11, 24, 1, 0)),
                    ("d4b", at(2026, 11, 24, 13, 0)),
                ],
                policy: policy(2, 3, 0, 0),
                expected: vec![
                    "d4b: last #1, daily 2026-11-24",
                    "d4a: last #2",
                    "d3b: daily 2026-11-23",
                    "d3a: remove",
                    "d2a: daily 2026-11-22",
                    "d1a: remove",
                ],
            },
        ];
        for case in cases {
            assert_eq!(
                run(&case.archives, case.policy),
                case.expected,
                "case: {}",
                case.name
            );
        }
    }

    #[test]
    fn policy_display_and_empty() {
        assert!(Policy::default().is_empty());
        assert_eq!(
            policy(2, 7, 0, 12).to_string(),
            "last 2, daily 7, monthly 12"
        );
        assert!(!policy(0, 0, 1, 0).is_empty());
    }
}
