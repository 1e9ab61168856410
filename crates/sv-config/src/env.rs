//! Environments: the configuration as it applies to one environment — overrides merged,
//! built-ins rendered, names prefixed, workers resolved from wrangler, every resource with its
//! explicit and implicit dependencies — plus the questions callers ask of it (may this actor
//! apply here? is a freeze on? in what order can resources be created?).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::address::{ResourceAddress, ResourceKind};
use crate::de::from_node;
use crate::error::{Error, Location, Operation, quote};
use crate::graph;
use crate::interp::{Builtins, NoVars, interpolate};
use crate::model::{
    AllowedActors, Config, D1Database, DnsRecord, KvNamespace, PagesProject, R2Bucket,
};
use crate::names;
use crate::node::{Node, Seg, segs};
use crate::units::TimeWindow;
use crate::validate::{self, Ctx};
use crate::wrangler::{WorkerDefinition, WranglerConfig};

/// What kind of environment this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EnvironmentKind {
    /// Declared under `environments:`.
    Named,
    /// A developer's isolated resources (`sv-onboard setup --developer NAME`).
    Developer {
        /// The developer.
        developer: String,
    },
    /// A pull request's preview (`sv-onboard preview create --pr N`).
    Preview {
        /// The pull request number.
        pr: u64,
    },
    /// Scratch resources a restore drill restores a backup into (`sv-backup drill`).
    Drill {
        /// The environment the backup was taken from.
        source: String,
    },
}

/// A worker script as deployed to this environment.
#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    /// The workspace that builds it.
    pub workspace: String,
    /// Its wrangler config.
    pub wrangler: PathBuf,
    /// wrangler's view of it in this environment (bindings, routes, crons, vars).
    pub definition: WorkerDefinition,
}

/// Where a route was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteSource {
    /// `resources.worker_routes` in sv.yaml.
    SvYaml,
    /// `route`/`routes` in a wrangler config.
    Wrangler,
}

/// A worker route or custom domain in this environment.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Pattern (route) or hostname (custom domain), rendered.
    pub pattern: String,
    /// The deployed script name it points to.
    pub script: String,
    /// The zone it lives in.
    pub zone: Option<String>,
    /// Where it was declared.
    pub source: RouteSource,
}

/// The desired state of one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSpec {
    /// KV namespace.
    Kv(KvNamespace),
    /// D1 database.
    D1(D1Database),
    /// R2 bucket.
    R2(R2Bucket),
    /// DNS record (name and content rendered).
    Dns(DnsRecord),
    /// Pages project.
    Pages(PagesProject),
    /// Worker script.
    Worker(Worker),
    /// Worker route.
    Route(Route),
    /// Worker custom domain.
    Domain(Route),
}

/// One resource of an environment.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    /// `kind.name`.
    pub address: ResourceAddress,
    /// The Cloudflare natural key: KV title, D1/R2/Pages/Worker name (prefixed), DNS FQDN,
    /// route pattern, custom-domain hostname.
    pub name: String,
    /// Desired settings.
    pub spec: ResourceSpec,
    /// Everything that must exist first (explicit `depends_on` and implied by bindings,
    /// routes and DNS targets).
    pub depends_on: BTreeSet<ResourceAddress>,
    /// Destroy or replace must be refused.
    pub prevent_destroy: bool,
    /// Where it is declared.
    pub location: Location,
}

/// The configuration of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Name (`production`, `dev-alice`, `pr-42`).
    pub name: String,
    /// Named, developer or preview.
    pub kind: EnvironmentKind,
    /// Name prefix applied to resources.
    pub prefix: String,
    /// Zone, if any.
    pub zone: Option<String>,
    /// `protect: true`.
    pub protect: bool,
    /// Access restrictions.
    pub allowed_actors: Option<AllowedActors>,
    /// Freeze windows.
    pub freeze: Vec<TimeWindow>,
    /// Cloudflare account (environment's, else top-level).
    pub account_id: Option<String>,
    /// The whole configuration as it applies here: overrides merged, built-ins rendered.
    pub config: Config,
    /// Every resource, by address.
    pub resources: BTreeMap<ResourceAddress, Resource>,
}

