//! DNS records of the seeded zone(s): CRUD with per-type validation and conflict rules,
//! list filters, batch changes, and BIND zone-file export / import.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, OriginalUri, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{
    ApiError, ApiResult, Json, content_type, invalid_content_type, json_response, ok, ok_info,
    query_pairs, raw,
};
use crate::model::{DnsRecord, Model};
use crate::pagination::{PageBounds, PageReq};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let b = "/zones/{zone_id}/dns_records";
    Router::new()
        .route(b, get(list).post(create))
        .route(&format!("{b}/export"), get(export))
        .route(&format!("{b}/import"), post(import))
        .route(&format!("{b}/batch"), post(batch))
        .route(
            &format!("{b}/{{dns_record_id}}"),
            get(get_one).put(overwrite).patch(patch).delete(delete),
        )
}

fn not_found() -> ApiError {
    ApiError::not_found(81044, "Record does not exist.")
}

fn invalid(code: i64, msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, msg)
}

/// A record as clients send it (create / overwrite / patch / batch).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordInput {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub content: Option<String>,
    pub ttl: Option<f64>,
    pub proxied: Option<bool>,
    pub comment: Option<String>,
    pub tags: Option<Vec<String>>,
    pub priority: Option<f64>,
    pub data: Option<Value>,
}

const PROXIABLE: [&str; 3] = ["A", "AAAA", "CNAME"];
const KNOWN_TYPES: [&str; 20] = [
    "A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR", "NS",
    "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI",
];

fn valid_hostname(h: &str) -> bool {
    let h = h.trim_end_matches('.');
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        })
}

/// `www` → `www.example.com`, `@` → `example.com`; FQDNs are kept (lower-cased).
pub fn qualify(name: &str, zone: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.to_ascii_lowercase();
    if n.is_empty() || n == "@" {
        zone
    } else if n == zone || n.ends_with(&format!(".{zone}")) {
        n
    } else {
        format!("{n}.{zone}")
    }
}

fn num_u16(v: &Value, field: &str) -> Result<u16, ApiError> {
    v[field]
        .as_f64()
        .filter(|n| (0.0..=65535.0).contains(n) && n.fract() == 0.0)
        // Range-checked above.
        .map(|n| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let x = n as u16;
            x
        })
        .ok_or_else(|| {
            invalid(
                9101,
                format!("data.{field} must be a number between 0 and 65535"),
            )
        })
}

