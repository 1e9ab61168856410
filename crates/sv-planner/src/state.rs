//! What sv manages, per environment: ids and last-applied attributes of each resource.
//!
//! The file is JSON with a `checksum` over its canonical content. Every read verifies it,
//! so a hand-edited or truncated state is refused instead of silently planning deletes.
//! Each successful write increments `serial`; a saved plan records the serial it was made
//! against and `apply` refuses it if the state moved on. `lineage` is fixed at creation so
//! a state file copied from another environment is recognised.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Address, Attrs, Kind};

/// The state format this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Reasons a state file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("state is not valid JSON: {0}")]
    Parse(#[source] serde_json::Error),
    #[error(
        "state checksum mismatch (recorded {recorded}, computed {computed}): the file was \
         edited or damaged; restore it from a backup or history rather than editing it"
    )]
    ChecksumMismatch { recorded: String, computed: String },
    #[error("state format version {found} is not supported by this sv (supports {STATE_VERSION})")]
    UnsupportedVersion { found: u32 },
    #[error("state belongs to environment `{found}`, not `{expected}`")]
    WrongEnvironment { expected: String, found: String },
}

/// One managed resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateResource {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// Attributes as last applied (sensitive ones as digests).
    pub attributes: Attrs,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub depends_on: BTreeSet<Address>,
    #[serde(default)]
    pub prevent_destroy: bool,
    pub updated_at: DateTime<Utc>,
}

/// The state of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub serial: u64,
    pub lineage: String,
    pub environment: String,
    pub resources: BTreeMap<Address, StateResource>,
    /// Creations sent to the API but not yet confirmed: written before a wave's creates
    /// start, removed when each is recorded. An apply killed in between leaves them here,
    /// and the next run adopts the resource the API did create (same kind and natural key)
    /// instead of creating it twice or failing on "already exists".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<Address, PendingCreate>,
}

/// A creation in flight (see [`State::pending`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub kind: Kind,
    /// The resource's name, and for DNS records its type too (`Observed::natural_key`).
    pub key: String,
    pub started_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: State,
    checksum: String,
}

