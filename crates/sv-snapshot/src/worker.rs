//! Worker scripts in a backup: the code as stored (`content/v2`) in `worker/<name>/content`,
//! and `worker/<name>/worker.json` ([`WorkerDoc`]) with the settings (bindings,
//! compatibility, limits), cron triggers and the NAMES of secrets — never their values (the
//! API does not return them, and any `text` of a secret binding is dropped by
//! [`strip_secrets`] before it reaches the archive).

use serde::{Deserialize, Serialize};
use sv_archive::NewEntry;
use sv_cloudflare::Client;

use crate::archive::Sink;
use crate::error::{Error, Result};

/// `worker/<name>/worker.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerDoc {
    /// The script's name where it was backed up.
    pub script: String,
    /// `GET …/settings`, secret values removed.
    pub settings: serde_json::Value,
    /// Cron expressions.
    #[serde(default)]
    pub schedules: Vec<String>,
    /// Names of the Worker's secrets (values are never backed up).
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// Removes every field but `type` and `name` from secret bindings.
pub fn strip_secrets(settings: &mut serde_json::Value) {
    if let Some(bindings) = settings
        .get_mut("bindings")
        .and_then(serde_json::Value::as_array_mut)
    {
        for b in bindings {
            let secret = b
                .get("type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|t| t.contains("secret"));
            if secret && let Some(obj) = b.as_object_mut() {
                obj.retain(|k, _| k == "type" || k == "name");
            }
        }
    }
}

/// The Worker's code as stored, then `worker.json` (settings without secret values, cron
/// triggers, secret names). A Worker never deployed has no entries: the manifest still
/// lists the resource, so a restore can tell it was considered.
pub(crate) async fn backup_worker(
    client: &Client,
    name: &str,
    script: &str,
    sink: &mut Sink,
) -> Result<()> {
    let workers = client.workers();
    let api = |operation: &'static str| {
        move |source| Error::Api {
            operation,
            resource: format!("{script:?}"),
            source: Box::new(source),
        }
    };
    let content = match workers.download_content(script).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(api("downloading the code of Worker")(e)),
    };
    let resource = format!("worker.{name}");
    let mut entry = NewEntry::new(
        format!("worker/{name}/content"),
        resource.clone(),
        "worker-content",
    )
    .with_extra("script", script)
    .with_extra(
        "content_type",
        content
            .content_type
            .clone()
            .unwrap_or_else(|| "application/javascript+module".into()),
    );
    if let Some(e) = &content.entrypoint {
        entry = entry.with_extra("entrypoint", e.clone());
    }
    let len = content.body.len() as u64;
    sink.add(entry, Some(len), std::io::Cursor::new(content.body))
        .await?;
    let mut settings = workers
        .get_settings(script)
        .await
        .map_err(api("reading the settings of Worker"))?;
    strip_secrets(&mut settings);
    let doc = WorkerDoc {
        script: script.to_owned(),
        settings,
        schedules: workers
            .get_schedules(script)
            .await
            .map_err(api("reading the cron triggers of Worker"))?
            .into_iter()
            .map(|s| s.cron)
            .collect(),
        secrets: workers
            .list_secrets(script)
            .await
            .map_err(api("listing the secret names of Worker"))?
            .into_iter()
            .map(|s| s.name)
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|source| Error::Json {
        what: "worker.json",
        source,
    })?;
    bytes.push(b'\n');
    let len = bytes.len() as u64;
    sink.add(
        NewEntry::new(
            format!("worker/{name}/worker.json"),
            resource,
            "worker-settings",
        )
        .with_items(1)
        .with_extra("script", script),
        Some(len),
        std::io::Cursor::new(bytes),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bindings_keep_only_type_and_name() {
        let mut settings = serde_json::json!({
            "bindings": [
                {"type": "kv_namespace", "name": "SESSIONS", "namespace_id": "abc"},
                {"type": "secret_text", "name": "API_KEY", "text": "hunter2"},
            ]
        });
        strip_secrets(&mut settings);
        assert_eq!(
            settings,
            serde_json::json!({
                "bindings": [
                    {"type": "kv_namespace", "name": "SESSIONS", "namespace_id": "abc"},
                    {"type": "secret_text", "name": "API_KEY"},
                ]
            })
        );
    }
}