/// Validates and normalises a full record. Returns (content, priority, data).
fn validate(
    kind: &str,
    name: &str,
    content: Option<&str>,
    priority: Option<f64>,
    data: Option<&Value>,
) -> Result<(String, Option<u16>, Option<Value>), ApiError> {
    if !KNOWN_TYPES.contains(&kind) {
        return Err(invalid(9020, format!("Invalid DNS record type {kind:?}")));
    }
    if !valid_hostname(name) {
        return Err(invalid(9005, format!("Invalid DNS record name {name:?}")));
    }
    let priority = match priority {
        None => None,
        Some(p) if (0.0..=65535.0).contains(&p) && p.fract() == 0.0 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let x = p as u16;
            Some(x)
        }
        Some(p) => return Err(invalid(9100, format!("Invalid priority {p}"))),
    };
    let need = |c: Option<&str>| -> Result<String, ApiError> {
        c.map(str::to_string)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid(9005, format!("Content for {kind} record is required")))
    };
    match kind {
        "A" => {
            let c = need(content)?;
            c.parse::<Ipv4Addr>().map_err(|_| {
                invalid(
                    9005,
                    format!("Content for A record is invalid. Must be a valid IPv4 address: {c:?}"),
                )
            })?;
            Ok((c, None, None))
        }
        "AAAA" => {
            let c = need(content)?;
            let ip = c.parse::<Ipv6Addr>().map_err(|_| {
                invalid(
                    9005,
                    format!(
                        "Content for AAAA record is invalid. Must be a valid IPv6 address: {c:?}"
                    ),
                )
            })?;
            Ok((ip.to_string(), None, None))
        }
        "CNAME" | "NS" | "PTR" => {
            let c = need(content)?;
            if !valid_hostname(&c) {
                return Err(invalid(
                    9005,
                    format!(
                        "Content for {kind} record is invalid. Must be a valid hostname: {c:?}"
                    ),
                ));
            }
            Ok((c.trim_end_matches('.').to_ascii_lowercase(), None, None))
        }
        "MX" => {
            let c = need(content)?;
            if !valid_hostname(&c) {
                return Err(invalid(
                    9005,
                    format!("Content for MX record is invalid: {c:?}"),
                ));
            }
            let p = priority.ok_or_else(|| invalid(9100, "MX records require a priority"))?;
            Ok((c.trim_end_matches('.').to_ascii_lowercase(), Some(p), None))
        }
        "TXT" => {
            let c = need(content)?;
            if c.len() > 4096 {
                return Err(invalid(9005, "TXT content must be at most 4096 characters"));
            }
            Ok((c, None, None))
        }
        "SRV" => {
            let d = data.ok_or_else(|| {
                invalid(
                    9101,
                    "SRV records require data {priority, weight, port, target}",
                )
            })?;
            let (p, w, port) = (
                num_u16(d, "priority")?,
                num_u16(d, "weight")?,
                num_u16(d, "port")?,
            );
            let target = d["target"]
                .as_str()
                .filter(|t| valid_hostname(t))
                .ok_or_else(|| invalid(9101, "data.target must be a hostname"))?;
            let target = target.trim_end_matches('.').to_ascii_lowercase();
            Ok((
                format!("{w} {port} {target}"),
                Some(p),
                Some(json!({"priority": p, "weight": w, "port": port, "target": target})),
            ))
        }
        "CAA" => {
            let (flags, tag, value) = match data {
                Some(d) => (
                    d["flags"].as_u64().unwrap_or(0),
                    d["tag"].as_str().unwrap_or("").to_string(),
                    d["value"].as_str().unwrap_or("").to_string(),
                ),
                None => {
                    let c = need(content)?;
                    let mut parts = c.splitn(3, ' ');
                    let flags = parts.next().and_then(|f| f.parse().ok()).unwrap_or(0);
                    let tag = parts.next().unwrap_or("").to_string();
                    let value = parts.next().unwrap_or("").trim_matches('"').to_string();
                    (flags, tag, value)
                }
            };
            if !["issue", "issuewild", "iodef"].contains(&tag.as_str()) || flags > 255 {
                return Err(invalid(
                    9101,
                    "CAA data needs flags 0-255 and tag issue|issuewild|iodef",
                ));
            }
            Ok((
                format!("{flags} {tag} \"{value}\""),
                None,
                Some(json!({"flags": flags, "tag": tag, "value": value})),
            ))
        }
        _ => {
            let c = content.map(str::to_string).unwrap_or_default();
            Ok((c, priority, data.cloned()))
        }
    }
}

fn validate_ttl(ttl: f64) -> Result<u32, ApiError> {
    if ttl == 1.0 || ((60.0..=86400.0).contains(&ttl) && ttl.fract() == 0.0) {
        // Range-checked above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(ttl as u32)
    } else {
        Err(invalid(
            9021,
            "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.",
        ))
    }
}

/// Conflict rules against the other records of the zone.
fn check_conflicts(records: &BTreeMap<String, DnsRecord>, r: &DnsRecord) -> Result<(), ApiError> {
    for other in records.values() {
        if other.id == r.id || other.zone_id != r.zone_id || other.name != r.name {
            continue;
        }
        if other.kind == r.kind && other.content == r.content && other.data == r.data {
            return Err(invalid(81057, "An identical record already exists."));
        }
        if (r.kind == "CNAME") != (other.kind == "CNAME")
            || (r.kind == "CNAME" && other.kind == "CNAME")
        {
            return Err(invalid(
                81053,
                "An A, AAAA, or CNAME record with that host already exists.",
            ));
        }
    }
    Ok(())
}

