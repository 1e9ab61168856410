//! The live account, read the cheap way: one paginated list per kind, all kinds in
//! parallel. Per-resource reads happen only where no list carries the setting, and only
//! for resources sv manages: R2 CORS and lifecycle (one GET each per managed bucket) and
//! the applied migrations of each managed D1 database (one query each).
//!
//! Attributes come out in the shapes [`crate::desired`] produces. Settings the API never
//! reports back (a D1 database's location hint) are taken from state, which recorded what
//! was applied: the planner then sees a change only when the config changes.

use std::collections::BTreeSet;

use futures::{StreamExt as _, TryStreamExt};
use serde_json::{Value, json};
use sv_cloudflare::Client;
use sv_cloudflare::dns::DnsFilter;
use sv_cloudflare::r2::BucketFilter;
use sv_cloudflare::zones::ZoneFilter;
use sv_planner::{Attrs, Facts, Kind, Observed, State};

use crate::Error;
use crate::desired::{cors_shape, lifecycle_shape, pages_domains};

/// What [`inventory`] found.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every live resource of the managed kinds.
    pub observed: Vec<Observed>,
    /// The id of the environment's zone, when it has one.
    pub zone_id: Option<String>,
}

/// What a plan reads: the kinds the config declares or state records (reading no more keeps
/// a plan's requests proportional to what the project uses), and the R2 jurisdictions
/// (`eu`, `fedramp`) its buckets are in — each is a separate bucket list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    pub kinds: BTreeSet<Kind>,
    pub r2_jurisdictions: BTreeSet<String>,
}

impl Reads {
    /// What a plan over `desired` and `state` needs to read.
    #[must_use]
    pub fn in_use(desired: &[sv_planner::Desired], state: &State) -> Self {
        let kinds = desired
            .iter()
            .map(|d| d.address.kind)
            .chain(state.resources.values().map(|r| r.kind))
            .collect();
        let r2_jurisdictions = desired
            .iter()
            .filter(|d| d.address.kind == Kind::R2)
            .map(|d| &d.attributes)
            .chain(
                state
                    .resources
                    .values()
                    .filter(|r| r.kind == Kind::R2)
                    .map(|r| &r.attributes),
            )
            .filter_map(|a| a.get("jurisdiction").and_then(Value::as_str))
            .filter(|j| !j.is_empty() && *j != "default")
            .map(str::to_owned)
            .collect();
        Self {
            kinds,
            r2_jurisdictions,
        }
    }
}

impl From<BTreeSet<Kind>> for Reads {
    fn from(kinds: BTreeSet<Kind>) -> Self {
        Self {
            kinds,
            r2_jurisdictions: BTreeSet::new(),
        }
    }
}

/// Reads the live resources of `reads.kinds` (R2 buckets in the default jurisdiction and in
/// each of `reads.r2_jurisdictions`). `zone` is the environment's zone name (DNS records
/// and Worker routes are only read when it is set).
///
/// # Errors
/// The first failed API call, or a zone name the account does not have.
pub async fn inventory(
    client: &Client,
    zone: Option<&str>,
    state: &State,
    reads: &Reads,
) -> Result<Inventory, Error> {
    let kinds = &reads.kinds;
    let zoned_kinds = kinds.contains(&Kind::Dns) || kinds.contains(&Kind::WorkerRoute);
    let zone_id = match zone {
        Some(name) if zoned_kinds || kinds.contains(&Kind::CustomDomain) => {
            Some(zone_id(client, name).await?)
        }
        _ => None,
    };
    let want = |k: Kind| kinds.contains(&k);
    let none = || async { Ok::<Vec<Observed>, Error>(Vec::new()) };
    let (kv, d1, r2, pages, domains, zoned) = futures::try_join!(
        async {
            if want(Kind::Kv) {
                list_kv(client).await
            } else {
                none().await
            }
        },
        async {
            if want(Kind::D1) {
                list_d1(client, state).await
            } else {
                none().await
            }
        },
        async {
            if want(Kind::R2) {
                list_r2(client, state, &reads.r2_jurisdictions).await
            } else {
                none().await
            }
        },
        async {
            if want(Kind::Pages) {
                list_pages(client).await
            } else {
                none().await
            }
        },
        async {
            if want(Kind::CustomDomain) {
                list_domains(client).await
            } else {
                none().await
            }
        },
        async {
            if zoned_kinds {
                list_zoned(client, zone_id.as_deref(), kinds).await
            } else {
                none().await
            }
        },
    )?;
    let mut observed = Vec::new();
    for part in [kv, d1, r2, pages, domains, zoned] {
        observed.extend(part);
    }
    observed.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    Ok(Inventory { observed, zone_id })
}

