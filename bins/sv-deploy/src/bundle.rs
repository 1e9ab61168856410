//! The Worker as uploaded: its built ES modules and its bindings, resolved against the
//! environment's resources (KV and D1 ids looked up by name through the API).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures::TryStreamExt as _;
use secrecy::SecretString;
use serde::Serialize;
use sv_cloudflare::workers::{Binding, Module, UploadMetadata, WorkerUpload};
use sv_config::{Environment, ResourceKind, ResourceSpec, Worker};

/// The Worker this environment deploys (the first `worker.*` resource).
///
/// # Errors
/// No workspace with a wrangler config.
pub fn worker(env: &Environment) -> anyhow::Result<&Worker> {
    env.resources_of(ResourceKind::Worker)
        .find_map(|r| match &r.spec {
            ResourceSpec::Worker(w) => Some(w),
            _ => None,
        })
        .ok_or_else(|| {
            sv_cli::input_error(anyhow::anyhow!(
                "environment `{}` has no Worker: give a workspace a `wrangler:` config in sv.yaml",
                env.name
            ))
        })
}

/// A binding as planned, for reports (never a secret's value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingSummary {
    pub name: String,
    pub kind: String,
    /// Resource name (KV title, D1 database, R2 bucket), variable value kind, or `secret`.
    pub target: String,
}

/// A resolved binding before id lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Kv { binding: String, title: String },
    D1 { binding: String, database: String },
    R2 { binding: String, bucket: String },
}

/// Maps each wrangler binding onto the environment's resource (KV by `binding`, default the
/// upper-cased name; D1 by `binding` or `database_name`; R2 by `binding` or `bucket_name`).
///
/// # Errors
/// A binding naming no resource of sv.yaml.
pub fn plan_bindings(env: &Environment, worker: &Worker) -> anyhow::Result<Vec<Planned>> {
    let def = &worker.definition;
    let mut out = Vec::new();
    let unprefixed = |name: &str| name.strip_prefix(env.prefix.as_str()).map(str::to_owned);
    for b in &def.kv_namespaces {
        let found = env.resources_of(ResourceKind::Kv).find(|r| {
            let configured = env
                .config
                .resources
                .kv
                .get(r.address.name())
                .and_then(|k| k.binding.clone());
            configured.unwrap_or_else(|| sv_config::names::default_binding(r.address.name()))
                == b.binding
        });
        let r = found.ok_or_else(|| no_resource("KV", &b.binding, &env.name))?;
        out.push(Planned::Kv {
            binding: b.binding.clone(),
            title: r.name.clone(),
        });
    }
    for b in &def.d1_databases {
        let found = env.resources_of(ResourceKind::D1).find(|r| {
            let configured = env
                .config
                .resources
                .d1
                .get(r.address.name())
                .and_then(|d| d.binding.clone());
            match configured {
                Some(binding) => binding == b.binding,
                None => b.database_name.as_deref().is_some_and(|dn| {
                    dn == r.name
                        || dn == r.address.name()
                        || unprefixed(dn).as_deref() == Some(r.address.name())
                }),
            }
        });
        let r = found.ok_or_else(|| no_resource("D1", &b.binding, &env.name))?;
        out.push(Planned::D1 {
            binding: b.binding.clone(),
            database: r.name.clone(),
        });
    }
    for b in &def.r2_buckets {
        let found = env.resources_of(ResourceKind::R2).find(|r| {
            let configured = env
                .config
                .resources
                .r2
                .get(r.address.name())
                .and_then(|x| x.binding.clone());
            match configured {
                Some(binding) => binding == b.binding,
                None => {
                    b.bucket_name == r.name
                        || b.bucket_name == r.address.name()
                        || unprefixed(&b.bucket_name).as_deref() == Some(r.address.name())
                }
            }
        });
        let r = found.ok_or_else(|| no_resource("R2", &b.binding, &env.name))?;
        out.push(Planned::R2 {
            binding: b.binding.clone(),
            bucket: r.name.clone(),
        });
    }
    Ok(out)
}

fn no_resource(kind: &str, binding: &str, env: &str) -> anyhow::Error {
    sv_cli::input_error(anyhow::anyhow!(
        "{kind} binding `{binding}` names no resource of environment `{env}` in sv.yaml"
    ))
}