impl Environment {
    /// A resource by address.
    #[must_use]
    pub fn resource(&self, address: &ResourceAddress) -> Option<&Resource> {
        self.resources.get(address)
    }

    /// Resources of one kind, in address order.
    pub fn resources_of(&self, kind: ResourceKind) -> impl Iterator<Item = &Resource> {
        self.resources
            .values()
            .filter(move |r| r.address.kind() == kind)
    }

    /// Whether `actor` may run `op` here (GitHub logins compare case-insensitively).
    #[must_use]
    pub fn may(&self, actor: &str, op: Operation) -> bool {
        match self
            .allowed_actors
            .as_ref()
            .and_then(|a| a.for_operation(op))
        {
            None => true,
            Some(list) => list.iter().any(|a| a.eq_ignore_ascii_case(actor)),
        }
    }

    /// Like [`Environment::may`], as an error that says who is allowed.
    ///
    /// # Errors
    /// [`Error::AccessDenied`] when `actor` is not allowed.
    pub fn authorize(&self, actor: &str, op: Operation) -> Result<(), Error> {
        if self.may(actor, op) {
            Ok(())
        } else {
            Err(Error::AccessDenied {
                actor: actor.to_owned(),
                operation: op,
                environment: self.name.clone(),
                allowed: self
                    .allowed_actors
                    .as_ref()
                    .and_then(|a| a.for_operation(op))
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
            })
        }
    }

    /// The freeze window in force at `at`, if any.
    #[must_use]
    pub fn frozen_at(&self, at: DateTime<Utc>) -> Option<&TimeWindow> {
        self.freeze.iter().find(|w| w.contains(at))
    }

    /// The health maintenance window in force at `at`, if any.
    #[must_use]
    pub fn maintenance_at(&self, at: DateTime<Utc>) -> Option<&TimeWindow> {
        self.config
            .health
            .maintenance
            .iter()
            .find(|w| w.contains(at))
    }

    /// Whether destroying or replacing `address` must be refused (`lifecycle.prevent_destroy`,
    /// else `protect` for data stores). Unknown addresses are not protected.
    #[must_use]
    pub fn prevents_destroy(&self, address: &ResourceAddress) -> bool {
        self.resources
            .get(address)
            .is_some_and(|r| r.prevent_destroy)
    }

    /// Resources in creation order: each wave depends only on earlier waves, so a wave's
    /// members can be created in parallel (destroy in reverse). Sorted within a wave.
    ///
    /// # Errors
    /// [`Error::Cycle`] (cannot happen for an environment returned by the loader, which
    /// checks this).
    pub fn dependency_waves(&self) -> Result<Vec<Vec<ResourceAddress>>, Error> {
        let deps: BTreeMap<ResourceAddress, BTreeSet<ResourceAddress>> = self
            .resources
            .iter()
            .map(|(a, r)| (a.clone(), r.depends_on.clone()))
            .collect();
        graph::waves(&deps).map_err(|cycle| Error::Cycle {
            location: cycle
                .first()
                .and_then(|a| self.resources.get(a))
                .map(|r| r.location.clone()),
            cycle,
        })
    }

    /// Workspaces in build order by their explicit `depends_on` (package.json dependencies are
    /// the caller's to add).
    ///
    /// # Errors
    /// Never for a loaded environment (cycles are rejected at load).
    pub fn workspace_waves(&self) -> Result<Vec<Vec<String>>, Error> {
        let deps: BTreeMap<String, BTreeSet<String>> = self
            .config
            .workspaces
            .iter()
            .map(|(n, w)| (n.clone(), w.depends_on.iter().cloned().collect()))
            .collect();
        graph::waves(&deps).map_err(|cycle| {
            Error::invalid(
                None,
                format!("workspace dependency cycle: {}", cycle.join(" -> ")),
            )
        })
    }
}

