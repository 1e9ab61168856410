//! `sv-config` owns sv's configuration: the typed model of `sv.yaml` ([`Config`]), loading it
//! with positions on every error, `${VAR}` interpolation, reading wrangler's own configs
//! ([`wrangler`]), resolving each environment ([`Environment`]: prefixed names, overrides,
//! workers and their bindings, dependencies in waves, access rules, freeze windows), and the
//! JSON Schema generated from the types ([`schema`], committed as `schema/sv.schema.json`).
//!
//! It is pure: no tokio, no clap, no network; the only I/O is reading the files it is asked
//! to load (sv.yaml and the wrangler configs it names).
//!
//! # Loading
//!
//! ```no_run
//! use sv_config::{Operation, ProcessEnv};
//! let loaded = sv_config::load("sv.yaml".as_ref(), &ProcessEnv)?;
//! let staging = loaded.environment("staging")?;
//! for wave in staging.dependency_waves()? {
//!     // create every resource of `wave` in parallel
//! }
//! staging.authorize("alice", Operation::Apply)?;
//! # Ok::<(), sv_config::Error>(())
//! ```
//!
//! Every error has a [`Location`] (`file:line:column`, 1-based) when it comes from a file —
//! syntax errors, unknown keys, wrong types, missing fields, unset variables, and semantic
//! errors such as invalid names, unknown references or dependency cycles. Loading validates
//! every declared environment, so a loaded config has no invalid environment.
//!
//! # Interpolation
//!
//! `${NAME}` reads an environment variable (through [`VarSource`]; unset is an error unless
//! written `${NAME:-default}`); `$${` is a literal `${`. Built-ins rendered per environment:
//! `${env}` (environment name), `${zone}`, `${project}`, `${prefix}`. Interpolation happens
//! on scalar values after parsing, so it cannot change the YAML structure. [`Config`] as
//! loaded keeps built-ins unrendered; [`Environment::config`] has them rendered.
//!
//! # Environments
//!
//! `environments.<name>.overrides` is merged over the top level (mappings key by key, lists
//! and values replaced). Resource names get the environment's `prefix` (KV titles, D1, R2,
//! Pages; workers are named by wrangler's `env.<name>` section when there is one, else
//! prefixed too). Developer (`dev-<name>`) and preview (`pr-<n>`) environments derive from
//! `onboarding.base_environment` with `onboarding.dev_prefix` / `preview_prefix`, and hold
//! only data stores and workers (DNS, routes and Pages projects stay shared).
//!
//! Implicit dependencies: a worker depends on the KV/D1/R2 resources its wrangler bindings
//! name (KV by `binding`, default the upper-cased name; D1 by `database_name` or `binding`; R2
//! by `bucket_name` or `binding` — a binding matching nothing is an error); routes and custom
//! domains depend on their worker; a route depends on a proxied DNS record for its host; a
//! DNS record whose content is `<project>.pages.dev` or `<script>.workers.dev` depends on that
//! project or worker.
//!
//! # Differences from `sv.example.yaml`
//!
//! * `resources.r2.<name>.lifecycle` (object rules) is `lifecycle_rules`; `lifecycle` is
//!   `{ prevent_destroy }` on every resource kind, as for KV.
//! * DNS records may carry a `key:` (their address becomes `dns.<key>`; otherwise
//!   `dns.<TYPE>.<name>`, e.g. `dns.CNAME.api`); needed only when type and name repeat.
//! * Worker custom domains are `worker_routes` entries with `custom_domain: true`.
//! * Additions (all optional): `environments.<n>.{overrides, wrangler_env, account_id}`;
//!   `allowed_actors` may also be a map `{apply|destroy|deploy|restore: [logins]}`;
//!   `workspaces.<n>.{path, dev, test, depends_on}`; `binding`, `depends_on` on resources;
//!   `deploy.{auto_rollback, gate.min_requests}`; health check `method, headers, body,
//!   timeout, retries, degraded_after, unhealthy_after, degraded_error_rate,
//!   unhealthy_error_rate, expect.{body_contains, headers}`; `health.silences`;
//!   `alert.{escalate_after, notify_recovery, flapping}`; `onboarding.{preview_prefix,
//!   base_environment, stale_after}`; `state: {local: dir} | {r2: {bucket, prefix}}`.
//! * Maintenance and freeze windows are `[Day] HH:MM - [Day] HH:MM [Zone]` (zone defaults to
//!   UTC); backup recipients are checked for shape only (`age1…`, `ssh-…`), sv-backup parses
//!   them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

mod address;
mod de;
mod derived;
mod env;
mod error;
mod graph;
mod interp;
mod model;
pub mod names;
mod node;
mod units;
mod validate;
pub mod wrangler;

pub use address::{ResourceAddress, ResourceKind};
pub use derived::DerivedName;
pub use env::{Environment, EnvironmentKind, Resource, ResourceSpec, Route, RouteSource, Worker};
pub use error::{Error, Location, Operation};
pub use interp::{BUILTINS, NoVars, ProcessEnv, UnsetAsWritten, VarSource};
pub use model::*;
pub use units::{
    Duration, JsonPath, JsonStep, Percent, TimeWindow, Timestamp, WindowPoint, WindowZone,
};

