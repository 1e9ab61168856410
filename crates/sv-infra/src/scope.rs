//! The token-scope checks: can the API token read every kind of resource a plan looks at
//! (before `plan`), and does it hold the write permission each kind of change in the plan
//! needs (before an apply), on the account (KV, D1, R2, Pages, custom domains) or the zone
//! (DNS, routes)? A missing one is named before anything changes, instead of surfacing as a
//! bare 403 on a list call or halfway through a wave.
//!
//! The token is verified (`/user/tokens/verify`, then the account endpoint for
//! account-owned tokens), and its policies read with `GET /user/tokens/{id}`. Reading them
//! needs "API Tokens Read"; a token without it (or an account-owned one) cannot be
//! inspected, and the check says so ([`ScopeCheck::Unknown`]) rather than guessing.
//!
//! Permission groups are matched by name, or by their ids (Cloudflare's, which sv-emulator
//! lists too). A write group also grants the matching read: Cloudflare's "Edit" permissions
//! include reading.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sv_cloudflare::Client;
use sv_cloudflare::tokens::TokenPolicy;
use sv_planner::{Action, Address, Kind, Plan};

use crate::Error;

/// A permission group a kind of change (or read) needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    pub name: &'static str,
    pub id: &'static str,
    /// Granted on a zone (`com.cloudflare.api.account.zone.…`) rather than the account.
    pub zone: bool,
    /// The write group that includes this (read) permission, as (name, id).
    pub implied_by: Option<(&'static str, &'static str)>,
}

/// The write permission changing a resource of `kind` needs.
#[must_use]
pub fn write_permission(kind: Kind) -> Option<Permission> {
    let (name, id, zone) = match kind {
        Kind::Kv => (
            "Workers KV Storage Write",
            "f7f0eda5697f475c90846e879bab8666",
            false,
        ),
        Kind::D1 => ("D1 Write", "09b2857d1c31407795e75e3fed8617a1", false),
        Kind::R2 => (
            "Workers R2 Storage Write",
            "bf7481a1826f439697cb59a20b22293e",
            false,
        ),
        Kind::Pages => ("Pages Write", "8d28297797f24fb8a0c332fe0866ec89", false),
        Kind::CustomDomain => (
            "Workers Scripts Write",
            "e086da7e2179491d91ee5f35b3ca210a",
            false,
        ),
        Kind::Dns => ("DNS Write", "4755a26eedb94da69e1066d98aa820be", true),
        Kind::WorkerRoute => (
            "Workers Routes Write",
            "28f4b596e7d643029c524985477ae49a",
            true,
        ),
        Kind::Cron => return None,
    };
    Some(Permission {
        name,
        id,
        zone,
        implied_by: None,
    })
}

/// The permission listing resources of `kind` needs (its write group grants it too).
#[must_use]
pub fn read_permission(kind: Kind) -> Option<Permission> {
    let (name, id) = match kind {
        Kind::Kv => (
            "Workers KV Storage Read",
            "8b47d2786a534c08a1f94ee8f9f599ef",
        ),
        Kind::D1 => ("D1 Read", "192192df92ee43ac90f2aeeffce67e35"),
        Kind::R2 => (
            "Workers R2 Storage Read",
            "b4992e1108244f5d8bfbd5744320c2e1",
        ),
        Kind::Pages => ("Pages Read", "e247aedd66bd41cc9193af0213416666"),
        Kind::CustomDomain => ("Workers Scripts Read", "1a71c399035b4950a1bd1466bbe4f420"),
        Kind::Dns => ("DNS Read", "82e64a83756745bbbb1c9c2701bf816b"),
        Kind::WorkerRoute => ("Workers Routes Read", "2072033d694d415a936eaeb94e6405b8"),
        Kind::Cron => return None,
    };
    let write = write_permission(kind)?;
    Some(Permission {
        name,
        id,
        zone: write.zone,
        implied_by: Some((write.name, write.id)),
    })
}

/// A permission the token lacks, and what needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Missing {
    pub permission: &'static str,
    /// `account 5e1f…` or `zone example.com`.
    pub on: String,
    pub needed_by: Vec<Address>,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by: Vec<String> = self.needed_by.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} on {} (needed by {})",
            self.permission,
            self.on,
            by.join(", ")
        )
    }
}

/// The outcome of a scope check ([`check_write_scope`], [`evaluate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeCheck {
    /// Every permission the plan needs is granted.
    Granted,
    /// These are not.
    Missing(Vec<Missing>),
    /// The token is not usable (`disabled`, `expired`).
    Inactive { status: String },
    /// The policies could not be read (why); the apply goes on unchecked.
    Unknown(String),
}

/// What each permission is needed for by `plan`'s changes (no-ops need nothing).
#[must_use]
pub fn needs(plan: &Plan) -> BTreeMap<Permission, Vec<Address>> {
    let mut out: BTreeMap<Permission, Vec<Address>> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        if let Some(p) = write_permission(c.kind) {
            out.entry(p).or_default().push(c.address.clone());
        }
    }
    out
}

