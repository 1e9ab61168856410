//! The reverse of [`crate::desired`]: an existing account read into an sv.yaml `resources:`
//! section, plus the `sv-plan import` commands that adopt each resource (what
//! cf-terraforming does for terraform).
//!
//! Everything comes from the same list calls as a plan ([`crate::inventory`]), plus one CORS
//! and one lifecycle read per R2 bucket. Each setting is written back in the shape
//! [`crate::desired`] reads, so generate → import → plan shows no changes. Settings the API
//! never reports (a D1 database's location hint, its migrations directory) cannot be
//! generated; the caller adds them by hand.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sv_cloudflare::Client;
use sv_config::{
    CorsMethod, CorsRule, D1Database, DnsRecord, DnsType, KvNamespace, ObjectLifecycleRule,
    PagesProject, R2Bucket, Resources, WorkerRoute,
};
use sv_planner::{Address, Kind, Observed, State};

use crate::Error;

/// What [`generate`] reads.
#[derive(Debug, Clone)]
pub struct GenerateRequest<'a> {
    pub client: &'a Client,
    /// The environment's name prefix: only resources whose name starts with it are taken,
    /// and their key is the name without it.
    pub prefix: &'a str,
    /// Prefixes of the other environments: with an empty `prefix`, names starting with one
    /// of them belong to that environment and are left out.
    pub other_prefixes: Vec<String>,
    /// The environment's zone (DNS records, routes and custom domains are read only with one).
    pub zone: Option<&'a str>,
    /// The kinds to read.
    pub kinds: BTreeSet<Kind>,
    /// R2 buckets never to generate (the bucket holding sv's own state).
    pub exclude_buckets: BTreeSet<String>,
}

/// One `sv-plan import ADDR ID` to run once the section is in sv.yaml.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Import {
    pub address: Address,
    pub id: String,
    /// The live name (for messages).
    pub name: String,
}

/// The result of [`generate`].
#[derive(Debug, Clone)]
pub struct Generated {
    pub resources: Resources,
    pub imports: Vec<Import>,
    /// What was left out, and why (one line each).
    pub skipped: Vec<String>,
}

/// Every kind `generate` can write.
#[must_use]
pub fn all_kinds() -> BTreeSet<Kind> {
    BTreeSet::from([
        Kind::Kv,
        Kind::D1,
        Kind::R2,
        Kind::Dns,
        Kind::Pages,
        Kind::WorkerRoute,
        Kind::CustomDomain,
    ])
}

