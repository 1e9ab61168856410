//! Resources as the planner sees them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Attribute name → value. Only attributes the config states are compared, so settings
/// nobody wrote down never cause a diff (no perpetual diffs).
pub type Attrs = BTreeMap<String, Value>;

/// The kinds of Cloudflare resource sv-plan manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Kv,
    D1,
    R2,
    Dns,
    Pages,
    WorkerRoute,
    CustomDomain,
    Cron,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Kv,
        Kind::D1,
        Kind::R2,
        Kind::Dns,
        Kind::Pages,
        Kind::WorkerRoute,
        Kind::CustomDomain,
        Kind::Cron,
    ];

    /// The address prefix, as written in `sv.yaml` (`kv.sessions`, `route.api`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Kv => "kv",
            Kind::D1 => "d1",
            Kind::R2 => "r2",
            Kind::Dns => "dns",
            Kind::Pages => "pages",
            Kind::WorkerRoute => "route",
            Kind::CustomDomain => "domain",
            Kind::Cron => "cron",
        }
    }

    /// What people call it, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Kv => "KV namespace",
            Kind::D1 => "D1 database",
            Kind::R2 => "R2 bucket",
            Kind::Dns => "DNS record",
            Kind::Pages => "Pages project",
            Kind::WorkerRoute => "Worker route",
            Kind::CustomDomain => "Worker custom domain",
            Kind::Cron => "Worker cron triggers",
        }
    }

    /// Attributes the API cannot change in place: changing one means delete + create.
    /// (D1 and R2 have no rename; location and jurisdiction are fixed at creation.)
    pub fn immutable_attributes(self) -> &'static [&'static str] {
        match self {
            Kind::D1 => &["name", "location", "jurisdiction"],
            Kind::R2 => &["name", "location", "jurisdiction"],
            Kind::Dns => &["type"],
            Kind::Pages => &["name"],
            Kind::CustomDomain => &["name"],
            Kind::Kv | Kind::WorkerRoute | Kind::Cron => &[],
        }
    }

    /// Kinds that hold user data: deleting or replacing one loses it.
    pub fn holds_data(self) -> bool {
        matches!(self, Kind::Kv | Kind::D1 | Kind::R2)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "worker" {
            // A valid sv.yaml address, but not one sv-plan manages.
            return Err(AddressError(
                "`worker.*` addresses are deployed by sv-deploy, not managed by sv-plan".into(),
            ));
        }
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AddressError(format!("unknown resource kind `{s}`")))
    }
}

/// `kind.key`, e.g. `kv.sessions`, `d1.main`, `dns.api`: the stable name of a resource in
/// `sv.yaml` and in state, independent of the environment's name prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub key: String,
}

/// An address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

impl Address {
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.key)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = s.split_once('.').ok_or_else(|| {
            AddressError(format!(
                "`{s}` is not a resource address: expected KIND.NAME, e.g. kv.sessions"
            ))
        })?;
        if key.is_empty() {
            return Err(AddressError(format!("`{s}` has an empty name")));
        }
        Ok(Address::new(kind.parse()?, key))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the config asks for, already resolved for one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    pub address: Address,
    /// The name in Cloudflare (prefix applied): KV title, bucket name, record name, …
    pub name: String,
    /// Attributes to enforce. Sensitive values must already be digests, never secrets.
    pub attributes: Attrs,
    /// Attributes shown as `(sensitive)` in every output.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub depends_on: BTreeSet<Address>,
    #[serde(default)]
    pub prevent_destroy: bool,
}

/// Extra live facts the planner needs for risk notes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Objects in an R2 bucket / keys in a KV namespace, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<u64>,
    /// Deployed Worker scripts that bind this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_by: Vec<String>,
}

/// A resource as read from the live account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub attributes: Attrs,
    #[serde(default)]
    pub facts: Facts,
}

impl Observed {
    /// The key that identifies a resource that sv does not manage yet: its name, and for
    /// DNS records also the type (several records may share a name).
    pub fn natural_key(&self) -> String {
        natural_key(self.kind, &self.name, &self.attributes)
    }
}

impl Desired {
    pub fn natural_key(&self) -> String {
        natural_key(self.address.kind, &self.name, &self.attributes)
    }
}

pub(crate) fn natural_key(kind: Kind, name: &str, attributes: &Attrs) -> String {
    match (kind, attributes.get("type").and_then(Value::as_str)) {
        (Kind::Dns, Some(t)) => format!("{t} {name}"),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        let a: Address = "route.api".parse().unwrap();
        assert_eq!(a, Address::new(Kind::WorkerRoute, "api"));
        assert_eq!(a.to_string(), "route.api");
        let dotted: Address = "dns.www.example".parse().unwrap();
        assert_eq!(dotted.key, "www.example");
        assert_eq!(
            "sessions".parse::<Address>().unwrap_err().to_string(),
            "`sessions` is not a resource address: expected KIND.NAME, e.g. kv.sessions"
        );
        assert_eq!(
            "queue.x".parse::<Address>().unwrap_err().to_string(),
            "unknown resource kind `queue`"
        );
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"route.api\"");
        assert_eq!(
            "worker.api".parse::<Address>().unwrap_err().to_string(),
            "`worker.*` addresses are deployed by sv-deploy, not managed by sv-plan"
        );
        // Every address sv-config writes for a managed kind parses to the same text.
        for text in [
            "kv.sessions",
            "d1.main",
            "r2.uploads",
            "dns.CNAME.api",
            "dns.A.@",
            "pages.web",
            "route.api.example.com/*",
            "domain.images.example.com",
        ] {
            assert_eq!(text.parse::<Address>().unwrap().to_string(), text);
        }
    }
}
