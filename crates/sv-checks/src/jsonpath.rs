//! The small JSON-path subset health checks need: `$`, `.key`, `["key"]` and `[index]`,
//! and conditions `path == value`, `!=`, `<`, `<=`, `>`, `>=`, `exists`, `not exists`.
//! Anything richer (filters, wildcards, recursion) is deliberately out: a health endpoint
//! that needs it should expose a simpler field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed path such as `$.checks[0].status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, if every step exists.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.segments
            .iter()
            .try_fold(root, |v, seg| match (seg, v) {
                (Segment::Key(k), Value::Object(m)) => m.get(k),
                (Segment::Index(i), Value::Array(a)) => a.get(*i),
                _ => None,
            })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for JsonPath {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::JsonPath {
            path: text.to_owned(),
            reason: why.to_owned(),
        };
        let trimmed = text.trim();
        let mut rest = trimmed
            .strip_prefix('$')
            .ok_or_else(|| bad("must start with `$`"))?;
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() {
                    return Err(bad("empty key after `.`"));
                }
                if key.chars().any(char::is_whitespace) {
                    return Err(bad("keys with spaces need [\"...\"]"));
                }
                segments.push(Segment::Key(key.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                if let Some(quoted) = after.strip_prefix('"').or_else(|| after.strip_prefix('\'')) {
                    let quote = if after.starts_with('"') { '"' } else { '\'' };
                    let close = quoted
                        .find(quote)
                        .ok_or_else(|| bad("unterminated quoted key"))?;
                    let key = &quoted[..close];
                    let after_quote = &quoted[close + 1..];
                    rest = after_quote
                        .strip_prefix(']')
                        .ok_or_else(|| bad("expected `]` after quoted key"))?;
                    segments.push(Segment::Key(key.to_owned()));
                } else {
                    let close = after.find(']').ok_or_else(|| bad("missing `]`"))?;
                    let index = after[..close].trim().parse::<usize>().map_err(|_| {
                        bad("index must be a non-negative integer (no wildcards or filters)")
                    })?;
                    segments.push(Segment::Index(index));
                    rest = &after[close + 1..];
                }
            } else {
                return Err(bad("expected `.key` or `[...]`"));
            }
        }
        Ok(Self {
            text: trimmed.to_owned(),
            segments,
        })
    }
}

impl Serialize for JsonPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a condition compares the value found at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Exists,
    NotExists,
}

impl JsonOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Exists => "exists",
            Self::NotExists => "not exists",
        }
    }
}

/// A condition on the response body, e.g. `$.ok == true` or `$.queue.depth < 100`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonCondition {
    pub path: JsonPath,
    pub op: JsonOp,
    /// The right-hand side; absent for `exists` / `not exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl JsonCondition {
    /// `path == value`: the shape `sv.yaml`'s `json: { "$.ok": true }` maps to.
    pub fn equals(path: JsonPath, value: Value) -> Self {
        Self {
            path,
            op: JsonOp::Eq,
            value: Some(value),
        }
    }

    /// Checks the condition against a parsed body; `Err` says why it failed, in words
    /// fit for a report (the found value is shown truncated).
    pub fn check(&self, root: &Value) -> Result<(), String> {
        let found = self.path.lookup(root);
        let fail = |detail: String| Err(format!("{self}: {detail}"));
        match (self.op, found) {
            (JsonOp::Exists, Some(_)) | (JsonOp::NotExists, None) => Ok(()),
            (JsonOp::Exists, None) => fail("not found".to_owned()),
            (JsonOp::NotExists, Some(v)) => fail(format!("found {}", short(v))),
            (_, None) => fail("not found".to_owned()),
            (op, Some(v)) => {
                let expected = self.value.as_ref().unwrap_or(&Value::Null);
                let ok = match op {
                    JsonOp::Eq => json_eq(v, expected),
                    JsonOp::Ne => !json_eq(v, expected),
                    JsonOp::Lt | JsonOp::Le | JsonOp::Gt | JsonOp::Ge => {
                        match compare(v, expected) {
                            Some(ord) => match op {
                                JsonOp::Lt => ord.is_lt(),
                                JsonOp::Le => ord.is_le(),
                                JsonOp::Gt => ord.is_gt(),
                                _ => ord.is_ge(),
                            },
                            None => {
                                return fail(format!(
                                    "found {}, which cannot be compared with {}",
                                    short(v),
                                    short(expected)
                                ));
                            }
                        }
                    }
                    JsonOp::Exists | JsonOp::NotExists => true,
                };
                if ok {
                    Ok(())
                } else {
                    fail(format!("found {}", short(v)))
                }
            }
        }
    }
}

impl fmt::Display for JsonCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.op, &self.value) {
            (JsonOp::Exists | JsonOp::NotExists, _) | (_, None) => {
                write!(f, "{} {}", self.path, self.op.symbol())
            }
            (op, Some(v)) => write!(f, "{} {} {}", self.path, op.symbol(), short(v)),
        }
    }
}

impl FromStr for JsonCondition {
    type Err = Error;