/// Reads the account and builds the `resources:` section of an environment.
///
/// # Errors
/// A failed API call, or a zone the account does not have.
pub async fn generate(req: &GenerateRequest<'_>) -> Result<Generated, Error> {
    let empty = State::new("", "");
    let reads = crate::inventory::Reads::from(req.kinds.clone());
    let inventory = crate::inventory(req.client, req.zone, &empty, &reads).await?;
    let mut out = Generated {
        resources: Resources::default(),
        imports: Vec::new(),
        skipped: Vec::new(),
    };
    let mut dns_names: BTreeMap<String, usize> = BTreeMap::new();
    // By name and content, not id: the same account always generates the same section
    // (and the same `TXT.@.2` keys for records sharing a type and name).
    let mut observed = inventory.observed;
    observed.sort_by_cached_key(|o| {
        let text = |k: &str| {
            o.attributes
                .get(k)
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        (
            o.kind,
            text("type"),
            o.name.clone(),
            text("content"),
            o.id.clone(),
        )
    });
    for o in &observed {
        match o.kind {
            Kind::Kv | Kind::D1 | Kind::R2 | Kind::Pages => {
                let Some(key) = key_of(req, &o.name) else {
                    continue;
                };
                if o.kind == Kind::R2 && req.exclude_buckets.contains(&o.name) {
                    out.skipped
                        .push(format!("R2 bucket `{}`: it holds sv's state", o.name));
                    continue;
                }
                match o.kind {
                    Kind::Kv => {
                        out.resources.kv.insert(key.clone(), KvNamespace::default());
                    }
                    Kind::D1 => {
                        out.resources.d1.insert(key.clone(), d1(o));
                    }
                    Kind::R2 => {
                        let bucket = r2(req.client, o).await?;
                        out.resources.r2.insert(key.clone(), bucket);
                    }
                    _ => {
                        out.resources.pages.insert(key.clone(), pages(o, req.zone));
                    }
                }
                out.imports.push(import(o, &key));
            }
            Kind::Dns => match dns(o, req.zone) {
                Ok(mut record) => {
                    let natural = record.address_name();
                    let n = dns_names.entry(natural.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        // Several records share type and name: each needs its own key.
                        record.key = Some(format!("{natural}.{n}"));
                    }
                    out.imports.push(import(o, &record.address_name()));
                    out.resources.dns.push(record);
                }
                Err(why) => out.skipped.push(why),
            },
            Kind::WorkerRoute | Kind::CustomDomain => {
                let custom_domain = o.kind == Kind::CustomDomain;
                let text = |k: &str| {
                    o.attributes
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let (pattern, script) = if custom_domain {
                    (text("hostname"), text("service"))
                } else {
                    (text("pattern"), text("script"))
                };
                if script.is_empty() {
                    out.skipped.push(format!(
                        "route `{pattern}`: it runs no Worker, which sv.yaml cannot declare"
                    ));
                    continue;
                }
                if custom_domain && !in_zone(&pattern, req.zone) {
                    out.skipped.push(format!(
                        "custom domain `{pattern}`: not in this environment's zone"
                    ));
                    continue;
                }
                out.imports.push(import(o, &pattern));
                out.resources.worker_routes.push(WorkerRoute {
                    // sv.yaml's resources are shared by every environment: the zone is
                    // written as `${zone}` so each environment gets its own.
                    pattern: zone_relative(&pattern, req.zone),
                    script,
                    zone: None,
                    custom_domain,
                    depends_on: Vec::new(),
                });
            }
            Kind::Cron => {}
        }
    }
    out.imports.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

fn import(o: &Observed, name: &str) -> Import {
    Import {
        address: Address::new(o.kind, name),
        id: o.id.clone(),
        name: o.name.clone(),
    }
}

/// The key of a live name in this environment, or `None` when it belongs elsewhere.
fn key_of(req: &GenerateRequest<'_>, name: &str) -> Option<String> {
    if req.prefix.is_empty() {
        let elsewhere = req
            .other_prefixes
            .iter()
            .any(|p| !p.is_empty() && name.starts_with(p.as_str()));
        return (!elsewhere).then(|| name.to_owned());
    }
    name.strip_prefix(req.prefix)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

/// `pattern` with its host's zone written as `${zone}` (`api.example.com/*` →
/// `api.${zone}/*`); unchanged when the host is not in `zone`.
fn zone_relative(pattern: &str, zone: Option<&str>) -> String {
    let (host, path) = pattern
        .find('/')
        .map_or((pattern, ""), |i| pattern.split_at(i));
    match zone {
        Some(z) if host == z => format!("${{zone}}{path}"),
        Some(z) => match host.strip_suffix(&format!(".{z}")) {
            Some(sub) => format!("{sub}.${{zone}}{path}"),
            None => pattern.to_owned(),
        },
        None => pattern.to_owned(),
    }
}

fn in_zone(host: &str, zone: Option<&str>) -> bool {
    zone.is_some_and(|z| host == z || host.ends_with(&format!(".{z}")))
}

fn parse<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    serde_json::from_value(v?.clone()).ok()
}

fn d1(o: &Observed) -> D1Database {
    D1Database {
        jurisdiction: parse(o.attributes.get("jurisdiction")),
        read_replication: o
            .attributes
            .get("read_replication")
            .and_then(Value::as_bool),
        ..D1Database::default()
    }
}

fn pages(o: &Observed, zone: Option<&str>) -> PagesProject {
    PagesProject {
        production_branch: o
            .attributes
            .get("production_branch")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_owned(),
        // Domains in the environment's zone as `${zone}`, like route patterns; a project
        // without any leaves the key out.
        custom_domains: Some(
            o.attributes
                .get("custom_domains")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|d| zone_relative(d, zone))
                .collect::<Vec<_>>(),
        )
        .filter(|d| !d.is_empty()),
        ..PagesProject::default()
    }
}

async fn r2(client: &Client, o: &Observed) -> Result<R2Bucket, Error> {
    let jurisdiction = o.attributes.get("jurisdiction").and_then(Value::as_str);
    let rules = crate::inventory::bucket_rules(client, &o.name, jurisdiction, true, true).await?;
    let strings = |v: &Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let days = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok())
    };
    let cors = rules
        .get("cors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| CorsRule {
            origins: strings(r, "origins"),
            methods: strings(r, "methods")
                .iter()
                .filter_map(|m| parse::<CorsMethod>(Some(&Value::String(m.to_ascii_uppercase()))))
                .collect(),
            headers: strings(r, "headers"),
            expose_headers: strings(r, "expose_headers"),
            max_age: r
                .get("max_age_seconds")
                .and_then(Value::as_u64)
                .map(sv_config::Duration::from_secs),
        })
        .collect();
    let lifecycle_rules = rules
        .get("lifecycle_rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| ObjectLifecycleRule {
            prefix: r
                .get("prefix")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            expire_days: days(r, "expire_days"),
            abort_multipart_days: days(r, "abort_multipart_days"),
            infrequent_access_days: days(r, "infrequent_access_days"),
        })
        .collect();
    Ok(R2Bucket {
        location: parse(o.attributes.get("location")),
        jurisdiction: parse(o.attributes.get("jurisdiction")),
        storage_class: parse(o.attributes.get("storage_class")),
        cors,
        lifecycle_rules,
        ..R2Bucket::default()
    })
}