pub fn record_json(m: &Model, r: &DnsRecord) -> Value {
    let zone_name = m
        .zones
        .iter()
        .find(|z| z.id == r.zone_id)
        .map(|z| z.name.clone())
        .unwrap_or_default();
    let mut v = json!({
        "id": r.id,
        "zone_id": r.zone_id,
        "zone_name": zone_name,
        "type": r.kind,
        "name": r.name,
        "content": r.content,
        "proxiable": PROXIABLE.contains(&r.kind.as_str()),
        "proxied": r.proxied,
        "ttl": r.ttl,
        "locked": false,
        "settings": {},
        "meta": {"auto_added": false, "managed_by_apps": false, "managed_by_argo_tunnel": false, "source": "primary"},
        "tags": r.tags,
        "created_on": r.created_on,
        "modified_on": r.modified_on,
    });
    if let Some(c) = &r.comment {
        v["comment"] = json!(c);
    }
    if let Some(p) = r.priority {
        v["priority"] = json!(p);
    }
    if let Some(d) = &r.data {
        v["data"] = d.clone();
    }
    v
}

impl AppState {
    fn zone_name(&self, zone_id: &str) -> Result<String, ApiError> {
        self.read(|m| {
            m.zones
                .iter()
                .find(|z| z.id == zone_id)
                .map(|z| z.name.clone())
        })
        .ok_or_else(|| invalid(7003, "Could not route to the zone"))
    }

    /// Builds a full record from input, merging into `base` for PATCH.
    fn build_record(
        &self,
        zone_id: &str,
        zone: &str,
        input: &RecordInput,
        base: Option<&DnsRecord>,
    ) -> Result<DnsRecord, ApiError> {
        let kind = input
            .kind
            .clone()
            .or_else(|| base.map(|b| b.kind.clone()))
            .ok_or_else(|| invalid(9020, "DNS record type is required"))?
            .to_ascii_uppercase();
        let name_in = input
            .name
            .clone()
            .or_else(|| base.map(|b| b.name.clone()))
            .ok_or_else(|| invalid(9005, "DNS record name is required"))?;
        let name = qualify(&name_in, zone);
        if !(name == zone.to_ascii_lowercase()
            || name.ends_with(&format!(".{}", zone.to_ascii_lowercase())))
        {
            return Err(invalid(
                9005,
                format!("Record name {name:?} is not in zone {zone}"),
            ));
        }
        let content = input.content.clone().or_else(|| {
            if input.data.is_none() {
                base.map(|b| b.content.clone())
            } else {
                None
            }
        });
        let data = input
            .data
            .clone()
            .or_else(|| base.and_then(|b| b.data.clone()));
        let priority = input
            .priority
            .or_else(|| base.and_then(|b| b.priority.map(f64::from)));
        let (content, priority, data) =
            validate(&kind, &name, content.as_deref(), priority, data.as_ref())?;
        let ttl = validate_ttl(
            input
                .ttl
                .unwrap_or_else(|| base.map_or(1.0, |b| f64::from(b.ttl))),
        )?;
        let proxied = input
            .proxied
            .or_else(|| base.map(|b| b.proxied))
            .unwrap_or(false);
        if proxied && !PROXIABLE.contains(&kind.as_str()) {
            return Err(invalid(
                9004,
                format!("This record type cannot be proxied: {kind}"),
            ));
        }
        let comment = input
            .comment
            .clone()
            .or_else(|| base.and_then(|b| b.comment.clone()))
            .filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.len() > 500) {
            return Err(invalid(9005, "Comments must be at most 500 characters"));
        }
        let tags = input
            .tags
            .clone()
            .or_else(|| base.map(|b| b.tags.clone()))
            .unwrap_or_default();
        let now = self.now_rfc3339();
        Ok(DnsRecord {
            id: base.map_or_else(|| self.hex_id(), |b| b.id.clone()),
            zone_id: zone_id.to_string(),
            kind,
            name,
            content,
            ttl,
            proxied,
            comment,
            tags,
            priority,
            data,
            created_on: base.map_or_else(|| now.clone(), |b| b.created_on.clone()),
            modified_on: now,
        })
    }

    pub fn dns_create(&self, zone_id: &str, input: &RecordInput) -> Result<Value, ApiError> {
        let zone = self.zone_name(zone_id)?;
        let rec = self.build_record(zone_id, &zone, input, None)?;
        self.mutate(|m| {
            check_conflicts(&m.dns, &rec)?;
            m.dns.insert(rec.id.clone(), rec.clone());
            Ok(record_json(m, &rec))
        })
    }

    fn dns_update(
        &self,
        zone_id: &str,
        id: &str,
        input: &RecordInput,
        merge: bool,
    ) -> Result<Value, ApiError> {
        let zone = self.zone_name(zone_id)?;
        let existing = self
            .read(|m| m.dns.get(id).filter(|r| r.zone_id == zone_id).cloned())
            .ok_or_else(not_found)?;
        let mut rec = if merge {
            self.build_record(zone_id, &zone, input, Some(&existing))?
        } else {
            // PUT replaces: only identity and creation time carry over.
            let mut r = self.build_record(zone_id, &zone, input, None)?;
            r.id.clone_from(&existing.id);
            r.created_on.clone_from(&existing.created_on);
            r
        };
        rec.id = existing.id;
        self.mutate(|m| {
            check_conflicts(&m.dns, &rec)?;
            m.dns.insert(rec.id.clone(), rec.clone());
            Ok(record_json(m, &rec))
        })
    }
}