    /// Parses `$.a.b[0] == "x"`, `$.n > 3`, `$.x exists`, `$.x not exists`. The right-hand
    /// side is JSON; a bare word that is not JSON is taken as a string.
    fn from_str(text: &str) -> Result<Self, Error> {
        let t = text.trim();
        for (suffix, op) in [
            (" not exists", JsonOp::NotExists),
            (" exists", JsonOp::Exists),
        ] {
            if let Some(path) = t.strip_suffix(suffix) {
                return Ok(Self {
                    path: path.parse()?,
                    op,
                    value: None,
                });
            }
        }
        // Longest operators first so `<=` is not read as `<`.
        let ops = [
            ("==", JsonOp::Eq),
            ("!=", JsonOp::Ne),
            ("<=", JsonOp::Le),
            (">=", JsonOp::Ge),
            ("<", JsonOp::Lt),
            (">", JsonOp::Gt),
        ];
        let found = ops
            .iter()
            .filter_map(|(sym, op)| t.find(sym).map(|at| (at, *sym, *op)))
            .min_by_key(|(at, sym, _)| (*at, usize::MAX - sym.len()));
        let Some((at, sym, op)) = found else {
            return Err(Error::JsonPath {
                path: t.to_owned(),
                reason: "expected an operator: == != < <= > >= exists, not exists".to_owned(),
            });
        };
        let path = t[..at].parse()?;
        let rhs = t[at + sym.len()..].trim();
        if rhs.is_empty() {
            return Err(Error::JsonPath {
                path: t.to_owned(),
                reason: format!("nothing after `{sym}`"),
            });
        }
        let value = serde_json::from_str(rhs).unwrap_or_else(|_| Value::String(rhs.to_owned()));
        Ok(Self {
            path,
            op,
            value: Some(value),
        })
    }
}

/// JSON equality where `1` equals `1.0` (serde_json keeps them apart).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A value for messages, cut so a huge body cannot flood a report.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> JsonPath {
        s.parse().unwrap()
    }

    #[test]
    fn parses_keys_indexes_and_quoted_keys() {
        assert_eq!(
            p("$.a.b[0]").segments(),
            &[
                Segment::Key("a".into()),
                Segment::Key("b".into()),
                Segment::Index(0)
            ]
        );
        assert_eq!(
            p(r#"$["a b"][2].c"#).segments(),
            &[
                Segment::Key("a b".into()),
                Segment::Index(2),
                Segment::Key("c".into())
            ]
        );
        assert_eq!(p("$").segments(), &[]);
    }

    #[test]
    fn rejects_unsupported_paths() {
        for bad in ["a.b", "$.", "$[*]", "$[?(@.x)]", "$..a", "$[0", "$['x'"] {
            assert!(bad.parse::<JsonPath>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn lookup_follows_the_path() {
        let v = json!({"a": {"b": [10, 20]}, "ok": true});
        assert_eq!(p("$.a.b[1]").lookup(&v), Some(&json!(20)));
        assert_eq!(p("$.a.b[5]").lookup(&v), None);
        assert_eq!(p("$.ok.x").lookup(&v), None);
        assert_eq!(p("$").lookup(&v), Some(&v));
    }

    fn cond(s: &str) -> JsonCondition {
        s.parse().unwrap()
    }

    #[test]
    fn conditions_parse_operators_and_values() {
        let c = cond("$.a.b[0] >= 5");
        assert_eq!(c.op, JsonOp::Ge);
        assert_eq!(c.value, Some(json!(5)));
        assert_eq!(cond("$.s == ok").value, Some(json!("ok")));
        assert_eq!(cond(r#"$.s != "a b""#).value, Some(json!("a b")));
        assert_eq!(cond("$.x exists").op, JsonOp::Exists);
        assert_eq!(cond("$.x not exists").op, JsonOp::NotExists);
        assert!("$.x".parse::<JsonCondition>().is_err());
        assert!("$.x ==".parse::<JsonCondition>().is_err());
    }

    #[test]
    fn each_operator_evaluates() {
        let body = json!({"ok": true, "n": 3, "f": 1.0, "s": "b", "list": [1]});
        let pass = [
            "$.ok == true",
            "$.n != 4",
            "$.n < 4",
            "$.n <= 3",
            "$.n > 2",
            "$.n >= 3",
            "$.f == 1",
            "$.s > \"a\"",
            "$.list[0] exists",
            "$.missing not exists",
        ];
        for c in pass {
            assert_eq!(cond(c).check(&body), Ok(()), "{c}");
        }
        let fail = [
            ("$.ok == false", "$.ok == false: found true"),
            ("$.n != 3", "$.n != 3: found 3"),
            ("$.n < 3", "$.n < 3: found 3"),
            ("$.n > 3", "$.n > 3: found 3"),
            ("$.list[1] exists", "$.list[1] exists: not found"),
            ("$.ok not exists", "$.ok not exists: found true"),
            ("$.missing == 1", "$.missing == 1: not found"),
            (
                "$.s < 3",
                "$.s < 3: found \"b\", which cannot be compared with 3",
            ),
        ];
        for (c, msg) in fail {
            assert_eq!(cond(c).check(&body), Err(msg.to_owned()), "{c}");
        }
    }

    #[test]
    fn long_values_are_truncated_in_messages() {
        let body = json!({"s": "x".repeat(500)});
        let err = cond("$.s == y").check(&body).unwrap_err();
        assert!(err.len() < 120, "{err}");
        assert!(err.ends_with("..."));
    }

    #[test]
    fn serde_round_trips_as_text() {
        let c = cond("$.a[0] == 1");
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(s, r#"{"path":"$.a[0]","op":"eq","value":1}"#);
        assert_eq!(serde_json::from_str::<JsonCondition>(&s).unwrap(), c);
    }
}