/// The id of the live resource of `kind` whose natural key (name; type and name for DNS) is
/// `key`, if there is one: how an apply tells whether a creation whose answer was lost
/// (5xx, reset, timeout) did happen.
///
/// # Errors
/// The list call fails.
pub async fn find_live(
    client: &Client,
    zone_id: Option<&str>,
    kind: Kind,
    key: &str,
) -> Result<Option<String>, Error> {
    let empty = State::new("", "");
    let found = match kind {
        Kind::Kv => list_kv(client).await?,
        Kind::D1 => list_d1(client, &empty).await?,
        Kind::R2 => list_r2(client, &empty, &BTreeSet::new()).await?,
        Kind::Pages => list_pages(client).await?,
        Kind::CustomDomain => list_domains(client).await?,
        Kind::Dns | Kind::WorkerRoute => {
            list_zoned(client, zone_id, &BTreeSet::from([kind])).await?
        }
        Kind::Cron => Vec::new(),
    };
    Ok(found
        .into_iter()
        .find(|o| o.kind == kind && o.natural_key() == key)
        .map(|o| o.id))
}

/// Per-resource reads in flight at once: enough to hide latency, few enough not to drain
/// the client's request budget in a burst.
const READ_CONCURRENCY: usize = 16;

async fn bounded<I, F>(reads: I) -> Result<Vec<Observed>, Error>
where
    I: IntoIterator<Item = F>,
    F: std::future::Future<Output = Result<Observed, Error>>,
{
    futures::stream::iter(reads)
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await
}

/// The id of zone `name`.
///
/// # Errors
/// The API call fails or the zone is not in the account.
pub async fn zone_id(client: &Client, name: &str) -> Result<String, Error> {
    let filter = ZoneFilter {
        name: Some(name.to_owned()),
        account_id: client.account_id().map(str::to_owned),
    };
    let zones: Vec<_> = client
        .zones()
        .list(&filter)
        .try_collect()
        .await
        .map_err(Error::cf(format!("looking up zone `{name}`")))?;
    zones
        .into_iter()
        .find(|z| z.name.eq_ignore_ascii_case(name))
        .map(|z| z.id)
        .ok_or_else(|| Error::ZoneNotFound(name.to_owned()))
}

fn observed(
    kind: Kind,
    id: impl Into<String>,
    name: impl Into<String>,
    attributes: Attrs,
) -> Observed {
    Observed {
        kind,
        id: id.into(),
        name: name.into(),
        attributes,
        facts: Facts::default(),
    }
}

/// The attributes state recorded for the resource with this id, if sv manages it.
fn recorded<'a>(state: &'a State, kind: Kind, id: &str) -> Option<&'a Attrs> {
    state
        .resources
        .values()
        .find(|r| r.kind == kind && r.id == id)
        .map(|r| &r.attributes)
}

async fn list_kv(client: &Client) -> Result<Vec<Observed>, Error> {
    let list: Vec<_> = client
        .kv()
        .list_namespaces()
        .try_collect()
        .await
        .map_err(Error::cf("listing KV namespaces"))?;
    Ok(list
        .into_iter()
        .map(|n| {
            let attrs = Attrs::from([("name".to_owned(), json!(n.title))]);
            observed(Kind::Kv, n.id, n.title, attrs)
        })
        .collect())
}

