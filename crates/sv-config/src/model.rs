//! The `sv.yaml` model. Field docs become the JSON Schema's descriptions (editor hover text),
//! so they are written for the user of `sv.yaml`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::{ResourceAddress, ResourceKind};
use crate::error::{Operation, quote};
use crate::units::{Duration, JsonPath, Percent, TimeWindow, Timestamp, string_type};

/// The whole `sv.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "sv.yaml",
    description = "Configuration of the sv toolkit (sv-plan, sv-deploy, sv-health, sv-backup, sv-onboard)."
)]
pub struct Config {
    /// Project name, available as `${project}`.
    pub project: String,
    /// Cloudflare account id (usually `${CLOUDFLARE_ACCOUNT_ID}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Deployment environments by name (e.g. `production`, `staging`).
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// npm workspaces sv builds and deploys, by name. Default: the npm workspaces of package.json.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspaces: BTreeMap<String, Workspace>,
    /// Cloudflare resources sv-plan manages.
    #[serde(default)]
    pub resources: Resources,
    /// How sv-deploy rolls out.
    #[serde(default)]
    pub deploy: Deploy,
    /// What sv-health checks and whom it alerts.
    #[serde(default)]
    pub health: Health,
    /// What sv-backup saves and for whom it encrypts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// Developer and preview environments created by sv-onboard.
    #[serde(default)]
    pub onboarding: Onboarding,
    /// Notification channels by name, referenced from `deploy.notify` and `health.alert.channels`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notifications: BTreeMap<String, Notification>,
    /// Where sv-plan keeps its state.
    #[serde(default)]
    pub state: StateBackend,
}

/// One deployment environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Prepended to every KV title, D1 name, R2 bucket and Pages project name (`""` = as written).
    /// Lowercase letters, digits and hyphens. Available as `${prefix}`.
    #[serde(default)]
    pub prefix: String,
    /// The Cloudflare zone (domain) of this environment, available as `${zone}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Destroying or replacing a data store (KV, D1, R2) needs an explicit override.
    #[serde(default)]
    pub protect: bool,
    /// Who may run critical operations (apply, destroy, deploy, restore) here: a list of GitHub
    /// logins for all of them, or a map from operation to list. Absent = anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_actors: Option<AllowedActors>,
    /// Windows in which deploys and applies are refused, e.g. `Fri 16:00 - Mon 08:00 Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freeze: Vec<TimeWindow>,
    /// Which `env.<name>` section of the wrangler configs to use. Default: the section named like
    /// this environment when it exists, else wrangler's top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrangler_env: Option<String>,
    /// Cloudflare account of this environment when it differs from the top-level `account_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Settings that differ in this environment; merged over the top level (maps merge key by
    /// key, lists and values replace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
}

/// Per-environment overrides of top-level sections.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Merged over `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Merged over `workspaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<BTreeMap<String, Workspace>>,
    /// Merged over `deploy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Merged over `health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Merged over `backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// Merged over `notifications`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<BTreeMap<String, Notification>>,
}

/// Who may run critical operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AllowedActors {
    /// These GitHub logins may run every critical operation.
    All(Vec<String>),
    /// Per operation; operations not listed are open to anyone.
    PerOperation(BTreeMap<Operation, Vec<String>>),
}

impl AllowedActors {
    /// The logins allowed to run `op`, or `None` when `op` is not restricted.
    #[must_use]
    pub fn for_operation(&self, op: Operation) -> Option<&[String]> {
        match self {
            AllowedActors::All(list) => Some(list),
            AllowedActors::PerOperation(map) => map.get(&op).map(Vec::as_slice),
        }
    }
}