/// What each read permission is needed for by a plan over `desired` and `state`: every
/// kind it lists, whether or not anything changes.
#[must_use]
pub fn read_needs(
    desired: &[sv_planner::Desired],
    state: &sv_planner::State,
) -> BTreeMap<Permission, Vec<Address>> {
    let addresses: BTreeSet<&Address> = desired
        .iter()
        .map(|d| &d.address)
        .chain(state.resources.keys())
        .collect();
    let mut out: BTreeMap<Permission, Vec<Address>> = BTreeMap::new();
    for a in addresses {
        if let Some(p) = read_permission(a.kind) {
            out.entry(p).or_default().push(a.clone());
        }
    }
    out
}

fn groups_of(policy: &TokenPolicy) -> impl Iterator<Item = (&str, Option<&str>)> {
    policy
        .permission_groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_deref()))
}

fn grants(policy: &TokenPolicy, p: Permission) -> bool {
    let matches = |id: &str, name: Option<&str>, (want_name, want_id): (&str, &str)| {
        id == want_id || name == Some(want_name)
    };
    groups_of(policy).any(|(id, name)| {
        matches(id, name, (p.name, p.id)) || p.implied_by.is_some_and(|w| matches(id, name, w))
    })
}

/// Whether `policy`'s resources cover the account, or (for zone permissions) the zone.
fn covers(policy: &TokenPolicy, account: &str, zone_id: Option<&str>, zone: bool) -> bool {
    let account_key = |k: &str| {
        k == "com.cloudflare.api.account.*" || k == format!("com.cloudflare.api.account.{account}")
    };
    let zone_key = |k: &str| {
        k == "com.cloudflare.api.account.zone.*"
            || zone_id.is_some_and(|z| k == format!("com.cloudflare.api.account.zone.{z}"))
    };
    policy.resources.iter().any(|(k, v)| {
        if zone {
            // A zone directly, or every zone (or that zone) of the account.
            zone_key(k)
                || (account_key(k)
                    && v.as_object()
                        .is_some_and(|inner| inner.keys().any(|ik| zone_key(ik))))
        } else {
            account_key(k) && (v == &Value::from("*") || v.is_object())
        }
    })
}

/// The permissions in `needs` that `policies` do not grant (a deny wins over an allow).
#[must_use]
pub fn missing(
    policies: &[TokenPolicy],
    account: &str,
    zone: Option<(&str, &str)>,
    needs: &BTreeMap<Permission, Vec<Address>>,
) -> Vec<Missing> {
    let zone_id = zone.map(|(_, id)| id);
    let mut out = Vec::new();
    for (p, by) in needs {
        let applicable = || {
            policies
                .iter()
                .filter(|pol| grants(pol, *p) && covers(pol, account, zone_id, p.zone))
        };
        let allowed = applicable().any(|pol| pol.effect == "allow");
        let denied = applicable().any(|pol| pol.effect == "deny");
        if !allowed || denied {
            let on = match (p.zone, zone) {
                (true, Some((name, _))) => format!("zone {name}"),
                (true, None) => "the zone".to_owned(),
                (false, _) => format!("account {account}"),
            };
            out.push(Missing {
                permission: p.name,
                on,
                needed_by: by.clone(),
            });
        }
    }
    out
}

/// What the token's policies are, as far as they can be read.
#[derive(Debug, Clone)]
pub enum TokenPolicies {
    Readable(Vec<TokenPolicy>),
    /// The token is not usable (`disabled`, `expired`).
    Inactive {
        status: String,
    },
    /// The policies cannot be read (why).
    Unknown(String),
}

/// Verifies the client's token and reads its policies (two requests).
///
/// # Errors
/// The token cannot be verified at all (invalid token, API down).
pub async fn token_policies(client: &Client) -> Result<TokenPolicies, Error> {
    let (owner, status) = client
        .user()
        .verify_any()
        .await
        .map_err(Error::cf("verifying the API token"))?;
    if !status.is_active() {
        return Ok(TokenPolicies::Inactive {
            status: status.status,
        });
    }
    if owner == sv_cloudflare::user::TokenOwner::Account {
        return Ok(TokenPolicies::Unknown(
            "an account-owned token's permissions are not readable with it".into(),
        ));
    }
    match client.tokens().get(&status.id).await {
        Ok(d) => Ok(TokenPolicies::Readable(d.policies)),
        Err(e) if e.category() == sv_cloudflare::ErrorCategory::Authentication => {
            Ok(TokenPolicies::Unknown(
                "the token cannot read its own permissions (that needs \"API Tokens Read\")".into(),
            ))
        }
        Err(e) => Err(Error::cf("reading the API token's permissions")(e)),
    }
}