/// How the wrangler `env.<name>` section is picked.
#[derive(Debug, Clone)]
pub(crate) enum WranglerEnvChoice {
    /// The section named like the environment, when it exists.
    Auto(String),
    /// This section (must exist).
    Explicit(String),
}

/// Everything needed to build one environment.
pub(crate) struct EnvSpec<'a> {
    pub name: String,
    pub kind: EnvironmentKind,
    /// The `environments.<x>` this derives from (itself for named environments).
    pub base: String,
    pub prefix: String,
    pub overrides: Option<&'a Node>,
}

pub(crate) struct Sources<'a> {
    pub tree: &'a Node,
    pub file: &'a Path,
    pub base: &'a Config,
    pub wrangler: &'a BTreeMap<String, WranglerConfig>,
}

/// Builds and validates one environment.
pub(crate) fn build(src: &Sources<'_>, spec: EnvSpec<'_>) -> Result<Environment, Error> {
    let Some(base_env) = src.base.environments.get(&spec.base) else {
        return Err(Error::UnknownEnvironment {
            location: None,
            name: spec.base,
            known: src.base.environments.keys().cloned().collect(),
        });
    };
    let mut tree = src.tree.clone();
    if let Some(over) = spec.overrides {
        tree.merge(over);
    }
    let zone = base_env.zone.clone();
    let builtins = Builtins {
        env: spec.name.clone(),
        zone: zone.clone(),
        project: src.base.project.clone(),
        prefix: spec.prefix.clone(),
    };
    interpolate(&mut tree, &NoVars, Some(&builtins), src.file)?;
    let config: Config = from_node(&tree).map_err(|e| crate::shape_error(e, src.file))?;
    let ctx = Ctx {
        tree: &tree,
        file: src.file,
    };
    validate::config(&ctx, &config, &spec.prefix)?;
    let named = spec.kind == EnvironmentKind::Named;
    let wrangler_choice = match &base_env.wrangler_env {
        Some(e) => WranglerEnvChoice::Explicit(e.clone()),
        None => WranglerEnvChoice::Auto(spec.base.clone()),
    };
    let env = config
        .environments
        .get(&spec.base)
        .cloned()
        .unwrap_or_default();
    let mut b = Builder {
        ctx: &ctx,
        config: &config,
        prefix: &spec.prefix,
        base_prefix: &env.prefix,
        zone: zone.as_deref(),
        protect: named && env.protect,
        resources: BTreeMap::new(),
        decl: BTreeMap::new(),
    };
    b.data_stores();
    b.workers(src, &wrangler_choice, named)?;
    b.worker_references()?;
    if named {
        b.pages();
        b.dns()?;
        b.routes()?;
    }
    b.explicit_deps(named)?;
    b.implicit_deps();
    let resources = b.resources;
    let environment = Environment {
        name: spec.name,
        kind: spec.kind,
        prefix: spec.prefix,
        zone,
        protect: named && env.protect,
        allowed_actors: if named {
            env.allowed_actors.clone()
        } else {
            None
        },
        freeze: if named {
            env.freeze.clone()
        } else {
            Vec::new()
        },
        account_id: env.account_id.clone().or_else(|| config.account_id.clone()),
        config,
        resources,
    };
    environment.dependency_waves()?;
    Ok(environment)
}

/// A route or custom domain to add.
struct NewRoute<'a> {
    pattern: &'a str,
    custom_domain: bool,
    script_top: &'a str,
    zone: Option<String>,
    source: RouteSource,
    location: Location,
    decl: Option<Vec<Seg>>,
}