async fn create(
    State(st): S,
    Path(zone_id): Path<String>,
    Json(input): Json<RecordInput>,
) -> ApiResult {
    ok(st.dns_create(&zone_id, &input)?)
}

async fn get_one(State(st): S, Path((zone_id, id)): Path<(String, String)>) -> ApiResult {
    st.read(|m| {
        m.dns
            .get(&id)
            .filter(|r| r.zone_id == zone_id)
            .map(|r| record_json(m, r))
    })
    .map_or_else(|| Err(not_found()), ok)
}

async fn overwrite(
    State(st): S,
    Path((zone_id, id)): Path<(String, String)>,
    Json(input): Json<RecordInput>,
) -> ApiResult {
    ok(st.dns_update(&zone_id, &id, &input, false)?)
}

async fn patch(
    State(st): S,
    Path((zone_id, id)): Path<(String, String)>,
    Json(input): Json<RecordInput>,
) -> ApiResult {
    ok(st.dns_update(&zone_id, &id, &input, true)?)
}

async fn delete(State(st): S, Path((zone_id, id)): Path<(String, String)>) -> ApiResult {
    st.mutate(|m| {
        match m.dns.get(&id) {
            Some(r) if r.zone_id == zone_id => {}
            _ => return Err(not_found()),
        }
        m.dns.remove(&id);
        Ok(())
    })?;
    ok(json!({"id": id}))
}

fn str_match(op: &str, hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.to_ascii_lowercase(), needle.to_ascii_lowercase());
    match op {
        "contains" => h.contains(&n),
        "startswith" => h.starts_with(&n),
        "endswith" => h.ends_with(&n),
        _ => h == n,
    }
}

fn tag_match(op: &str, tags: &[String], spec: &str) -> bool {
    let (tname, tval) = spec.split_once(':').unwrap_or((spec, ""));
    tags.iter().any(|t| {
        let (n, v) = t.split_once(':').unwrap_or((t.as_str(), ""));
        n.eq_ignore_ascii_case(tname) && (op == "present" || str_match(op, v, tval))
    })
}

/// Applies every supported filter; each yields one boolean, combined by `match`.
fn matches(r: &DnsRecord, zone: &str, filters: &[(String, String)]) -> bool {
    let mut results = Vec::new();
    let mut tag_results = Vec::new();
    let mut any = false;
    let mut tag_any = false;
    for (k, v) in filters {
        let res = match k.as_str() {
            "match" => {
                any = v == "any";
                continue;
            }
            "tag_match" => {
                tag_any = v == "any";
                continue;
            }
            "name" | "name.exact" => qualify(v, zone) == r.name,
            "name.contains" | "name.startswith" | "name.endswith" => str_match(&k[5..], &r.name, v),
            "type" => r.kind.eq_ignore_ascii_case(v),
            "content" | "content.exact" => r.content.eq_ignore_ascii_case(v),
            "content.contains" | "content.startswith" | "content.endswith" => {
                str_match(&k[8..], &r.content, v)
            }
            "proxied" => (v == "true") == r.proxied,
            "comment" | "comment.exact" => r
                .comment
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(v)),
            "comment.present" => r.comment.is_some(),
            "comment.absent" => r.comment.is_none(),
            "comment.contains" | "comment.startswith" | "comment.endswith" => r
                .comment
                .as_deref()
                .is_some_and(|c| str_match(&k[8..], c, v)),
            "search" => {
                let s = v.to_ascii_lowercase();
                r.name.contains(&s)
                    || r.content.to_ascii_lowercase().contains(&s)
                    || r.comment
                        .as_deref()
                        .is_some_and(|c| c.to_ascii_lowercase().contains(&s))
            }
            "tag" | "tag.exact" => {
                tag_results.push(tag_match("exact", &r.tags, v));
                continue;
            }
            "tag.present" => {
                tag_results.push(tag_match("present", &r.tags, v));
                continue;
            }
            "tag.absent" => {
                tag_results.push(!tag_match("present", &r.tags, v));
                continue;
            }
            "tag.contains" | "tag.startswith" | "tag.endswith" => {
                tag_results.push(tag_match(&k[4..], &r.tags, v));
                continue;
            }
            _ => continue,
        };
        results.push(res);
    }
    if !tag_results.is_empty() {
        results.push(if tag_any {
            tag_results.iter().any(|b| *b)
        } else {
            tag_results.iter().all(|b| *b)
        });
    }
    if results.is_empty() {
        return true;
    }
    if any {
        results.iter().any(|b| *b)
    } else {
        results.iter().all(|b| *b)
    }
}

