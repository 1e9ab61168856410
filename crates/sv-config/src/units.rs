//! Small typed values written as strings in `sv.yaml`: durations (`2m`, `500ms`, `1h30m`),
//! percentages (`1%`, `0.5%`), weekly time windows (`Fri 16:00 - Mon 08:00 Europe/Berlin`)
//! and JSON paths (`$.checks[0].ok`). Each parses with a message that says what was expected.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::quote;

/// Implements Serialize (Display), Deserialize (FromStr, strings only) and JsonSchema
/// (a string with a description and an optional pattern) for a string-shaped type.
macro_rules! string_type {
    ($ty:ty, $name:literal, $expecting:literal, $pattern:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(V)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
                let pattern: Option<&str> = $pattern;
                match pattern {
                    Some(p) => json_schema!({
                        "type": "string",
                        "description": $expecting,
                        "pattern": p,
                    }),
                    None => json_schema!({
                        "type": "string",
                        "description": $expecting,
                    }),
                }
            }
        }
    };
}
pub(crate) use string_type;

/// A duration written `500ms`, `30s`, `2m`, `1h30m`, `7d` (units ms, s, m, h, d; at most a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// The longest duration we accept anywhere in the config.
    pub const MAX: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

    /// From whole seconds.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// From milliseconds.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// As a standard duration.
    #[must_use]
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// Whether it is zero.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration {}: expected a number and a unit (ms, s, m, h, d), like `500ms`, `30s`, `2m` or `1h30m`",
                quote(s)
            )
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut total_ms: u128 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 12 {
                return Err(bad());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let (unit_ms, len) = if rest.starts_with("ms") {
                (1, 2)
            } else if rest.starts_with('s') {
                (1_000, 1)
            } else if rest.starts_with('m') {
                (60_000, 1)
            } else if rest.starts_with('h') {
                (3_600_000, 1)
            } else if rest.starts_with('d') {
                (86_400_000, 1)
            } else {
                return Err(bad());
            };
            rest = &rest[len..];
            total_ms += n * unit_ms;
            if total_ms > Self::MAX.as_millis() {
                return Err(format!("duration {} is longer than a year", quote(s)));
            }
        }
        let ms = u64::try_from(total_ms).map_err(|_| bad())?;
        Ok(Self(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

string_type!(
    Duration,
    "Duration",
    "a duration such as `500ms`, `30s`, `2m` or `1h30m`",
    Some(r"^\s*([0-9]+(ms|s|m|h|d))+\s*$")
);

/// A percentage written `1%` or `0.5%`, between 0% and 100%.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(f64);

impl Percent {
    /// The value in percent (`1%` → 1.0).
    #[must_use]
    pub fn percent(self) -> f64 {
        self.0
    }

    /// The value as a fraction (`1%` → 0.01).
    #[must_use]
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid percentage {}: expected a number from 0 to 100 followed by `%`, like `1%` or `0.5%`",
                quote(s)
            )
        };
        let number = s.trim().strip_suffix('%').ok_or_else(bad)?.trim_end();
        if number.is_empty()
            || number.len() > 20
            || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return Err(bad());
        }
        let v: f64 = number.parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&v) {
            return Err(bad());
        }
        Ok(Self(v))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

string_type!(
    Percent,
    "Percent",
    "a percentage such as `1%` or `0.5%`",
    Some(r"^\s*[0-9.]+\s*%\s*$")
);

/// The time zone of a window: UTC or an IANA name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowZone {
    /// Coordinated Universal Time.
    Utc,
    /// An IANA time zone such as `Europe/Berlin` (daylight saving time is honoured).
    Iana(chrono_tz::Tz),
}

/// One end of a window: an optional weekday (absent = every day) and a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPoint {
    /// The weekday, or `None` for a daily window.
    pub weekday: Option<Weekday>,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
}

/// A recurring time window: weekly (`Fri 16:00 - Mon 08:00 Europe/Berlin`) or daily
/// (`02:00 - 03:00 UTC`). The zone defaults to UTC. Used for deploy freezes and health
/// maintenance windows. The end is exclusive; a window may wrap around the week (or day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    /// Start (inclusive).
    pub start: WindowPoint,
    /// End (exclusive).
    pub end: WindowPoint,
    /// Zone the times are written in.
    pub zone: WindowZone,
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let lower = s.to_ascii_lowercase();
    let day = match lower.get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    };
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (lower.len() == 3 || full.contains(&lower.as_str())).then_some(day)
}

fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some((h, m))
}

impl TimeWindow {
    fn minutes(point: &WindowPoint) -> u32 {
        point.weekday.map_or(0, |d| d.num_days_from_monday() * 1440)
            + point.hour * 60
            + point.minute
    }