/// Looks up KV namespace and D1 database ids by name.
///
/// # Errors
/// A resource that does not exist in the account (run `sv-plan apply` first) or API errors.
pub async fn resolve(
    client: &sv_cloudflare::Client,
    planned: &[Planned],
) -> anyhow::Result<Vec<Binding>> {
    let needs_kv = planned.iter().any(|p| matches!(p, Planned::Kv { .. }));
    let needs_d1 = planned.iter().any(|p| matches!(p, Planned::D1 { .. }));
    let kv: BTreeMap<String, String> = if needs_kv {
        client
            .kv()
            .list_namespaces()
            .map_ok(|n| (n.title, n.id))
            .try_collect()
            .await
            .context("listing KV namespaces")?
    } else {
        BTreeMap::new()
    };
    let d1: BTreeMap<String, String> = if needs_d1 {
        client
            .d1()
            .list(None)
            .map_ok(|d| (d.name, d.uuid))
            .try_collect()
            .await
            .context("listing D1 databases")?
    } else {
        BTreeMap::new()
    };
    let missing = |kind: &str, name: &str| {
        sv_cli::input_error(anyhow::anyhow!(
            "{kind} `{name}` does not exist in the account: run `sv-plan apply` for this environment first"
        ))
    };
    planned
        .iter()
        .map(|p| match p {
            Planned::Kv { binding, title } => kv
                .get(title)
                .map(|id| Binding::kv_namespace(binding, id))
                .ok_or_else(|| missing("KV namespace", title)),
            Planned::D1 { binding, database } => d1
                .get(database)
                .map(|id| Binding::d1(binding, id))
                .ok_or_else(|| missing("D1 database", database)),
            Planned::R2 { binding, bucket } => Ok(Binding::r2_bucket(binding, bucket)),
        })
        .collect()
}

/// Summaries of every binding for the report.
pub fn summaries(
    planned: &[Planned],
    vars: &BTreeMap<String, serde_json::Value>,
    secrets: &[String],
) -> Vec<BindingSummary> {
    let mut out: Vec<BindingSummary> = planned
        .iter()
        .map(|p| match p {
            Planned::Kv { binding, title } => BindingSummary {
                name: binding.clone(),
                kind: "kv".into(),
                target: title.clone(),
            },
            Planned::D1 { binding, database } => BindingSummary {
                name: binding.clone(),
                kind: "d1".into(),
                target: database.clone(),
            },
            Planned::R2 { binding, bucket } => BindingSummary {
                name: binding.clone(),
                kind: "r2".into(),
                target: bucket.clone(),
            },
        })
        .collect();
    for name in vars.keys() {
        out.push(BindingSummary {
            name: name.clone(),
            kind: "var".into(),
            target: "plain text".into(),
        });
    }
    for name in secrets {
        out.push(BindingSummary {
            name: name.clone(),
            kind: "secret".into(),
            target: format!("from ${name}"),
        });
    }
    out
}

/// The directory holding the built modules and the main module's name in it: the parent of
/// wrangler's `main` (e.g. `dist/index.js` → `dist`, `index.js`), relative to the wrangler
/// config's directory.
///
/// # Errors
/// No `main` in the wrangler config.
pub fn module_root(worker: &Worker, config_root: &Path) -> anyhow::Result<(PathBuf, String)> {
    let main = worker.definition.main.as_deref().ok_or_else(|| {
        sv_cli::input_error(anyhow::anyhow!(
            "{} sets no `main`: sv-deploy uploads the built module it names",
            worker.wrangler.display()
        ))
    })?;
    let wrangler_dir = config_root
        .join(&worker.wrangler)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let main_path = wrangler_dir.join(main);
    let base = main_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| wrangler_dir.clone());
    let name = main_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((base, name))
}

/// Every `.js`/`.mjs` file under `base` as an ES module named by its path relative to `base`
/// (sorted, so uploads are reproducible).
///
/// # Errors
/// `base` unreadable or `main` not among the modules (not built?).
pub fn modules(base: &Path, main: &str) -> anyhow::Result<Vec<Module>> {
    let mut files = Vec::new();
    collect(base, base, &mut files)?;
    files.sort();
    if !files.iter().any(|(name, _)| name == main) {
        return Err(sv_cli::input_error(anyhow::anyhow!(
            "{} not found: build the worker first (or drop --skip-build)",
            base.join(main).display()
        )));
    }
    files
        .into_iter()
        .map(|(name, path)| {
            let content =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(Module::esm(name, content))
        })
        .collect()
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "reading {} (build the worker first, or drop --skip-build)",
            dir.display()
        )
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "js" || e == "mjs")
            && let Ok(rel) = path.strip_prefix(base)
        {
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
}

/// The multipart upload: modules, resolved bindings, vars, secrets, annotations.
pub fn upload(
    worker: &Worker,
    main: String,
    modules: Vec<Module>,
    mut bindings: Vec<Binding>,
    secrets: &[(String, SecretString)],
    annotations: BTreeMap<String, String>,
) -> WorkerUpload {
    for (name, value) in &worker.definition.vars {
        bindings.push(match value {
            serde_json::Value::String(s) => Binding::plain_text(name, s),
            other => Binding::json(name, other.clone()),
        });
    }
    for (name, value) in secrets {
        bindings.push(Binding::secret_text(name, value));
    }
    WorkerUpload {
        metadata: UploadMetadata {
            main_module: Some(main),
            compatibility_date: worker.definition.compatibility_date.clone(),
            compatibility_flags: worker.definition.compatibility_flags.clone(),
            bindings,
            annotations,
            ..UploadMetadata::default()
        },
        modules,
    }
}
