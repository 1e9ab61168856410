//! Restoring Worker scripts. What a backup holds of them (the code as stored, and
//! `worker.json`: [`WorkerDoc`], secret values never included) is written by sv-snapshot.
//!
//! Restoring uploads the code again as a new deployment, with bindings pointed at the target
//! environment's resources, secrets inherited from the live Worker when it has them (else
//! reported: they must be set again), then the cron triggers.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use sv_cloudflare::workers::{Binding, Module, UploadMetadata, WorkerUpload};
use sv_snapshot::worker::WorkerDoc;

/// Largest script content read into memory on restore (Workers allow 10 MB compressed).
pub const MAX_CONTENT_BYTES: u64 = 64 * 1024 * 1024;

/// The modules of stored content: one part per module when it is multipart, else the
/// single script. Returns the modules and whether it is a service-worker script.
pub fn modules(
    content_type: &str,
    entrypoint: Option<&str>,
    body: Bytes,
) -> anyhow::Result<(Vec<Module>, bool)> {
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("multipart/form-data") {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .map(|b| b.trim_matches('"').to_owned())
            .ok_or_else(|| anyhow::anyhow!("multipart content without a boundary"))?;
        return Ok((multipart(&body, &boundary)?, false));
    }
    let service_worker = lower.starts_with("application/javascript") && !lower.contains("module");
    let name = entrypoint.unwrap_or("worker.js").to_owned();
    Ok((
        vec![Module {
            name,
            content_type: content_type.to_owned(),
            content: body,
        }],
        service_worker,
    ))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn multipart(body: &[u8], boundary: &str) -> anyhow::Result<Vec<Module>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut out = Vec::new();
    let mut at = find(body, &delimiter, 0)
        .ok_or_else(|| anyhow::anyhow!("multipart content without its boundary"))?;
    loop {
        let start = at + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            break;
        }
        let headers_start = start + 2; // CRLF
        let headers_end = find(body, b"\r\n\r\n", headers_start)
            .ok_or_else(|| anyhow::anyhow!("a multipart part without headers"))?;
        let next = find(body, &delimiter, headers_end)
            .ok_or_else(|| anyhow::anyhow!("a multipart part without an end"))?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let mut content_end = next;
        if body.get(next.saturating_sub(2)..next) == Some(b"\r\n") {
            content_end = next - 2;
        }
        let mut name = None;
        let mut content_type = "application/octet-stream".to_owned();
        for line in headers.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                name = line
                    .split(';')
                    .filter_map(|p| p.trim().strip_prefix("name="))
                    .next()
                    .map(|n| n.trim_matches('"').to_owned());
            } else if lower.starts_with("content-type:") {
                content_type = line["content-type:".len()..].trim().to_owned();
            }
        }
        let name = name.ok_or_else(|| anyhow::anyhow!("a multipart part without a name"))?;
        out.push(Module {
            name,
            content_type,
            content: Bytes::copy_from_slice(&body[headers_end + 4..content_end]),
        });
        at = next;
    }
    Ok(out)
}

/// Binding values to replace: (`kv_namespace`|`d1`|`r2_bucket`, source value) → target value.
pub type BindingMap = BTreeMap<(String, String), String>;

/// What an upload needs beyond the code.
pub struct Prepared {
    pub upload: WorkerUpload,
    /// Secrets the Worker had that the target will lack.
    pub missing_secrets: Vec<String>,
}