async fn list_d1(client: &Client, state: &State) -> Result<Vec<Observed>, Error> {
    let list: Vec<_> = client
        .d1()
        .list(None)
        .try_collect()
        .await
        .map_err(Error::cf("listing D1 databases"))?;
    let reads = list.into_iter().map(|db| async move {
        let mut attrs = Attrs::from([("name".to_owned(), json!(db.name))]);
        if let Some(j) = &db.jurisdiction {
            attrs.insert("jurisdiction".into(), json!(j.to_ascii_lowercase()));
        }
        if let Some(r) = &db.read_replication {
            attrs.insert("read_replication".into(), json!(r.mode == "auto"));
        }
        if let Some(rec) = recorded(state, Kind::D1, &db.uuid) {
            // The API does not report the location hint: what was applied stands.
            if let Some(l) = rec.get("location") {
                attrs.insert("location".into(), l.clone());
            }
            if rec.contains_key("migrations") {
                let applied = applied_migrations(client, &db.uuid, &db.name).await?;
                attrs.insert("migrations".into(), json!(applied));
            }
        }
        Ok::<_, Error>(observed(Kind::D1, db.uuid, db.name, attrs))
    });
    bounded(reads).await
}

/// Names recorded in wrangler's `d1_migrations` table (empty when it does not exist yet).
///
/// # Errors
/// The query fails for another reason than a missing table.
pub async fn applied_migrations(
    client: &Client,
    uuid: &str,
    name: &str,
) -> Result<Vec<String>, Error> {
    let answer = client
        .d1()
        .query_read_only(uuid, "SELECT name FROM d1_migrations ORDER BY id", &[])
        .await;
    match answer {
        Ok(results) => Ok(results
            .into_iter()
            .flat_map(|r| r.results)
            .filter_map(|row| row.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()),
        Err(e) if e.to_string().contains("no such table") => Ok(Vec::new()),
        Err(e) => Err(Error::cf(format!(
            "reading applied migrations of D1 database `{name}`"
        ))(e)),
    }
}

/// Names and `applied_at` times (D1's `CURRENT_TIMESTAMP`, UTC, `YYYY-MM-DD HH:MM:SS`) recorded
/// in wrangler's `d1_migrations` table, in the order applied (empty when it does not exist).
///
/// # Errors
/// The query fails for another reason than a missing table.
pub async fn applied_migrations_at(
    client: &Client,
    uuid: &str,
    name: &str,
) -> Result<Vec<(String, String)>, Error> {
    let answer = client
        .d1()
        .query_read_only(
            uuid,
            "SELECT name, applied_at FROM d1_migrations ORDER BY id",
            &[],
        )
        .await;
    match answer {
        Ok(results) => Ok(results
            .into_iter()
            .flat_map(|r| r.results)
            .filter_map(|row| {
                let n = row.get("name").and_then(Value::as_str)?;
                let at = row.get("applied_at").and_then(Value::as_str).unwrap_or("");
                Some((n.to_owned(), at.to_owned()))
            })
            .collect()),
        Err(e) if e.to_string().contains("no such table") => Ok(Vec::new()),
        Err(e) => Err(Error::cf(format!(
            "reading applied migrations of D1 database `{name}`"
        ))(e)),
    }
}

async fn list_r2(
    client: &Client,
    state: &State,
    jurisdictions: &BTreeSet<String>,
) -> Result<Vec<Observed>, Error> {
    let filters = std::iter::once(None).chain(jurisdictions.iter().map(Some));
    let lists = futures::future::try_join_all(filters.map(|j| async move {
        let filter = BucketFilter {
            jurisdiction: j.cloned(),
            ..BucketFilter::default()
        };
        client
            .r2()
            .list_buckets(&filter)
            .try_collect::<Vec<_>>()
            .await
            .map_err(Error::cf(match j {
                None => "listing R2 buckets".to_owned(),
                Some(j) => format!("listing R2 buckets in jurisdiction `{j}`"),
            }))
    }))
    .await?;
    let list: Vec<_> = lists.into_iter().flatten().collect();
    let reads = list.into_iter().map(|b| async move {
        let mut attrs = Attrs::from([("name".to_owned(), json!(b.name))]);
        if let Some(l) = &b.location {
            attrs.insert("location".into(), json!(l.to_ascii_lowercase()));
        }
        if let Some(j) = &b.jurisdiction {
            attrs.insert("jurisdiction".into(), json!(j.to_ascii_lowercase()));
        }
        if let Some(c) = &b.storage_class {
            attrs.insert("storage_class".into(), json!(c));
        }
        if let Some(rec) = recorded(state, Kind::R2, &b.name) {
            // Only the rules the config manages are read: a bucket without CORS or lifecycle
            // rules in sv.yaml costs no request beyond the list.
            let rules = bucket_rules(
                client,
                &b.name,
                b.jurisdiction.as_deref(),
                rec.contains_key("cors"),
                rec.contains_key("lifecycle_rules"),
            )
            .await?;
            attrs.extend(rules);
        }
        Ok::<_, Error>(observed(Kind::R2, b.name.clone(), b.name, attrs))
    });
    bounded(reads).await
}

/// The CORS and lifecycle rules of a bucket in the shapes of [`crate::desired`] (absent
/// when the bucket has none), reading only what is asked for.
///
/// # Errors
/// A read fails (a bucket without CORS configuration is not an error).
pub async fn bucket_rules(
    client: &Client,
    name: &str,
    jurisdiction: Option<&str>,
    cors: bool,
    lifecycle: bool,
) -> Result<Attrs, Error> {
    let (cors, lifecycle) = futures::try_join!(
        async {
            if !cors {
                return Ok(Vec::new());
            }
            match client.r2().get_cors(name, jurisdiction).await {
                Ok(c) => Ok(c.rules),
                Err(e) if e.is_not_found() => Ok(Vec::new()),
                Err(e) => Err(Error::cf(format!("reading CORS of R2 bucket `{name}`"))(e)),
            }
        },
        async {
            if !lifecycle {
                return Ok(Vec::new());
            }
            client
                .r2()
                .get_lifecycle(name, jurisdiction)
                .await
                .map(|l| l.rules)
                .map_err(Error::cf(format!(
                    "reading lifecycle of R2 bucket `{name}`"
                )))
        },
    )?;
    let mut attrs = Attrs::new();
    if !cors.is_empty() {
        let rules = cors
            .iter()
            .map(|r| {
                cors_shape(
                    &r.allowed.origins,
                    &r.allowed.methods,
                    &r.allowed.headers,
                    &r.expose_headers,
                    r.max_age_seconds,
                )
            })
            .collect();
        attrs.insert("cors".into(), Value::Array(rules));
    }
    if !lifecycle.is_empty() {
        let rules = lifecycle.iter().map(lifecycle_from_api).collect();
        attrs.insert("lifecycle_rules".into(), Value::Array(rules));
    }
    Ok(attrs)
}

fn age_days(transition: Option<&Value>) -> Option<u64> {
    transition?
        .pointer("/condition/maxAge")
        .and_then(Value::as_u64)
        .map(|s| s / 86_400)
}

pub(crate) fn lifecycle_from_api(r: &sv_cloudflare::r2::LifecycleRule) -> Value {
    let prefix = r
        .conditions
        .get("prefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ia = r
        .transitions
        .get("storageClassTransitions")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    lifecycle_shape(
        prefix,
        age_days(r.transitions.get("deleteObjectsTransition")),
        age_days(r.transitions.get("abortMultipartUploadsTransition")),
        age_days(ia),
    )
}

async fn list_pages(client: &Client) -> Result<Vec<Observed>, Error> {
    let list: Vec<_> = client
        .pages()
        .list_projects()
        .try_collect()
        .await
        .map_err(Error::cf("listing Pages projects"))?;
    Ok(list
        .into_iter()
        .map(|p| {
            let mut attrs = Attrs::from([("name".to_owned(), json!(p.name))]);
            if let Some(b) = &p.production_branch {
                attrs.insert("production_branch".into(), json!(b));
            }
            // The list carries each project's domains: no read per project. Its own
            // `*.pages.dev` subdomain is among them and is not a custom domain.
            let custom: Vec<&str> = p
                .domains
                .iter()
                .map(String::as_str)
                .filter(|d| Some(*d) != p.subdomain.as_deref() && !is_pages_dev(d))
                .collect();
            attrs.insert("custom_domains".into(), json!(pages_domains(&custom)));
            observed(Kind::Pages, p.name.clone(), p.name, attrs)
        })
        .collect())
}

/// A `*.pages.dev` host (a project's own subdomain or a preview alias), never a custom domain.
fn is_pages_dev(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "pages.dev" || host.ends_with(".pages.dev")
}

async fn list_domains(client: &Client) -> Result<Vec<Observed>, Error> {
    let list = client
        .workers()
        .list_domains(None)
        .await
        .map_err(Error::cf("listing Worker custom domains"))?;
    Ok(list
        .into_iter()
        .map(|d| {
            let attrs = Attrs::from([
                ("hostname".to_owned(), json!(d.hostname)),
                ("service".to_owned(), json!(d.service)),
            ]);
            observed(Kind::CustomDomain, d.id, d.hostname, attrs)
        })
        .collect())
}

async fn list_zoned(
    client: &Client,
    zone_id: Option<&str>,
    kinds: &BTreeSet<Kind>,
) -> Result<Vec<Observed>, Error> {
    let Some(zone_id) = zone_id else {
        return Ok(Vec::new());
    };
    let (records, routes) = futures::try_join!(
        async {
            if !kinds.contains(&Kind::Dns) {
                return Ok(Vec::new());
            }
            client
                .dns()
                .list(zone_id, &DnsFilter::default())
                .try_collect::<Vec<_>>()
                .await
                .map_err(Error::cf("listing DNS records"))
        },
        async {
            if !kinds.contains(&Kind::WorkerRoute) {
                return Ok(Vec::new());
            }
            client
                .workers()
                .list_routes(zone_id)
                .await
                .map_err(Error::cf("listing Worker routes"))
        },
    )?;
    let mut out = Vec::new();
    for r in records {
        let mut attrs = Attrs::from([
            ("type".to_owned(), json!(r.record_type)),
            ("name".to_owned(), json!(r.name)),
            ("content".to_owned(), json!(r.content)),
            ("proxied".to_owned(), json!(r.proxied)),
            ("ttl".to_owned(), json!(r.ttl)),
        ]);
        if let Some(p) = r.priority {
            attrs.insert("priority".into(), json!(p));
        }
        if let Some(c) = &r.comment {
            attrs.insert("comment".into(), json!(c));
        }
        if !r.tags.is_empty() {
            let mut tags = r.tags.clone();
            tags.sort();
            attrs.insert("tags".into(), json!(tags));
        }
        out.push(observed(Kind::Dns, r.id, r.name, attrs));
    }
    for r in routes {
        let attrs = Attrs::from([
            ("pattern".to_owned(), json!(r.pattern)),
            (
                "script".to_owned(),
                json!(r.script.clone().unwrap_or_default()),
            ),
        ]);
        out.push(observed(Kind::WorkerRoute, r.id, r.pattern, attrs));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_dev_hosts_are_never_custom_domains() {
        assert!(is_pages_dev("site.pages.dev"));
        assert!(is_pages_dev("main.site-3xa.PAGES.dev."));
        assert!(!is_pages_dev("www.example.com"));
        assert!(!is_pages_dev("notpages.dev"));
    }
}