    /// Whether the instant falls inside the window.
    #[must_use]
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let (weekday, hour, minute) = match self.zone {
            WindowZone::Utc => (at.weekday(), at.hour(), at.minute()),
            WindowZone::Iana(tz) => {
                let local = tz.from_utc_datetime(&at.naive_utc());
                (local.weekday(), local.hour(), local.minute())
            }
        };
        let now = WindowPoint {
            weekday: self.start.weekday.map(|_| weekday),
            hour,
            minute,
        };
        let (s, e, n) = (
            Self::minutes(&self.start),
            Self::minutes(&self.end),
            Self::minutes(&now),
        );
        if s < e {
            s <= n && n < e
        } else {
            n >= s || n < e
        }
    }
}

impl FromStr for TimeWindow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "invalid time window {}: {why}; expected `[Day] HH:MM - [Day] HH:MM [Zone]`, like `Fri 16:00 - Mon 08:00 Europe/Berlin` or `02:00 - 03:00 UTC`",
                quote(s)
            )
        };
        let (left, right) = s
            .split_once(" - ")
            .ok_or_else(|| bad("missing ` - ` between start and end"))?;
        let left: Vec<&str> = left.split_whitespace().collect();
        let right: Vec<&str> = right.split_whitespace().collect();
        let point = |parts: &[&str]| -> Result<WindowPoint, String> {
            let (day, time) = match parts {
                [time] => (None, *time),
                [day, time] => (
                    Some(parse_weekday(day).ok_or_else(|| bad("unknown weekday"))?),
                    *time,
                ),
                _ => return Err(bad("malformed start or end")),
            };
            let (hour, minute) = parse_hhmm(time).ok_or_else(|| bad("time must be HH:MM"))?;
            Ok(WindowPoint {
                weekday: day,
                hour,
                minute,
            })
        };
        let start = point(&left)?;
        // The zone is the last word of the right side when it is not a time.
        let (end_parts, zone) = match right.last() {
            Some(last) if parse_hhmm(last).is_none() => {
                let zone = if last.eq_ignore_ascii_case("utc") || *last == "Z" {
                    WindowZone::Utc
                } else {
                    WindowZone::Iana(
                        last.parse::<chrono_tz::Tz>()
                            .map_err(|_| bad("unknown time zone (use UTC or an IANA name)"))?,
                    )
                };
                (&right[..right.len() - 1], zone)
            }
            _ => (&right[..], WindowZone::Utc),
        };
        let end = point(end_parts)?;
        if start.weekday.is_some() != end.weekday.is_some() {
            return Err(bad("give a weekday on both ends or on neither"));
        }
        if start == end {
            return Err(bad("start and end are the same"));
        }
        Ok(Self { start, end, zone })
    }
}

impl fmt::Display for WindowPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.weekday {
            write!(f, "{d} ")?;
        }
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let zone = match self.zone {
            WindowZone::Utc => "UTC".to_owned(),
            WindowZone::Iana(tz) => tz.name().to_owned(),
        };
        write!(f, "{} - {} {zone}", self.start, self.end)
    }
}

string_type!(
    TimeWindow,
    "TimeWindow",
    "a recurring window such as `Fri 16:00 - Mon 08:00 Europe/Berlin` or `02:00 - 03:00 UTC`",
    Some(r"^.+ - .+$")
);

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonStep {
    /// `.name` or `['name']`.
    Key(String),
    /// `[3]`.
    Index(usize),
}

/// A simple JSON path: `$`, then `.key`, `['key']` or `[index]` steps (no wildcards or
/// filters: health conditions compare one value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JsonPath(String);

impl JsonPath {
    /// The path as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The steps after `$`.
    #[must_use]
    pub fn steps(&self) -> Vec<JsonStep> {
        parse_json_path(&self.0).unwrap_or_default()
    }

    /// Looks the path up in a JSON document.
    #[must_use]
    pub fn lookup<'v>(&self, value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        self.steps().iter().try_fold(value, |v, step| match step {
            JsonStep::Key(k) => v.get(k),
            JsonStep::Index(i) => v.get(i),
        })
    }
}

