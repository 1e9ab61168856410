//! Env files (`.env`, `.dev.vars`: `KEY=value` lines) merged, never clobbered.
//!
//! The merge is three-way: what the file holds, what sv wants to write, and what sv wrote
//! last time (a sha256 per key, kept in the developer's record — never the value, which may
//! be a secret). A key the file lacks is added; a key whose value is still the one sv wrote
//! is updated when sv's value changes; any other value is the developer's and is kept.
//! Lines are never reordered and comments stay; new keys are appended.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// sha256 of a value, as recorded.
pub fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// What happened to each key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// Keys sv added.
    pub added: Vec<String>,
    /// Keys sv had written and updated to a new value.
    pub changed: Vec<String>,
    /// Keys with a value the developer set, left alone although sv would write another.
    pub kept: Vec<String>,
    /// Keys already as sv wants them.
    pub unchanged: Vec<String>,
}

impl MergeReport {
    pub fn is_noop(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty()
    }

    /// `added A, B; kept C` — key names only.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (label, keys) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("kept your value of", &self.kept),
        ] {
            if !keys.is_empty() {
                parts.push(format!("{label} {}", keys.join(", ")));
            }
        }
        if parts.is_empty() {
            "unchanged".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// One parsed line.
fn parse_line(line: &str) -> Option<(&str, String)> {
    let t = line.trim_start();
    if t.starts_with('#') || t.is_empty() {
        return None;
    }
    let t = t.strip_prefix("export ").unwrap_or(t);
    let (k, v) = t.split_once('=')?;
    let key = k.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((key, unquote(v.trim())))
}

fn unquote(v: &str) -> String {
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        let inner = &v[1..v.len() - 1];
        if v.starts_with('"') {
            return inner
                .replace("\\\"", "\"")
                .replace("\\n", "\n")
                .replace("\\\\", "\\");
        }
        return inner.to_owned();
    }
    // An unquoted value ends at ` #` (an inline comment).
    v.split(" #").next().unwrap_or(v).trim_end().to_owned()
}

/// A value as written to a file: bare when safe, else double-quoted.
pub fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@,+%".contains(&b));
    if plain {
        v.to_owned()
    } else {
        format!(
            "\"{}\"",
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    }
}

/// Every `KEY=value` of a file, last one wins (as dotenv readers do).
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(parse_line)
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// Merges `wanted` into `text`. `written` holds the digests of what sv wrote last time.
/// Returns the new text, the report and the digests to record now.
pub fn merge(
    text: &str,
    wanted: &BTreeMap<String, String>,
    written: &BTreeMap<String, String>,
    header: &str,
) -> (String, MergeReport, BTreeMap<String, String>) {
    let mut report = MergeReport::default();
    let mut record = BTreeMap::new();
    let mut replace: BTreeMap<&str, &str> = BTreeMap::new();
    let existing = parse(text);
    for (key, want) in wanted {
        match existing.get(key) {
            None => report.added.push(key.clone()),
            Some(have) if have == want => {
                report.unchanged.push(key.clone());
                record.insert(key.clone(), digest(want));
            }
            Some(have) if written.get(key) == Some(&digest(have)) => {
                report.changed.push(key.clone());
                replace.insert(key, want);
                record.insert(key.clone(), digest(want));
            }
            Some(have) => {
                report.kept.push(key.clone());
                // Still the developer's: remember what sv last wrote, if anything.
                if let Some(d) = written.get(key) {
                    record.insert(key.clone(), d.clone());
                }
                let _ = have;
            }
        }
    }
    let mut out = String::new();
    for line in text.lines() {
        match parse_line(line).and_then(|(k, _)| replace.get(k).map(|v| (k, *v))) {
            Some((k, v)) => out.push_str(&format!("{k}={}\n", quote(v))),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !report.added.is_empty() {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(header);
        out.push('\n');
        for key in &report.added {
            let v = &wanted[key];
            out.push_str(&format!("{key}={}\n", quote(v)));
            record.insert(key.clone(), digest(v));
        }
    }
    (out, report, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn adds_missing_keeps_developer_values_updates_own() {
        let text = "# mine\nexport A=\"dev value\"\nB=old\nC=x # note\n";
        let wanted = map(&[("A", "sv"), ("B", "new"), ("C", "x"), ("D", "a b")]);
        let written = map(&[("B", &digest("old"))]);
        let (out, r, rec) = merge(text, &wanted, &written, "# added by sv");
        assert_eq!(r.added, ["D"]);
        assert_eq!(r.changed, ["B"]);
        assert_eq!(r.kept, ["A"]);
        assert_eq!(r.unchanged, ["C"]);
        assert_eq!(
            out,
            "# mine\nexport A=\"dev value\"\nB=new\nC=x # note\n\n# added by sv\nD=\"a b\"\n"
        );
        assert_eq!(parse(&out)["D"], "a b");
        assert!(!rec.contains_key("A"));
        assert_eq!(rec["B"], digest("new"));
        // Merging again changes nothing.
        let (again, r2, _) = merge(&out, &wanted, &rec, "# added by sv");
        assert_eq!(again, out);
        assert!(r2.is_noop());
        assert_eq!(r2.summary(), "kept your value of A");
    }

    #[test]
    fn empty_file_gets_header_and_keys() {
        let (out, r, _) = merge("", &map(&[("K", "v")]), &BTreeMap::new(), "# h");
        assert_eq!(out, "# h\nK=v\n");
        assert_eq!(r.summary(), "added K");
    }
}