impl<'de> Deserialize<'de> for AllowedActors {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AllowedActors;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of GitHub logins, or a map from operation (apply, destroy, deploy, restore) to such a list",
                )
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<AllowedActors, A::Error> {
                Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(AllowedActors::All)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<AllowedActors, A::Error> {
                Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AllowedActors::PerOperation)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One npm workspace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    /// Directory, relative to sv.yaml. Default: the workspace name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The worker's wrangler config (`wrangler.toml`, `wrangler.jsonc` or `wrangler.json`),
    /// relative to sv.yaml. Its `name` is the worker script (`worker.<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrangler: Option<PathBuf>,
    /// The Pages project this workspace deploys (a key of `resources.pages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<String>,
    /// Build command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Build output directory (for Pages), relative to sv.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
    /// Dev-mode command (`sv-onboard dev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Test command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Workspaces that must build first, in addition to package.json dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// Protection against accidental destruction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping `{ prevent_destroy: true|false }` (R2 object rules go under `lifecycle_rules`)"
)]
pub struct Lifecycle {
    /// Refuse to destroy or replace this resource. Default: `protect` of the environment for data
    /// stores (KV, D1, R2), false otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_destroy: Option<bool>,
}

/// Cloudflare resources by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Workers KV namespaces by name (the title, before the environment prefix).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kv: BTreeMap<String, KvNamespace>,
    /// D1 databases by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub d1: BTreeMap<String, D1Database>,
    /// R2 buckets by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub r2: BTreeMap<String, R2Bucket>,
    /// DNS records in the environment's zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<DnsRecord>,
    /// Pages projects by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages: BTreeMap<String, PagesProject>,
    /// Worker routes and custom domains (in addition to those in wrangler's config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_routes: Vec<WorkerRoute>,
}

/// A Workers KV namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvNamespace {
    /// The wrangler binding that refers to it. Default: the name in upper case, `-` → `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
    /// Destroy protection.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// Where a D1 database or R2 bucket is placed (fixed at creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LocationHint {
    /// Western North America.
    Wnam,
    /// Eastern North America.
    Enam,
    /// Western Europe.
    Weur,
    /// Eastern Europe.
    Eeur,
    /// Asia-Pacific.
    Apac,
    /// Oceania.
    Oc,
}

/// Data jurisdiction (fixed at creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    /// European Union.
    Eu,
    /// FedRAMP.
    Fedramp,
}

/// A D1 database.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct D1Database {
    /// The wrangler binding. Default: matched by `database_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// Directory of SQL migrations, relative to sv.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<PathBuf>,
    /// Primary location hint. Immutable: changing it plans a replace (data loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationHint>,
    /// Jurisdiction. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
    /// Read replication (`auto`) on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replication: Option<bool>,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
    /// Destroy protection.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// R2 storage class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StorageClass {
    /// Standard storage.
    Standard,
    /// Infrequent Access storage.
    InfrequentAccess,
}

/// An R2 bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct R2Bucket {
    /// The wrangler binding. Default: matched by `bucket_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// Location hint. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationHint>,
    /// Jurisdiction. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
    /// Default storage class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
    /// CORS rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors: Vec<CorsRule>,
    /// Object lifecycle rules (expiry, multipart clean-up, storage-class transition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<ObjectLifecycleRule>,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
    /// Destroy protection.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// HTTP methods allowed by an R2 CORS rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CorsMethod {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// HEAD
    Head,
}

/// An R2 CORS rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsRule {
    /// Allowed origins (`https://example.com` or `*`).
    pub origins: Vec<String>,
    /// Allowed methods.
    pub methods: Vec<CorsMethod>,
    /// Allowed request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Response headers exposed to the browser.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// How long browsers may cache the preflight answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
}

/// An R2 object lifecycle rule; at least one action is required.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectLifecycleRule {
    /// Objects whose key starts with this (default: all objects).
    #[serde(default)]
    pub prefix: String,
    /// Delete objects this many days after upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_days: Option<u32>,
    /// Abort incomplete multipart uploads after this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_multipart_days: Option<u32>,
    /// Move objects to Infrequent Access after this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrequent_access_days: Option<u32>,
}

/// DNS record types Cloudflare accepts.
#[allow(missing_docs)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    A,
    Aaaa,
    Caa,
    Cert,
    Cname,
    Dnskey,
    Ds,
    Https,
    Loc,
    Mx,
    Naptr,
    Ns,
    Ptr,
    Smimea,
    Srv,
    Sshfp,
    Svcb,
    Tlsa,
    Txt,
    Uri,
}

