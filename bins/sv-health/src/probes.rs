//! Cloudflare service probes: each implements [`sv_checks::Probe`] with the Cloudflare
//! client, so the engine applies the same timeout, retries and thresholds as to HTTP checks.
//! Read-write probes use a canary key/object and always try to delete it again.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use sv_checks::config::ServiceTarget;
use sv_checks::{Probe, ProbeOutcome, Probes, ServiceKind};
use sv_cloudflare::Client;

/// The canary key (KV) and object key (R2) the read-write probes write and delete.
pub const CANARY_KEY: &str = "__sv_health_canary";

/// How far back the Worker probe reads analytics for its error rate.
const ANALYTICS_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// One probe per service target.
pub fn probes(client: &Client, targets: &[ServiceTarget]) -> Probes {
    targets
        .iter()
        .map(|t| {
            let probe: Arc<dyn Probe> = Arc::new(CloudflareProbe {
                client: client.clone(),
                target: t.clone(),
            });
            (t.check.clone(), probe)
        })
        .collect()
}

struct CloudflareProbe {
    client: Client,
    target: ServiceTarget,
}

impl Probe for CloudflareProbe {
    fn run(&self) -> BoxFuture<'_, ProbeOutcome> {
        Box::pin(async move {
            let r = &self.target.resource;
            match self.target.kind {
                ServiceKind::Kv => kv(&self.client, r).await,
                ServiceKind::D1 => {
                    let query = self
                        .target
                        .query
                        .as_deref()
                        .unwrap_or(sv_checks::config::DEFAULT_D1_QUERY);
                    d1(&self.client, r, query).await
                }
                ServiceKind::R2 => r2(&self.client, r).await,
                ServiceKind::Pages => pages(&self.client, r).await,
                ServiceKind::Worker => worker(&self.client, r, Utc::now()).await,
            }
        })
    }
}