use crate::node::{Node, NodeKind, segs};
use crate::wrangler::WranglerConfig;

/// Largest sv.yaml we read.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A loaded, validated configuration and everything it references.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The sv.yaml that was read.
    pub path: PathBuf,
    /// Its directory: relative paths in the config are relative to it.
    pub root: PathBuf,
    /// The model as written (environment variables substituted; built-ins unrendered).
    pub config: Config,
    /// The wrangler config of each workspace that has one, by workspace name.
    pub wrangler: BTreeMap<String, WranglerConfig>,
    environments: BTreeMap<String, Environment>,
    tree: Node,
}

impl LoadedConfig {
    /// A declared environment, resolved.
    ///
    /// # Errors
    /// [`Error::UnknownEnvironment`] listing the known ones.
    pub fn environment(&self, name: &str) -> Result<&Environment, Error> {
        self.environments
            .get(name)
            .ok_or_else(|| Error::UnknownEnvironment {
                location: None,
                name: name.to_owned(),
                known: self.environments.keys().cloned().collect(),
            })
    }

    /// Every declared environment, by name.
    pub fn environments(&self) -> impl Iterator<Item = &Environment> {
        self.environments.values()
    }

    /// A path from the config, made relative to the current directory via [`LoadedConfig::root`].
    #[must_use]
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    /// The environment developer and preview environments derive from.
    #[must_use]
    pub fn base_environment(&self) -> &str {
        if let Some(b) = &self.config.onboarding.base_environment {
            return b;
        }
        if self.config.environments.contains_key("staging") {
            return "staging";
        }
        self.config
            .environments
            .keys()
            .next()
            .map_or("", String::as_str)
    }

    fn derived(
        &self,
        name: String,
        kind: EnvironmentKind,
        prefix: String,
    ) -> Result<Environment, Error> {
        let base = self.base_environment().to_owned();
        let over_path = segs!["environments", base.as_str(), "overrides"].to_vec();
        env::build(
            &env::Sources {
                tree: &self.tree,
                file: &self.path,
                base: &self.config,
                wrangler: &self.wrangler,
            },
            env::EnvSpec {
                name,
                kind,
                base,
                prefix,
                overrides: self.tree.at(&over_path),
            },
        )
    }

    /// A developer's isolated environment (`dev-<developer>`, prefix from
    /// `onboarding.dev_prefix`).
    ///
    /// # Errors
    /// An invalid developer name, or a name that makes a resource name invalid.
    pub fn developer_environment(&self, developer: &str) -> Result<Environment, Error> {
        names::identifier(developer).map_err(|m| {
            Error::invalid(
                None,
                format!("invalid developer name {}: {m}", error::quote(developer)),
            )
        })?;
        let prefix = self
            .config
            .onboarding
            .dev_prefix
            .replace("{developer}", developer);
        names::prefix(&prefix).map_err(|m| {
            Error::invalid(
                None,
                format!("invalid developer prefix {}: {m}", error::quote(&prefix)),
            )
        })?;
        self.derived(
            format!("dev-{developer}"),
            EnvironmentKind::Developer {
                developer: developer.to_owned(),
            },
            prefix,
        )
    }

    /// A pull request's preview environment (`pr-<n>`, prefix from
    /// `onboarding.preview_prefix`).
    ///
    /// # Errors
    /// A prefix that makes a resource name invalid.
    pub fn preview_environment(&self, pr: u64) -> Result<Environment, Error> {
        let prefix = self
            .config
            .onboarding
            .preview_prefix
            .replace("{pr}", &pr.to_string());
        names::prefix(&prefix).map_err(|m| {
            Error::invalid(
                None,
                format!("invalid preview prefix {}: {m}", error::quote(&prefix)),
            )
        })?;
        self.derived(format!("pr-{pr}"), EnvironmentKind::Preview { pr }, prefix)
    }

    /// Scratch resources for a restore drill of a backup of `source`: environment
    /// `drill-<source>`, every name prefixed `drill-<source>-`, derived like developer and
    /// preview environments.
    ///
    /// # Errors
    /// An invalid environment name, or a prefix that makes a resource name invalid.
    pub fn drill_environment(&self, source: &str) -> Result<Environment, Error> {
        names::identifier(source).map_err(|m| {
            Error::invalid(
                None,
                format!("invalid environment name {}: {m}", error::quote(source)),
            )
        })?;
        let prefix = format!("drill-{source}-");
        names::prefix(&prefix).map_err(|m| {
            Error::invalid(
                None,
                format!("invalid drill prefix {}: {m}", error::quote(&prefix)),
            )
        })?;
        self.derived(
            format!("drill-{source}"),
            EnvironmentKind::Drill {
                source: source.to_owned(),
            },
            prefix,
        )
    }
}

