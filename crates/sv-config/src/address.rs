//! Resource addresses: `kind.name`, the stable handle of a resource in plans, state, backups
//! and `depends_on`. The name is the key as written in `sv.yaml` (not the prefixed Cloudflare
//! name), so an address means the same thing in every environment.
//!
//! | kind | name | example |
//! |---|---|---|
//! | `kv` | key under `resources.kv` | `kv.sessions` |
//! | `d1` | key under `resources.d1` | `d1.main` |
//! | `r2` | key under `resources.r2` | `r2.uploads` |
//! | `dns` | the record's `key`, else `TYPE.name` | `dns.CNAME.api`, `dns.A.@` |
//! | `pages` | key under `resources.pages` | `pages.spacevision-web` |
//! | `worker` | the wrangler `name` of a workspace's worker | `worker.spacevision-api` |
//! | `route` | a worker route's pattern | `route.api.${zone}/*` |
//! | `domain` | a worker custom domain's hostname | `domain.api.${zone}` |
//!
//! Route and domain names keep the built-ins as written; [`crate::Environment`] renders them.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::quote;

/// The kinds of resource sv manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// Workers KV namespace.
    Kv,
    /// D1 database.
    D1,
    /// R2 bucket.
    R2,
    /// DNS record.
    Dns,
    /// Pages project.
    Pages,
    /// Worker script (defined by wrangler's config).
    Worker,
    /// Worker route (zone + pattern).
    Route,
    /// Worker custom domain.
    Domain,
}

impl ResourceKind {
    /// Every kind, in address order.
    pub const ALL: [ResourceKind; 8] = [
        ResourceKind::Kv,
        ResourceKind::D1,
        ResourceKind::R2,
        ResourceKind::Dns,
        ResourceKind::Pages,
        ResourceKind::Worker,
        ResourceKind::Route,
        ResourceKind::Domain,
    ];

    /// The prefix used in addresses.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Kv => "kv",
            ResourceKind::D1 => "d1",
            ResourceKind::R2 => "r2",
            ResourceKind::Dns => "dns",
            ResourceKind::Pages => "pages",
            ResourceKind::Worker => "worker",
            ResourceKind::Route => "route",
            ResourceKind::Domain => "domain",
        }
    }

    /// Data stores: what `protect: true` guards against destroy and replace.
    #[must_use]
    pub fn holds_data(self) -> bool {
        matches!(self, ResourceKind::Kv | ResourceKind::D1 | ResourceKind::R2)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown resource kind {}; expected one of {}",
                    quote(s),
                    kinds_list()
                )
            })
    }
}

fn kinds_list() -> String {
    ResourceKind::ALL
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kind.name`. Ordered by kind, then name, so sorted output is stable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddress {
    kind: ResourceKind,
    name: String,
}

impl ResourceAddress {
    /// An address from its parts.
    #[must_use]
    pub fn new(kind: ResourceKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    /// The name (the part after the first `.`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ResourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

impl FromStr for ResourceAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let Some((kind, name)) = s.split_once('.') else {
            return Err(format!(
                "invalid resource address {}: expected `kind.name` with kind one of {}",
                quote(s),
                kinds_list()
            ));
        };
        let kind: ResourceKind = kind.parse()?;
        if name.is_empty() || name.len() > 1024 || name.chars().any(char::is_control) {
            return Err(format!(
                "invalid resource address {}: the name after `{kind}.` must be 1–1024 printable characters",
                quote(s)
            ));
        }
        Ok(Self {
            kind,
            name: name.to_owned(),
        })
    }
}

impl Serialize for ResourceAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ResourceAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource address such as `kv.sessions` or `d1.main`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResourceAddress, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl JsonSchema for ResourceAddress {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ResourceAddress")
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "a resource address `kind.name`, such as `kv.sessions`, `d1.main`, `r2.uploads`, `dns.CNAME.api`, `pages.web`, `worker.api`, `route.api.${zone}/*`, `domain.api.${zone}`",
            "pattern": r"^(kv|d1|r2|dns|pages|worker|route|domain)\..+$",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_roundtrip() {
        for s in [
            "kv.sessions",
            "d1.main",
            "dns.CNAME.api",
            "route.api.${zone}/*",
            "worker.spacevision-api",
        ] {
            let a: ResourceAddress = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        let a: ResourceAddress = "dns.A.@".parse().unwrap();
        assert_eq!(a.kind(), ResourceKind::Dns);
        assert_eq!(a.name(), "A.@");
    }

    #[test]
    fn rejects_bad_addresses() {
        assert!("kv".parse::<ResourceAddress>().is_err());
        assert!("kv.".parse::<ResourceAddress>().is_err());
        let e = "queue.jobs".parse::<ResourceAddress>().unwrap_err();
        assert!(e.contains("unknown resource kind `queue`"), "{e}");
    }

    #[test]
    fn orders_by_kind_then_name() {
        let mut v: Vec<ResourceAddress> = ["worker.a", "kv.b", "kv.a", "d1.z"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["kv.a", "kv.b", "d1.z", "worker.a"]);
    }
}
