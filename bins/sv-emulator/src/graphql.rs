//! GraphQL analytics (`POST /client/v4/graphql`) for Worker invocations: the
//! `viewer.accounts(filter: {accountTag}).workersInvocationsAdaptive(...)` dataset,
//! aggregated from the invocations the emulated Workers record. Answers are plain GraphQL
//! (`{data, errors}`, HTTP 200 even for query errors), not the v4 envelope.
//!
//! Supported: aliases, variables, arguments `limit`, `filter` (`scriptName`, `scriptName_in`,
//! `status`, `scriptVersion`, `datetime_geq|gt|leq|lt`, `AND`), `orderBy`
//! (`<dimension>_ASC|DESC`, `sum_<field>_ASC|DESC`), selections `sum {requests errors
//! subrequests cpuTimeUs wallTime}`, `quantiles {cpuTimeP25…P999 wallTimeP25…P999}`,
//! `avg {sampleInterval cpuTime wallTime}`, `dimensions {datetime datetimeMinute
//! datetimeHour date scriptName scriptVersion status}`, `count`. Fragments and other datasets
//! are answered with a GraphQL error.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Map, Value, json};

use crate::api::{ApiResult, Json, json_response};
use crate::state::AppState;
use crate::store::Invocation;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/graphql", post(graphql))
}

// ---------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num(f64),
    Var(String),
    Punct(char),
    Spread,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c == '.' && chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
            out.push(Tok::Spread);
            i += 3;
        } else if c == '$' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Var(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '-' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || ".eE+-".contains(chars[i])) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(
                s.parse().map_err(|_| format!("invalid number {s}"))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(chars[start..i].iter().collect()));
        } else if "{}()[]:!=@".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

/// One selected field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: BTreeMap<String, Value>,
    pub selection: Vec<Field>,
}

impl Field {
    fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

struct Parser<'v> {
    toks: Vec<Tok>,
    pos: usize,
    vars: &'v Map<String, Value>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => Err(format!("expected {c:?}, found {other:?}")),
        }
    }

    fn document(&mut self) -> Result<Vec<Field>, String> {
        // Skip `query Name(...)` up to the first selection set.
        if let Some(Tok::Name(n)) = self.peek() {
            if n == "mutation" || n == "subscription" {
                return Err("only queries are supported".into());
            }
            if n == "query" {
                self.next();
                if let Some(Tok::Name(_)) = self.peek() {
                    self.next();
                }
                if self.peek() == Some(&Tok::Punct('(')) {
                    let mut depth = 0;
                    while let Some(t) = self.next() {
                        match t {
                            Tok::Punct('(') => depth += 1,
                            Tok::Punct(')') => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        self.selection_set()
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Punct('}')) => {
                    self.next();
                    return Ok(fields);
                }
                Some(Tok::Spread) => {
                    return Err("fragments are not supported by the emulator".into());
                }
                Some(Tok::Name(_)) => fields.push(self.field()?),
                other => return Err(format!("unexpected token {other:?} in selection set")),
            }
        }
    }

    fn field(&mut self) -> Result<Field, String> {
        let Some(Tok::Name(first)) = self.next() else {
            return Err("expected a field name".into());
        };
        let (alias, name) = if self.peek() == Some(&Tok::Punct(':')) {
            self.next();
            match self.next() {
                Some(Tok::Name(n)) => (Some(first), n),
                other => {
                    return Err(format!(
                        "expected a field name after alias, found {other:?}"
                    ));
                }
            }
        } else {
            (None, first)
        };
        let mut args = BTreeMap::new();
        if self.peek() == Some(&Tok::Punct('(')) {
            self.next();
            while self.peek() != Some(&Tok::Punct(')')) {
                let Some(Tok::Name(arg)) = self.next() else {
                    return Err("expected an argument name".into());
                };
                self.expect(':')?;
                args.insert(arg, self.value()?);
            }
            self.next();
        }
        let selection = if self.peek() == Some(&Tok::Punct('{')) {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            args,
            selection,
        })
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Num(n)) => Ok(json!(n)),
            Some(Tok::Var(v)) => Ok(self.vars.get(&v).cloned().unwrap_or(Value::Null)),
            Some(Tok::Name(n)) => Ok(match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n),
            }),
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                while self.peek() != Some(&Tok::Punct(']')) {
                    if self.peek().is_none() {
                        return Err("unterminated list".into());
                    }
                    items.push(self.value()?);
                }
                self.next();
                Ok(Value::Array(items))
            }
            Some(Tok::Punct('{')) => {
                let mut obj = Map::new();
                while self.peek() != Some(&Tok::Punct('}')) {
                    let Some(Tok::Name(k)) = self.next() else {
                        return Err("expected an object key".into());
                    };
                    self.expect(':')?;
                    obj.insert(k, self.value()?);
                }
                self.next();
                Ok(Value::Object(obj))
            }
            other => Err(format!("unexpected token {other:?} in value")),
        }
    }
}

