//! Release records on Cloudflare, so `history` works from any machine: each record appended
//! to `.sv/deployments/<env>.jsonl` is also written, as its own key (no read-modify-write,
//! so concurrent writers cannot lose each other's records), to the environment's first KV
//! namespace (where the deploy lock lives): `sv-deploy-record:<env>:<time>:<id>:<kind>`, the
//! time first so the keys list in order. `history --remote` merges them with the local
//! records and lists the Worker's deployments from the API beside them.

use anyhow::Context as _;
use futures::TryStreamExt as _;
use sv_cloudflare::kv::KvPutOptions;
use sv_config::Environment;

use crate::report::DeploymentRecord;

fn prefix(env: &str) -> String {
    format!("sv-deploy-record:{env}:")
}

/// The KV key of a record.
pub fn key(record: &DeploymentRecord) -> String {
    format!(
        "{}{}:{}:{}",
        prefix(&record.environment),
        record.time.format("%Y%m%dT%H%M%S%.6fZ"),
        record.id,
        record.kind
    )
}

/// Writes one record. `Ok(false)` when the environment has no KV namespace to hold it.
///
/// # Errors
/// API errors.
pub async fn publish(
    client: &sv_cloudflare::Client,
    env: &Environment,
    record: &DeploymentRecord,
) -> anyhow::Result<bool> {
    let Some((ns, title)) = crate::lock::kv_home(client, env).await? else {
        return Ok(false);
    };
    client
        .kv()
        .put_value(
            &ns,
            &key(record),
            serde_json::to_vec(record)?,
            &KvPutOptions::default(),
        )
        .await
        .with_context(|| {
            format!(
                "writing release record {} to KV namespace {title}",
                record.id
            )
        })?;
    Ok(true)
}

/// The newest `limit` records kept in KV, oldest first.
///
/// # Errors
/// API errors, a record that is not valid JSON.
pub async fn fetch(
    client: &sv_cloudflare::Client,
    env: &Environment,
    limit: usize,
) -> anyhow::Result<Vec<DeploymentRecord>> {
    let Some((ns, title)) = crate::lock::kv_home(client, env).await? else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<String> = client
        .kv()
        .list_keys(&ns, Some(&prefix(&env.name)))
        .map_ok(|k| k.name)
        .try_collect()
        .await
        .with_context(|| format!("listing release records in KV namespace {title}"))?;
    keys.sort();
    let skip = keys.len().saturating_sub(limit);
    let mut out = Vec::new();
    for k in &keys[skip..] {
        let value = match client.kv().get_value(&ns, k).await {
            Ok(v) => v,
            // Deleted between the list and the read.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {k} from {title}")),
        };
        out.push(
            serde_json::from_slice(&value.bytes)
                .with_context(|| format!("{k} in KV namespace {title} is not a release record"))?,
        );
    }
    Ok(out)
}

/// Local and KV records as one list, oldest first, each once.
pub fn merge(local: Vec<DeploymentRecord>, remote: Vec<DeploymentRecord>) -> Vec<DeploymentRecord> {
    let mut all = local;
    for r in remote {
        if !all
            .iter()
            .any(|l| l.id == r.id && l.kind == r.kind && l.time == r.time)
        {
            all.push(r);
        }
    }
    all.sort_by_key(|r| r.time);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    fn record(id: &str, kind: &str, at: &str) -> DeploymentRecord {
        DeploymentRecord {
            id: id.into(),
            time: chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&chrono::Utc),
            environment: "staging".into(),
            kind: kind.into(),
            actor: "alice".into(),
            commit: None,
            script: None,
            version_id: None,
            previous_version_id: None,
            percent: 100,
            outcome: Outcome::Succeeded,
            reason: None,
            run_url: None,
            migrations: Vec::new(),
            pages: None,
            rollout: Vec::new(),
            forced: false,
        }
    }

    #[test]
    fn keys_sort_by_time_and_merge_keeps_each_record_once() {
        let a = record("r1", "deploy", "2026-01-01T09:00:00Z");
        let b = record("r2", "deploy", "2026-01-01T10:00:00.5Z");
        let c = record("r1", "rollback", "2026-01-01T11:00:00Z");
        assert!(key(&a) < key(&b) && key(&b) < key(&c));
        assert_eq!(
            key(&b),
            "sv-deploy-record:staging:20260101T100000.500000Z:r2:deploy"
        );
        let merged = merge(vec![c.clone(), a.clone()], vec![a.clone(), b.clone()]);
        assert_eq!(merged, vec![a, b, c]);
    }
}
