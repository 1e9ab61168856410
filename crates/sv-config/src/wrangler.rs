//! Reading wrangler's own config (`wrangler.toml`, `wrangler.jsonc`, `wrangler.json`).
//!
//! wrangler owns these files, so unknown keys are tolerated; the keys sv reads are typed.
//! Both formats are turned into the same position-carrying tree as `sv.yaml`, so a wrong type
//! or a binding that matches nothing in `sv.yaml` is reported at its line and column. JSONC
//! allows comments and trailing commas, as wrangler does.
//!
//! Environments follow wrangler's inheritance rules: `name` becomes `<name>-<env>` unless the
//! section sets one; `main`, compatibility settings, `workers_dev`, `account_id`, `route(s)`
//! and `triggers` are inherited; bindings (`kv_namespaces`, `d1_databases`, `r2_buckets`) and
//! `vars` are not.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::from_node;
use crate::error::{Error, Location};
use crate::node::{self, Mark, Node, NodeKind, Seg};

/// Largest wrangler config we read.
pub const MAX_WRANGLER_BYTES: u64 = 1024 * 1024;

/// A KV binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KvBinding {
    /// Name in `env`.
    pub binding: String,
    /// Namespace id (absent before the namespace exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Namespace id used by `wrangler dev --remote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_id: Option<String>,
    /// Where the binding is written.
    #[serde(skip)]
    pub location: Option<Location>,
}

/// A D1 binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct D1Binding {
    /// Name in `env`.
    pub binding: String,
    /// Database name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// Database UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    /// Migrations directory, relative to the wrangler config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations_dir: Option<String>,
    /// Where the binding is written.
    #[serde(skip)]
    pub location: Option<Location>,
}

/// An R2 binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct R2Binding {
    /// Name in `env`.
    pub binding: String,
    /// Bucket name.
    pub bucket_name: String,
    /// Jurisdiction (`eu`, `fedramp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Where the binding is written.
    #[serde(skip)]
    pub location: Option<Location>,
}

/// A route: a pattern string, or a table with the zone and whether it is a custom domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `example.com/*`, or the hostname of a custom domain.
    pub pattern: String,
    /// Zone by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    /// Zone by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// A custom domain rather than a route.
    pub custom_domain: bool,
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Table {
            pattern: String,
            #[serde(default)]
            zone_name: Option<String>,
            #[serde(default)]
            zone_id: Option<String>,
            #[serde(default)]
            custom_domain: bool,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Route;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a route pattern, or a table with `pattern`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Route, E> {
                Ok(Route {
                    pattern: v.to_owned(),
                    zone_name: None,
                    zone_id: None,
                    custom_domain: false,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Route, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Route {
                    pattern: t.pattern,
                    zone_name: t.zone_name,
                    zone_id: t.zone_id,
                    custom_domain: t.custom_domain,
                })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Cron triggers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Triggers {
    /// Cron expressions.
    #[serde(default)]
    pub crons: Vec<String>,
}

/// An `env.<name>` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WranglerEnv {
    /// Script name (default `<top-level name>-<env>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Entry point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// Compatibility date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_date: Option<String>,
    /// Compatibility flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_flags: Option<Vec<String>>,
    /// Account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Deploy to workers.dev.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers_dev: Option<bool>,
    /// KV bindings (not inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_namespaces: Option<Vec<KvBinding>>,
    /// D1 bindings (not inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d1_databases: Option<Vec<D1Binding>>,
    /// R2 bindings (not inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2_buckets: Option<Vec<R2Binding>>,
    /// Plain variables (not inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<BTreeMap<String, serde_json::Value>>,
    /// One route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// Routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// Cron triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Triggers>,
}

/// A wrangler config file (the keys sv reads).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WranglerConfig {
    /// The file it was read from.
    #[serde(skip_deserializing)]
    pub path: PathBuf,
    /// Script name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Entry point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// Compatibility date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_date: Option<String>,
    /// Compatibility flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatibility_flags: Vec<String>,
    /// Account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Deploy to workers.dev.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers_dev: Option<bool>,
    /// KV bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kv_namespaces: Vec<KvBinding>,
    /// D1 bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub d1_databases: Vec<D1Binding>,
    /// R2 bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r2_buckets: Vec<R2Binding>,
    /// Plain variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// One route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// Routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Cron triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Triggers>,
    /// Environment sections.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, WranglerEnv>,
    #[serde(skip)]
    tree: Node,
}

/// A worker as wrangler would deploy it to one environment.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerDefinition {
    /// The deployed script name.
    pub name: String,
    /// The wrangler environment section used, if any.
    pub env: Option<String>,
    /// Entry point.
    pub main: Option<String>,
    /// Compatibility date.
    pub compatibility_date: Option<String>,
    /// Compatibility flags.
    pub compatibility_flags: Vec<String>,
    /// Deployed to workers.dev (wrangler's default is true).
    pub workers_dev: bool,
    /// KV bindings.
    pub kv_namespaces: Vec<KvBinding>,
    /// D1 bindings.
    pub d1_databases: Vec<D1Binding>,
    /// R2 bindings.
    pub r2_buckets: Vec<R2Binding>,
    /// Plain variables.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Routes and custom domains.
    pub routes: Vec<Route>,
    /// Cron expressions.
    pub crons: Vec<String>,
}