fn dns(o: &Observed, zone: Option<&str>) -> Result<DnsRecord, String> {
    let text = |k: &str| {
        o.attributes
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind = text("type");
    let record_type: DnsType = parse(Some(&Value::String(kind.clone()))).ok_or_else(|| {
        format!(
            "DNS record `{}` ({kind}): a type sv.yaml cannot declare",
            o.name
        )
    })?;
    let name = match zone {
        Some(z) if o.name == z => "@".to_owned(),
        Some(z) => o
            .name
            .strip_suffix(&format!(".{z}"))
            .unwrap_or(&o.name)
            .to_owned(),
        None => o.name.clone(),
    };
    let proxied = o.attributes.get("proxied").and_then(Value::as_bool);
    let mut tags: Vec<String> = o
        .attributes
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    Ok(DnsRecord {
        key: None,
        name,
        record_type,
        content: text("content"),
        ttl: o
            .attributes
            .get("ttl")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok()),
        // Only proxiable types carry the flag; writing `false` elsewhere says nothing.
        proxied: proxied.filter(|_| record_type.proxiable()),
        priority: o
            .attributes
            .get("priority")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok()),
        comment: o
            .attributes
            .get("comment")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        tags,
        depends_on: Vec::new(),
        lifecycle: sv_config::Lifecycle::default(),
    })
}

/// The section as YAML (`resources:` and below), without the defaults serde writes out
/// (`lifecycle: {}`, `custom_domain: false`).
///
/// # Errors
/// Never for the types involved; serialisation errors are passed on.
pub fn to_yaml(resources: &Resources) -> Result<String, serde_json::Error> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, v| {
                    let empty_lifecycle =
                        k == "lifecycle" && v.as_object().is_some_and(serde_json::Map::is_empty);
                    let not_a_domain = k == "custom_domain" && *v == Value::Bool(false);
                    !(empty_lifecycle || not_a_domain)
                });
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(resources)?;
    strip(&mut v);
    let doc = serde_json::json!({ "resources": v });
    serde_yaml::to_string(&doc).map_err(serde::ser::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(client: &'a Client, prefix: &'static str) -> GenerateRequest<'a> {
        GenerateRequest {
            client,
            prefix,
            other_prefixes: vec!["staging-".into()],
            zone: Some("example.com"),
            kinds: all_kinds(),
            exclude_buckets: BTreeSet::new(),
        }
    }

    #[test]
    fn keys_come_from_names_without_the_prefix() {
        let client = Client::builder(
            "http://127.0.0.1:9/client/v4".parse().unwrap(),
            "t".to_owned().into(),
        )
        .build()
        .unwrap();
        let prod = request(&client, "");
        assert_eq!(key_of(&prod, "sessions").as_deref(), Some("sessions"));
        assert_eq!(key_of(&prod, "staging-sessions"), None);
        let staging = request(&client, "staging-");
        assert_eq!(
            key_of(&staging, "staging-sessions").as_deref(),
            Some("sessions")
        );
        assert_eq!(key_of(&staging, "sessions"), None);
        assert_eq!(key_of(&staging, "staging-"), None);
    }

    #[test]
    fn route_patterns_name_the_zone_by_variable() {
        let z = Some("example.com");
        assert_eq!(zone_relative("api.example.com/*", z), "api.${zone}/*");
        assert_eq!(zone_relative("example.com/*", z), "${zone}/*");
        assert_eq!(zone_relative("images.example.com", z), "images.${zone}");
        assert_eq!(zone_relative("other.org/*", z), "other.org/*");
        assert_eq!(zone_relative("notexample.com/*", z), "notexample.com/*");
    }

    #[test]
    fn yaml_has_no_empty_lifecycle_noise() {
        let mut r = Resources::default();
        r.kv.insert("sessions".into(), KvNamespace::default());
        let yaml = to_yaml(&r).unwrap();
        assert_eq!(yaml, "resources:\n  kv:\n    sessions: {}\n");
    }
}
