//! The history store: every run's results, compact enough to live in the repository, an R2
//! object or a KV value, and the figures computed from it (uptime, response-time
//! percentiles, the real interval between runs and the gaps in it).
//!
//! # File format (version 1)
//!
//! UTF-8 text, one record per line:
//!
//! ```text
//! sv-health-history 1          optional header; another version is refused
//! @1764072000                  a run: Unix seconds (UTC)
//! api h 123                    a result of that run: check, status (h|d|u), response ms
//! main-db u 2000
//! ```
//!
//! Check names escape space, `%`, `@` and control characters as `%XX`. A run is appended as
//! one block, so writers can append to a file opened with `O_APPEND` ([`History::encode_run`])
//! or rewrite an object whole ([`History::to_bytes`]). Reading is forgiving where storage is
//! unreliable: a last line without its newline (an interrupted append) is ignored, and
//! malformed lines are skipped and counted ([`History::skipped_lines`]) rather than losing
//! the whole history.
//!
//! Size: about 15 bytes per result plus 12 per run; 10,000 results of five checks
//! (2,000 runs) take about 160 KB (pinned by a test), so 90 days of 5-minute runs of five
//! checks stay under 2.2 MB before compression.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::Error;
use crate::status::{HealthStatus, Status};

const HEADER: &str = "sv-health-history 1";

/// How long history is kept by [`History::compact`] by default.
pub const RETENTION: TimeDelta = TimeDelta::days(90);

/// One result as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub check: String,
    pub status: Status,
    pub response_ms: u32,
}

/// One run of `check`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub at: DateTime<Utc>,
    pub samples: Vec<Sample>,
}

/// All stored runs, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    runs: Vec<Run>,
    skipped: usize,
}

/// Response-time percentiles (nearest rank) over the samples that were not unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: usize,
}

/// A stretch between two consecutive runs longer than 1.5× the expected interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub seconds: i64,
}

