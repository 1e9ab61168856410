//! An environment of `sv.yaml` as the planner's [`Desired`] resources.
//!
//! Attribute shapes here are the contract with [`crate::inventory`]: both sides produce
//! the same JSON for the same setting, so an applied config plans as no changes.
//! Only settings the config states become attributes (nobody gets a diff for a default
//! they never wrote down).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use sv_config::{
    CorsRule, DnsRecord, Environment, ObjectLifecycleRule, ResourceKind, ResourceSpec,
};
use sv_planner::{Address, Attrs, Desired, Kind};

use crate::Error;

/// The planner kind of a config kind; `None` for kinds sv-plan does not manage (workers).
#[must_use]
pub fn planner_kind(kind: ResourceKind) -> Option<Kind> {
    Some(match kind {
        ResourceKind::Kv => Kind::Kv,
        ResourceKind::D1 => Kind::D1,
        ResourceKind::R2 => Kind::R2,
        ResourceKind::Dns => Kind::Dns,
        ResourceKind::Pages => Kind::Pages,
        ResourceKind::Route => Kind::WorkerRoute,
        ResourceKind::Domain => Kind::CustomDomain,
        _ => return None,
    })
}

/// The planner address of a config address (`None` for unmanaged kinds).
#[must_use]
pub fn address(a: &sv_config::ResourceAddress) -> Option<Address> {
    planner_kind(a.kind()).map(|k| Address::new(k, a.name()))
}

/// The managed resources of `env`. `root` is the directory of sv.yaml (migrations paths
/// are relative to it).
///
/// # Errors
/// A migrations directory that cannot be read.
pub fn desired(env: &Environment, root: &Path) -> Result<Vec<Desired>, Error> {
    let mut out = Vec::new();
    for resource in env.resources.values() {
        let Some(addr) = address(&resource.address) else {
            continue;
        };
        let mut attributes = Attrs::new();
        let mut put = |k: &str, v: Value| {
            attributes.insert(k.to_owned(), v);
        };
        match &resource.spec {
            ResourceSpec::Kv(_) => put("name", json!(resource.name)),
            ResourceSpec::D1(d) => {
                put("name", json!(resource.name));
                if let Some(l) = d.location {
                    put("location", lower(&l));
                }
                if let Some(j) = d.jurisdiction {
                    put("jurisdiction", lower(&j));
                }
                if let Some(r) = d.read_replication {
                    put("read_replication", json!(r));
                }
                if let Some(dir) = &d.migrations {
                    let names = crate::migrations::list(&root.join(dir))?;
                    put("migrations", json!(names));
                }
            }
            ResourceSpec::R2(b) => {
                put("name", json!(resource.name));
                if let Some(l) = b.location {
                    put("location", lower(&l));
                }
                if let Some(j) = b.jurisdiction {
                    put("jurisdiction", lower(&j));
                }
                if let Some(c) = b.storage_class {
                    put(
                        "storage_class",
                        serde_json::to_value(c).unwrap_or(Value::Null),
                    );
                }
                if !b.cors.is_empty() {
                    put("cors", Value::Array(b.cors.iter().map(cors_rule).collect()));
                }
                if !b.lifecycle_rules.is_empty() {
                    put(
                        "lifecycle_rules",
                        Value::Array(b.lifecycle_rules.iter().map(lifecycle_rule).collect()),
                    );
                }
            }
            ResourceSpec::Dns(r) => dns_attributes(r, &resource.name, &mut put),
            ResourceSpec::Pages(p) => {
                put("name", json!(resource.name));
                put("production_branch", json!(p.production_branch));
                if let Some(domains) = &p.custom_domains {
                    put("custom_domains", json!(pages_domains(domains)));
                }
            }
            ResourceSpec::Route(r) => {
                put("pattern", json!(r.pattern));
                put("script", json!(r.script));
            }
            ResourceSpec::Domain(r) => {
                put("hostname", json!(r.pattern));
                put("service", json!(r.script));
            }
            ResourceSpec::Worker(_) => continue,
        }
        let depends_on: BTreeSet<Address> =
            resource.depends_on.iter().filter_map(address).collect();
        out.push(Desired {
            address: addr,
            name: resource.name.clone(),
            attributes,
            sensitive: BTreeSet::new(),
            depends_on,
            prevent_destroy: resource.prevent_destroy,
        });
    }
    Ok(out)
}

/// The normalised set of a Pages project's custom domains (shared with the inventory):
/// lower-case (the API stores them so), sorted, each once.
pub(crate) fn pages_domains<S: AsRef<str>>(names: &[S]) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| n.as_ref().trim_end_matches('.').to_ascii_lowercase())
        .collect()
}

fn lower<T: serde::Serialize>(v: &T) -> Value {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => Value::String(s.to_ascii_lowercase()),
        Ok(other) => other,
        Err(_) => Value::Null,
    }
}

fn dns_attributes(r: &DnsRecord, fqdn: &str, put: &mut impl FnMut(&str, Value)) {
    put("type", json!(r.record_type.as_str()));
    put("name", json!(fqdn));
    put("content", json!(r.content));
    if let Some(p) = r.proxied {
        put("proxied", json!(p));
    }
    if let Some(t) = r.ttl {
        put("ttl", json!(t));
    }
    if let Some(p) = r.priority {
        put("priority", json!(p));
    }
    if let Some(c) = &r.comment {
        put("comment", json!(c));
    }
    if !r.tags.is_empty() {
        let mut tags = r.tags.clone();
        tags.sort();
        put("tags", json!(tags));
    }
}

