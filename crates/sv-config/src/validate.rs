//! Rules the types alone cannot express, checked on an environment's rendered configuration.
//! Every error points at the offending node through the tree the config was read from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::address::ResourceKind;
use crate::error::{Error, Location, quote};
use crate::graph;
use crate::model::{BackupItem, Config, FLAPPING_MAX_WINDOW, Notification, StateBackend};
use crate::names;
use crate::node::{Node, Seg, segs};

/// Locates nodes of one rendered tree.
pub(crate) struct Ctx<'a> {
    pub tree: &'a Node,
    pub file: &'a Path,
}

impl Ctx<'_> {
    pub fn loc(&self, path: &[Seg]) -> Location {
        let m = self.tree.mark_of(path, false);
        Location::new(self.file, m.line.max(1), m.column.max(1))
    }

    pub fn key_loc(&self, path: &[Seg]) -> Location {
        let m = self.tree.mark_of(path, true);
        Location::new(self.file, m.line.max(1), m.column.max(1))
    }

    pub fn err(&self, path: &[Seg], message: impl Into<String>) -> Error {
        Error::invalid(Some(self.loc(path)), message)
    }

    pub fn key_err(&self, path: &[Seg], message: impl Into<String>) -> Error {
        Error::invalid(Some(self.key_loc(path)), message)
    }
}

fn known(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    if v.is_empty() {
        "none are defined".to_owned()
    } else {
        format!("defined: {}", v.join(", "))
    }
}

/// Values still holding an unrendered `${…}` are checked only after rendering.
fn rendered(s: &str) -> bool {
    !s.contains("${")
}

/// Checks that do not depend on the resolved resources.
pub(crate) fn config(ctx: &Ctx<'_>, cfg: &Config, prefix: &str) -> Result<(), Error> {
    names::identifier(&cfg.project).map_err(|m| {
        ctx.err(
            &segs!["project"],
            format!("invalid project name {}: {m}", quote(&cfg.project)),
        )
    })?;
    environments(ctx, cfg)?;
    workspaces(ctx, cfg)?;
    resources(ctx, cfg, prefix)?;
    deploy(ctx, cfg)?;
    health(ctx, cfg)?;
    backup(ctx, cfg)?;
    onboarding(ctx, cfg)?;
    notifications(ctx, cfg)?;
    if let StateBackend::R2(r2) = &cfg.state
        && rendered(&r2.bucket)
    {
        names::r2_bucket(&r2.bucket).map_err(|m| {
            ctx.err(
                &segs!["state", "r2", "bucket"],
                format!("invalid R2 bucket name {}: {m}", quote(&r2.bucket)),
            )
        })?;
    }
    Ok(())
}