/// Parses a query document into its top-level selection.
pub fn parse(query: &str, vars: &Map<String, Value>) -> Result<Vec<Field>, String> {
    let mut p = Parser {
        toks: tokenize(query)?,
        pos: 0,
        vars,
    };
    p.document()
}

// ---------------------------------------------------------------------------------------
// Execution

fn ts(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn dimension(inv: &Invocation, name: &str) -> Option<Value> {
    let t = ts(inv.datetime_ms);
    Some(match name {
        "datetime" => json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "datetimeMinute" => json!(t.format("%Y-%m-%dT%H:%M:00Z").to_string()),
        "datetimeFifteenMinutes" => {
            let m = t.format("%M").to_string().parse::<u32>().unwrap_or(0) / 15 * 15;
            json!(format!("{}:{m:02}:00Z", t.format("%Y-%m-%dT%H")))
        }
        "datetimeHour" => json!(t.format("%Y-%m-%dT%H:00:00Z").to_string()),
        "date" => json!(t.format("%Y-%m-%d").to_string()),
        "scriptName" => json!(inv.script_name),
        "scriptVersion" => json!(inv.version_id),
        "status" => json!(inv.status),
        "httpResponseStatus" => json!(inv.http_status),
        _ => return None,
    })
}

fn parse_time(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
        })
}