impl WranglerConfig {
    /// The environment sections defined.
    pub fn environments(&self) -> impl Iterator<Item = &str> {
        self.env.keys().map(String::as_str)
    }

    /// Where the `name` key is written (or the top of the file).
    #[must_use]
    pub fn name_location(&self) -> Location {
        self.location(&[Seg::Key("name".into())], true)
    }

    fn location(&self, path: &[Seg], key: bool) -> Location {
        let mark = self.tree.mark_of(path, key);
        let mark = if mark == Mark::default() {
            Mark { line: 1, column: 1 }
        } else {
            mark
        };
        Location::new(&self.path, mark.line, mark.column)
    }

    /// The worker for `env` (`None` = top level), with wrangler's inheritance rules applied.
    ///
    /// # Errors
    /// When the file has no `name`, or `env` names a section that does not exist.
    pub fn resolve(&self, env: Option<&str>) -> Result<WorkerDefinition, Error> {
        let Some(top_name) = self.name.clone() else {
            return Err(Error::invalid(
                Some(self.location(&[], false)),
                "wrangler config has no `name`; sv needs it to know the worker script",
            ));
        };
        let crons = self
            .triggers
            .as_ref()
            .map(|t| t.crons.clone())
            .unwrap_or_default();
        let mut routes = self.routes.clone();
        routes.extend(self.route.clone());
        let top = WorkerDefinition {
            name: top_name.clone(),
            env: None,
            main: self.main.clone(),
            compatibility_date: self.compatibility_date.clone(),
            compatibility_flags: self.compatibility_flags.clone(),
            workers_dev: self.workers_dev.unwrap_or(true),
            kv_namespaces: self.kv_namespaces.clone(),
            d1_databases: self.d1_databases.clone(),
            r2_buckets: self.r2_buckets.clone(),
            vars: self.vars.clone(),
            routes,
            crons,
        };
        let Some(env_name) = env else {
            return Ok(top);
        };
        let Some(section) = self.env.get(env_name) else {
            let known: Vec<&str> = self.environments().collect();
            return Err(Error::invalid(
                Some(self.location(&[Seg::Key("env".into())], true)),
                format!(
                    "wrangler config has no `env.{env_name}` section (sections: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let routes = match (&section.routes, &section.route) {
            (None, None) => top.routes,
            (routes, route) => {
                let mut r = routes.clone().unwrap_or_default();
                r.extend(route.clone());
                r
            }
        };
        Ok(WorkerDefinition {
            name: section
                .name
                .clone()
                .unwrap_or_else(|| format!("{top_name}-{env_name}")),
            env: Some(env_name.to_owned()),
            main: section.main.clone().or(top.main),
            compatibility_date: section
                .compatibility_date
                .clone()
                .or(top.compatibility_date),
            compatibility_flags: section
                .compatibility_flags
                .clone()
                .unwrap_or(top.compatibility_flags),
            workers_dev: section.workers_dev.unwrap_or(top.workers_dev),
            kv_namespaces: section.kv_namespaces.clone().unwrap_or_default(),
            d1_databases: section.d1_databases.clone().unwrap_or_default(),
            r2_buckets: section.r2_buckets.clone().unwrap_or_default(),
            vars: section.vars.clone().unwrap_or_default(),
            routes,
            crons: section
                .triggers
                .as_ref()
                .map_or(top.crons, |t| t.crons.clone()),
        })
    }

    fn fill_locations(&mut self) {
        let path = self.path.clone();
        let tree = &self.tree;
        let loc = |segs: Vec<Seg>| {
            let m = tree.mark_of(&segs, false);
            Location::new(&path, m.line.max(1), m.column.max(1))
        };
        let prefix = |env: Option<&str>| -> Vec<Seg> {
            env.map(|e| vec![Seg::Key("env".into()), Seg::Key(e.into())])
                .unwrap_or_default()
        };
        let with = |env: Option<&str>, key: &str, i: usize| {
            let mut p = prefix(env);
            p.push(Seg::Key(key.into()));
            p.push(Seg::Index(i));
            loc(p)
        };
        for (i, b) in self.kv_namespaces.iter_mut().enumerate() {
            b.location = Some(with(None, "kv_namespaces", i));
        }
        for (i, b) in self.d1_databases.iter_mut().enumerate() {
            b.location = Some(with(None, "d1_databases", i));
        }
        for (i, b) in self.r2_buckets.iter_mut().enumerate() {
            b.location = Some(with(None, "r2_buckets", i));
        }
        for (name, section) in &mut self.env {
            let e = Some(name.as_str());
            for (i, b) in section.kv_namespaces.iter_mut().flatten().enumerate() {
                b.location = Some(with(e, "kv_namespaces", i));
            }
            for (i, b) in section.d1_databases.iter_mut().flatten().enumerate() {
                b.location = Some(with(e, "d1_databases", i));
            }
            for (i, b) in section.r2_buckets.iter_mut().flatten().enumerate() {
                b.location = Some(with(e, "r2_buckets", i));
            }
        }
    }
}

/// Reads a wrangler config; the format follows the extension (`.toml`, `.jsonc`, `.json`).
///
/// # Errors
/// Unreadable or too large file, syntax errors, wrong types of the keys sv reads — each with
/// the file's line and column where there is one.
pub fn load(path: &Path) -> Result<WranglerConfig, Error> {
    let text = crate::read_bounded(path, MAX_WRANGLER_BYTES)?;
    parse(&text, path)
}

/// Parses wrangler config text; `path` picks the format and names the file in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path) -> Result<WranglerConfig, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let tree = match ext {
        "toml" => toml_tree(text, path)?,
        "json" | "jsonc" => jsonc_tree(text, path)?,
        _ => {
            return Err(Error::invalid(
                Some(Location::new(path, 1, 1)),
                "unsupported wrangler config: expected wrangler.toml, wrangler.jsonc or wrangler.json",
            ));
        }
    };
    if !matches!(tree.kind, NodeKind::Map(_)) {
        return Err(Error::Shape {
            location: Location::new(path, tree.mark.line, tree.mark.column),
            message: "expected a table/object at the top of the wrangler config".into(),
        });
    }
    let mut config: WranglerConfig = from_node(&tree).map_err(|e| crate::shape_error(e, path))?;
    config.path = path.to_owned();
    config.tree = tree;
    config.fill_locations();
    Ok(config)
}

fn check_depth(text: &str, path: &Path, hash_comments: bool) -> Result<(), Error> {
    let (depth, at) = node::bracket_depth(text, hash_comments);
    if depth > node::MAX_DEPTH {
        let m = node::mark_at(text, at);
        return Err(Error::Syntax {
            location: Location::new(path, m.line, m.column),
            message: format!("nesting deeper than {} levels", node::MAX_DEPTH),
        });
    }
    Ok(())
}

fn toml_tree(text: &str, path: &Path) -> Result<Node, Error> {
    use toml::de::{DeTable, DeValue};
    check_depth(text, path, true)?;
    let table = DeTable::parse(text).map_err(|e| {
        let m = node::mark_at(text, e.span().map_or(0, |s| s.start));
        Error::Syntax {
            location: Location::new(path, m.line, m.column),
            message: crate::error::sanitize(e.message().trim()),
        }
    })?;
    fn convert(value: &DeValue<'_>, start: usize, text: &str) -> Node {
        let mark = node::mark_at(text, start);
        match value {
            DeValue::String(s) => Node::scalar(s.as_ref(), false, mark),
            DeValue::Integer(i) => {
                let digits = if i.radix() == 10 {
                    i.as_str().to_owned()
                } else {
                    i64::from_str_radix(i.as_str(), i.radix())
                        .map_or_else(|_| i.to_string(), |v| v.to_string())
                };
                Node::typed_scalar(digits, mark)
            }
            DeValue::Float(f) => {
                let t = f.as_str();
                let t = match t.trim_start_matches('+') {
                    "inf" => ".inf".to_owned(),
                    "-inf" => "-.inf".to_owned(),
                    "nan" | "-nan" => ".nan".to_owned(),
                    other => other.to_owned(),
                };
                Node::typed_scalar(t, mark)
            }
            DeValue::Boolean(b) => Node::typed_scalar(b.to_string(), mark),
            DeValue::Datetime(d) => Node::scalar(d.to_string(), false, mark),
            DeValue::Array(items) => Node {
                kind: NodeKind::Seq(
                    items
                        .iter()
                        .map(|v| convert(v.get_ref(), v.span().start, text))
                        .collect(),
                ),
                mark,
            },
            DeValue::Table(t) => table_node(t, start, text),
        }
    }
    fn table_node(t: &toml::de::DeTable<'_>, start: usize, text: &str) -> Node {
        Node {
            kind: NodeKind::Map(
                t.iter()
                    .map(|(k, v)| {
                        (
                            Node::scalar(
                                k.get_ref().as_ref(),
                                false,
                                node::mark_at(text, k.span().start),
                            ),
                            convert(v.get_ref(), v.span().start, text),
                        )
                    })
                    .collect(),
            ),
            mark: node::mark_at(text, start),
        }
    }
    Ok(table_node(table.get_ref(), 0, text))
}

fn jsonc_tree(text: &str, path: &Path) -> Result<Node, Error> {
    use jsonc_parser::ast::{ObjectPropName, Value};
    check_depth(text, path, false)?;
    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions::default(),
        // JSONC as wrangler reads it: JSON plus comments and trailing commas, nothing looser.
        &jsonc_parser::ParseOptions {
            allow_comments: true,
            allow_trailing_commas: true,
            allow_loose_object_property_names: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        },
    )
    .map_err(|e| Error::Syntax {
        location: Location::new(path, e.line_display(), e.column_display()),
        message: crate::error::sanitize(&e.kind().to_string()),
    })?;
    fn convert(value: &Value<'_>, text: &str) -> Node {
        match value {
            Value::StringLit(s) => {
                Node::scalar(s.value.as_ref(), false, node::mark_at(text, s.range.start))
            }
            Value::NumberLit(n) => Node::typed_scalar(n.value, node::mark_at(text, n.range.start)),
            Value::BooleanLit(b) => {
                Node::typed_scalar(b.value.to_string(), node::mark_at(text, b.range.start))
            }
            Value::NullKeyword(n) => Node::typed_scalar("null", node::mark_at(text, n.range.start)),
            Value::Array(a) => Node {
                kind: NodeKind::Seq(a.elements.iter().map(|v| convert(v, text)).collect()),
                mark: node::mark_at(text, a.range.start),
            },
            Value::Object(o) => Node {
                kind: NodeKind::Map(
                    o.properties
                        .iter()
                        .map(|p| {
                            let (name, start) = match &p.name {
                                ObjectPropName::String(s) => (s.value.as_ref(), s.range.start),
                                ObjectPropName::Word(w) => (w.value, w.range.start),
                            };
                            (
                                Node::scalar(name, false, node::mark_at(text, start)),
                                convert(&p.value, text),
                            )
                        })
                        .collect(),
                ),
                mark: node::mark_at(text, o.range.start),
            },
        }
    }
    match parsed.value {
        Some(v) => Ok(convert(&v, text)),
        None => Err(Error::Syntax {
            location: Location::new(path, 1, 1),
            message: "empty wrangler config: expected an object".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
name = "api"
main = "src/index.ts"
compatibility_date = "2026-01-01"
compatibility_flags = ["nodejs_compat"]
unknown_key = { tolerated = true }
routes = ["api.example.com/*", { pattern = "x.example.com", custom_domain = true }]

[[kv_namespaces]]
binding = "SESSIONS"
id = "abc"

[[d1_databases]]
binding = "DB"
database_name = "main"
migrations_dir = "migrations"

[triggers]
crons = ["*/5 * * * *"]

[env.staging]
vars = { MODE = "staging" }

[[env.staging.kv_namespaces]]
binding = "SESSIONS"
"#;

    #[test]
    fn toml_with_env_inheritance() {
        let c = parse(TOML, Path::new("w/wrangler.toml")).unwrap();
        let top = c.resolve(None).unwrap();
        assert_eq!(top.name, "api");
        assert_eq!(top.routes.len(), 2);
        assert!(top.routes[1].custom_domain);
        assert_eq!(top.crons, ["*/5 * * * *"]);
        let kv = &top.kv_namespaces[0];
        assert_eq!(
            kv.location.as_ref().unwrap().to_string(),
            "w/wrangler.toml:9:1"
        );
        let staging = c.resolve(Some("staging")).unwrap();
        assert_eq!(staging.name, "api-staging");
        assert_eq!(staging.main.as_deref(), Some("src/index.ts"));
        assert_eq!(staging.routes.len(), 2, "routes are inherited");
        assert!(
            staging.d1_databases.is_empty(),
            "bindings are not inherited"
        );
        assert_eq!(staging.kv_namespaces.len(), 1);
        assert_eq!(staging.kv_namespaces[0].location.as_ref().unwrap().line, 24);
        let e = c.resolve(Some("prod")).unwrap_err();
        assert!(e.to_string().contains("no `env.prod` section"), "{e}");
    }

    #[test]
    fn jsonc_with_comments_and_trailing_commas() {
        let text = r#"{
  // the API worker
  "name": "api",
  "kv_namespaces": [
    { "binding": "SESSIONS", "id": "abc", }, /* trailing */
  ],
  "routes": [{ "pattern": "api.example.com/*", "zone_name": "example.com" }],
}"#;
        let c = parse(text, Path::new("wrangler.jsonc")).unwrap();
        assert_eq!(c.name.as_deref(), Some("api"));
        assert_eq!(
            c.kv_namespaces[0].location.as_ref().unwrap().to_string(),
            "wrangler.jsonc:5:5"
        );
        assert_eq!(c.routes[0].zone_name.as_deref(), Some("example.com"));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse(
            "{\n  \"name\": \"api\",\n  \"kv_namespaces\": [ { \"binding\": 5 } ]\n}",
            Path::new("w.jsonc"),
        )
        .unwrap_err();
        assert_eq!(e.location().unwrap().to_string(), "w.jsonc:3:35");
        let e = parse("name = \"api\"\nmain = \n", Path::new("w.toml")).unwrap_err();
        assert_eq!(e.location().unwrap().line, 2);
        let e = parse("{\n  \"name\": \"api\" \"x\"\n", Path::new("w.jsonc")).unwrap_err();
        assert_eq!(e.location().unwrap().line, 2, "{e}");
        // Deep dotted keys hit toml's own recursion limit; deep inline tables hit ours.
        let dotted = format!("{}a = 1\n", "a.".repeat(100_000));
        assert!(parse(&dotted, Path::new("w.toml")).is_err());
        let inline = format!("x = {}1{}\n", "{a=".repeat(1000), "}".repeat(1000));
        let e = parse(&inline, Path::new("w.toml")).unwrap_err();
        assert!(e.to_string().contains("nesting"), "{e}");
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(500), "]".repeat(500));
        let e = parse(&deep, Path::new("w.json")).unwrap_err();
        assert!(e.to_string().contains("nesting"), "{e}");
    }
}