impl DnsType {
    /// The record type as Cloudflare writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DnsType::A => "A",
            DnsType::Aaaa => "AAAA",
            DnsType::Caa => "CAA",
            DnsType::Cert => "CERT",
            DnsType::Cname => "CNAME",
            DnsType::Dnskey => "DNSKEY",
            DnsType::Ds => "DS",
            DnsType::Https => "HTTPS",
            DnsType::Loc => "LOC",
            DnsType::Mx => "MX",
            DnsType::Naptr => "NAPTR",
            DnsType::Ns => "NS",
            DnsType::Ptr => "PTR",
            DnsType::Smimea => "SMIMEA",
            DnsType::Srv => "SRV",
            DnsType::Sshfp => "SSHFP",
            DnsType::Svcb => "SVCB",
            DnsType::Tlsa => "TLSA",
            DnsType::Txt => "TXT",
            DnsType::Uri => "URI",
        }
    }

    /// Whether Cloudflare can proxy this type.
    #[must_use]
    pub fn proxiable(self) -> bool {
        matches!(self, DnsType::A | DnsType::Aaaa | DnsType::Cname)
    }
}

impl fmt::Display for DnsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DNS record. Its address is `dns.<key>` when `key` is set, else `dns.<TYPE>.<name>`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// A stable handle for the record, needed when several records share type and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Record name relative to the zone (`@` for the apex) or a full name inside the zone.
    pub name: String,
    /// Record type.
    #[serde(rename = "type")]
    pub record_type: DnsType,
    /// Record content (address, target, text…).
    pub content: String,
    /// TTL in seconds: 1 (automatic), or 30–86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// Proxied through Cloudflare (A, AAAA, CNAME only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
    /// Priority (MX, SRV, URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// Comment shown in the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Tags (`name:value`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
    /// Destroy protection.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

impl DnsRecord {
    /// The address name: the `key`, else `TYPE.name`.
    #[must_use]
    pub fn address_name(&self) -> String {
        self.key
            .clone()
            .unwrap_or_else(|| format!("{}.{}", self.record_type, self.name))
    }
}

fn default_branch() -> String {
    "main".to_owned()
}

/// A Pages project.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagesProject {
    /// Branch whose deployments are production.
    #[serde(default = "default_branch")]
    pub production_branch: String,
    /// Custom domains of the project. Absent: sv leaves the project's domains alone; a list
    /// (`[]` included) is exactly the domains it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domains: Option<Vec<String>>,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
    /// Destroy protection.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

impl Default for PagesProject {
    fn default() -> Self {
        Self {
            production_branch: default_branch(),
            custom_domains: None,
            depends_on: Vec::new(),
            lifecycle: Lifecycle::default(),
        }
    }
}

/// A worker route (`route.<pattern>`) or, with `custom_domain: true`, a custom domain
/// (`domain.<pattern>`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerRoute {
    /// Route pattern (`api.example.com/*`) or, for a custom domain, the hostname.
    pub pattern: String,
    /// The worker script (the `name` in a workspace's wrangler config).
    pub script: String,
    /// Zone of the route. Default: the environment's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// A custom domain rather than a route.
    #[serde(default)]
    pub custom_domain: bool,
    /// Resources that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceAddress>,
}

fn default_rollout() -> Vec<u32> {
    vec![100]
}

fn yes() -> bool {
    true
}

/// Gradual rollout and its health gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// Percent of traffic on the new version at each step; increasing, ending at 100.
    #[serde(default = "default_rollout")]
    pub rollout: Vec<u32>,
    /// Health gate evaluated after each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Notification channels told about deploys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// Roll back automatically when a gate fails.
    #[serde(default = "yes")]
    pub auto_rollback: bool,
}

impl Default for Deploy {
    fn default() -> Self {
        Self {
            rollout: default_rollout(),
            gate: None,
            notify: Vec::new(),
            auto_rollback: true,
        }
    }
}

fn default_window() -> Duration {
    Duration::from_secs(120)
}