struct Builder<'a> {
    ctx: &'a Ctx<'a>,
    config: &'a Config,
    prefix: &'a str,
    /// The prefix of the environment this one derives from (developer and preview
    /// environments reuse its wrangler section, whose names carry that prefix).
    base_prefix: &'a str,
    zone: Option<&'a str>,
    protect: bool,
    resources: BTreeMap<ResourceAddress, Resource>,
    /// Path of each resource's declaration in sv.yaml (for `depends_on` positions).
    decl: BTreeMap<ResourceAddress, Vec<Seg>>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        address: ResourceAddress,
        name: String,
        spec: ResourceSpec,
        prevent: Option<bool>,
        location: Location,
        decl: Option<Vec<Seg>>,
    ) {
        let prevent_destroy = prevent.unwrap_or(self.protect && address.kind().holds_data());
        if let Some(d) = decl {
            self.decl.insert(address.clone(), d);
        }
        self.resources.insert(
            address.clone(),
            Resource {
                address,
                name,
                spec,
                depends_on: BTreeSet::new(),
                prevent_destroy,
                location,
            },
        );
    }

    fn data_stores(&mut self) {
        let r = &self.config.resources;
        for (name, kv) in &r.kv {
            let path = segs!["resources", "kv", name.as_str()].to_vec();
            self.add(
                ResourceAddress::new(ResourceKind::Kv, name),
                format!("{}{name}", self.prefix),
                ResourceSpec::Kv(kv.clone()),
                kv.lifecycle.prevent_destroy,
                self.ctx.key_loc(&path),
                Some(path),
            );
        }
        for (name, d1) in &r.d1 {
            let path = segs!["resources", "d1", name.as_str()].to_vec();
            self.add(
                ResourceAddress::new(ResourceKind::D1, name),
                format!("{}{name}", self.prefix),
                ResourceSpec::D1(d1.clone()),
                d1.lifecycle.prevent_destroy,
                self.ctx.key_loc(&path),
                Some(path),
            );
        }
        for (name, r2) in &r.r2 {
            let path = segs!["resources", "r2", name.as_str()].to_vec();
            self.add(
                ResourceAddress::new(ResourceKind::R2, name),
                format!("{}{name}", self.prefix),
                ResourceSpec::R2(r2.clone()),
                r2.lifecycle.prevent_destroy,
                self.ctx.key_loc(&path),
                Some(path),
            );
        }
    }

    fn pages(&mut self) {
        for (name, p) in &self.config.resources.pages {
            let path = segs!["resources", "pages", name.as_str()].to_vec();
            self.add(
                ResourceAddress::new(ResourceKind::Pages, name),
                format!("{}{name}", self.prefix),
                ResourceSpec::Pages(p.clone()),
                p.lifecycle.prevent_destroy,
                self.ctx.key_loc(&path),
                Some(path),
            );
        }
    }

    fn fqdn(&self, name: &str) -> String {
        let name = name.trim_end_matches('.');
        match self.zone {
            None => name.to_owned(),
            Some(zone) if name == "@" => zone.to_owned(),
            Some(zone) if name == zone || name.ends_with(&format!(".{zone}")) => name.to_owned(),
            Some(zone) => format!("{name}.{zone}"),
        }
    }

    fn dns(&mut self) -> Result<(), Error> {
        let records = self.config.resources.dns.clone();
        if !records.is_empty() && self.zone.is_none() {
            return Err(self.ctx.err(
                &segs!["resources", "dns"],
                "DNS records need a zone, but this environment has no `zone`",
            ));
        }
        for (i, rec) in records.iter().enumerate() {
            let path = segs!["resources", "dns", i].to_vec();
            self.add(
                ResourceAddress::new(ResourceKind::Dns, rec.address_name()),
                self.fqdn(&rec.name),
                ResourceSpec::Dns(rec.clone()),
                rec.lifecycle.prevent_destroy,
                self.ctx.loc(&path),
                Some(path),
            );
        }
        Ok(())
    }

    fn workers(
        &mut self,
        src: &Sources<'_>,
        choice: &WranglerEnvChoice,
        named: bool,
    ) -> Result<(), Error> {
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        for (workspace, ws) in &self.config.workspaces {
            let Some(wrangler_path) = &ws.wrangler else {
                continue;
            };
            let Some(wr) = src.wrangler.get(workspace) else {
                // Added by an environment override after load: not read.
                return Err(self.ctx.err(
                    &segs!["workspaces", workspace.as_str(), "wrangler"],
                    "wrangler configs can only be set at the top level of `workspaces`, not in an environment's overrides",
                ));
            };
            let section = match choice {
                WranglerEnvChoice::Auto(name) => wr.env.contains_key(name).then_some(name.as_str()),
                WranglerEnvChoice::Explicit(name) => Some(name.as_str()),
            };
            let definition = wr.resolve(section)?;
            let top = wr.name.clone().unwrap_or_default();
            let deployed = if named && section.is_some() {
                definition.name.clone()
            } else {
                format!("{}{top}", self.prefix)
            };
            names::worker_script(&deployed).map_err(|m| {
                Error::invalid(
                    Some(wr.name_location()),
                    format!("invalid worker name {}: {m}", quote(&deployed)),
                )
            })?;
            if let Some(other) = by_name.insert(top.clone(), workspace.clone()) {
                return Err(Error::invalid(
                    Some(wr.name_location()),
                    format!(
                        "worker `{top}` is defined by both workspace `{other}` and workspace `{workspace}`"
                    ),
                ));
            }
            let mut definition = definition;
            definition.name = deployed.clone();
            if !named {
                self.derive_binding_names(&mut definition);
            }
            self.add(
                ResourceAddress::new(ResourceKind::Worker, &top),
                deployed,
                ResourceSpec::Worker(Worker {
                    workspace: workspace.clone(),
                    wrangler: wrangler_path.clone(),
                    definition,
                }),
                None,
                wr.name_location(),
                None,
            );
        }
        // Bindings must name resources sv manages.
        let workers: Vec<Resource> = self.resources_of(ResourceKind::Worker);
        for w in workers {
            let ResourceSpec::Worker(worker) = &w.spec else {
                continue;
            };
            let mut deps = BTreeSet::new();
            for b in &worker.definition.kv_namespaces {
                let found = self.config.resources.kv.iter().find(|(name, kv)| {
                    kv.binding
                        .clone()
                        .unwrap_or_else(|| names::default_binding(name))
                        == b.binding
                });
                match found {
                    Some((name, _)) => {
                        deps.insert(ResourceAddress::new(ResourceKind::Kv, name));
                    }
                    None => {
                        return Err(Error::invalid(
                            b.location.clone(),
                            format!(
                                "KV binding `{}` of worker `{}` matches no namespace in sv.yaml: add one under `resources.kv` (its binding defaults to its name in upper case, or set `binding: {}`)",
                                b.binding,
                                w.address.name(),
                                b.binding
                            ),
                        ));
                    }
                }
            }
            for b in &worker.definition.d1_databases {
                let found = self
                    .config
                    .resources
                    .d1
                    .iter()
                    .find(|(name, d1)| match &d1.binding {
                        Some(binding) => *binding == b.binding,
                        None => b
                            .database_name
                            .as_deref()
                            .is_some_and(|dn| self.names_match(dn, name)),
                    });
                match found {
                    Some((name, _)) => {
                        deps.insert(ResourceAddress::new(ResourceKind::D1, name));
                    }
                    None => {
                        return Err(Error::invalid(
                            b.location.clone(),
                            format!(
                                "D1 binding `{}` (database_name {}) of worker `{}` matches no database in sv.yaml: add it under `resources.d1` or set `binding: {}` on one",
                                b.binding,
                                b.database_name.as_deref().map_or("unset".to_owned(), quote),
                                w.address.name(),
                                b.binding
                            ),
                        ));
                    }
                }
            }
            for b in &worker.definition.r2_buckets {
                let found = self
                    .config
                    .resources
                    .r2
                    .iter()
                    .find(|(name, r2)| match &r2.binding {
                        Some(binding) => *binding == b.binding,
                        None => self.names_match(&b.bucket_name, name),
                    });
                match found {
                    Some((name, _)) => {
                        deps.insert(ResourceAddress::new(ResourceKind::R2, name));
                    }
                    None => {
                        return Err(Error::invalid(
                            b.location.clone(),
                            format!(
                                "R2 binding `{}` (bucket_name {}) of worker `{}` matches no bucket in sv.yaml: add it under `resources.r2` or set `binding: {}` on one",
                                b.binding,
                                quote(&b.bucket_name),
                                w.address.name(),
                                b.binding
                            ),
                        ));
                    }
                }
            }
            if let Some(r) = self.resources.get_mut(&w.address) {
                r.depends_on.extend(deps);
            }
        }
        Ok(())
    }

    /// Health checks and backups that name a worker must name one a wrangler config defines.
    fn worker_references(&self) -> Result<(), Error> {
        let known = self.worker_names();
        let describe = || {
            if known.is_empty() {
                "none are defined".to_owned()
            } else {
                format!(
                    "defined: {}",
                    known
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        };
        for (i, check) in self.config.health.checks.iter().enumerate() {
            if let Some(worker) = &check.worker
                && !known.contains(worker)
            {
                return Err(self.ctx.err(
                    &segs!["health", "checks", i, "worker"],
                    format!(
                        "health check {} probes unknown worker {} (workers come from the `wrangler` configs of `workspaces`; {})",
                        quote(&check.name),
                        quote(worker),
                        describe()
                    ),
                ));
            }
        }
        if let Some(backup) = &self.config.backup {
            for (i, item) in backup.include.iter().enumerate() {
                if let crate::model::BackupItem::Resource(a) = item
                    && a.kind() == ResourceKind::Worker
                    && !known.iter().any(|k| k == a.name())
                {
                    return Err(self.ctx.err(
                        &segs!["backup", "include", i],
                        format!("unknown backup include `{a}`: {}", describe()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A derived environment reuses its base's wrangler section, whose D1 and R2 bindings
    /// name the base's resources (`staging-main`): point them at this environment's own
    /// (`pr-7-main`), so deploying binds the preview's data, never the base's.
    fn derive_binding_names(&self, definition: &mut WorkerDefinition) {
        for b in &mut definition.d1_databases {
            let Some(dn) = &b.database_name else { continue };
            if let Some(name) = self
                .config
                .resources
                .d1
                .keys()
                .find(|n| self.names_match(dn, n))
            {
                b.database_name = Some(format!("{}{name}", self.prefix));
            }
        }
        for b in &mut definition.r2_buckets {
            if let Some(name) = self
                .config
                .resources
                .r2
                .keys()
                .find(|n| self.names_match(&b.bucket_name, n))
            {
                b.bucket_name = format!("{}{name}", self.prefix);
            }
        }
    }

    /// Whether a wrangler database/bucket name refers to the sv resource `name`: as written,
    /// or with this (or the base) environment's prefix.
    fn names_match(&self, wrangler_name: &str, name: &str) -> bool {
        wrangler_name == name
            || wrangler_name == format!("{}{name}", self.prefix)
            || wrangler_name == format!("{}{name}", self.base_prefix)
    }

    fn resources_of(&self, kind: ResourceKind) -> Vec<Resource> {
        self.resources
            .values()
            .filter(|r| r.address.kind() == kind)
            .cloned()
            .collect()
    }

    fn worker_names(&self) -> Vec<String> {
        self.resources
            .keys()
            .filter(|a| a.kind() == ResourceKind::Worker)
            .map(|a| a.name().to_owned())
            .collect()
    }

    fn add_route(&mut self, new: NewRoute<'_>) -> Result<(), Error> {
        let NewRoute {
            pattern,
            custom_domain,
            script_top,
            zone,
            source,
            location,
            decl,
        } = new;
        let kind = if custom_domain {
            ResourceKind::Domain
        } else {
            ResourceKind::Route
        };
        let address = ResourceAddress::new(kind, pattern);
        if let Some(existing) = self.resources.get(&address) {
            return Err(Error::invalid(
                Some(location),
                format!(
                    "`{address}` is declared twice (also at {})",
                    existing.location
                ),
            ));
        }
        let zone = zone.or_else(|| self.zone.map(str::to_owned));
        if let Some(z) = &zone {
            let host = pattern.split('/').next().unwrap_or_default();
            let host = host.trim_start_matches("*.").trim_start_matches('*');
            if host != z && !host.ends_with(&format!(".{z}")) {
                return Err(Error::invalid(
                    Some(location),
                    format!("route {} is not inside zone `{z}`", quote(pattern)),
                ));
            }
        }
        let worker = ResourceAddress::new(ResourceKind::Worker, script_top);
        let script = self
            .resources
            .get(&worker)
            .map_or_else(|| script_top.to_owned(), |w| w.name.clone());
        let route = Route {
            pattern: pattern.to_owned(),
            script,
            zone,
            source,
        };
        let spec = if custom_domain {
            ResourceSpec::Domain(route)
        } else {
            ResourceSpec::Route(route)
        };
        self.add(
            address.clone(),
            pattern.to_owned(),
            spec,
            None,
            location,
            decl,
        );
        if let Some(r) = self.resources.get_mut(&address) {
            r.depends_on.insert(worker);
        }
        Ok(())
    }

    fn routes(&mut self) -> Result<(), Error> {
        for w in self.resources_of(ResourceKind::Worker) {
            let ResourceSpec::Worker(worker) = &w.spec else {
                continue;
            };
            for r in &worker.definition.routes {
                crate::validate::route_pattern(&r.pattern, r.custom_domain)
                    .map_err(|m| Error::invalid(Some(w.location.clone()), m))?;
                self.add_route(NewRoute {
                    pattern: &r.pattern,
                    custom_domain: r.custom_domain,
                    script_top: w.address.name(),
                    zone: r.zone_name.clone(),
                    source: RouteSource::Wrangler,
                    location: w.location.clone(),
                    decl: None,
                })?;
            }
        }
        let routes = self.config.resources.worker_routes.clone();
        for (i, r) in routes.iter().enumerate() {
            let path = segs!["resources", "worker_routes", i].to_vec();
            if !self.worker_names().contains(&r.script) {
                return Err(self.ctx.err(
                    &segs!["resources", "worker_routes", i, "script"],
                    format!(
                        "unknown worker script {} (workers come from the `wrangler` configs of `workspaces`; {})",
                        quote(&r.script),
                        if self.worker_names().is_empty() {
                            "none are defined".to_owned()
                        } else {
                            format!("defined: {}", self.worker_names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
                        }
                    ),
                ));
            }
            let location = self.ctx.loc(&path);
            self.add_route(NewRoute {
                pattern: &r.pattern,
                custom_domain: r.custom_domain,
                script_top: &r.script,
                zone: r.zone.clone(),
                source: RouteSource::SvYaml,
                location,
                decl: Some(path),
            })?;
        }
        Ok(())
    }

    fn explicit_deps(&mut self, named: bool) -> Result<(), Error> {
        let mut edges: Vec<(ResourceAddress, ResourceAddress)> = Vec::new();
        for (address, decl) in &self.decl {
            let declared: Vec<ResourceAddress> = match &self.resources[address].spec {
                ResourceSpec::Kv(x) => x.depends_on.clone(),
                ResourceSpec::D1(x) => x.depends_on.clone(),
                ResourceSpec::R2(x) => x.depends_on.clone(),
                ResourceSpec::Dns(x) => x.depends_on.clone(),
                ResourceSpec::Pages(x) => x.depends_on.clone(),
                ResourceSpec::Route(_) | ResourceSpec::Domain(_) => {
                    let Some(Seg::Index(i)) = decl.last() else {
                        continue;
                    };
                    self.config.resources.worker_routes[*i].depends_on.clone()
                }
                ResourceSpec::Worker(_) => Vec::new(),
            };
            for (i, target) in declared.iter().enumerate() {
                if target == address {
                    let mut p = decl.clone();
                    p.extend([Seg::from("depends_on"), Seg::from(i)]);
                    return Err(self.ctx.err(&p, format!("`{address}` depends on itself")));
                }
                if !self.resources.contains_key(target) {
                    // Developer and preview environments hold data stores and workers only.
                    if !named
                        && !matches!(
                            target.kind(),
                            ResourceKind::Kv
                                | ResourceKind::D1
                                | ResourceKind::R2
                                | ResourceKind::Worker
                        )
                    {
                        continue;
                    }
                    let mut p = decl.clone();
                    p.extend([Seg::from("depends_on"), Seg::from(i)]);
                    return Err(self.ctx.err(
                        &p,
                        format!("`{address}` depends on unknown resource `{target}`"),
                    ));
                }
                edges.push((address.clone(), target.clone()));
            }
        }
        for (from, to) in edges {
            if let Some(r) = self.resources.get_mut(&from) {
                r.depends_on.insert(to);
            }
        }
        // Point a cycle at the `depends_on` entry that closes it.
        let deps: BTreeMap<ResourceAddress, BTreeSet<ResourceAddress>> = self
            .resources
            .iter()
            .map(|(a, r)| (a.clone(), r.depends_on.clone()))
            .collect();
        if let Err(cycle) = graph::waves(&deps) {
            return Err(Error::Cycle {
                location: Some(self.cycle_location(&cycle)),
                cycle,
            });
        }
        Ok(())
    }

    fn cycle_location(&self, cycle: &[ResourceAddress]) -> Location {
        for pair in cycle.windows(2) {
            let (from, to) = (&pair[0], &pair[1]);
            if let Some(decl) = self.decl.get(from) {
                let list = self.ctx.tree.at(decl).and_then(|n| n.get("depends_on"));
                if let Some(crate::node::NodeKind::Seq(items)) = list.map(|n| &n.kind)
                    && let Some(i) = items
                        .iter()
                        .position(|n| n.as_str() == Some(&to.to_string()))
                {
                    let mut p = decl.clone();
                    p.extend([Seg::from("depends_on"), Seg::from(i)]);
                    return self.ctx.loc(&p);
                }
            }
        }
        cycle
            .first()
            .and_then(|a| self.resources.get(a))
            .map_or_else(|| self.ctx.loc(&[]), |r| r.location.clone())
    }

    /// DNS records pointing at a Pages project or a worker, and routes on a hostname that has
    /// a managed record, depend on those.
    fn implicit_deps(&mut self) {
        let mut edges: Vec<(ResourceAddress, ResourceAddress)> = Vec::new();
        let by_name = |kind: ResourceKind, name: &str| {
            self.resources
                .values()
                .find(|r| r.address.kind() == kind && r.name == name)
                .map(|r| r.address.clone())
        };
        for r in self.resources.values() {
            match &r.spec {
                ResourceSpec::Dns(rec) => {
                    let content = rec.content.trim_end_matches('.').to_ascii_lowercase();
                    if let Some(host) = content.strip_suffix(".pages.dev") {
                        let project = host.rsplit('.').next().unwrap_or(host);
                        let target = by_name(ResourceKind::Pages, project).or_else(|| {
                            let a = ResourceAddress::new(ResourceKind::Pages, project);
                            self.resources.contains_key(&a).then_some(a)
                        });
                        if let Some(p) = target {
                            edges.push((r.address.clone(), p));
                        }
                    }
                    if let Some(host) = content.strip_suffix(".workers.dev") {
                        let script = host.split('.').next().unwrap_or(host);
                        let target = by_name(ResourceKind::Worker, script).or_else(|| {
                            let a = ResourceAddress::new(ResourceKind::Worker, script);
                            self.resources.contains_key(&a).then_some(a)
                        });
                        if let Some(w) = target {
                            edges.push((r.address.clone(), w));
                        }
                    }
                }
                ResourceSpec::Route(route) => {
                    let host = route.pattern.split('/').next().unwrap_or_default();
                    for d in self.resources.values() {
                        if let ResourceSpec::Dns(rec) = &d.spec
                            && rec.record_type.proxiable()
                            && d.name == host
                        {
                            edges.push((r.address.clone(), d.address.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        for (from, to) in edges {
            if let Some(r) = self.resources.get_mut(&from) {
                r.depends_on.insert(to);
            }
        }
    }
}