fn environments(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    if cfg.environments.is_empty() {
        return Err(ctx.err(
            &segs!["environments"],
            "at least one environment is required under `environments`",
        ));
    }
    for (name, env) in &cfg.environments {
        let at = segs!["environments", name.as_str()].to_vec();
        names::identifier(name).map_err(|m| {
            ctx.key_err(
                &at,
                format!("invalid environment name {}: {m}", quote(name)),
            )
        })?;
        names::prefix(&env.prefix).map_err(|m| {
            let mut p = at.clone();
            p.push("prefix".into());
            ctx.err(&p, format!("invalid prefix {}: {m}", quote(&env.prefix)))
        })?;
        if let Some(zone) = &env.zone
            && rendered(zone)
        {
            names::hostname(zone).map_err(|m| {
                let mut p = at.clone();
                p.push("zone".into());
                ctx.err(&p, format!("invalid zone {}: {m}", quote(zone)))
            })?;
        }
        if let Some(actors) = &env.allowed_actors {
            let lists: Vec<&Vec<String>> = match actors {
                crate::model::AllowedActors::All(l) => vec![l],
                crate::model::AllowedActors::PerOperation(m) => m.values().collect(),
            };
            for actor in lists.into_iter().flatten() {
                if actor.is_empty()
                    || actor.len() > 100
                    || actor.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    let mut p = at.clone();
                    p.push("allowed_actors".into());
                    return Err(ctx.err(
                        &p,
                        format!("invalid actor {}: expected a GitHub login", quote(actor)),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn workspaces(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    let mut deps: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, ws) in &cfg.workspaces {
        let at = segs!["workspaces", name.as_str()].to_vec();
        if let Some(pages) = &ws.pages
            && !cfg.resources.pages.contains_key(pages)
        {
            let mut p = at.clone();
            p.push("pages".into());
            return Err(ctx.err(
                &p,
                format!(
                    "workspace `{name}` deploys unknown Pages project {} ({} under `resources.pages`)",
                    quote(pages),
                    known(cfg.resources.pages.keys())
                ),
            ));
        }
        if ws.wrangler.is_some() && ws.pages.is_some() {
            return Err(ctx.key_err(
                &at,
                format!("workspace `{name}` sets both `wrangler` and `pages`; a workspace deploys one or the other"),
            ));
        }
        for (i, dep) in ws.depends_on.iter().enumerate() {
            if !cfg.workspaces.contains_key(dep) {
                let mut p = at.clone();
                p.extend([Seg::from("depends_on"), Seg::from(i)]);
                return Err(ctx.err(
                    &p,
                    format!(
                        "unknown workspace {} ({})",
                        quote(dep),
                        known(cfg.workspaces.keys())
                    ),
                ));
            }
        }
        deps.insert(name, ws.depends_on.iter().map(String::as_str).collect());
    }
    if let Err(cycle) = graph::waves(&deps) {
        let first = cycle.first().copied().unwrap_or_default();
        return Err(ctx.err(
            &segs!["workspaces", first, "depends_on"],
            format!("workspace dependency cycle: {}", cycle.join(" -> ")),
        ));
    }
    Ok(())
}

fn resources(ctx: &Ctx<'_>, cfg: &Config, prefix: &str) -> Result<(), Error> {
    let r = &cfg.resources;
    let full = |name: &str| format!("{prefix}{name}");
    let explain = |name: &str| {
        if prefix.is_empty() {
            quote(name)
        } else {
            format!("{} (`{name}` with prefix `{prefix}`)", quote(&full(name)))
        }
    };
    let mut bindings: BTreeMap<String, String> = BTreeMap::new();
    let mut check_binding = |kind: &str, name: &str, binding: Option<&String>, path: &[Seg]| {
        if let Some(b) = binding {
            let key = format!("{kind}:{b}");
            if let Some(other) = bindings.insert(key, name.to_owned()) {
                return Err(ctx.err(
                    path,
                    format!("binding `{b}` is used by both `{kind}.{other}` and `{kind}.{name}`"),
                ));
            }
        }
        Ok(())
    };
    for (name, kv) in &r.kv {
        names::kv_title(&full(name)).map_err(|m| {
            ctx.key_err(
                &segs!["resources", "kv", name.as_str()],
                format!("invalid KV namespace title {}: {m}", explain(name)),
            )
        })?;
        check_binding(
            "kv",
            name,
            kv.binding.as_ref(),
            &segs!["resources", "kv", name.as_str(), "binding"],
        )?;
    }
    for (name, d1) in &r.d1 {
        names::d1_database(&full(name)).map_err(|m| {
            ctx.key_err(
                &segs!["resources", "d1", name.as_str()],
                format!("invalid D1 database name {}: {m}", explain(name)),
            )
        })?;
        check_binding(
            "d1",
            name,
            d1.binding.as_ref(),
            &segs!["resources", "d1", name.as_str(), "binding"],
        )?;
    }
    for (name, r2) in &r.r2 {
        names::r2_bucket(&full(name)).map_err(|m| {
            ctx.key_err(
                &segs!["resources", "r2", name.as_str()],
                format!("invalid R2 bucket name {}: {m}", explain(name)),
            )
        })?;
        check_binding(
            "r2",
            name,
            r2.binding.as_ref(),
            &segs!["resources", "r2", name.as_str(), "binding"],
        )?;
        for (i, rule) in r2.cors.iter().enumerate() {
            let at = segs!["resources", "r2", name.as_str(), "cors", i].to_vec();
            if rule.origins.is_empty() || rule.methods.is_empty() {
                return Err(ctx.err(&at, "a CORS rule needs at least one origin and one method"));
            }
            for (j, origin) in rule.origins.iter().enumerate() {
                if rendered(origin)
                    && origin != "*"
                    && !(origin.starts_with("https://") || origin.starts_with("http://"))
                {
                    let mut p = at.clone();
                    p.extend([Seg::from("origins"), Seg::from(j)]);
                    return Err(ctx.err(
                        &p,
                        format!(
                            "invalid CORS origin {}: expected `*` or `https://host`",
                            quote(origin)
                        ),
                    ));
                }
            }
        }
        for (i, rule) in r2.lifecycle_rules.iter().enumerate() {
            let at = segs!["resources", "r2", name.as_str(), "lifecycle_rules", i].to_vec();
            if rule.expire_days.is_none()
                && rule.abort_multipart_days.is_none()
                && rule.infrequent_access_days.is_none()
            {
                return Err(ctx.err(&at, "a lifecycle rule needs an action: `expire_days`, `abort_multipart_days` or `infrequent_access_days`"));
            }
            if [
                rule.expire_days,
                rule.abort_multipart_days,
                rule.infrequent_access_days,
            ]
            .contains(&Some(0))
            {
                return Err(ctx.err(&at, "lifecycle days must be at least 1"));
            }
        }
    }
    for (name, pages) in &r.pages {
        names::pages_project(&full(name)).map_err(|m| {
            ctx.key_err(
                &segs!["resources", "pages", name.as_str()],
                format!("invalid Pages project name {}: {m}", explain(name)),
            )
        })?;
        for (i, domain) in pages.custom_domains.iter().flatten().enumerate() {
            if rendered(domain) {
                names::hostname(domain).map_err(|m| {
                    ctx.err(
                        &segs!["resources", "pages", name.as_str(), "custom_domains", i],
                        format!("invalid custom domain {}: {m}", quote(domain)),
                    )
                })?;
            }
        }
    }
    let mut dns_addresses: BTreeMap<String, usize> = BTreeMap::new();
    for (i, rec) in r.dns.iter().enumerate() {
        let at = segs!["resources", "dns", i].to_vec();
        let field = |f: &str| {
            let mut p = at.clone();
            p.push(f.into());
            p
        };
        if rec.name != "@" && rendered(&rec.name) {
            names::hostname(&rec.name).map_err(|m| {
                ctx.err(
                    &field("name"),
                    format!("invalid DNS record name {}: {m}", quote(&rec.name)),
                )
            })?;
        }
        if rendered(&rec.content) {
            dns_content(rec.record_type, &rec.content)
                .map_err(|m| ctx.err(&field("content"), m))?;
        }
        if rec.proxied == Some(true) && !rec.record_type.proxiable() {
            return Err(ctx.err(
                &field("proxied"),
                format!(
                    "{} records cannot be proxied; only A, AAAA and CNAME can",
                    rec.record_type
                ),
            ));
        }
        if let Some(ttl) = rec.ttl
            && ttl != 1
            && !(30..=86_400).contains(&ttl)
        {
            return Err(ctx.err(
                &field("ttl"),
                format!("invalid TTL {ttl}: expected 1 (automatic) or 30–86400 seconds"),
            ));
        }
        if matches!(
            rec.record_type,
            crate::model::DnsType::Mx | crate::model::DnsType::Srv | crate::model::DnsType::Uri
        ) && rec.priority.is_none()
        {
            return Err(ctx.err(
                &at,
                format!("{} records need a `priority`", rec.record_type),
            ));
        }
        let address = rec.address_name();
        if let Some(first) = dns_addresses.insert(address.clone(), i) {
            return Err(ctx.err(
                &at,
                format!(
                    "duplicate DNS record address `dns.{address}` (also resources.dns[{first}]); give one of them a distinct `key`"
                ),
            ));
        }
    }
    let mut patterns: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, route) in r.worker_routes.iter().enumerate() {
        let at = segs!["resources", "worker_routes", i].to_vec();
        if let Some(first) = patterns.insert(&route.pattern, i) {
            return Err(ctx.err(
                &at,
                format!(
                    "duplicate worker route {} (also resources.worker_routes[{first}])",
                    quote(&route.pattern)
                ),
            ));
        }
        if rendered(&route.pattern) {
            route_pattern(&route.pattern, route.custom_domain)
                .map_err(|m| ctx.err(&segs!["resources", "worker_routes", i, "pattern"], m))?;
        }
    }
    Ok(())
}

/// Checks a route pattern (`host/path*`) or a custom domain (a bare hostname).
pub(crate) fn route_pattern(pattern: &str, custom_domain: bool) -> Result<(), String> {
    if pattern.contains("://") {
        return Err(format!(
            "invalid route {}: leave out the scheme (`api.example.com/*`)",
            quote(pattern)
        ));
    }
    let host = pattern.split('/').next().unwrap_or_default();
    if custom_domain && pattern.contains(['/', '*']) {
        return Err(format!(
            "invalid custom domain {}: expected a hostname without path or wildcard",
            quote(pattern)
        ));
    }
    let host_check = host
        .strip_prefix('*')
        .map_or(host, |h| h.strip_prefix('.').unwrap_or(h));
    if host_check.is_empty() {
        return Err(format!(
            "invalid route {}: it has no hostname",
            quote(pattern)
        ));
    }
    names::hostname(host_check).map_err(|m| format!("invalid route {}: {m}", quote(pattern)))
}

fn dns_content(t: crate::model::DnsType, content: &str) -> Result<(), String> {
    use crate::model::DnsType;
    if content.is_empty() {
        return Err("DNS record content is empty".into());
    }
    match t {
        DnsType::A if content.parse::<std::net::Ipv4Addr>().is_err() => Err(format!(
            "invalid A record content {}: expected an IPv4 address",
            quote(content)
        )),
        DnsType::Aaaa if content.parse::<std::net::Ipv6Addr>().is_err() => Err(format!(
            "invalid AAAA record content {}: expected an IPv6 address",
            quote(content)
        )),
        DnsType::Cname | DnsType::Ns | DnsType::Ptr => names::hostname(content)
            .map_err(|m| format!("invalid {t} record content {}: {m}", quote(content))),
        DnsType::Txt if content.len() > 2048 => {
            Err("TXT record content is longer than 2048 characters".into())
        }
        _ => Ok(()),
    }
}

fn deploy(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    let d = &cfg.deploy;
    let at = segs!["deploy", "rollout"].to_vec();
    if d.rollout.is_empty() {
        return Err(ctx.err(
            &at,
            "rollout needs at least one step, and the last must be 100",
        ));
    }
    for (i, step) in d.rollout.iter().enumerate() {
        if !(1..=100).contains(step) {
            return Err(ctx.err(
                &segs!["deploy", "rollout", i],
                format!("rollout step {step} is not a percentage from 1 to 100"),
            ));
        }
        if i > 0 && *step <= d.rollout[i - 1] {
            return Err(ctx.err(
                &segs!["deploy", "rollout", i],
                format!(
                    "rollout steps must increase: {step} follows {}",
                    d.rollout[i - 1]
                ),
            ));
        }
    }
    if d.rollout.last() != Some(&100) {
        return Err(ctx.err(
            &segs!["deploy", "rollout", d.rollout.len() - 1],
            "the last rollout step must be 100",
        ));
    }
    if let Some(gate) = &d.gate
        && gate.window.is_zero()
    {
        return Err(ctx.err(
            &segs!["deploy", "gate", "window"],
            "the gate window must be longer than 0s",
        ));
    }
    for (i, channel) in d.notify.iter().enumerate() {
        channel_exists(ctx, cfg, channel, &segs!["deploy", "notify", i])?;
    }
    Ok(())
}

fn channel_exists(ctx: &Ctx<'_>, cfg: &Config, channel: &str, at: &[Seg]) -> Result<(), Error> {
    if cfg.notifications.contains_key(channel) {
        Ok(())
    } else {
        Err(ctx.err(
            at,
            format!(
                "unknown notification channel {} ({} under `notifications`)",
                quote(channel),
                known(cfg.notifications.keys())
            ),
        ))
    }
}

fn health(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    let h = &cfg.health;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, check) in h.checks.iter().enumerate() {
        let at = segs!["health", "checks", i].to_vec();
        let field = |f: &str| {
            let mut p = at.clone();
            p.push(f.into());
            p
        };
        if check.name.trim().is_empty() {
            return Err(ctx.err(&field("name"), "a health check needs a non-empty `name`"));
        }
        if let Some(first) = seen.insert(&check.name, i) {
            return Err(ctx.err(
                &field("name"),
                format!(
                    "duplicate health check name {} (also health.checks[{first}])",
                    quote(&check.name)
                ),
            ));
        }
        let targets = check.targets();
        if targets.len() != 1 {
            return Err(ctx.err(
                &at,
                format!(
                    "health check {} needs exactly one target of `http`, `kv`, `d1`, `r2`, `pages`, `worker` (found {})",
                    quote(&check.name),
                    targets.len()
                ),
            ));
        }
        use crate::model::CheckTarget;
        let resource = |kind: &str, name: &str, map_has: bool| {
            if map_has {
                Ok(())
            } else {
                Err(ctx.err(
                    &field(kind),
                    format!(
                        "health check {} probes unknown resource `{kind}.{name}`",
                        quote(&check.name)
                    ),
                ))
            }
        };
        let http_only = check.method.is_some()
            || !check.headers.is_empty()
            || check.body.is_some()
            || check.expect.is_some();
        match targets[0] {
            CheckTarget::Http(url) => {
                if rendered(url) && !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ctx.err(
                        &field("http"),
                        format!(
                            "invalid URL {}: expected `https://…` or `http://…`",
                            quote(url)
                        ),
                    ));
                }
            }
            CheckTarget::Kv(n) => resource("kv", n, cfg.resources.kv.contains_key(n))?,
            CheckTarget::D1(n) => resource("d1", n, cfg.resources.d1.contains_key(n))?,
            CheckTarget::R2(n) => resource("r2", n, cfg.resources.r2.contains_key(n))?,
            CheckTarget::Pages(n) => resource("pages", n, cfg.resources.pages.contains_key(n))?,
            CheckTarget::Worker(_) => {}
        }
        if http_only && !matches!(targets[0], CheckTarget::Http(_)) {
            return Err(ctx.err(&at, format!("health check {}: `method`, `headers`, `body` and `expect` apply to `http` checks only", quote(&check.name))));
        }
        if check.query.is_some() && !matches!(targets[0], CheckTarget::D1(_)) {
            return Err(ctx.err(&field("query"), "`query` applies to `d1` checks only"));
        }
        if let Some(expect) = &check.expect
            && let Some(status) = &expect.status
        {
            for code in status.codes() {
                if !(100..=599).contains(&code) {
                    return Err(ctx.err(
                        &segs!["health", "checks", i, "expect", "status"],
                        format!("invalid HTTP status {code}: expected 100–599"),
                    ));
                }
            }
        }
        if check.interval.get() < std::time::Duration::from_secs(1) {
            return Err(ctx.err(&field("interval"), "the interval must be at least 1s"));
        }
        if check.timeout.is_zero() || check.timeout > check.interval {
            return Err(ctx.err(
                &field("timeout"),
                format!(
                    "the timeout ({}) must be more than 0s and at most the interval ({})",
                    check.timeout, check.interval
                ),
            ));
        }
        if check.retries > 10 {
            return Err(ctx.err(&field("retries"), "at most 10 retries"));
        }
        if let (Some(d), Some(u)) = (check.degraded_ms, check.unhealthy_ms)
            && d >= u
        {
            return Err(ctx.err(
                &field("degraded_ms"),
                format!("`degraded_ms` ({d}) must be below `unhealthy_ms` ({u})"),
            ));
        }
        if check.degraded_after == 0 || check.unhealthy_after < check.degraded_after {
            return Err(ctx.err(
                &field("unhealthy_after"),
                "need 1 ≤ `degraded_after` ≤ `unhealthy_after`",
            ));
        }
        error_rates(ctx, check, &field)?;
    }
    silences(ctx, h)?;
    if let Some(alert) = &h.alert {
        if alert.after_failures == 0 {
            return Err(ctx.err(
                &segs!["health", "alert", "after_failures"],
                "`after_failures` must be at least 1",
            ));
        }
        for (i, channel) in alert.channels.iter().enumerate() {
            channel_exists(ctx, cfg, channel, &segs!["health", "alert", "channels", i])?;
        }
        if alert.escalate_after() < alert.after_failures {
            return Err(ctx.err(
                &segs!["health", "alert", "escalate_after"],
                "`escalate_after` must not be below `after_failures`",
            ));
        }
        if let Some(f) = alert.flapping
            && (f.failures == 0 || f.failures > f.window || f.window > FLAPPING_MAX_WINDOW)
        {
            return Err(ctx.err(
                &segs!["health", "alert", "flapping"],
                format!(
                    "flapping needs 1 ≤ `failures` ≤ `window` ≤ {FLAPPING_MAX_WINDOW} (found {} of {})",
                    f.failures, f.window
                ),
            ));
        }
    }
    Ok(())
}

/// `degraded_error_rate` / `unhealthy_error_rate`: worker checks only, degraded below
/// unhealthy.
fn error_rates(
    ctx: &Ctx<'_>,
    check: &crate::model::HealthCheck,
    field: &dyn Fn(&str) -> Vec<Seg>,
) -> Result<(), Error> {
    let set = if check.degraded_error_rate.is_some() {
        "degraded_error_rate"
    } else if check.unhealthy_error_rate.is_some() {
        "unhealthy_error_rate"
    } else {
        return Ok(());
    };
    if check.worker.is_none() {
        return Err(ctx.err(
            &field(set),
            format!("`{set}` applies to `worker` checks only"),
        ));
    }
    if let (Some(d), Some(u)) = (check.degraded_error_rate, check.unhealthy_error_rate)
        && d >= u
    {
        return Err(ctx.err(
            &field("degraded_error_rate"),
            format!("`degraded_error_rate` ({d}) must be below `unhealthy_error_rate` ({u})"),
        ));
    }
    Ok(())
}

/// `health.silences`: each names a declared check (or `*`) and says why.
fn silences(ctx: &Ctx<'_>, h: &crate::model::Health) -> Result<(), Error> {
    for (i, silence) in h.silences.iter().enumerate() {
        if silence.check != "*" && !h.checks.iter().any(|c| c.name == silence.check) {
            return Err(ctx.err(
                &segs!["health", "silences", i, "check"],
                format!(
                    "silence names unknown health check {} ({})",
                    quote(&silence.check),
                    known(h.checks.iter().map(|c| &c.name))
                ),
            ));
        }
        if silence.reason.trim().is_empty() {
            return Err(ctx.err(
                &segs!["health", "silences", i, "reason"],
                "a silence needs a non-empty `reason`",
            ));
        }
    }
    Ok(())
}

fn backup(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    let Some(b) = &cfg.backup else {
        return Ok(());
    };
    if b.recipients.is_empty() {
        return Err(ctx.err(
            &segs!["backup"],
            "backups need at least one age recipient under `recipients`",
        ));
    }
    for (i, r) in b.recipients.iter().enumerate() {
        let ok = if let Some(rest) = r.strip_prefix("age1") {
            rest.len() >= 10
                && rest
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        } else {
            r.starts_with("ssh-ed25519 ") || r.starts_with("ssh-rsa ")
        };
        if !ok {
            return Err(ctx.err(
                &segs!["backup", "recipients", i],
                format!("invalid age recipient {}: expected `age1…` or an `ssh-ed25519`/`ssh-rsa` public key", quote(r)),
            ));
        }
    }
    for (i, item) in b.include.iter().enumerate() {
        if let BackupItem::Resource(a) = item
            && !resource_declared(cfg, a)
        {
            return Err(ctx.err(
                &segs!["backup", "include", i],
                format!("unknown backup include `{a}`: no such resource in `resources`"),
            ));
        }
    }
    Ok(())
}

/// Whether a kv/d1/r2/dns/pages address is declared in `resources` (workers are checked later).
fn resource_declared(cfg: &Config, a: &crate::address::ResourceAddress) -> bool {
    let r = &cfg.resources;
    match a.kind() {
        ResourceKind::Kv => r.kv.contains_key(a.name()),
        ResourceKind::D1 => r.d1.contains_key(a.name()),
        ResourceKind::R2 => r.r2.contains_key(a.name()),
        ResourceKind::Pages => r.pages.contains_key(a.name()),
        ResourceKind::Dns => r.dns.iter().any(|d| d.address_name() == a.name()),
        // Checked against wrangler configs by the environment resolver.
        ResourceKind::Worker | ResourceKind::Route | ResourceKind::Domain => true,
    }
}

fn onboarding(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    let o = &cfg.onboarding;
    if !o.dev_prefix.contains("{developer}") {
        return Err(ctx.err(
            &segs!["onboarding", "dev_prefix"],
            "`dev_prefix` must contain `{developer}`",
        ));
    }
    names::prefix(&o.dev_prefix.replace("{developer}", "x")).map_err(|m| {
        ctx.err(
            &segs!["onboarding", "dev_prefix"],
            format!("invalid `dev_prefix`: {m}"),
        )
    })?;
    if !o.preview_prefix.contains("{pr}") {
        return Err(ctx.err(
            &segs!["onboarding", "preview_prefix"],
            "`preview_prefix` must contain `{pr}`",
        ));
    }
    names::prefix(&o.preview_prefix.replace("{pr}", "1")).map_err(|m| {
        ctx.err(
            &segs!["onboarding", "preview_prefix"],
            format!("invalid `preview_prefix`: {m}"),
        )
    })?;
    if let Some(base) = &o.base_environment
        && !cfg.environments.contains_key(base)
    {
        return Err(Error::UnknownEnvironment {
            location: Some(ctx.loc(&segs!["onboarding", "base_environment"])),
            name: base.clone(),
            known: cfg.environments.keys().cloned().collect(),
        });
    }
    if let Some(from) = &o.branch_from
        && !cfg.environments.contains_key(from)
    {
        return Err(Error::UnknownEnvironment {
            location: Some(ctx.loc(&segs!["onboarding", "branch_from"])),
            name: from.clone(),
            known: cfg.environments.keys().cloned().collect(),
        });
    }
    for address in o.seed.keys() {
        let at = segs!["onboarding", "seed", address.to_string()].to_vec();
        if !matches!(address.kind(), ResourceKind::D1 | ResourceKind::Kv) {
            return Err(ctx.key_err(
                &at,
                format!("seed data goes into D1 databases or KV namespaces, not `{address}`"),
            ));
        }
        if !resource_declared(cfg, address) {
            return Err(ctx.key_err(
                &at,
                format!("unknown resource `{address}` in `onboarding.seed`"),
            ));
        }
    }
    for (address, tables) in &o.mask {
        let at = segs!["onboarding", "mask", address.to_string()].to_vec();
        if address.kind() != ResourceKind::D1 {
            return Err(ctx.key_err(
                &at,
                format!("masking applies to D1 databases, not `{address}`"),
            ));
        }
        if !resource_declared(cfg, address) {
            return Err(ctx.key_err(
                &at,
                format!("unknown resource `{address}` in `onboarding.mask`"),
            ));
        }
        if tables.values().any(Vec::is_empty) {
            return Err(ctx.err(&at, "list at least one column per masked table"));
        }
    }
    Ok(())
}

fn notifications(ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Error> {
    for (name, n) in &cfg.notifications {
        let (kind, url) = match n {
            Notification::Slack(s) => ("slack", s),
            Notification::Discord(s) => ("discord", s),
            Notification::GithubIssue(_) => continue,
        };
        let v = url.expose();
        // Empty (e.g. `${SLACK_WEBHOOK:-}` unset in a PR job) means the channel is off.
        if v.is_empty() {
            continue;
        }
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            // Never echo the value: it is a secret.
            return Err(ctx.err(
                &segs!["notifications", name.as_str(), kind],
                format!(
                    "the {kind} webhook of channel `{name}` is not an http(s) URL (value hidden)"
                ),
            ));
        }
    }
    Ok(())
}