/// When a rollout step is healthy enough to continue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// How long to watch each step.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Highest acceptable error rate, e.g. `1%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<Percent>,
    /// Highest acceptable p99 latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<u64>,
    /// Also fail when clearly worse than the previous version.
    #[serde(default)]
    pub compare_to_previous: bool,
    /// Requests needed in the window before judging (fewer = keep waiting, then pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
}

/// Health checks and alerting.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// The checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
    /// Who is told when checks fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// Windows in which alerts are suppressed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<TimeWindow>,
    /// Checks whose alerts are held back until a time (the checks still run and are
    /// reported as silenced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silences: Vec<Silence>,
}

/// Holds back the alerts of one check (or `*`: every check) until `until`, with a reason.
/// An expired silence is ignored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// The check's `name`, or `*` for every check.
    pub check: String,
    /// When the silence ends: `2026-12-01T18:00:00Z` or `2026-12-01` (midnight UTC).
    pub until: Timestamp,
    /// Why (shown in reports), e.g. a ticket or the person who silenced it.
    pub reason: String,
}

/// HTTP methods for checks.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_unhealthy_after() -> u32 {
    1
}

fn default_degraded_after() -> u32 {
    1
}

/// One health check: `name` plus exactly one target (`http`, `kv`, `d1`, `r2`, `pages`, `worker`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Unique name of the check.
    pub name: String,
    /// URL to request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// HTTP method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Conditions on the HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// KV read-write probe of `resources.kv.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv: Option<String>,
    /// D1 probe of `resources.d1.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d1: Option<String>,
    /// SQL the D1 probe runs (default `SELECT 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// R2 read-write probe of `resources.r2.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<String>,
    /// Latest deployment of `resources.pages.<name>` succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<String>,
    /// The worker script (wrangler `name`) has a deployed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// How often to run.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// Per-attempt timeout.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries before an attempt counts as failed.
    #[serde(default)]
    pub retries: u32,
    /// Latency (ms) from which the check is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_ms: Option<u64>,
    /// Latency (ms) from which the check is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_ms: Option<u64>,
    /// Consecutive failing runs (the probe found the check unhealthy) before the check is
    /// reported degraded; earlier failing runs are reported healthy with their errors.
    #[serde(default = "default_degraded_after")]
    pub degraded_after: u32,
    /// Consecutive failing runs before the check is reported unhealthy (default 1: every
    /// run is judged on its own).
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: u32,
    /// `worker` checks: error rate (of the last 15 minutes) above which the check is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_error_rate: Option<Percent>,
    /// `worker` checks: error rate above which the check is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_error_rate: Option<Percent>,
}