impl State {
    /// An empty state for `environment`; `lineage` should be a fresh UUID.
    pub fn new(environment: impl Into<String>, lineage: impl Into<String>) -> Self {
        Self {
            version: STATE_VERSION,
            serial: 0,
            lineage: lineage.into(),
            environment: environment.into(),
            resources: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// The checksum of the content (everything but the checksum itself).
    pub fn checksum(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        crate::sha256(&bytes)
    }

    /// Pretty JSON with the checksum, as written to disk or R2.
    pub fn to_json(&self) -> String {
        let file = StateFile {
            state: self.clone(),
            checksum: self.checksum(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses and verifies a state file.
    pub fn from_json(text: &str) -> Result<State, StateError> {
        let version = serde_json::from_str::<serde_json::Value>(text)
            .map_err(StateError::Parse)?
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if version != u64::from(STATE_VERSION) {
            return Err(StateError::UnsupportedVersion {
                found: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let file: StateFile = serde_json::from_str(text).map_err(StateError::Parse)?;
        let computed = file.state.checksum();
        if computed != file.checksum {
            return Err(StateError::ChecksumMismatch {
                recorded: file.checksum,
                computed,
            });
        }
        Ok(file.state)
    }

    /// Adopts what an interrupted apply created: each [`State::pending`] creation whose
    /// resource exists live (same kind and natural key, not managed under another address)
    /// becomes a managed resource with the live id and attributes, so the plan then shows
    /// only what that apply did not finish (an update, or nothing). Pending creations that
    /// never landed are dropped (the plan creates them). Returns the adopted addresses;
    /// `desired` supplies dependencies and `prevent_destroy`.
    pub fn adopt_pending(
        &mut self,
        observed: &[crate::model::Observed],
        desired: &[crate::model::Desired],
        now: DateTime<Utc>,
    ) -> Vec<Address> {
        let mut adopted = Vec::new();
        for (address, pending) in std::mem::take(&mut self.pending) {
            if self.resources.contains_key(&address) {
                continue;
            }
            let managed_ids: BTreeSet<&str> =
                self.resources.values().map(|r| r.id.as_str()).collect();
            let Some(live) = observed.iter().find(|o| {
                o.kind == pending.kind
                    && o.natural_key() == pending.key
                    && !managed_ids.contains(o.id.as_str())
            }) else {
                continue;
            };
            let want = desired.iter().find(|d| d.address == address);
            let resource = StateResource {
                kind: live.kind,
                id: live.id.clone(),
                name: live.name.clone(),
                attributes: live.attributes.clone(),
                depends_on: want.map(|d| d.depends_on.clone()).unwrap_or_default(),
                prevent_destroy: want.is_some_and(|d| d.prevent_destroy),
                updated_at: now,
            };
            self.resources.insert(address.clone(), resource);
            adopted.push(address);
        }
        if !adopted.is_empty() {
            self.serial += 1;
        }
        adopted
    }

    /// Checks the state is for `environment`.
    pub fn expect_environment(&self, environment: &str) -> Result<(), StateError> {
        if self.environment == environment {
            Ok(())
        } else {
            Err(StateError::WrongEnvironment {
                expected: environment.to_owned(),
                found: self.environment.clone(),
            })
        }
    }
}

/// Who holds the state lock, and why: shown to whoever is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub owner: String,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lock {} held by {} for `{}` since {}",
            self.id,
            self.owner,
            self.operation,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        if let Some(url) = &self.run_url {
            write!(f, ", run {url}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> State {
        let mut s = State::new("production", "6f1c0c1e-0000-4000-8000-000000000001");
        s.serial = 3;
        s.resources.insert(
            "kv.sessions".parse().unwrap(),
            StateResource {
                kind: Kind::Kv,
                id: "0f2ac74b498b48028cb68387c421e279".into(),
                name: "sessions".into(),
                attributes: Attrs::from([("name".into(), json!("sessions"))]),
                depends_on: BTreeSet::new(),
                prevent_destroy: false,
                updated_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            },
        );
        s
    }

    fn live(kind: Kind, id: &str, name: &str) -> crate::model::Observed {
        crate::model::Observed {
            kind,
            id: id.into(),
            name: name.into(),
            attributes: Attrs::from([("name".into(), json!(name))]),
            facts: crate::model::Facts::default(),
        }
    }

    fn pending(kind: Kind, key: &str) -> PendingCreate {
        PendingCreate {
            kind,
            key: key.into(),
            started_at: Utc::now(),
        }
    }

    #[test]
    fn adopts_what_an_interrupted_apply_created_and_nothing_else() {
        let mut s = sample();
        let serial = s.serial;
        // Created before the crash: adopted with the live id and attributes.
        s.pending
            .insert("kv.cache".parse().unwrap(), pending(Kind::Kv, "cache"));
        // Never reached the API: dropped, the plan creates it.
        s.pending
            .insert("d1.main".parse().unwrap(), pending(Kind::D1, "main"));
        // Same name as a resource sv manages under another address: not taken over.
        s.pending
            .insert("kv.other".parse().unwrap(), pending(Kind::Kv, "sessions"));
        let observed = [
            live(Kind::Kv, "c0ffee", "cache"),
            live(Kind::Kv, "0f2ac74b498b48028cb68387c421e279", "sessions"),
            live(Kind::R2, "main", "main"),
        ];
        let adopted = s.adopt_pending(&observed, &[], Utc::now());
        assert_eq!(adopted, vec!["kv.cache".parse::<Address>().unwrap()]);
        assert_eq!(s.resources[&"kv.cache".parse().unwrap()].id, "c0ffee");
        assert!(s.pending.is_empty(), "every pending entry is settled");
        assert!(!s.resources.contains_key(&"d1.main".parse().unwrap()));
        assert!(!s.resources.contains_key(&"kv.other".parse().unwrap()));
        assert_eq!(s.serial, serial + 1);
    }

    #[test]
    fn a_state_without_pending_keeps_its_checksum() {
        // Files written before `pending` existed must still verify.
        let s = sample();
        assert!(!s.to_json().contains("pending"));
    }

    #[test]
    fn round_trips_and_verifies_checksum() {
        let s = sample();
        let text = s.to_json();
        assert_eq!(State::from_json(&text).unwrap(), s);
        let tampered = text.replace("\"serial\": 3", "\"serial\": 4");
        assert!(matches!(
            State::from_json(&tampered),
            Err(StateError::ChecksumMismatch { .. })
        ));
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            State::from_json(truncated),
            Err(StateError::Parse(_))
        ));
        let future = text.replace("\"version\": 1", "\"version\": 9");
        assert_eq!(
            State::from_json(&future).unwrap_err().to_string(),
            "state format version 9 is not supported by this sv (supports 1)"
        );
    }

    #[test]
    fn environment_is_checked() {
        let s = sample();
        assert!(s.expect_environment("production").is_ok());
        assert_eq!(
            s.expect_environment("staging").unwrap_err().to_string(),
            "state belongs to environment `production`, not `staging`"
        );
    }
}