/// The normalised shape of one CORS rule (shared with the inventory).
pub(crate) fn cors_shape(
    origins: &[String],
    methods: &[String],
    headers: &[String],
    expose: &[String],
    max_age: Option<u64>,
) -> Value {
    let mut v = json!({
        "origins": origins,
        "methods": methods,
    });
    if !headers.is_empty() {
        v["headers"] = json!(headers);
    }
    if !expose.is_empty() {
        v["expose_headers"] = json!(expose);
    }
    if let Some(m) = max_age {
        v["max_age_seconds"] = json!(m);
    }
    v
}

fn cors_rule(r: &CorsRule) -> Value {
    let methods: Vec<String> = r
        .methods
        .iter()
        .map(|m| {
            serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        })
        .map(Option::unwrap_or_default)
        .collect();
    cors_shape(
        &r.origins,
        &methods,
        &r.headers,
        &r.expose_headers,
        r.max_age.map(|d| d.get().as_secs()),
    )
}

/// The normalised shape of one object lifecycle rule (shared with the inventory).
pub(crate) fn lifecycle_shape(
    prefix: &str,
    expire_days: Option<u64>,
    abort_multipart_days: Option<u64>,
    infrequent_access_days: Option<u64>,
) -> Value {
    let mut v = json!({ "prefix": prefix });
    if let Some(d) = expire_days {
        v["expire_days"] = json!(d);
    }
    if let Some(d) = abort_multipart_days {
        v["abort_multipart_days"] = json!(d);
    }
    if let Some(d) = infrequent_access_days {
        v["infrequent_access_days"] = json!(d);
    }
    v
}

fn lifecycle_rule(r: &ObjectLifecycleRule) -> Value {
    lifecycle_shape(
        &r.prefix,
        r.expire_days.map(u64::from),
        r.abort_multipart_days.map(u64::from),
        r.infrequent_access_days.map(u64::from),
    )
}

/// The migrations directory of each D1 database that declares one (for [`crate::execute`]).
#[must_use]
pub fn migration_dirs(
    env: &Environment,
    root: &Path,
) -> std::collections::BTreeMap<Address, std::path::PathBuf> {
    env.resources
        .values()
        .filter_map(|r| match &r.spec {
            ResourceSpec::D1(d) => Some((address(&r.address)?, root.join(d.migrations.as_ref()?))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn example() -> sv_config::LoadedConfig {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/spacevision/sv.yaml");
        let vars = BTreeMap::from([
            ("CLOUDFLARE_ACCOUNT_ID", "5e1f0c0ffee0a11ce5e1f0c0ffee0a11"),
            ("SLACK_ONCALL_WEBHOOK", "https://hooks.invalid/oncall"),
            ("SLACK_RELEASES_WEBHOOK", "https://hooks.invalid/releases"),
        ]);
        sv_config::load(&path, &vars).unwrap()
    }

    #[test]
    fn planner_addresses_are_the_config_addresses() {
        let loaded = example();
        for env in loaded.environments() {
            let desired = desired(env, &loaded.root).unwrap();
            let ours: Vec<String> = desired.iter().map(|d| d.address.to_string()).collect();
            let config: Vec<String> = env
                .resources
                .keys()
                .filter(|a| a.kind() != ResourceKind::Worker)
                .map(ToString::to_string)
                .collect();
            assert_eq!(ours, config, "environment {}", env.name);
            // Workers are not managed, so no dependency may point at one.
            assert!(
                desired
                    .iter()
                    .flat_map(|d| &d.depends_on)
                    .all(|a| ours.contains(&a.to_string()))
            );
        }
    }

    #[test]
    fn example_attributes() {
        let loaded = example();
        let env = loaded.environment("staging").unwrap();
        let desired = desired(env, &loaded.root).unwrap();
        let d1 = desired
            .iter()
            .find(|d| d.address.to_string() == "d1.main")
            .unwrap();
        assert_eq!(d1.name, "staging-main");
        assert_eq!(d1.attributes["location"], json!("weur"));
        assert_eq!(
            d1.attributes["migrations"],
            json!(["0001_init.sql", "0002_add_uploads.sql"])
        );
        let r2 = desired
            .iter()
            .find(|d| d.address.to_string() == "r2.uploads")
            .unwrap();
        assert_eq!(
            r2.attributes["lifecycle_rules"],
            json!([{"prefix": "tmp/", "expire_days": 7}, {"prefix": "users/", "abort_multipart_days": 1}])
        );
        assert_eq!(r2.attributes["cors"][0]["max_age_seconds"], json!(3600));
        let pages = desired
            .iter()
            .find(|d| d.address.to_string() == "pages.spacevision-web")
            .unwrap();
        // `${zone}` resolved by sv-config.
        assert_eq!(
            pages.attributes["custom_domains"],
            json!(["www.staging.spacevision.app"])
        );
    }

    #[test]
    fn pages_domains_are_a_sorted_lower_case_set() {
        assert_eq!(
            json!(pages_domains(&[
                "WWW.example.com",
                "api.example.com.",
                "www.example.com"
            ])),
            json!(["api.example.com", "www.example.com"])
        );
    }
}