/// What a health check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckTarget<'a> {
    /// An HTTP URL.
    Http(&'a str),
    /// A KV namespace (sv name).
    Kv(&'a str),
    /// A D1 database (sv name).
    D1(&'a str),
    /// An R2 bucket (sv name).
    R2(&'a str),
    /// A Pages project (sv name).
    Pages(&'a str),
    /// A worker script (wrangler name).
    Worker(&'a str),
}

impl HealthCheck {
    /// The targets set on this check (validation guarantees exactly one after loading).
    #[must_use]
    pub fn targets(&self) -> Vec<CheckTarget<'_>> {
        let mut t = Vec::new();
        if let Some(v) = &self.http {
            t.push(CheckTarget::Http(v));
        }
        if let Some(v) = &self.kv {
            t.push(CheckTarget::Kv(v));
        }
        if let Some(v) = &self.d1 {
            t.push(CheckTarget::D1(v));
        }
        if let Some(v) = &self.r2 {
            t.push(CheckTarget::R2(v));
        }
        if let Some(v) = &self.pages {
            t.push(CheckTarget::Pages(v));
        }
        if let Some(v) = &self.worker {
            t.push(CheckTarget::Worker(v));
        }
        t
    }

    /// The target of a validated check.
    #[must_use]
    pub fn target(&self) -> Option<CheckTarget<'_>> {
        self.targets().into_iter().next()
    }
}

/// Expected HTTP status: one code or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusCodes {
    /// A single status.
    One(u16),
    /// Any of these.
    Any(Vec<u16>),
}

impl StatusCodes {
    /// Whether `status` is expected.
    #[must_use]
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusCodes::One(s) => *s == status,
            StatusCodes::Any(list) => list.contains(&status),
        }
    }

    /// All codes.
    #[must_use]
    pub fn codes(&self) -> Vec<u16> {
        match self {
            StatusCodes::One(s) => vec![*s],
            StatusCodes::Any(list) => list.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                u16::try_from(v)
                    .map(StatusCodes::One)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<StatusCodes, A::Error> {
                Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(StatusCodes::Any)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Conditions on an HTTP response; all must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Expected status (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusCodes>,
    /// JSON body conditions: path → expected value, e.g. `{"$.ok": true}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json: BTreeMap<JsonPath, serde_json::Value>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Response headers that must have these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn default_after_failures() -> u32 {
    3
}

/// How failing checks are reported.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Consecutive failures before the first alert.
    #[serde(default = "default_after_failures")]
    pub after_failures: u32,
    /// Repeat the alert this often while it lasts (default: once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Duration>,
    /// Notification channels (keys of `notifications`).
    #[serde(default)]
    pub channels: Vec<String>,
    /// GitHub logins mentioned (and assigned) when the failure persists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate: Vec<String>,
    /// Consecutive failures before escalating (default: twice `after_failures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<u32>,
    /// Flapping control: open an incident when `failures` of the last `window` runs
    /// failed (instead of `after_failures` consecutive ones); it resolves only once fewer
    /// than `failures` of the last `window` fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<Flapping>,
    /// Tell the channels on recovery (and close the issue).
    #[serde(default = "yes")]
    pub notify_recovery: bool,
}

/// "Alert only when `failures` of the last `window` runs failed."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flapping {
    /// Failing runs needed among the last `window` (at least 1).
    pub failures: u32,
    /// How many of the latest runs are looked at (at most 64).
    pub window: u32,
}

/// The most runs flapping control looks back on (what the alert state remembers).
pub const FLAPPING_MAX_WINDOW: u32 = 64;

impl Alert {
    /// Failures before escalation.
    #[must_use]
    pub fn escalate_after(&self) -> u32 {
        self.escalate_after
            .unwrap_or(self.after_failures.saturating_mul(2))
    }
}

/// What a backup includes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackupItem {
    /// sv-plan's state.
    State,
    /// Every resource of a kind (`kv`, `d1`, `r2`, `dns`, `pages`, `workers`).
    AllOf(ResourceKind),
    /// One resource, e.g. `d1.main`.
    Resource(ResourceAddress),
}

const BACKUP_KINDS: [(&str, ResourceKind); 7] = [
    ("kv", ResourceKind::Kv),
    ("d1", ResourceKind::D1),
    ("r2", ResourceKind::R2),
    ("dns", ResourceKind::Dns),
    ("pages", ResourceKind::Pages),
    ("workers", ResourceKind::Worker),
    ("worker", ResourceKind::Worker),
];

impl FromStr for BackupItem {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "state" {
            return Ok(BackupItem::State);
        }
        if let Some((_, kind)) = BACKUP_KINDS.iter().find(|(n, _)| *n == s) {
            return Ok(BackupItem::AllOf(*kind));
        }
        if s.contains('.') {
            let address: ResourceAddress = s.parse()?;
            if matches!(address.kind(), ResourceKind::Route | ResourceKind::Domain) {
                return Err(format!(
                    "{} cannot be backed up on its own (back up `workers` instead)",
                    quote(s)
                ));
            }
            return Ok(BackupItem::Resource(address));
        }
        Err(format!(
            "unknown backup item {}: expected `state`, a kind (`kv`, `d1`, `r2`, `dns`, `pages`, `workers`) or a resource address like `d1.main`",
            quote(s)
        ))
    }
}

impl fmt::Display for BackupItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupItem::State => f.write_str("state"),
            BackupItem::AllOf(ResourceKind::Worker) => f.write_str("workers"),
            BackupItem::AllOf(kind) => write!(f, "{kind}"),
            BackupItem::Resource(a) => write!(f, "{a}"),
        }
    }
}

