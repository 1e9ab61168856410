//! The files setup writes for a developer: each workspace's `.env` (and `.dev.vars` for a
//! worker), and a wrangler environment `[env.dev-NAME]` for each worker.
//!
//! The wrangler environment goes into a generated file beside the original —
//! `wrangler.dev-NAME.toml` (or `.json` for a JSON/JSONC config) — never into the user's
//! `wrangler.toml`/`wrangler.jsonc`, because:
//! - the original is committed and shared: a per-developer section there would be committed
//!   by accident, conflict between developers, and publish resource ids;
//! - rewriting TOML/JSONC loses comments and formatting, and JSONC cannot be appended to.
//!
//! The TOML file is the original text verbatim (comments and all) with the section appended,
//! so paths inside stay relative to the same directory; JSON(C) is re-emitted as plain JSON.
//! `wrangler dev -c worker/wrangler.dev-alice.toml --env dev-alice` uses it. Inside the
//! section, `vars` follow the env-file merge (a value the developer changed is kept); the
//! bindings are sv's (they must point at the developer's resources).
//!
//! Everything is computed first ([`plan`]) and written by the caller, so `--dry-run` shows
//! exactly what a run would do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};
use sv_config::{Environment, ResourceKind, ResourceSpec, Worker};
use sv_planner::State;

use crate::envfiles::{self, MergeReport};

/// One file setup wants to write.
#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    /// Relative to sv.yaml.
    pub path: String,
    #[serde(skip)]
    pub full: PathBuf,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Whether the content differs from what is on disk.
    pub changes: bool,
    pub created: bool,
    pub merge: MergeReport,
    /// Digests to record for the next merge.
    #[serde(skip)]
    pub record: BTreeMap<String, String>,
    /// A note (e.g. a hand-written section that was left alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

/// Everything needed to compute the files.
pub struct Inputs<'a> {
    pub root: &'a Path,
    pub developer: &'a str,
    pub env: &'a Environment,
    /// Prefix of the environment the developer's derives from (its wrangler names carry it).
    pub base_prefix: &'a str,
    pub state: &'a State,
    pub written: &'a BTreeMap<String, BTreeMap<String, String>>,
    pub account_id: Option<&'a str>,
}

/// The env files and generated wrangler configs, merged with what is on disk.
///
/// # Errors
/// A file cannot be read, or a wrangler config cannot be parsed.
pub fn plan(inp: &Inputs<'_>) -> anyhow::Result<Vec<FilePlan>> {
    let mut out = Vec::new();
    let workers: BTreeMap<String, &Worker> = inp
        .env
        .resources_of(ResourceKind::Worker)
        .filter_map(|r| match &r.spec {
            ResourceSpec::Worker(w) => Some((w.workspace.clone(), w)),
            _ => None,
        })
        .collect();
    for (name, ws) in &inp.env.config.workspaces {
        let dir = inp
            .root
            .join(ws.path.clone().unwrap_or_else(|| PathBuf::from(name)));
        if !dir.is_dir() {
            continue;
        }
        let mut env = BTreeMap::new();
        env.insert("SV_DEVELOPER".to_owned(), inp.developer.to_owned());
        env.insert("SV_ENV".to_owned(), inp.env.name.clone());
        if let Some(a) = inp.account_id.filter(|a| !a.is_empty()) {
            env.insert("CLOUDFLARE_ACCOUNT_ID".to_owned(), a.to_owned());
        }
        out.push(env_file(inp, &dir.join(".env"), &env)?);
        if let Some(worker) = workers.get(name) {
            let mut vars: BTreeMap<String, String> = worker
                .definition
                .vars
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), var_text(v)))
                .collect();
            vars.insert("SV_ENV".to_owned(), inp.env.name.clone());
            out.push(env_file(inp, &dir.join(".dev.vars"), &vars)?);
            out.push(wrangler_file(inp, worker)?);
        }
    }
    Ok(out)
}

fn var_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn env_file(
    inp: &Inputs<'_>,
    path: &Path,
    wanted: &BTreeMap<String, String>,
) -> anyhow::Result<FilePlan> {
    let relp = rel(inp.root, path);
    let current = read(path)?;
    let written = inp.written.get(&relp).cloned().unwrap_or_default();
    let header = format!(
        "# Added by `sv-onboard setup --developer {}` ({}); values you change are kept.",
        inp.developer, inp.env.name
    );
    let (text, merge, record) =
        envfiles::merge(current.as_deref().unwrap_or(""), wanted, &written, &header);
    Ok(FilePlan {
        changes: current.as_deref() != Some(text.as_str()),
        created: current.is_none(),
        path: relp,
        full: path.to_owned(),
        bytes: text.into_bytes(),
        merge,
        record,
        note: None,
    })
}