/// Reads a file, refusing anything larger than `limit` bytes without reading it whole.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<String, Error> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        ))
    })
}

pub(crate) fn shape_error(e: de::DeError, file: &Path) -> Error {
    let mark = e.mark.unwrap_or(node::Mark { line: 1, column: 1 });
    Error::Shape {
        location: Location::new(file, mark.line.max(1), mark.column.max(1)),
        message: error::sanitize(&e.message),
    }
}

/// Loads `sv.yaml` (or whatever `path` names), the wrangler configs it references, and
/// resolves and validates every environment.
///
/// # Errors
/// The first problem found, with its file, line and column.
pub fn load(path: &Path, vars: &dyn VarSource) -> Result<LoadedConfig, Error> {
    let text = read_bounded(path, MAX_CONFIG_BYTES)?;
    load_str(&text, path, vars)
}

/// As [`load`], with the text of the file already in hand; `path` names it in errors and
/// locates the wrangler configs (relative to its directory).
///
/// # Errors
/// As [`load`].
pub fn load_str(text: &str, path: &Path, vars: &dyn VarSource) -> Result<LoadedConfig, Error> {
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size: text.len() as u64,
            limit: MAX_CONFIG_BYTES,
        });
    }
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |m: node::Mark| Location::new(path, m.line.max(1), m.column.max(1));
    let tree = node::parse_yaml(text)
        .map_err(|e| Error::Syntax {
            location: at(e.mark),
            message: error::sanitize(&e.message),
        })?
        .ok_or_else(|| Error::Syntax {
            location: Location::new(path, 1, 1),
            message:
                "the file is empty: expected a mapping with at least `project` and `environments`"
                    .into(),
        })?;
    if !matches!(tree.kind, NodeKind::Map(_)) {
        return Err(Error::Shape {
            location: at(tree.mark),
            message: "expected a mapping (`key: value` lines) at the top of the file".into(),
        });
    }
    let mut tree = tree;
    interp::interpolate(&mut tree, vars, None, path)?;
    let config: Config = de::from_node(&tree).map_err(|e| shape_error(e, path))?;

    let mut wrangler = BTreeMap::new();
    for (name, ws) in &config.workspaces {
        let Some(rel) = &ws.wrangler else {
            continue;
        };
        let full = root.join(rel);
        let loaded = wrangler::load(&full).map_err(|e| match e {
            Error::Read { source, .. } => Error::invalid(
                Some(validate_loc(
                    &tree,
                    path,
                    &segs!["workspaces", name.as_str(), "wrangler"],
                )),
                format!("cannot read wrangler config `{}`: {source}", full.display()),
            ),
            other => other,
        })?;
        wrangler.insert(name.clone(), loaded);
    }
    for (env_name, env) in &config.environments {
        if let Some(section) = &env.wrangler_env {
            for (ws, wr) in &wrangler {
                if !wr.env.contains_key(section) {
                    return Err(Error::invalid(
                        Some(validate_loc(
                            &tree,
                            path,
                            &segs!["environments", env_name.as_str(), "wrangler_env"],
                        )),
                        format!(
                            "wrangler config of workspace `{ws}` ({}) has no `env.{section}` section",
                            wr.path.display()
                        ),
                    ));
                }
            }
        }
    }

    let mut environments = BTreeMap::new();
    for name in config.environments.keys() {
        let over_path = segs!["environments", name.as_str(), "overrides"].to_vec();
        let environment = env::build(
            &env::Sources {
                tree: &tree,
                file: path,
                base: &config,
                wrangler: &wrangler,
            },
            env::EnvSpec {
                name: name.clone(),
                kind: EnvironmentKind::Named,
                base: name.clone(),
                prefix: config.environments[name].prefix.clone(),
                overrides: tree.at(&over_path),
            },
        )?;
        environments.insert(name.clone(), environment);
    }
    Ok(LoadedConfig {
        path: path.to_owned(),
        root,
        config,
        wrangler,
        environments,
        tree,
    })
}

fn validate_loc(tree: &Node, file: &Path, path: &[node::Seg]) -> Location {
    let m = tree.mark_of(path, false);
    Location::new(file, m.line.max(1), m.column.max(1))
}

/// The JSON Schema of `sv.yaml`, generated from [`Config`] (draft 2020-12).
#[must_use]
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Config);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

/// Converts a config text to JSON the way the loader reads it (environment variables
/// substituted, built-ins left as written) — for validating files against [`schema`].
///
/// # Errors
/// Syntax errors and unset variables, located.
pub fn yaml_to_json(
    text: &str,
    path: &Path,
    vars: &dyn VarSource,
) -> Result<serde_json::Value, Error> {
    let mut tree = node::parse_yaml(text)
        .map_err(|e| Error::Syntax {
            location: Location::new(path, e.mark.line, e.mark.column),
            message: error::sanitize(&e.message),
        })?
        .unwrap_or_default();
    interp::interpolate(&mut tree, vars, None, path)?;
    de::from_node(&tree).map_err(|e| shape_error(e, path))
}