string_type!(
    BackupItem,
    "BackupItem",
    "`state`, a kind (`kv`, `d1`, `r2`, `dns`, `pages`, `workers`) or a resource address like `d1.main`",
    None
);

/// Backup contents, encryption and retention.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// What to back up.
    #[serde(default)]
    pub include: Vec<BackupItem>,
    /// age recipients (`age1…` or `ssh-ed25519 …`); every backup is encrypted to all of them.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Retention used by `sv-backup prune`.
    #[serde(default)]
    pub keep: Keep,
}

/// Retention: how many of the newest daily, weekly and monthly backups to keep. With no rule,
/// prune keeps everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    /// Newest backup of each of the last N days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    /// Newest backup of each of the last N weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
    /// Newest backup of each of the last N months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<u32>,
}

fn default_dev_prefix() -> String {
    "dev-{developer}-".to_owned()
}

fn default_preview_prefix() -> String {
    "pr-{pr}-".to_owned()
}

/// Developer and per-PR preview environments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Onboarding {
    /// Name prefix of a developer's resources; must contain `{developer}`.
    #[serde(default = "default_dev_prefix")]
    pub dev_prefix: String,
    /// Name prefix of a pull request's preview resources; must contain `{pr}`.
    #[serde(default = "default_preview_prefix")]
    pub preview_prefix: String,
    /// The environment developer and preview environments derive from (zone, overrides).
    /// Default: `staging` when it exists, else the first environment by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_environment: Option<String>,
    /// Refuse to create more than this many resources for one developer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resources_per_developer: Option<u32>,
    /// Seed data per resource: `d1.main: worker/seed.sql` (SQL for D1, JSON for KV).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seed: BTreeMap<ResourceAddress, PathBuf>,
    /// Columns masked when copying data to developers: `d1.main: {users: [email]}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mask: BTreeMap<ResourceAddress, BTreeMap<String, Vec<String>>>,
    /// Developer and preview resources unused this long are collected by `sv-onboard gc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<Duration>,
    /// Refuse `sv-onboard preview create` when this many other previews exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_previews: Option<u32>,
    /// Copy each new preview's D1 data from this environment (a live export; `mask`
    /// applies); without it, previews start with migrations and `seed` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_from: Option<String>,
    /// With `branch_from`: at most this many rows per table (rows whose foreign keys point
    /// at rows left out are dropped too). Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_rows: Option<u32>,
}

impl Default for Onboarding {
    fn default() -> Self {
        Self {
            dev_prefix: default_dev_prefix(),
            preview_prefix: default_preview_prefix(),
            base_environment: None,
            max_resources_per_developer: None,
            seed: BTreeMap::new(),
            mask: BTreeMap::new(),
            stale_after: None,
            max_previews: None,
            branch_from: None,
            branch_rows: None,
        }
    }
}

/// A string that must never be printed: `Debug` and `Serialize` show `[redacted]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value, for the one place that needs it (an HTTP client).
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Secret")
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "a secret value; write `${ENV_VAR}` rather than the value itself",
        })
    }
}

/// A notification channel: exactly one of `slack`, `discord`, `github_issue`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notification {
    /// Slack incoming-webhook URL (a secret: use `${ENV_VAR}`).
    Slack(Secret),
    /// Discord webhook URL (a secret: use `${ENV_VAR}`).
    Discord(Secret),
    /// Open (and close on recovery) a GitHub issue.
    GithubIssue(GithubIssue),
}

/// GitHub issue channel settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubIssue {
    /// Labels put on the issue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Logins assigned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
    /// `owner/name` when not the repository the workflow runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

/// Where sv-plan keeps its state: exactly one of `local`, `r2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    /// A directory relative to sv.yaml (one file per environment).
    Local(PathBuf),
    /// An R2 bucket, for teams (locked by conditional writes).
    R2(R2State),
}

impl Default for StateBackend {
    fn default() -> Self {
        StateBackend::Local(PathBuf::from(".sv/state"))
    }
}

/// State in R2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct R2State {
    /// Bucket name (not managed by sv itself).
    pub bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
}