async fn list(
    State(st): S,
    Path(zone_id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult {
    let pairs = query_pairs(uri.query());
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let req = PageReq::parse(
        get("page"),
        get("per_page"),
        PageBounds {
            default: 100,
            min: 1,
            max: 50_000,
        },
    )?;
    let zone = st.zone_name(&zone_id)?;
    let order = get("order").unwrap_or("type").to_string();
    if !["type", "name", "content", "ttl", "proxied"].contains(&order.as_str()) {
        return Err(invalid(1001, format!("Invalid order {order:?}")));
    }
    let desc = get("direction") == Some("desc");
    let (items, info) = st.read(|m| {
        let mut recs: Vec<&DnsRecord> = m
            .dns
            .values()
            .filter(|r| r.zone_id == zone_id && matches(r, &zone, &pairs))
            .collect();
        recs.sort_by(|a, b| {
            let primary = match order.as_str() {
                "name" => a.name.cmp(&b.name),
                "content" => a.content.cmp(&b.content),
                "ttl" => a.ttl.cmp(&b.ttl),
                "proxied" => a.proxied.cmp(&b.proxied),
                _ => a.kind.cmp(&b.kind),
            };
            primary
                .then(a.name.cmp(&b.name))
                .then(a.content.cmp(&b.content))
        });
        if desc {
            recs.reverse();
        }
        let all: Vec<Value> = recs.iter().map(|r| record_json(m, r)).collect();
        req.slice(&all)
    });
    ok_info(items, info)
}

// ---- batch ----

#[derive(Debug, Deserialize, Default)]
struct Batch {
    #[serde(default)]
    deletes: Vec<RecordInput>,
    #[serde(default)]
    patches: Vec<RecordInput>,
    #[serde(default)]
    puts: Vec<RecordInput>,
    #[serde(default)]
    posts: Vec<RecordInput>,
}

async fn batch(State(st): S, Path(zone_id): Path<String>, Json(b): Json<Batch>) -> ApiResult {
    let zone = st.zone_name(&zone_id)?;
    // Build every new record first (ids, validation), then apply all-or-nothing on a copy.
    let mut planned_patches = Vec::new();
    let mut planned_puts = Vec::new();
    let existing = st.read(|m| m.dns.clone());
    for p in &b.patches {
        let id =
            p.id.as_deref()
                .ok_or_else(|| invalid(1004, "patches need an id"))?;
        let base = existing
            .get(id)
            .filter(|r| r.zone_id == zone_id)
            .ok_or_else(not_found)?;
        planned_patches.push(st.build_record(&zone_id, &zone, p, Some(base))?);
    }
    for p in &b.puts {
        let id =
            p.id.as_deref()
                .ok_or_else(|| invalid(1004, "puts need an id"))?;
        let base = existing
            .get(id)
            .filter(|r| r.zone_id == zone_id)
            .ok_or_else(not_found)?;
        let mut r = st.build_record(&zone_id, &zone, p, None)?;
        r.id.clone_from(&base.id);
        r.created_on.clone_from(&base.created_on);
        planned_puts.push(r);
    }
    let mut planned_posts = Vec::new();
    for p in &b.posts {
        planned_posts.push(st.build_record(&zone_id, &zone, p, None)?);
    }
    let result = st.mutate(|m| {
        let mut dns = m.dns.clone();
        let mut deleted = Vec::new();
        for d in &b.deletes {
            let id =
                d.id.as_deref()
                    .ok_or_else(|| invalid(1004, "deletes need an id"))?;
            let r = dns
                .get(id)
                .filter(|r| r.zone_id == zone_id)
                .cloned()
                .ok_or_else(not_found)?;
            dns.remove(id);
            deleted.push(r);
        }
        for group in [&planned_patches, &planned_puts, &planned_posts] {
            for r in group {
                check_conflicts(&dns, r)?;
                dns.insert(r.id.clone(), r.clone());
            }
        }
        m.dns = dns;
        let j = |rs: &[DnsRecord]| rs.iter().map(|r| record_json(m, r)).collect::<Vec<_>>();
        Ok(json!({
            "deletes": j(&deleted),
            "patches": j(&planned_patches),
            "puts": j(&planned_puts),
            "posts": j(&planned_posts),
        }))
    })?;
    ok(result)
}

// ---- BIND ----

fn bind_value(r: &DnsRecord) -> String {
    match r.kind.as_str() {
        "CNAME" | "NS" | "PTR" => format!("{}.", r.content),
        "MX" => format!("{} {}.", r.priority.unwrap_or(0), r.content),
        "SRV" => format!("{} {}.", r.priority.unwrap_or(0), r.content),
        "TXT" => {
            if r.content.starts_with('"') {
                r.content.clone()
            } else {
                format!(
                    "\"{}\"",
                    r.content.replace('\\', "\\\\").replace('"', "\\\"")
                )
            }
        }
        _ => r.content.clone(),
    }
}

/// The zone as a BIND file, in Cloudflare's export style (`cf_tags` carry proxied).
pub fn export_bind(m: &Model, zone_id: &str, now: &str) -> String {
    let zone = m.zones.iter().find(|z| z.id == zone_id);
    let zname = zone.map(|z| z.name.clone()).unwrap_or_default();
    let ns = zone
        .and_then(|z| z.name_servers.first().cloned())
        .unwrap_or_default();
    let mut out = format!(
        ";;\n;; Domain:     {zname}.\n;; Exported:   {now}\n;;\n$ORIGIN {zname}.\n\n;; SOA Record\n{zname}\t3600\tIN\tSOA\t{ns}. dns.cloudflare.com. 2050000000 10000 2400 604800 3600\n\n"
    );
    let mut recs: Vec<&DnsRecord> = m.dns.values().filter(|r| r.zone_id == zone_id).collect();
    recs.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(a.name.cmp(&b.name))
            .then(a.content.cmp(&b.content))
    });
    let mut last_kind = String::new();
    for r in recs {
        if r.kind != last_kind {
            out.push_str(&format!(";; {} Records\n", r.kind));
            last_kind.clone_from(&r.kind);
        }
        let mut line = format!("{}.\t{}\tIN\t{}\t{}", r.name, r.ttl, r.kind, bind_value(r));
        let mut notes = Vec::new();
        if PROXIABLE.contains(&r.kind.as_str()) {
            notes.push(format!("cf_tags=cf-proxied:{}", r.proxied));
        }
        if let Some(c) = &r.comment {
            notes.push(c.replace('\n', " "));
        }
        if !notes.is_empty() {
            line.push_str(" ; ");
            line.push_str(&notes.join(" "));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Splits a zone-file line into tokens, keeping quoted strings whole, and returns the
/// comment after `;` separately.
fn tokenize(line: &str) -> (Vec<String>, Option<String>) {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quote => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            ';' if !in_quote => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
                return (tokens, Some(chars.collect::<String>().trim().to_string()));
            }
            c if c.is_whitespace() && !in_quote => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    (tokens, None)
}

/// Parses a BIND zone file into record inputs. SOA and apex NS records are skipped (the
/// zone's own), as Cloudflare does. Returns (records, records parsed).
pub fn parse_bind(
    text: &str,
    zone: &str,
    default_proxied: bool,
) -> Result<(Vec<RecordInput>, usize), ApiError> {
    let mut origin = zone.to_string();
    let mut default_ttl: Option<f64> = None;
    let mut last_owner = zone.to_string();
    let mut out = Vec::new();
    let mut parsed = 0;
    let mut joined = String::new();
    let mut depth = 0i32;
    for (lineno, raw_line) in text.lines().enumerate() {
        // Parenthesised records span lines (SOA); join them.
        let opens = raw_line
            .split(';')
            .next()
            .unwrap_or("")
            .matches('(')
            .count() as i32;
        let closes = raw_line
            .split(';')
            .next()
            .unwrap_or("")
            .matches(')')
            .count() as i32;
        if depth > 0 || opens > closes {
            joined.push(' ');
            joined.push_str(raw_line.split(';').next().unwrap_or(""));
            depth += opens - closes;
            if depth > 0 {
                continue;
            }
            let line = std::mem::take(&mut joined).replace(['(', ')'], " ");
            let (toks, _) = tokenize(&line);
            if toks.iter().any(|t| t.eq_ignore_ascii_case("SOA")) {
                parsed += 1;
            }
            continue;
        }
        let starts_blank = raw_line.starts_with(' ') || raw_line.starts_with('\t');
        let (mut toks, comment) = tokenize(raw_line);
        if toks.is_empty() {
            continue;
        }
        if toks[0].eq_ignore_ascii_case("$ORIGIN") {
            origin = toks
                .get(1)
                .map(|o| o.trim_end_matches('.').to_string())
                .unwrap_or(origin);
            continue;
        }
        if toks[0].eq_ignore_ascii_case("$TTL") {
            default_ttl = toks.get(1).and_then(|t| t.parse().ok());
            continue;
        }
        let owner = if starts_blank {
            last_owner.clone()
        } else {
            let o = toks.remove(0);
            let full = if o == "@" {
                origin.clone()
            } else if o.ends_with('.') {
                o.trim_end_matches('.').to_string()
            } else {
                format!("{o}.{origin}")
            };
            last_owner.clone_from(&full);
            full
        };
        let mut ttl = default_ttl;
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if let Ok(n) = t.parse::<f64>() {
                ttl = Some(n);
                i += 1;
            } else if ["IN", "CH", "HS"].contains(&t.to_ascii_uppercase().as_str()) {
                i += 1;
            } else {
                break;
            }
        }
        let Some(kind) = toks.get(i).map(|t| t.to_ascii_uppercase()) else {
            return Err(invalid(
                81058,
                format!("Zone file line {} has no record type", lineno + 1),
            ));
        };
        let rdata: Vec<String> = toks[i + 1..].to_vec();
        parsed += 1;
        if kind == "SOA" || (kind == "NS" && owner.eq_ignore_ascii_case(zone)) {
            continue;
        }
        let qualify_target = |t: &str| -> String {
            if t.ends_with('.') {
                t.trim_end_matches('.').to_string()
            } else if t == "@" {
                origin.clone()
            } else {
                format!("{t}.{origin}")
            }
        };
        let mut input = RecordInput {
            kind: Some(kind.clone()),
            name: Some(owner.clone()),
            ttl: Some(ttl.unwrap_or(1.0)),
            ..RecordInput::default()
        };
        match kind.as_str() {
            "CNAME" | "NS" | "PTR" => {
                input.content = rdata.first().map(|t| qualify_target(t));
            }
            "MX" => {
                input.priority = rdata.first().and_then(|p| p.parse().ok());
                input.content = rdata.get(1).map(|t| qualify_target(t));
            }
            "SRV" => {
                let n = |k: usize| rdata.get(k).and_then(|v| v.parse::<f64>().ok());
                input.data = Some(json!({
                    "priority": n(0), "weight": n(1), "port": n(2),
                    "target": rdata.get(3).map(|t| qualify_target(t)),
                }));
            }
            "TXT" => {
                let parts: Vec<String> = rdata
                    .iter()
                    .map(|p| {
                        p.trim_matches('"')
                            .replace("\\\"", "\"")
                            .replace("\\\\", "\\")
                    })
                    .collect();
                input.content = Some(parts.join(""));
            }
            _ => input.content = Some(rdata.join(" ")),
        }
        let proxied = comment
            .as_deref()
            .and_then(|c| {
                c.split_whitespace()
                    .find_map(|w| w.strip_prefix("cf_tags="))
            })
            .and_then(|tags| tags.split(',').find_map(|t| t.strip_prefix("cf-proxied:")))
            .map(|v| v == "true");
        if PROXIABLE.contains(&kind.as_str()) {
            input.proxied = Some(proxied.unwrap_or(default_proxied));
        }
        out.push(input);
    }
    Ok((out, parsed))
}

async fn export(State(st): S, Path(zone_id): Path<String>) -> ApiResult {
    let now = st.now_rfc3339();
    let text = st.read(|m| export_bind(m, &zone_id, &now));
    Ok(raw(StatusCode::OK, "text/plain; charset=utf-8", text))
}

async fn import(State(st): S, Path(zone_id): Path<String>, req: Request) -> ApiResult {
    if content_type(req.headers()) != "multipart/form-data" {
        return Err(invalid_content_type("multipart/form-data"));
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| invalid(1001, format!("Invalid multipart body: {e}")))?;
    let mut file = None;
    let mut proxied = false;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| invalid(1001, format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let text = field
            .text()
            .await
            .map_err(|e| invalid(1001, format!("Invalid multipart body: {e}")))?;
        match name.as_str() {
            "file" => file = Some(text),
            "proxied" => proxied = text.trim() == "true",
            _ => {}
        }
    }
    let file = file.ok_or_else(|| invalid(81059, "The import needs a 'file' part"))?;
    let zone = st.zone_name(&zone_id)?;
    let started = st.now_rfc3339();
    let t0 = std::time::Instant::now();
    let (inputs, parsed) = parse_bind(&file, &zone, proxied)?;
    let mut added = 0;
    for input in &inputs {
        match st.dns_create(&zone_id, input) {
            Ok(_) => added += 1,
            // Records already present are skipped, like the live import.
            Err(e) if e.code() == 81057 => {}
            Err(e) => return Err(e),
        }
    }
    // The live import reports timing beside the result.
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "success": true, "errors": [], "messages": [],
            "result": {"recs_added": added, "total_records_parsed": parsed},
            "timing": {
                "start_time": started,
                "end_time": st.now_rfc3339(),
                "process_time": t0.elapsed().as_secs_f64(),
            },
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifies_names() {
        assert_eq!(qualify("@", "example.com"), "example.com");
        assert_eq!(qualify("www", "example.com"), "www.example.com");
        assert_eq!(
            qualify("WWW.example.com.", "example.com"),
            "www.example.com"
        );
    }

    #[test]
    fn parses_a_zone_file() {
        let zone = "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1.example.com. admin.example.com. (\n 1 7200 3600 1209600 3600 )\n@ IN NS ns1.example.com.\nwww 300 IN A 192.0.2.1 ; cf_tags=cf-proxied:true\n    IN AAAA 2001:db8::1\napi IN CNAME www\n@ IN MX 10 mail.example.com.\n@ IN TXT \"v=spf1 -all\" ; a comment\n_sip._tcp IN SRV 10 5 5060 sip.example.com.\n";
        let (recs, parsed) = parse_bind(zone, "example.com", false).unwrap();
        assert_eq!(parsed, 8);
        assert_eq!(recs.len(), 6);
        assert_eq!(recs[0].name.as_deref(), Some("www.example.com"));
        assert_eq!(recs[0].proxied, Some(true));
        assert_eq!(recs[0].ttl, Some(300.0));
        assert_eq!(recs[1].kind.as_deref(), Some("AAAA"));
        assert_eq!(recs[1].name.as_deref(), Some("www.example.com"));
        assert_eq!(recs[2].content.as_deref(), Some("www.example.com"));
        assert_eq!(recs[3].priority, Some(10.0));
        assert_eq!(recs[4].content.as_deref(), Some("v=spf1 -all"));
        assert_eq!(recs[5].data.as_ref().unwrap()["port"], 5060.0);
    }

    #[test]
    fn validation() {
        assert_eq!(
            validate("A", "a.example.com", Some("1.2.3"), None, None)
                .unwrap_err()
                .code(),
            9005
        );
        assert_eq!(
            validate("MX", "example.com", Some("mx.example.com"), None, None)
                .unwrap_err()
                .code(),
            9100
        );
        assert!(validate_ttl(30.0).is_err());
        assert!(validate_ttl(1.0).is_ok());
    }
}