/// The generated wrangler config's path for `original`.
pub fn generated_path(original: &Path, environment: &str) -> PathBuf {
    let ext = match original.extension().and_then(|e| e.to_str()) {
        Some("toml") => "toml",
        _ => "json",
    };
    original.with_file_name(format!("wrangler.{environment}.{ext}"))
}

fn jsonc_to_value(text: &str, path: &Path) -> anyhow::Result<Value> {
    let parsed = jsonc_parser::parse_to_value(text, &jsonc_parser::ParseOptions::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    fn conv(v: jsonc_parser::JsonValue<'_>) -> Value {
        use jsonc_parser::JsonValue as J;
        match v {
            J::String(s) => Value::String(s.into_owned()),
            J::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
            J::Boolean(b) => Value::Bool(b),
            J::Null => Value::Null,
            J::Array(a) => Value::Array(a.into_iter().map(conv).collect()),
            J::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k.into_owned(), conv(v)))
                    .collect(),
            ),
        }
    }
    Ok(parsed.map_or(Value::Null, conv))
}

/// Which binding of the worker points at which of the developer's resources.
fn bindings(inp: &Inputs<'_>, worker: &Worker) -> Value {
    let env = inp.env;
    let id_of = |kind: ResourceKind, name: &str| -> Option<String> {
        let a = sv_infra::desired::address(&sv_config::ResourceAddress::new(kind, name))?;
        inp.state.resources.get(&a).map(|r| r.id.clone())
    };
    let matches = |wrangler_name: &str, name: &str| {
        wrangler_name == name
            || wrangler_name == format!("{}{name}", env.prefix)
            || wrangler_name == format!("{}{name}", inp.base_prefix)
    };
    let mut kv = Vec::new();
    for b in &worker.definition.kv_namespaces {
        let found = env.config.resources.kv.iter().find(|(name, k)| {
            k.binding
                .clone()
                .unwrap_or_else(|| sv_config::names::default_binding(name))
                == b.binding
        });
        if let Some((name, _)) = found {
            let mut v = json!({"binding": b.binding});
            if let Some(id) = id_of(ResourceKind::Kv, name) {
                v["id"] = json!(id);
            }
            kv.push(v);
        }
    }
    let mut d1 = Vec::new();
    for b in &worker.definition.d1_databases {
        let found = env
            .config
            .resources
            .d1
            .iter()
            .find(|(name, d)| match &d.binding {
                Some(binding) => *binding == b.binding,
                None => b.database_name.as_deref().is_some_and(|n| matches(n, name)),
            });
        if let Some((name, _)) = found {
            let mut v =
                json!({"binding": b.binding, "database_name": format!("{}{name}", env.prefix)});
            if let Some(id) = id_of(ResourceKind::D1, name) {
                v["database_id"] = json!(id);
            }
            if let Some(m) = &b.migrations_dir {
                v["migrations_dir"] = json!(m);
            }
            d1.push(v);
        }
    }
    let mut r2 = Vec::new();
    for b in &worker.definition.r2_buckets {
        let found = env
            .config
            .resources
            .r2
            .iter()
            .find(|(name, r)| match &r.binding {
                Some(binding) => *binding == b.binding,
                None => matches(&b.bucket_name, name),
            });
        if let Some((name, _)) = found {
            r2.push(json!({"binding": b.binding, "bucket_name": format!("{}{name}", env.prefix)}));
        }
    }
    json!({"kv_namespaces": kv, "d1_databases": d1, "r2_buckets": r2})
}

