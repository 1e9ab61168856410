//! `sv-onboard gc [--yes]`: developer and preview resources nobody needs any more.
//!
//! Every live KV namespace, D1 database and R2 bucket whose name is `<dev_prefix><resource>`
//! or `<preview_prefix><resource>` for a resource of sv.yaml is grouped by environment
//! (`dev-alice`, `pr-42`). A developer group is stale when this checkout has no record of
//! that developer (`.sv/dev/NAME.json`) or the record was last updated longer ago than
//! `onboarding.stale_after`; a preview group is stale when its oldest dated resource (D1
//! and R2 report creation times, KV does not) is older than `stale_after`. Without `--yes`
//! gc only lists. With `--yes` it deletes stale groups: what the environment's state knows
//! through `converge` (destroy), what no state knows by a direct delete call.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use futures::TryStreamExt as _;
use serde::Serialize;
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs};
use sv_config::ResourceKind;
use sv_infra::StateStore as _;
use sv_report::{Render, Styles, markdown_escape};

use crate::ctx::{Ctx, planner_address};
use crate::record;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Delete the stale resources (without it, gc only lists them)
    #[arg(long)]
    pub yes: bool,
    /// List only, even with --yes
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveResource {
    /// `kv.sessions`.
    pub address: String,
    pub name: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// After `--yes`: `deleted` or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `dev-alice`, `pr-42`.
    pub environment: String,
    /// `developer` or `preview`.
    pub kind: &'static str,
    pub owner: String,
    pub stale: bool,
    pub reason: String,
    pub resources: Vec<LiveResource>,
}

#[derive(Debug, Serialize)]
pub struct GcReport {
    pub deleted: bool,
    pub stale_after: Option<String>,
    pub groups: Vec<Group>,
}

impl Render for GcReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let stale = self.groups.iter().filter(|g| g.stale).count();
        out.push_str(&s.bold(&format!(
            "{} developer/preview environment(s), {stale} stale",
            self.groups.len()
        )));
        out.push('\n');
        for g in &self.groups {
            let mark = if g.stale {
                s.yellow("stale")
            } else {
                s.green("keep")
            };
            out.push_str(&format!(
                "  {} [{mark}] {}: {}\n",
                g.environment, g.owner, g.reason
            ));
            for r in &g.resources {
                out.push_str(&format!("      {} {}", r.address, r.name));
                if let Some(res) = &r.result {
                    out.push_str(&format!(" — {res}"));
                }
                out.push('\n');
            }
        }
        if stale > 0 && !self.deleted {
            out.push_str("Nothing deleted: re-run with --yes to delete the stale ones.\n");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "### sv-onboard gc\n\n| environment | owner | stale | reason | resources |\n|---|---|---|---|---|\n",
        );
        for g in &self.groups {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                g.environment,
                markdown_escape(&g.owner),
                if g.stale { "yes" } else { "no" },
                markdown_escape(&g.reason),
                g.resources
                    .iter()
                    .map(|r| format!("`{}`", r.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }
}

struct Live {
    kind: ResourceKind,
    name: String,
    id: String,
    created: Option<DateTime<Utc>>,
}

fn split_template<'a>(template: &'a str, placeholder: &str) -> Option<(&'a str, &'a str)> {
    template.split_once(placeholder)
}