fn matches_filter(inv: &Invocation, filter: &Value) -> Result<bool, String> {
    let Some(obj) = filter.as_object() else {
        return Ok(true);
    };
    for (k, v) in obj {
        let ok = match k.as_str() {
            "AND" => v
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| matches_filter(inv, f))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|b| b),
            "OR" => v
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| matches_filter(inv, f))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .any(|b| b),
            "scriptName" => v.as_str() == Some(inv.script_name.as_str()),
            "scriptName_in" => v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str() == Some(inv.script_name.as_str()))
            }),
            "scriptVersion" => v.as_str() == Some(inv.version_id.as_str()),
            "status" => v.as_str() == Some(inv.status.as_str()),
            "datetime_geq" | "datetime_gt" | "datetime_leq" | "datetime_lt" | "date_geq"
            | "date_leq" | "datetimeHour_geq" | "datetimeHour_leq" => {
                let t = parse_time(v).ok_or_else(|| format!("invalid time {v} for {k}"))?;
                match k.rsplit('_').next() {
                    Some("geq") => inv.datetime_ms >= t,
                    Some("gt") => inv.datetime_ms > t,
                    Some("leq") => inv.datetime_ms <= t,
                    _ => inv.datetime_ms < t,
                }
            }
            other => {
                return Err(format!(
                    "unknown filter field {other:?} on workersInvocationsAdaptive"
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank; the index is within bounds by construction.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn quantile_field(name: &str) -> Option<(&'static str, f64)> {
    let (metric, rest) = if let Some(r) = name.strip_prefix("cpuTimeP") {
        ("cpu", r)
    } else if let Some(r) = name.strip_prefix("wallTimeP") {
        ("wall", r)
    } else if let Some(r) = name.strip_prefix("durationP") {
        ("wall", r)
    } else {
        return None;
    };
    let q = match rest {
        "25" => 0.25,
        "50" => 0.5,
        "75" => 0.75,
        "90" => 0.9,
        "99" => 0.99,
        "999" => 0.999,
        _ => return None,
    };
    Some((metric, q))
}

fn aggregate(group: &[&Invocation], field: &Field) -> Result<Value, String> {
    let mut out = Map::new();
    #[allow(clippy::cast_precision_loss)]
    let n = group.len() as f64;
    match field.name.as_str() {
        "count" => return Ok(json!(group.len())),
        "dimensions" => {
            let first = group.first().ok_or("empty group")?;
            for f in &field.selection {
                out.insert(
                    f.key().to_string(),
                    dimension(first, &f.name)
                        .ok_or_else(|| format!("unknown dimension {:?}", f.name))?,
                );
            }
        }
        "sum" => {
            for f in &field.selection {
                let v = match f.name.as_str() {
                    "requests" => json!(group.len()),
                    "errors" => json!(group.iter().filter(|i| i.status != "success").count()),
                    "subrequests" => json!(0),
                    "cpuTimeUs" => json!(group.iter().map(|i| i.cpu_time_us).sum::<f64>()),
                    "wallTime" => json!(group.iter().map(|i| i.wall_time_us).sum::<f64>()),
                    "duration" => json!(
                        group
                            .iter()
                            .map(|i| i.wall_time_us / 1e6 * 0.125)
                            .sum::<f64>()
                    ),
                    other => return Err(format!("unknown field {other:?} on sum")),
                };
                out.insert(f.key().to_string(), v);
            }
        }
        "avg" => {
            for f in &field.selection {
                let v = match f.name.as_str() {
                    "sampleInterval" => json!(1),
                    "cpuTime" => json!(if n > 0.0 {
                        group.iter().map(|i| i.cpu_time_us).sum::<f64>() / n
                    } else {
                        0.0
                    }),
                    "wallTime" => json!(if n > 0.0 {
                        group.iter().map(|i| i.wall_time_us).sum::<f64>() / n
                    } else {
                        0.0
                    }),
                    other => return Err(format!("unknown field {other:?} on avg")),
                };
                out.insert(f.key().to_string(), v);
            }
        }
        "quantiles" => {
            let mut cpu: Vec<f64> = group.iter().map(|i| i.cpu_time_us).collect();
            let mut wall: Vec<f64> = group.iter().map(|i| i.wall_time_us).collect();
            cpu.sort_by(f64::total_cmp);
            wall.sort_by(f64::total_cmp);
            for f in &field.selection {
                let (metric, q) = quantile_field(&f.name)
                    .ok_or_else(|| format!("unknown field {:?} on quantiles", f.name))?;
                out.insert(
                    f.key().to_string(),
                    json!(quantile(if metric == "cpu" { &cpu } else { &wall }, q)),
                );
            }
        }
        other => {
            return Err(format!(
                "unknown field {other:?} on workersInvocationsAdaptive"
            ));
        }
    }
    Ok(Value::Object(out))
}

fn sort_key(row: &Value, spec: &str) -> (Value, bool) {
    let (path, desc) = spec
        .rsplit_once('_')
        .map_or((spec, false), |(p, d)| (p, d == "DESC"));
    let v = if let Some(f) = path.strip_prefix("sum_") {
        row.get("sum").and_then(|s| s.get(f)).cloned()
    } else {
        row.get("dimensions").and_then(|d| d.get(path)).cloned()
    };
    (v.unwrap_or(Value::Null), desc)
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn dataset(st: &AppState, field: &Field) -> Result<Value, String> {
    if field.name != "workersInvocationsAdaptive" {
        return Err(format!(
            "unknown field {:?} on type AccountsViewer (the emulator serves workersInvocationsAdaptive only)",
            field.name
        ));
    }
    let filter = field.args.get("filter").cloned().unwrap_or(Value::Null);
    let script = filter["scriptName"].as_str();
    let all = st
        .store
        .invocations(script, i64::MIN, i64::MAX)
        .map_err(|e| e.to_string())?;
    let mut kept = Vec::new();
    for inv in &all {
        if matches_filter(inv, &filter)? {
            kept.push(inv);
        }
    }
    let dims: Vec<&Field> = field
        .selection
        .iter()
        .filter(|f| f.name == "dimensions")
        .collect();
    let dim_names: Vec<String> = dims
        .iter()
        .flat_map(|d| d.selection.iter().map(|f| f.name.clone()))
        .collect();
    let mut groups: BTreeMap<String, Vec<&Invocation>> = BTreeMap::new();
    for inv in kept {
        let key: Vec<String> = dim_names
            .iter()
            .map(|d| dimension(inv, d).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        groups.entry(key.join("\u{1f}")).or_default().push(inv);
    }
    let mut rows = Vec::new();
    for group in groups.values() {
        let mut row = Map::new();
        for f in &field.selection {
            row.insert(f.key().to_string(), aggregate(group, f)?);
        }
        rows.push(Value::Object(row));
    }
    let order: Vec<String> = match field.args.get("orderBy") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    rows.sort_by(|a, b| {
        for spec in &order {
            let (va, desc) = sort_key(a, spec);
            let (vb, _) = sort_key(b, spec);
            let o = cmp_values(&va, &vb);
            let o = if desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let limit = field
        .args
        .get("limit")
        .and_then(Value::as_f64)
        .unwrap_or(10_000.0);
    // A GraphQL limit is a small positive count.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    rows.truncate(limit.max(0.0) as usize);
    Ok(Value::Array(rows))
}

/// Executes a query; returns `(data, errors)`.
pub fn execute(st: &AppState, query: &str, vars: &Map<String, Value>) -> (Value, Vec<Value>) {
    let fields = match parse(query, vars) {
        Ok(f) => f,
        Err(e) => {
            return (
                Value::Null,
                vec![
                    json!({"message": format!("syntax error: {e}"), "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}),
                ],
            );
        }
    };
    let err = |msg: String, path: Vec<&str>| json!({"message": msg, "path": path, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}});
    let mut data = Map::new();
    for top in &fields {
        if top.name != "viewer" {
            return (
                Value::Null,
                vec![err(
                    format!("unknown field {:?} on type Query", top.name),
                    vec![top.key()],
                )],
            );
        }
        let mut viewer = Map::new();
        for acc in &top.selection {
            if acc.name != "accounts" {
                return (
                    Value::Null,
                    vec![err(
                        format!(
                            "unknown field {:?} on type Viewer (the emulator serves accounts only)",
                            acc.name
                        ),
                        vec![top.key(), acc.key()],
                    )],
                );
            }
            let tag = acc
                .args
                .get("filter")
                .and_then(|f| f.get("accountTag"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let Some(tag) = tag else {
                return (
                    Value::Null,
                    vec![err(
                        "accounts needs filter: {accountTag: ...}".into(),
                        vec![top.key(), acc.key()],
                    )],
                );
            };
            let known = st.read(|m| m.accounts.iter().any(|a| a.id == tag));
            let mut list = Vec::new();
            if known {
                let mut account = Map::new();
                for ds in &acc.selection {
                    match dataset(st, ds) {
                        Ok(v) => {
                            account.insert(ds.key().to_string(), v);
                        }
                        Err(e) => {
                            return (
                                Value::Null,
                                vec![err(e, vec![top.key(), acc.key(), ds.key()])],
                            );
                        }
                    }
                }
                list.push(Value::Object(account));
            }
            viewer.insert(acc.key().to_string(), Value::Array(list));
        }
        data.insert(top.key().to_string(), Value::Object(viewer));
    }
    (Value::Object(data), Vec::new())
}

#[derive(Debug, serde::Deserialize)]
struct GraphqlBody {
    query: String,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
}

async fn graphql(State(st): State<Arc<AppState>>, Json(b): Json<GraphqlBody>) -> ApiResult {
    let vars = b.variables.unwrap_or_default();
    let (data, errors) = execute(&st, &b.query, &vars);
    let errors = if errors.is_empty() {
        Value::Null
    } else {
        Value::Array(errors)
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"data": data, "errors": errors}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases_args_and_variables() {
        let vars: Map<String, Value> =
            serde_json::from_value(json!({"tag": "abc", "since": "2024-01-01T00:00:00Z"})).unwrap();
        let q = r#"query Q($tag: string, $since: Time) { viewer { accounts(filter: {accountTag: $tag}) { inv: workersInvocationsAdaptive(limit: 10, filter: {datetime_geq: $since, scriptName: "w"}, orderBy: [sum_requests_DESC]) { sum { requests errors } dimensions { scriptName } } } } }"#;
        let f = parse(q, &vars).unwrap();
        let ds = &f[0].selection[0].selection[0];
        assert_eq!(ds.alias.as_deref(), Some("inv"));
        assert_eq!(ds.args["filter"]["datetime_geq"], "2024-01-01T00:00:00Z");
        assert_eq!(ds.args["orderBy"], json!(["sum_requests_DESC"]));
        assert_eq!(f[0].selection[0].args["filter"]["accountTag"], "abc");
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.5) - 2.0).abs() < f64::EPSILON);
        assert!((quantile(&v, 0.99) - 4.0).abs() < f64::EPSILON);
    }
}