/// Whether `policies` grant everything in `needs` on `account` (and `zone`: name, id).
#[must_use]
pub fn evaluate(
    policies: &TokenPolicies,
    account: &str,
    zone: Option<(&str, &str)>,
    needs: &BTreeMap<Permission, Vec<Address>>,
) -> ScopeCheck {
    match policies {
        TokenPolicies::Inactive { status } => ScopeCheck::Inactive {
            status: status.clone(),
        },
        TokenPolicies::Unknown(why) => ScopeCheck::Unknown(why.clone()),
        TokenPolicies::Readable(policies) => {
            let missing = missing(policies, account, zone, needs);
            if missing.is_empty() {
                ScopeCheck::Granted
            } else {
                ScopeCheck::Missing(missing)
            }
        }
    }
}

/// Verifies the client's token and checks it can make every change in `plan`. `zone` is
/// the environment's zone (name, id) when it has one.
///
/// # Errors
/// The token cannot be verified at all (invalid token, API down).
pub async fn check_write_scope(
    client: &Client,
    plan: &Plan,
    zone: Option<(&str, &str)>,
) -> Result<ScopeCheck, Error> {
    let needs = needs(plan);
    if needs.is_empty() {
        return Ok(ScopeCheck::Granted);
    }
    let policies = token_policies(client).await?;
    let account = client.account_id().unwrap_or_default();
    Ok(evaluate(&policies, account, zone, &needs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(effect: &str, resources: Value, groups: &[&str]) -> TokenPolicy {
        serde_json::from_value(serde_json::json!({
            "effect": effect,
            "resources": resources,
            "permission_groups": groups.iter().map(|g| serde_json::json!({"id": "x", "name": g})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn need(kinds: &[(Kind, &str)]) -> BTreeMap<Permission, Vec<Address>> {
        let mut out: BTreeMap<Permission, Vec<Address>> = BTreeMap::new();
        for (k, a) in kinds {
            out.entry(write_permission(*k).unwrap())
                .or_default()
                .push(a.parse().unwrap());
        }
        out
    }

    #[test]
    fn names_what_is_missing_on_which_account_or_zone() {
        let policies = vec![
            policy(
                "allow",
                serde_json::json!({"com.cloudflare.api.account.acc": "*"}),
                &["Workers KV Storage Write"],
            ),
            policy(
                "allow",
                serde_json::json!({"com.cloudflare.api.account.acc": {"com.cloudflare.api.account.zone.*": "*"}}),
                &["DNS Write"],
            ),
        ];
        let needs = need(&[
            (Kind::Kv, "kv.cache"),
            (Kind::D1, "d1.main"),
            (Kind::Dns, "dns.A.@"),
            (Kind::WorkerRoute, "route.example.com/*"),
        ]);
        let missing = missing(&policies, "acc", Some(("example.com", "zid")), &needs);
        let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "D1 Write on account acc (needed by d1.main)",
                "Workers Routes Write on zone example.com (needed by route.example.com/*)",
            ]
        );
        // Another account's grant is no grant here.
        assert_eq!(
            super::missing(
                &policies,
                "other",
                Some(("example.com", "zid")),
                &need(&[(Kind::Kv, "kv.cache")])
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_deny_wins_and_a_zone_grant_can_name_the_zone() {
        let policies = vec![
            policy(
                "allow",
                serde_json::json!({"com.cloudflare.api.account.*": "*"}),
                &["D1 Write"],
            ),
            policy(
                "deny",
                serde_json::json!({"com.cloudflare.api.account.acc": "*"}),
                &["D1 Write"],
            ),
            policy(
                "allow",
                serde_json::json!({"com.cloudflare.api.account.zone.zid": "*"}),
                &["DNS Write"],
            ),
        ];
        let needs = need(&[(Kind::D1, "d1.main"), (Kind::Dns, "dns.A.@")]);
        let missing = missing(&policies, "acc", Some(("example.com", "zid")), &needs);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].permission, "D1 Write");
    }

    #[test]
    fn a_write_group_grants_reading_and_a_read_group_does_not_grant_writing() {
        let policies = vec![policy(
            "allow",
            serde_json::json!({"com.cloudflare.api.account.acc": "*"}),
            &["D1 Write", "Workers KV Storage Read"],
        )];
        let read = |k: Kind, a: &str| {
            BTreeMap::from([(read_permission(k).unwrap(), vec![a.parse().unwrap()])])
        };
        assert!(missing(&policies, "acc", None, &read(Kind::D1, "d1.main")).is_empty());
        assert!(missing(&policies, "acc", None, &read(Kind::Kv, "kv.cache")).is_empty());
        let text: Vec<String> = missing(&policies, "acc", None, &need(&[(Kind::Kv, "kv.cache")]))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            ["Workers KV Storage Write on account acc (needed by kv.cache)"]
        );
        let text: Vec<String> = missing(&policies, "acc", None, &read(Kind::R2, "r2.uploads"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            ["Workers R2 Storage Read on account acc (needed by r2.uploads)"]
        );
    }
}