/// Builds the upload: modules, compatibility and settings from the backup, bindings
/// re-pointed through `map`, secrets inherited when `live_secrets` has them.
pub fn upload(
    doc: &WorkerDoc,
    modules: Vec<Module>,
    service_worker: bool,
    entrypoint: Option<&str>,
    map: &BindingMap,
    live_secrets: &BTreeSet<String>,
) -> Prepared {
    let s = &doc.settings;
    let main = entrypoint
        .map(str::to_owned)
        .or_else(|| modules.first().map(|m| m.name.clone()))
        .unwrap_or_default();
    let mut metadata = UploadMetadata {
        compatibility_date: s
            .get("compatibility_date")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        compatibility_flags: s
            .get("compatibility_flags")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    };
    if service_worker {
        metadata.body_part = Some(main);
    } else {
        metadata.main_module = Some(main);
    }
    for key in ["placement", "limits", "usage_model", "logpush"] {
        if let Some(v) = s.get(key).filter(|v| match v {
            serde_json::Value::Null => false,
            serde_json::Value::Object(o) => !o.is_empty(),
            _ => true,
        }) {
            metadata.extra.insert(key.to_owned(), v.clone());
        }
    }
    let mut missing_secrets = Vec::new();
    let bindings: Vec<Binding> = s
        .get("bindings")
        .and_then(|b| serde_json::from_value::<Vec<Binding>>(b.clone()).ok())
        .unwrap_or_default();
    for mut b in bindings {
        if b.binding_type.contains("secret") {
            if live_secrets.contains(&b.name) {
                metadata.bindings.push(Binding::inherit(&b.name));
            } else {
                missing_secrets.push(b.name.clone());
            }
            continue;
        }
        let field = match b.binding_type.as_str() {
            "kv_namespace" => Some("namespace_id"),
            "d1" => Some("id"),
            "r2_bucket" => Some("bucket_name"),
            _ => None,
        };
        if let Some(field) = field
            && let Some(value) = b.fields.get(field).and_then(serde_json::Value::as_str)
            && let Some(to) = map.get(&(b.binding_type.clone(), value.to_owned()))
        {
            b.fields
                .insert(field.to_owned(), serde_json::Value::from(to.clone()));
        }
        metadata.bindings.push(b);
    }
    // Secrets set with `wrangler secret put` but not listed as bindings.
    for name in &doc.secrets {
        let bound = metadata.bindings.iter().any(|b| &b.name == name);
        if bound || missing_secrets.contains(name) {
            continue;
        }
        if live_secrets.contains(name) {
            metadata.bindings.push(Binding::inherit(name));
        } else {
            missing_secrets.push(name.clone());
        }
    }
    Prepared {
        upload: WorkerUpload { metadata, modules },
        missing_secrets,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sv_snapshot::worker::strip_secrets;

    use super::*;

    #[test]
    fn multipart_content_splits_into_modules() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"index.js\"; filename=\"index.js\"\r\nContent-Type: application/javascript+module\r\n\r\nexport default {}\r\n--b1\r\nContent-Disposition: form-data; name=\"lib.js\"; filename=\"lib.js\"\r\nContent-Type: application/javascript+module\r\n\r\nexport const x = 1;\n\r\n--b1--\r\n";
        let (mods, sw) = modules(
            "multipart/form-data; boundary=b1",
            Some("index.js"),
            Bytes::from_static(body),
        )
        .unwrap();
        assert!(!sw);
        assert_eq!(mods.len(), 2);
        assert_eq!(mods[0].name, "index.js");
        assert_eq!(&mods[0].content[..], b"export default {}");
        assert_eq!(&mods[1].content[..], b"export const x = 1;\n");
    }

    #[test]
    fn secrets_are_inherited_or_reported_and_ids_re_pointed() {
        let mut settings = serde_json::json!({
            "compatibility_date": "2025-01-01",
            "bindings": [
                {"type": "kv_namespace", "name": "SESSIONS", "namespace_id": "old"},
                {"type": "secret_text", "name": "API_KEY", "text": "hunter2"},
                {"type": "secret_text", "name": "OTHER"},
            ]
        });
        strip_secrets(&mut settings);
        assert!(!settings.to_string().contains("hunter2"));
        let doc = WorkerDoc {
            script: "api".into(),
            settings,
            schedules: vec![],
            secrets: vec!["API_KEY".into(), "OTHER".into(), "LOOSE".into()],
        };
        let map: BindingMap = [(("kv_namespace".into(), "old".into()), "new".into())].into();
        let live: BTreeSet<String> = ["API_KEY".to_owned()].into();
        let p = upload(
            &doc,
            vec![Module::esm("index.js", "x")],
            false,
            Some("index.js"),
            &map,
            &live,
        );
        let b = &p.upload.metadata.bindings;
        assert_eq!(b[0].fields["namespace_id"], "new");
        assert_eq!(b[1].binding_type, "inherit");
        assert_eq!(p.missing_secrets, ["OTHER", "LOOSE"]);
    }
}