fn canary_value() -> String {
    format!(
        "sv-health canary {}",
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

async fn kv(client: &Client, title: &str) -> ProbeOutcome {
    let kv = client.kv();
    let mut namespaces = std::pin::pin!(kv.list_namespaces());
    let mut id = None;
    while let Some(ns) = namespaces.next().await {
        match ns {
            Ok(ns) if ns.title == title => {
                id = Some(ns.id);
                break;
            }
            Ok(_) => {}
            Err(e) => return ProbeOutcome::unhealthy(format!("listing KV namespaces: {e}")),
        }
    }
    let Some(id) = id else {
        return ProbeOutcome::unhealthy(format!("KV namespace {title:?} does not exist"));
    };
    let value = canary_value();
    if let Err(e) = kv
        .put_value(
            &id,
            CANARY_KEY,
            value.clone().into_bytes(),
            &Default::default(),
        )
        .await
    {
        return ProbeOutcome::unhealthy(format!("writing the canary key: {e}"));
    }
    let read = kv.get_value(&id, CANARY_KEY).await;
    let deleted = kv.delete_value(&id, CANARY_KEY).await;
    let mut out = match read {
        Ok(v) if v.bytes.as_ref() == value.as_bytes() => ProbeOutcome::healthy(),
        Ok(_) => ProbeOutcome::unhealthy("the canary key read back a different value"),
        Err(e) => ProbeOutcome::unhealthy(format!("reading the canary key: {e}")),
    };
    if let Err(e) = deleted {
        out.status = out.status.max(sv_checks::Status::Degraded);
        out.errors.push(format!("deleting the canary key: {e}"));
    }
    out
}

async fn d1(client: &Client, database: &str, query: &str) -> ProbeOutcome {
    let d1 = client.d1();
    let db = match d1.get(database).await {
        Ok(db) => db,
        Err(e) if e.is_not_found() => {
            return ProbeOutcome::unhealthy(format!("D1 database {database:?} does not exist"));
        }
        Err(e) => return ProbeOutcome::unhealthy(format!("reading D1 database: {e}")),
    };
    match d1.query_read_only(&db.uuid, query, &[]).await {
        Ok(results) if results.iter().all(|r| r.success) => {
            let rows: usize = results.iter().map(|r| r.results.len()).sum();
            ProbeOutcome::healthy().with_metric("rows", rows as f64)
        }
        Ok(_) => ProbeOutcome::unhealthy("a statement of the query did not succeed"),
        Err(e) => ProbeOutcome::unhealthy(format!("query failed: {e}")),
    }
}

async fn r2(client: &Client, bucket: &str) -> ProbeOutcome {
    let r2 = client.r2();
    let value = canary_value();
    if let Err(e) = r2
        .put_object(
            bucket,
            CANARY_KEY,
            sv_cloudflare::r2::ObjectBody::Bytes(value.clone().into()),
            &Default::default(),
        )
        .await
    {
        return ProbeOutcome::unhealthy(format!("writing the canary object: {e}"));
    }
    let read = match r2.get_object(bucket, CANARY_KEY, None).await {
        Ok(download) => download.bytes().await,
        Err(e) => Err(e),
    };
    let deleted = r2.delete_object(bucket, CANARY_KEY, None).await;
    let mut out = match read {
        Ok(bytes) if bytes.as_ref() == value.as_bytes() => ProbeOutcome::healthy(),
        Ok(_) => ProbeOutcome::unhealthy("the canary object read back different bytes"),
        Err(e) => ProbeOutcome::unhealthy(format!("reading the canary object: {e}")),
    };
    if let Err(e) = deleted {
        out.status = out.status.max(sv_checks::Status::Degraded);
        out.errors.push(format!("deleting the canary object: {e}"));
    }
    out
}

async fn pages(client: &Client, project: &str) -> ProbeOutcome {
    let mut deployments = std::pin::pin!(client.pages().list_deployments(project, None));
    let latest = match deployments.next().await {
        None => {
            return ProbeOutcome::unhealthy(format!("Pages project {project:?} has no deployment"));
        }
        Some(Err(e)) if e.is_not_found() => {
            return ProbeOutcome::unhealthy(format!("Pages project {project:?} does not exist"));
        }
        Some(Err(e)) => return ProbeOutcome::unhealthy(format!("listing deployments: {e}")),
        Some(Ok(d)) => d,
    };
    let Some(stage) = latest.latest_stage else {
        return ProbeOutcome::degraded(format!("deployment {} has no stage yet", latest.id));
    };
    match stage.status.as_str() {
        "success" if stage.name == "deploy" => ProbeOutcome::healthy(),
        "failure" | "canceled" => ProbeOutcome::unhealthy(format!(
            "latest deployment {} {} at stage {}",
            latest.id,
            if stage.status == "failure" {
                "failed"
            } else {
                "was canceled"
            },
            stage.name
        )),
        other => ProbeOutcome::degraded(format!(
            "latest deployment {} is at stage {} ({other})",
            latest.id, stage.name
        )),
    }
}

async fn worker(client: &Client, script: &str, now: DateTime<Utc>) -> ProbeOutcome {
    let deployments = match client.workers().list_deployments(script).await {
        Ok(d) => d,
        Err(e) if e.is_not_found() => {
            return ProbeOutcome::unhealthy(format!("worker {script:?} does not exist"));
        }
        Err(e) => return ProbeOutcome::unhealthy(format!("listing deployments: {e}")),
    };
    let Some(current) = deployments.first() else {
        return ProbeOutcome::unhealthy(format!("worker {script:?} has no deployment"));
    };
    let mut out =
        ProbeOutcome::healthy().with_metric("deployed_versions", current.versions.len() as f64);
    if let Some(age) = current
        .created_on
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        out = out.with_metric(
            "deployment_age_s",
            (now - age.with_timezone(&Utc)).num_seconds() as f64,
        );
    }
    let query = sv_cloudflare::graphql::InvocationQuery {
        script_name: Some(script.to_owned()),
        since: (now - ANALYTICS_WINDOW).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // Whole seconds, rounded up: a request in the current second still counts.
        until: (now + TimeDelta::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        by_version: false,
        limit: 100,
    };
    match client.graphql().worker_invocations(&query).await {
        Ok(groups) => {
            let requests: u64 = groups.iter().map(|g| g.sum.requests).sum();
            let errors: u64 = groups.iter().map(|g| g.sum.errors).sum();
            out = out.with_metric("requests", requests as f64);
            if requests > 0 {
                let rate = errors as f64 * 100.0 / requests as f64;
                out = out.with_metric("error_rate", (rate * 100.0).round() / 100.0);
            }
        }
        Err(e) => {
            out.status = sv_checks::Status::Degraded;
            out.errors
                .push(format!("analytics unavailable (error rate unknown): {e}"));
        }
    }
    out
}