fn parse_json_path(s: &str) -> Result<Vec<JsonStep>, String> {
    let bad = |why: &str| {
        format!(
            "invalid JSON path {}: {why}; expected `$` followed by `.key`, `['key']` or `[0]` steps",
            quote(s)
        )
    };
    let mut rest = s
        .strip_prefix('$')
        .ok_or_else(|| bad("must start with `$`"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let len = r.find(['.', '[']).unwrap_or(r.len());
            if len == 0 {
                return Err(bad("empty key"));
            }
            steps.push(JsonStep::Key(r[..len].to_owned()));
            rest = &r[len..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or_else(|| bad("unclosed `['`"))?;
            steps.push(JsonStep::Key(r[..end].to_owned()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("unclosed `[`"))?;
            let index = r[..end]
                .parse::<usize>()
                .map_err(|_| bad("index must be a number"))?;
            steps.push(JsonStep::Index(index));
            rest = &r[end + 1..];
        } else {
            return Err(bad("unexpected character"));
        }
    }
    Ok(steps)
}

impl FromStr for JsonPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_json_path(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_type!(
    JsonPath,
    "JsonPath",
    "a JSON path such as `$.ok` or `$.checks[0].status`",
    Some(r"^\$")
);

/// An instant written in RFC 3339 (`2026-12-01T18:00:00Z`, any offset) or as a date
/// (`2026-12-01`, midnight UTC). Used for the expiry of health silences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant in UTC.
    #[must_use]
    pub fn utc(self) -> DateTime<Utc> {
        self.0
    }
}

impl FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(t) {
            return Ok(Self(at.with_timezone(&Utc)));
        }
        if let Ok(day) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            && let Some(midnight) = day.and_hms_opt(0, 0, 0)
        {
            return Ok(Self(midnight.and_utc()));
        }
        Err(format!(
            "invalid time {}: expected RFC 3339 like `2026-12-01T18:00:00Z` or a date like `2026-12-01`",
            quote(s)
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

string_type!(
    Timestamp,
    "Timestamp",
    "a time such as `2026-12-01T18:00:00Z` (RFC 3339) or a date such as `2026-12-01` (midnight UTC)",
    Some(
        r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?\s*$"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d: Duration = "1h30m".parse().unwrap();
        assert_eq!(d.get().as_secs(), 5400);
        assert_eq!(d.to_string(), "1h30m");
        assert_eq!("500ms".parse::<Duration>().unwrap().get().as_millis(), 500);
        assert_eq!("2m".parse::<Duration>().unwrap().to_string(), "2m");
        for bad in ["", "5", "m", "2 minutes", "1y", "-1s", "999999999999999d"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn percentages() {
        assert!(("1%".parse::<Percent>().unwrap().fraction() - 0.01).abs() < 1e-12);
        assert_eq!("0.5%".parse::<Percent>().unwrap().to_string(), "0.5%");
        for bad in ["1", "101%", "-1%", "%", "abc%", "1e2%"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn windows() {
        let w: TimeWindow = "Fri 16:00 - Mon 08:00 Europe/Berlin".parse().unwrap();
        assert_eq!(w.to_string(), "Fri 16:00 - Mon 08:00 Europe/Berlin");
        // Saturday noon UTC is inside; Wednesday is not.
        let sat = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let wed = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert!(w.contains(sat));
        assert!(!w.contains(wed));
        // Friday 15:30 UTC is 16:30 in Berlin (winter): inside.
        let fri = Utc.with_ymd_and_hms(2026, 11, 27, 15, 30, 0).unwrap();
        assert!(w.contains(fri));
        let daily: TimeWindow = "23:00 - 01:00".parse().unwrap();
        assert!(daily.contains(Utc.with_ymd_and_hms(2026, 1, 1, 0, 30, 0).unwrap()));
        assert!(!daily.contains(Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap()));
        for bad in [
            "Fri 16:00 Mon 08:00",
            "Fri 25:00 - Mon 08:00",
            "Fry 16:00 - Mon 08:00",
            "Fri 16:00 - 08:00",
            "Fri 16:00 - Mon 08:00 Mars/Olympus",
            "10:00 - 10:00",
        ] {
            assert!(bad.parse::<TimeWindow>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_paths() {
        let p: JsonPath = "$.a['b c'][1]".parse().unwrap();
        assert_eq!(
            p.steps(),
            vec![
                JsonStep::Key("a".into()),
                JsonStep::Key("b c".into()),
                JsonStep::Index(1)
            ]
        );
        let doc = serde_json::json!({"a": {"b c": [0, true]}});
        assert_eq!(p.lookup(&doc), Some(&serde_json::Value::Bool(true)));
        for bad in ["a", "$.", "$[x]", "$['a'", "$x"] {
            assert!(bad.parse::<JsonPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_parse_rfc3339_and_dates() {
        let t: Timestamp = "2026-12-01T18:00:00+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-12-01T17:00:00Z");
        let d: Timestamp = "2026-12-01".parse().unwrap();
        assert_eq!(d.to_string(), "2026-12-01T00:00:00Z");
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2026-12-01 18:00",
            "1764612000",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
