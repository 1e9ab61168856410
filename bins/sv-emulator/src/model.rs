//! The control-plane model: every resource except bulk data (KV values, R2 object bodies,
//! D1 database files and Worker module sources, which live in the store). It is kept in
//! memory and written as one JSON document after every change, so a restart with `--data`
//! sees exactly what the last response promised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Model {
    pub user: User,
    pub accounts: Vec<Account>,
    pub zones: Vec<Zone>,
    /// By namespace id.
    pub kv_namespaces: BTreeMap<String, KvNamespace>,
    /// By database uuid.
    pub d1: BTreeMap<String, D1Database>,
    /// By bucket key (`jurisdiction/name`, jurisdiction `default` when none).
    pub r2: BTreeMap<String, R2Bucket>,
    /// By record id.
    pub dns: BTreeMap<String, DnsRecord>,
    /// By script name.
    pub workers: BTreeMap<String, Script>,
    /// By route id.
    pub routes: BTreeMap<String, WorkerRoute>,
    /// By custom-domain id.
    pub domains: BTreeMap<String, CustomDomain>,
    /// The account's workers.dev subdomain.
    pub subdomain: Option<String>,
    pub account_settings: AccountSettings,
    /// By project name.
    pub pages: BTreeMap<String, PagesProject>,
    /// D1 bookmark counter (monotonic, so bookmarks sort like real ones).
    pub bookmark_seq: u64,
    /// API tokens minted through `/user/tokens`, by id. Only a hash of each value is kept.
    pub tokens: BTreeMap<String, ApiToken>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// `active` or `disabled` (expiry is computed from `expires_on`).
    pub status: String,
    pub policies: Value,
    pub condition: Option<Value>,
    pub not_before: Option<String>,
    pub expires_on: Option<String>,
    pub issued_on: String,
    pub modified_on: String,
    pub value_sha256: String,
    /// When the token last authenticated a request (updated at most once a day).
    pub last_used_on: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    pub id: String,
    pub email: String,
    pub token_id: String,
    /// When the seeded token was issued (the model's creation) and last used.
    pub token_issued_on: String,
    pub token_last_used_on: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_on: String,
    pub membership_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub account_id: String,
    pub created_on: String,
    pub name_servers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KvNamespace {
    pub id: String,
    pub title: String,
    pub created_seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct D1Database {
    pub uuid: String,
    pub name: String,
    pub created_at: String,
    pub version: String,
    pub primary_location_hint: Option<String>,
    pub jurisdiction: Option<String>,
    pub read_replication_mode: String,
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct R2Bucket {
    pub name: String,
    pub creation_date: String,
    pub location: String,
    pub storage_class: String,
    pub jurisdiction: Option<String>,
    #[serde(default)]
    pub cors: Option<Value>,
    #[serde(default)]
    pub lifecycle: Option<Value>,
}

impl R2Bucket {
    pub fn key(jurisdiction: Option<&str>, name: &str) -> String {
        format!("{}/{name}", jurisdiction.unwrap_or("default"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsRecord {
    pub id: String,
    pub zone_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub content: String,
    pub ttl: u32,
    pub proxied: bool,
    pub comment: Option<String>,
    pub tags: Vec<String>,
    pub priority: Option<u16>,
    pub data: Option<Value>,
    pub created_on: String,
    pub modified_on: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Script {
    pub name: String,
    /// The script tag (32 hex).
    pub tag: String,
    pub created_on: String,
    pub modified_on: String,
    pub usage_model: String,
    pub logpush: bool,
    pub tail_consumers: Option<Value>,
    pub observability: Option<Value>,
    pub tags: Vec<String>,
    pub placement: Option<Value>,
    pub last_deployed_from: String,
    pub migration_tag: Option<String>,
    pub subdomain_enabled: bool,
    pub previews_enabled: bool,
    pub schedules: Vec<Schedule>,
    /// Secret name → type. Values are never stored, not even hashed.
    pub secrets: BTreeMap<String, SecretMeta>,
    /// Bumped on every secret change; versions remember the generation they saw.
    pub secrets_generation: u64,
    /// Oldest first.
    pub versions: Vec<Version>,
    /// Oldest first; the last one is serving.
    pub deployments: Vec<Deployment>,
    /// The version whose content `GET …/scripts/{name}` returns (latest upload).
    pub latest_version: Option<String>,
}

/// What the emulator keeps of a Worker secret: its type. Never its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretMeta {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub cron: String,
    pub created_on: String,
    pub modified_on: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleRef {
    pub name: String,
    pub content_type: String,
    /// sha256 of the content, key into the store's blob table.
    pub hash: String,
    pub size: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Version {
    pub id: String,
    pub number: u64,
    pub created_on: String,
    pub source: String,
    pub author_email: String,
    pub annotations: BTreeMap<String, Value>,
    /// Bindings as uploaded, with secret values replaced by nothing (only name/type kept).
    pub bindings: Vec<Value>,
    /// Plain-text / JSON values the emulated Worker may read (`SV_RESPONSE` etc.).
    pub vars: BTreeMap<String, Value>,
    pub main_module: String,
    pub modules: Vec<ModuleRef>,
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
    pub usage_model: String,
    pub limits: Option<Value>,
    pub etag: String,
    pub handlers: Vec<String>,
    pub has_modules: bool,
    pub secrets_generation: u64,
    /// Static assets: `{manifest: {path: hash}, config: {...}}`.
    pub assets: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub created_on: String,
    pub source: String,
    pub strategy: String,
    pub author_email: String,
    pub annotations: BTreeMap<String, Value>,
    pub versions: Vec<DeploymentVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentVersion {
    pub version_id: String,
    pub percentage: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRoute {
    pub id: String,
    pub zone_id: String,
    pub pattern: String,
    pub script: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomDomain {
    pub id: String,
    pub zone_id: String,
    pub zone_name: String,
    pub hostname: String,
    pub service: String,
    pub environment: String,
    pub cert_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountSettings {
    pub default_usage_model: String,
    pub green_compute: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            default_usage_model: "standard".into(),
            green_compute: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PagesProject {
    pub id: String,
    pub name: String,
    pub subdomain: String,
    pub production_branch: String,
    pub created_on: String,
    pub build_config: Value,
    pub deployment_configs: Value,
    pub source: Option<Value>,
    pub domains: Vec<PagesDomain>,
    /// Oldest first.
    pub deployments: Vec<PagesDeployment>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PagesDomain {
    pub id: String,
    pub name: String,
    pub status: String,
    pub created_on: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PagesDeployment {
    pub id: String,
    pub short_id: String,
    pub environment: String,
    pub url: String,
    pub aliases: Vec<String>,
    pub created_on: String,
    pub modified_on: String,
    pub branch: String,
    pub commit_hash: String,
    pub commit_message: String,
    pub commit_dirty: bool,
    pub manifest: BTreeMap<String, String>,
    pub is_skipped: bool,
}