/// `(environment, owner, kind, address)` of a live name, if it is a derived resource.
fn classify(
    cfg: &sv_config::Config,
    kind: ResourceKind,
    name: &str,
) -> Option<(String, String, &'static str, String)> {
    let resources: Vec<&String> = match kind {
        ResourceKind::Kv => cfg.resources.kv.keys().collect(),
        ResourceKind::D1 => cfg.resources.d1.keys().collect(),
        ResourceKind::R2 => cfg.resources.r2.keys().collect(),
        _ => return None,
    };
    let mut resources = resources;
    // Longest resource name first: `dev-alice-x-cache` is alice's `x-cache` before it is
    // alice-x's `cache`.
    resources.sort_by_key(|r| std::cmp::Reverse(r.len()));
    if let Some((pre, post)) = split_template(&cfg.onboarding.dev_prefix, "{developer}")
        && let Some(rest) = name.strip_prefix(pre)
    {
        for r in &resources {
            let tail = format!("{post}{r}");
            if let Some(dev) = rest.strip_suffix(&tail)
                && sv_config::names::identifier(dev).is_ok()
            {
                return Some((
                    format!("dev-{dev}"),
                    dev.to_owned(),
                    "developer",
                    format!("{kind}.{r}"),
                ));
            }
        }
    }
    if let Some((pre, post)) = split_template(&cfg.onboarding.preview_prefix, "{pr}")
        && let Some(rest) = name.strip_prefix(pre)
    {
        for r in &resources {
            let tail = format!("{post}{r}");
            if let Some(pr) = rest.strip_suffix(&tail)
                && !pr.is_empty()
                && pr.bytes().all(|b| b.is_ascii_digit())
            {
                return Some((
                    format!("pr-{pr}"),
                    format!("PR #{pr}"),
                    "preview",
                    format!("{kind}.{r}"),
                ));
            }
        }
    }
    None
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

async fn live(client: &sv_cloudflare::Client) -> anyhow::Result<Vec<Live>> {
    let mut out = Vec::new();
    let kv: Vec<_> = client
        .kv()
        .list_namespaces()
        .try_collect()
        .await
        .context("listing KV namespaces")?;
    out.extend(kv.into_iter().map(|n| Live {
        kind: ResourceKind::Kv,
        name: n.title,
        id: n.id,
        created: None,
    }));
    let d1: Vec<_> = client
        .d1()
        .list(None)
        .try_collect()
        .await
        .context("listing D1 databases")?;
    out.extend(d1.into_iter().map(|d| Live {
        kind: ResourceKind::D1,
        created: parse_time(d.created_at.as_deref()),
        name: d.name,
        id: d.uuid,
    }));
    let r2: Vec<_> = client
        .r2()
        .list_buckets(&sv_cloudflare::r2::BucketFilter::default())
        .try_collect()
        .await
        .context("listing R2 buckets")?;
    out.extend(r2.into_iter().map(|b| Live {
        kind: ResourceKind::R2,
        created: parse_time(b.creation_date.as_deref()),
        id: b.name.clone(),
        name: b.name,
    }));
    Ok(out)
}

pub async fn run(global: &GlobalArgs, args: GcArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::new(global)?;
    let client = ctx.client(&args.cloudflare)?;
    let cfg = &ctx.config.config;
    let now = Utc::now();
    let stale_after = cfg
        .onboarding
        .stale_after
        .and_then(|d| chrono::Duration::from_std(d.get()).ok());
    let records = record::all(&ctx.root());

    let mut groups: BTreeMap<String, (Group, Option<DateTime<Utc>>)> = BTreeMap::new();
    for l in live(&client).await? {
        let Some((env, owner, kind, address)) = classify(cfg, l.kind, &l.name) else {
            continue;
        };
        let entry = groups.entry(env.clone()).or_insert_with(|| {
            (
                Group {
                    environment: env.clone(),
                    kind,
                    owner,
                    stale: false,
                    reason: String::new(),
                    resources: Vec::new(),
                },
                None,
            )
        });
        if let Some(c) = l.created {
            entry.1 = Some(entry.1.map_or(c, |o: DateTime<Utc>| o.min(c)));
        }
        entry.0.resources.push(LiveResource {
            address,
            name: l.name,
            id: l.id,
            created: l.created.map(|c| c.to_rfc3339()),
            result: None,
        });
    }
    let mut out = Vec::new();
    for (_, (mut g, oldest)) in groups {
        if g.kind == "developer" {
            match records.get(&g.owner) {
                None => {
                    g.stale = true;
                    g.reason = format!(
                        "no developer record .sv/dev/{}.json in this checkout",
                        g.owner
                    );
                }
                Some(r) => match stale_after {
                    Some(limit) if now - r.updated_at > limit => {
                        g.stale = true;
                        g.reason = format!(
                            "set up {} ago, longer than onboarding.stale_after",
                            days(now - r.updated_at)
                        );
                    }
                    _ => {
                        g.reason = format!(
                            "developer record: {}, updated {} ago",
                            r.status.label(),
                            days(now - r.updated_at)
                        )
                    }
                },
            }
        } else {
            match (stale_after, oldest) {
                (Some(limit), Some(created)) if now - created > limit => {
                    g.stale = true;
                    g.reason = format!(
                        "created {} ago, longer than onboarding.stale_after",
                        days(now - created)
                    );
                }
                (_, Some(created)) => g.reason = format!("created {} ago", days(now - created)),
                (_, None) => {
                    g.reason =
                        "no creation time known (KV only): kept; `preview destroy` removes it"
                            .into()
                }
            }
        }
        out.push(g);
    }

    let delete = args.yes && !args.dry_run;
    let mut failed = false;
    if delete {
        for g in out.iter_mut().filter(|g| g.stale) {
            failed |= !delete_group(&ctx, &client, g).await?;
        }
    }
    let report = GcReport {
        deleted: delete,
        stale_after: cfg
            .onboarding
            .stale_after
            .map(|d| format!("{}s", d.get().as_secs())),
        groups: out,
    };
    ctx.runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Rounded, so that a few milliseconds never turn 30 days into 29.
fn days(d: chrono::Duration) -> String {
    let hours = (d.num_minutes() + 30).div_euclid(60);
    if hours >= 24 {
        format!("{}d", (hours + 12).div_euclid(24))
    } else {
        format!("{hours}h")
    }
}

/// Deletes one stale group; returns whether everything went.
async fn delete_group(
    ctx: &Ctx,
    client: &sv_cloudflare::Client,
    g: &mut Group,
) -> anyhow::Result<bool> {
    let env = if g.kind == "developer" {
        ctx.config.developer_environment(&g.owner).ok()
    } else {
        g.environment
            .strip_prefix("pr-")
            .and_then(|n| n.parse().ok())
            .and_then(|n| ctx.config.preview_environment(n).ok())
    };
    let state = env
        .as_ref()
        .and_then(|e| ctx.store(e).load().ok().flatten());
    // What the environment's state knows goes through converge; the rest is deleted directly.
    let mut targets = Vec::new();
    for r in &g.resources {
        let addr: Option<sv_config::ResourceAddress> = r.address.parse().ok();
        let planner = addr.as_ref().and_then(planner_address);
        if let (Some(p), Some(s)) = (&planner, &state)
            && s.resources.get(p).is_some_and(|x| x.id == r.id)
        {
            targets.push(p.clone());
        }
    }
    let mut ok = true;
    if let (Some(env), false) = (&env, targets.is_empty()) {
        let converged = ctx
            .destroy(client, env, targets.clone(), "onboard.gc")
            .await?;
        let failed: Vec<String> = converged
            .report
            .iter()
            .flat_map(|r| &r.results)
            .filter(|r| !matches!(r.outcome, sv_infra::OpOutcome::Done { .. }))
            .map(|r| r.address.to_string())
            .collect();
        for r in &mut g.resources {
            let in_targets = r
                .address
                .parse::<sv_config::ResourceAddress>()
                .ok()
                .and_then(|a| planner_address(&a))
                .is_some_and(|p| targets.contains(&p));
            if in_targets {
                let f = failed.contains(&r.address);
                ok &= !f;
                r.result = Some(if f {
                    "delete failed".into()
                } else {
                    "deleted (state)".into()
                });
            }
        }
    }
    for r in g.resources.iter_mut().filter(|r| r.result.is_none()) {
        let kind = r.address.split('.').next().unwrap_or_default();
        let res = match kind {
            "kv" => client.kv().delete_namespace(&r.id).await,
            "d1" => client.d1().delete(&r.id).await,
            "r2" => client.r2().delete_bucket(&r.name, None).await,
            _ => Ok(()),
        };
        r.result = Some(match res {
            Ok(()) => "deleted".into(),
            Err(e) => {
                ok = false;
                format!("delete failed: {e}")
            }
        });
    }
    ctx.audit(
        &g.environment,
        "onboard.gc",
        &g.environment,
        if ok {
            sv_audit::Outcome::Succeeded
        } else {
            sv_audit::Outcome::Failed
        },
        Some(g.reason.clone()),
    )?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_dev_and_preview_names() {
        let cfg = sv_config::load_str(
            "project: p\nenvironments: {staging: {}}\nresources: {kv: {cache: {}, x-cache: {}}, d1: {main: {}}}\n",
            std::path::Path::new("sv.yaml"),
            &sv_config::NoVars,
        )
        .unwrap()
        .config;
        let c = |k, n: &str| classify(&cfg, k, n).map(|(e, o, _, a)| format!("{e} {o} {a}"));
        assert_eq!(
            c(ResourceKind::Kv, "dev-alice-x-cache").as_deref(),
            Some("dev-alice alice kv.x-cache")
        );
        assert_eq!(
            c(ResourceKind::Kv, "dev-bob-cache").as_deref(),
            Some("dev-bob bob kv.cache")
        );
        assert_eq!(
            c(ResourceKind::D1, "pr-42-main").as_deref(),
            Some("pr-42 PR #42 d1.main")
        );
        assert_eq!(c(ResourceKind::D1, "staging-main"), None);
        assert_eq!(c(ResourceKind::D1, "dev-alice-cache"), None);
    }
}