fn wrangler_file(inp: &Inputs<'_>, worker: &Worker) -> anyhow::Result<FilePlan> {
    let original = inp.root.join(&worker.wrangler);
    let out_path = generated_path(&original, &inp.env.name);
    let relp = rel(inp.root, &out_path);
    let text = read(&original)?.unwrap_or_default();
    let toml_format = out_path.extension().and_then(|e| e.to_str()) == Some("toml");
    let env_name = &inp.env.name;

    // A section the developer wrote into the original themselves is theirs.
    let original_value: Value = if toml_format {
        let t: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", original.display()))?;
        serde_json::to_value(t)?
    } else {
        jsonc_to_value(&text, &original)?
    };
    if original_value["env"].get(env_name.as_str()).is_some() {
        return Ok(FilePlan {
            path: rel(inp.root, &original),
            full: original.clone(),
            bytes: text.into_bytes(),
            changes: false,
            created: false,
            merge: MergeReport::default(),
            record: BTreeMap::new(),
            note: Some(format!(
                "[env.{env_name}] is already written in {} by hand: left as it is",
                worker.wrangler.display()
            )),
        });
    }

    // Vars: merged like an env file against the generated file's current section.
    let current = read(&out_path)?;
    let current_vars: BTreeMap<String, Value> = match &current {
        Some(t) if toml_format => toml::from_str::<toml::Table>(t)
            .ok()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v["env"][env_name.as_str()]["vars"].as_object().cloned())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default(),
        Some(t) => jsonc_to_value(t, &out_path)
            .ok()
            .and_then(|v| v["env"][env_name.as_str()]["vars"].as_object().cloned())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let as_text: BTreeMap<String, String> = current_vars
        .iter()
        .map(|(k, v)| (k.clone(), var_text(v)))
        .collect();
    let wanted: BTreeMap<String, String> = worker
        .definition
        .vars
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), var_text(v)))
        .collect();
    let written = inp.written.get(&relp).cloned().unwrap_or_default();
    let current_text: String = as_text
        .iter()
        .map(|(k, v)| format!("{k}={}\n", envfiles::quote(v)))
        .collect();
    let (merged_text, merge, record) = envfiles::merge(&current_text, &wanted, &written, "");
    let mut vars = serde_json::Map::new();
    for (k, t) in envfiles::parse(&merged_text) {
        // Back from text to the JSON value it came from (a number stays a number).
        let value = current_vars
            .get(&k)
            .filter(|v| var_text(v) == t)
            .or_else(|| worker.definition.vars.get(&k).filter(|v| var_text(v) == t))
            .cloned()
            .unwrap_or(Value::String(t));
        vars.insert(k, value);
    }

    let mut section = bindings(inp, worker);
    section["name"] = json!(worker.definition.name);
    if !vars.is_empty() {
        section["vars"] = Value::Object(vars);
    }
    let bytes = if toml_format {
        let mut env = toml::Table::new();
        let mut inner = toml::Table::new();
        inner.insert(env_name.clone(), toml::Value::try_from(&section)?);
        env.insert("env".to_owned(), toml::Value::Table(inner));
        let mut out = format!(
            "# Generated by `sv-onboard setup --developer {}` from {}: that file, verbatim, and\n\
             # the [env.{env_name}] section at the end. Do not commit it. Regenerated on every setup;\n\
             # values you change under [env.{env_name}.vars] are kept, everything else is replaced.\n\
             # Use it with: wrangler dev -c {} --env {env_name}\n\n",
            inp.developer,
            worker.wrangler.display(),
            relp
        );
        out.push_str(&text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "\n# ---- generated by sv-onboard: developer environment {env_name} ----\n"
        ));
        out.push_str(&toml::to_string(&env)?);
        out
    } else {
        let mut v = original_value;
        if !v["env"].is_object() {
            v["env"] = json!({});
        }
        v["env"][env_name.as_str()] = section;
        let mut s = serde_json::to_string_pretty(&v)?;
        s.push('\n');
        s
    };
    Ok(FilePlan {
        changes: current.as_deref() != Some(bytes.as_str()),
        created: current.is_none(),
        path: relp,
        full: out_path,
        bytes: bytes.into_bytes(),
        merge,
        record,
        note: None,
    })
}

/// Lines setup wants in the app's `.gitignore`, so generated and personal files are never
/// committed.
pub const GITIGNORE: [&str; 5] = [
    ".env",
    ".dev.vars",
    "wrangler.dev-*",
    ".sv/dev/",
    ".sv/state/dev-*",
];

/// The `.gitignore` with the missing lines appended (`None` when nothing is missing).
pub fn gitignore(root: &Path) -> anyhow::Result<Option<(FilePlan, Vec<String>)>> {
    let path = root.join(".gitignore");
    let current = read(&path)?;
    let text = current.clone().unwrap_or_default();
    let have: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<String> = GITIGNORE
        .iter()
        .filter(|l| !have.contains(l))
        .map(|l| (*l).to_owned())
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# sv-onboard: personal and generated developer files\n");
    for l in &missing {
        out.push_str(l);
        out.push('\n');
    }
    Ok(Some((
        FilePlan {
            path: ".gitignore".to_owned(),
            full: path,
            bytes: out.into_bytes(),
            changes: true,
            created: current.is_none(),
            merge: MergeReport {
                added: missing.clone(),
                ..MergeReport::default()
            },
            record: BTreeMap::new(),
            note: None,
        },
        missing,
    )))
}
