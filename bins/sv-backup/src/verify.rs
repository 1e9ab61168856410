//! `sv-backup verify`: reading an archive back and checking every checksum.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::SecretString;
use serde::Serialize;
use sv_archive::{Decryption, ResourceSummary};
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_report::{Render, Styles};

use crate::args::VerifyArgs;

/// The variable that may hold the identity (key-file text) instead of `--identity`.
pub const IDENTITY_VAR: &str = "SV_BACKUP_IDENTITY";

/// The identity from `--identity` or `SV_BACKUP_IDENTITY` (masked in Actions first).
pub(crate) fn decryption(identity: Option<&Path>) -> anyhow::Result<Option<Decryption>> {
    if let Some(path) = identity {
        return Ok(Some(
            Decryption::identity_file(path).map_err(InputError::new)?,
        ));
    }
    match std::env::var(IDENTITY_VAR) {
        Ok(text) if !text.trim().is_empty() => {
            let runner = sv_cli::context::runner();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                runner.mask(line.trim())?;
            }
            let secret = SecretString::from(text);
            Ok(Some(
                Decryption::identities_text(&secret, IDENTITY_VAR).map_err(InputError::new)?,
            ))
        }
        _ => Ok(None),
    }
}

/// Errors that mean the input is bad (wrong key, tampered, not a backup): exit 2.
fn classify(e: sv_archive::Error) -> anyhow::Error {
    use sv_archive::Error as E;
    match e {
        E::Io { .. } | E::Pipeline(_) => anyhow::Error::new(e),
        e => InputError::new(e).into(),
    }
}

/// What `verify` found.
#[derive(Debug, Serialize)]
pub struct VerifyOutcome {
    pub archive: String,
    pub environment: String,
    pub created_at: String,
    pub tool_version: String,
    pub entries: u64,
    pub bytes: u64,
    pub resources: BTreeMap<String, ResourceSummary>,
}

impl Render for VerifyOutcome {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} {}: environment {}, created {} by sv-backup {}\n  {} entries, {} bytes; every checksum matches\n",
            styles.bold("Verified"),
            self.archive,
            self.environment,
            self.created_at,
            self.tool_version,
            self.entries,
            self.bytes
        );
        for (resource, s) in &self.resources {
            out.push_str(&format!(
                "  {resource}: {} entries, {} bytes{}\n",
                s.entries,
                s.bytes,
                s.items.map(|i| format!(", {i} items")).unwrap_or_default()
            ));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Verified `{}`\n\nEnvironment `{}`, created {}; every checksum matches.\n\n| Resource | Entries | Bytes | Items |\n|---|---:|---:|---:|\n",
            self.archive, self.environment, self.created_at
        );
        for (resource, s) in &self.resources {
            out.push_str(&format!(
                "| `{resource}` | {} | {} | {} |\n",
                s.entries,
                s.bytes,
                s.items.map(|i| i.to_string()).unwrap_or_default()
            ));
        }
        out
    }
}

/// Runs `verify`.
pub async fn run(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    let decryption = decryption(args.identity.as_deref())?.ok_or_else(|| {
        InputError::new(anyhow::anyhow!(
            "no identity: pass --identity KEYFILE or set {IDENTITY_VAR} to the key text"
        ))
    })?;
    let path = args.archive.clone();
    let report = tokio::task::spawn_blocking(move || {
        let reader = sv_archive::open(&path, &decryption)?;
        reader.verify()
    })
    .await?
    .map_err(classify)?;
    let outcome = VerifyOutcome {
        archive: args.archive.display().to_string(),
        environment: report.environment,
        created_at: report.created_at.to_rfc3339(),
        tool_version: report.tool_version,
        entries: report.entries,
        bytes: report.bytes,
        resources: report.resources,
    };
    sv_cli::context::runner().append_summary(&outcome.markdown())?;
    global.output().print(&outcome)?;
    Ok(ExitStatus::Success)
}