/// The real cadence of runs in a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Intervals {
    pub runs: usize,
    pub median_s: i64,
    pub max_s: i64,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Lines that could not be read when this history was decoded.
    pub fn skipped_lines(&self) -> usize {
        self.skipped
    }

    /// Records a run and returns the bytes to append to a history file.
    pub fn append(&mut self, at: DateTime<Utc>, results: &[HealthStatus]) -> Vec<u8> {
        let mut samples: Vec<Sample> = results
            .iter()
            .map(|r| Sample {
                check: r.name.clone(),
                // What the probe found: streaks and uptime are measured on probes.
                status: r.found(),
                response_ms: ms(r.response_time_ms),
            })
            .collect();
        samples.sort_by(|a, b| a.check.cmp(&b.check));
        let run = Run {
            at: truncate_to_second(at),
            samples,
        };
        let bytes = Self::encode_run(&run);
        let pos = self.runs.partition_point(|r| r.at <= run.at);
        self.runs.insert(pos, run);
        bytes
    }

    /// One run as appended to a file.
    pub fn encode_run(run: &Run) -> Vec<u8> {
        let mut out = String::with_capacity(12 + run.samples.len() * 16);
        let _ = writeln!(out, "@{}", run.at.timestamp());
        for s in &run.samples {
            let _ = writeln!(
                out,
                "{} {} {}",
                escape(&s.check),
                status_code(s.status),
                s.response_ms
            );
        }
        out.into_bytes()
    }

    /// The whole history, with its header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{HEADER}\n").into_bytes();
        for run in &self.runs {
            out.extend(Self::encode_run(run));
        }
        out
    }

    /// Reads a history written by [`History::to_bytes`] or by appends (header optional).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let text = String::from_utf8_lossy(bytes);
        // An interrupted append leaves a last line without its newline: drop it.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        let mut history = History::default();
        let mut current: Option<Run> = None;
        for (i, line) in complete.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            if let Some(version) = line.strip_prefix("sv-health-history ") {
                if version.trim() != "1" {
                    return Err(Error::History {
                        line: i + 1,
                        reason: format!("unsupported history version {version}"),
                    });
                }
                continue;
            }
            if let Some(ts) = line.strip_prefix('@') {
                match ts
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                {
                    Some(at) => {
                        if let Some(run) = current.replace(Run {
                            at,
                            samples: Vec::new(),
                        }) {
                            history.runs.push(run);
                        }
                    }
                    None => {
                        history.skipped += 1;
                        // Results after a bad marker cannot be placed in time.
                        if let Some(run) = current.take() {
                            history.runs.push(run);
                        }
                    }
                }
                continue;
            }
            match (parse_sample(line), current.as_mut()) {
                (Some(sample), Some(run)) => run.samples.push(sample),
                _ => history.skipped += 1,
            }
        }
        if let Some(run) = current {
            history.runs.push(run);
        }
        history.runs.sort_by_key(|r| r.at);
        Ok(history)
    }

    /// Drops runs older than `keep` before `now`; returns how many were dropped.
    pub fn compact(&mut self, now: DateTime<Utc>, keep: TimeDelta) -> usize {
        let cutoff = now - keep;
        let before = self.runs.len();
        self.runs.retain(|r| r.at >= cutoff);
        before - self.runs.len()
    }

    fn in_window(&self, window: TimeDelta, now: DateTime<Utc>) -> impl Iterator<Item = &Run> {
        let from = now - window;
        self.runs.iter().filter(move |r| r.at > from && r.at <= now)
    }

    fn samples<'a>(
        &'a self,
        check: &'a str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, &'a Sample)> + 'a {
        self.in_window(window, now).flat_map(move |r| {
            r.samples
                .iter()
                .filter(move |s| s.check == check)
                .map(move |s| (r.at, s))
        })
    }

    /// Share of `check`'s results in the window that were not unhealthy (degraded still
    /// serves), as a percentage; `None` without results. Sample-weighted: the report states
    /// the run gaps beside it instead of pretending they were covered.
    pub fn uptime(&self, check: &str, window: TimeDelta, now: DateTime<Utc>) -> Option<f64> {
        let (up, total) = self
            .samples(check, window, now)
            .fold((0usize, 0usize), |(up, total), (_, s)| {
                (up + usize::from(s.status != Status::Unhealthy), total + 1)
            });
        (total > 0).then(|| up as f64 * 100.0 / total as f64)
    }

    /// p50/p95/p99 of `check`'s response times in the window, unhealthy results excluded
    /// (a timeout's duration says nothing about how fast the service answers).
    pub fn percentiles(
        &self,
        check: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Option<Percentiles> {
        let times: Vec<f64> = self
            .samples(check, window, now)
            .filter(|(_, s)| s.status != Status::Unhealthy)
            .map(|(_, s)| f64::from(s.response_ms))
            .collect();
        percentiles_of(times)
    }

    /// Median response time of `check` per `bucket` over the window, oldest first, only
    /// for buckets that have samples (the chart's data).
    pub fn response_series(
        &self,
        check: &str,
        window: TimeDelta,
        bucket: TimeDelta,
        now: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, f64)> {
        let width = bucket.num_seconds().max(1);
        let mut buckets: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
        for (at, s) in self.samples(check, window, now) {
            if s.status != Status::Unhealthy {
                buckets
                    .entry(at.timestamp().div_euclid(width) * width)
                    .or_default()
                    .push(f64::from(s.response_ms));
            }
        }
        buckets
            .into_iter()
            .filter_map(|(start, v)| {
                let p = percentiles_of(v)?;
                Some((DateTime::from_timestamp(start, 0)?, p.p50))
            })
            .collect()
    }

    /// Check names seen in the window, sorted.
    pub fn checks(&self, window: TimeDelta, now: DateTime<Utc>) -> Vec<String> {
        let mut names: Vec<String> = self
            .in_window(window, now)
            .flat_map(|r| r.samples.iter().map(|s| s.check.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Intervals between consecutive runs in the window longer than 1.5× `expected`:
    /// scheduled runs (GitHub's cron especially) are often late or skipped.
    pub fn run_gaps(&self, window: TimeDelta, now: DateTime<Utc>, expected: TimeDelta) -> Vec<Gap> {
        let limit = expected.num_seconds() * 3 / 2;
        let runs: Vec<&Run> = self.in_window(window, now).collect();
        runs.windows(2)
            .filter_map(|w| {
                let seconds = (w[1].at - w[0].at).num_seconds();
                (seconds > limit).then(|| Gap {
                    from: w[0].at,
                    to: w[1].at,
                    seconds,
                })
            })
            .collect()
    }

    /// Median and longest interval between consecutive runs in the window; `None` with
    /// fewer than two runs.
    pub fn intervals(&self, window: TimeDelta, now: DateTime<Utc>) -> Option<Intervals> {
        let runs: Vec<&Run> = self.in_window(window, now).collect();
        let mut gaps: Vec<i64> = runs
            .windows(2)
            .map(|w| (w[1].at - w[0].at).num_seconds())
            .collect();
        if gaps.is_empty() {
            return None;
        }
        gaps.sort_unstable();
        Some(Intervals {
            runs: runs.len(),
            median_s: gaps[(gaps.len() - 1) / 2],
            max_s: gaps[gaps.len() - 1],
        })
    }
}

/// Nearest-rank percentiles: the smallest value with at least p% of values at or below it.
pub fn percentiles_of(mut values: Vec<f64>) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let rank = |p: f64| {
        let r = ((p / 100.0) * n as f64).ceil() as usize;
        values[r.clamp(1, n) - 1]
    };
    Some(Percentiles {
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
        samples: n,
    })
}

fn ms(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

fn truncate_to_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

fn status_code(s: Status) -> char {
    match s {
        Status::Healthy => 'h',
        Status::Degraded => 'd',
        Status::Unhealthy => 'u',
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let mut parts = line.split(' ');
    let check = unescape(parts.next()?)?;
    let status = match parts.next()? {
        "h" => Status::Healthy,
        "d" => Status::Degraded,
        "u" => Status::Unhealthy,
        _ => return None,
    };
    let response_ms = parts.next()?.parse().ok()?;
    if parts.next().is_some() || check.is_empty() {
        return None;
    }
    Some(Sample {
        check,
        status,
        response_ms,
    })
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == ' ' || c == '%' || c == '@' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::spec::CheckKind;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        t("2026-11-25T12:00:00Z")
    }

    fn r(name: &str, status: Status, ms: f64) -> HealthStatus {
        HealthStatus {
            name: name.into(),
            kind: CheckKind::Http,
            status,
            last_check: now(),
            response_time_ms: ms,
            errors: vec![],
            metrics: BTreeMap::new(),
            attempts: 1,
            probed: None,
        }
    }

    #[test]
    fn round_trips_through_bytes() {
        let mut h = History::new();
        h.append(
            now() - TimeDelta::minutes(5),
            &[
                r("b", Status::Healthy, 12.4),
                r("a b%@", Status::Degraded, 700.6),
            ],
        );
        h.append(now(), &[r("a b%@", Status::Unhealthy, 5000.0)]);
        let bytes = h.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            "sv-health-history 1\n@1795607700\na%20b%25%40 d 701\nb h 12\n@1795608000\na%20b%25%40 u 5000\n"
        );
        let back = History::from_bytes(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.runs()[0].samples[0].check, "a b%@");
    }

    #[test]
    fn appended_blocks_concatenate_into_a_readable_file() {
        let mut h = History::new();
        let mut file = Vec::new();
        file.extend(h.append(
            now() - TimeDelta::minutes(5),
            &[r("api", Status::Healthy, 10.0)],
        ));
        file.extend(h.append(now(), &[r("api", Status::Healthy, 20.0)]));
        assert_eq!(History::from_bytes(&file).unwrap().runs(), h.runs());
    }

    #[test]
    fn partial_last_line_and_garbage_are_survived() {
        let text = "sv-health-history 1\n@1764071700\napi h 10\nnot a sample\n@1764072000\napi h 2";
        let h = History::from_bytes(text.as_bytes()).unwrap();
        assert_eq!(h.runs().len(), 2);
        assert_eq!(h.runs()[0].samples.len(), 1);
        // The interrupted line is gone; the run marker before it survives.
        assert!(h.runs()[1].samples.is_empty());
        assert_eq!(h.skipped_lines(), 1);
        assert!(History::from_bytes(b"").unwrap().runs().is_empty());
        assert!(History::from_bytes(b"@17640").unwrap().runs().is_empty());
    }

    #[test]
    fn unknown_version_is_refused() {
        let err = History::from_bytes(b"sv-health-history 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "history line 1: unsupported history version 2"
        );
    }

    #[test]
    fn out_of_order_runs_are_sorted() {
        let text = "@1764072000\napi h 1\n@1764071700\napi h 2\n";
        let h = History::from_bytes(text.as_bytes()).unwrap();
        assert!(h.runs()[0].at < h.runs()[1].at);
    }

    #[test]
    fn uptime_counts_degraded_as_up_within_the_window() {
        let mut h = History::new();
        // 10 runs, one per hour; 2 unhealthy, 1 degraded.
        for i in 0..10 {
            let status = match i {
                1 | 4 => Status::Unhealthy,
                7 => Status::Degraded,
                _ => Status::Healthy,
            };
            h.append(now() - TimeDelta::hours(i), &[r("api", status, 100.0)]);
        }
        // Something far older must not count in 24h.
        h.append(
            now() - TimeDelta::days(3),
            &[r("api", Status::Unhealthy, 1.0)],
        );
        assert_eq!(h.uptime("api", TimeDelta::hours(24), now()), Some(80.0));
        let week = h.uptime("api", TimeDelta::days(7), now()).unwrap();
        assert!((week - 800.0 / 11.0).abs() < 1e-9, "{week}");
        // Window is (now - w, now]: the run exactly 4h ago is out of a 4h window.
        assert_eq!(h.uptime("api", TimeDelta::hours(4), now()), Some(75.0));
        assert_eq!(h.uptime("other", TimeDelta::hours(24), now()), None);
    }

    #[test]
    fn percentiles_use_nearest_rank_on_known_data() {
        let p = percentiles_of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.samples), (50.0, 95.0, 99.0, 100));
        let small = percentiles_of(vec![30.0, 10.0, 20.0]).unwrap();
        assert_eq!((small.p50, small.p95, small.p99), (20.0, 30.0, 30.0));
        assert!(percentiles_of(vec![]).is_none());
    }

    #[test]
    fn percentiles_exclude_unhealthy_samples() {
        let mut h = History::new();
        for i in 1..=20 {
            h.append(
                now() - TimeDelta::minutes(i * 5),
                &[r("api", Status::Healthy, f64::from(i as u32) * 10.0)],
            );
        }
        h.append(now(), &[r("api", Status::Unhealthy, 10_000.0)]);
        let p = h.percentiles("api", TimeDelta::hours(24), now()).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.samples), (100.0, 190.0, 200.0, 20));
    }

    #[test]
    fn gaps_are_flagged_above_one_and_a_half_intervals() {
        let mut h = History::new();
        // Runs at 0, 5, 12 (7 min: within 7.5), 30 (18 min gap), 35 minutes.
        for m in [0, 5, 12, 30, 35] {
            h.append(
                now() - TimeDelta::minutes(35 - m),
                &[r("api", Status::Healthy, 1.0)],
            );
        }
        let gaps = h.run_gaps(TimeDelta::hours(24), now(), TimeDelta::minutes(5));
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].seconds, 18 * 60);
        assert_eq!(gaps[0].from, now() - TimeDelta::minutes(23));
        let iv = h.intervals(TimeDelta::hours(24), now()).unwrap();
        assert_eq!((iv.runs, iv.median_s, iv.max_s), (5, 300, 1080));
        assert!(
            History::new()
                .intervals(TimeDelta::hours(1), now())
                .is_none()
        );
    }

    #[test]
    fn compaction_drops_old_runs() {
        let mut h = History::new();
        h.append(
            now() - TimeDelta::days(91),
            &[r("api", Status::Healthy, 1.0)],
        );
        h.append(
            now() - TimeDelta::days(89),
            &[r("api", Status::Healthy, 1.0)],
        );
        assert_eq!(h.compact(now(), RETENTION), 1);
        assert_eq!(h.runs().len(), 1);
    }

    #[test]
    fn response_series_buckets_medians() {
        let mut h = History::new();
        h.append(
            t("2026-11-25T10:10:00Z"),
            &[r("api", Status::Healthy, 100.0)],
        );
        h.append(
            t("2026-11-25T10:20:00Z"),
            &[r("api", Status::Healthy, 300.0)],
        );
        h.append(
            t("2026-11-25T10:30:00Z"),
            &[r("api", Status::Healthy, 200.0)],
        );
        h.append(
            t("2026-11-25T11:10:00Z"),
            &[r("api", Status::Unhealthy, 900.0)],
        );
        h.append(
            t("2026-11-25T11:40:00Z"),
            &[r("api", Status::Healthy, 50.0)],
        );
        let s = h.response_series("api", TimeDelta::hours(24), TimeDelta::hours(1), now());
        assert_eq!(
            s,
            vec![
                (t("2026-11-25T10:00:00Z"), 200.0),
                (t("2026-11-25T11:00:00Z"), 50.0)
            ]
        );
    }

    #[test]
    fn ten_thousand_results_stay_small() {
        let names = ["api", "web", "sessions-kv", "main-db", "uploads-r2"];
        let mut h = History::new();
        for run in 0..2000 {
            let results: Vec<HealthStatus> = names
                .iter()
                .map(|n| r(n, Status::Healthy, 80.0 + f64::from(run % 400)))
                .collect();
            h.append(now() - TimeDelta::minutes(5 * i64::from(run)), &results);
        }
        let size = h.to_bytes().len();
        assert!((150_000..=180_000).contains(&size), "{size} bytes");
    }
}
