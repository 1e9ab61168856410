//! The backup taken before an apply deletes or replaces a data store: exactly the D1
//! databases, KV namespaces and R2 buckets the plan destroys, read by sv-snapshot (the
//! library `sv-backup create` uses too: same archive format and entries, so
//! `sv-backup verify`/`restore` take it), encrypted to sv.yaml's
//! `backup.recipients`, written to `.sv/backups/` beside sv.yaml.

use std::path::PathBuf;

use anyhow::Context as _;
use sv_archive::Encryption;
use sv_audit::Outcome;
use sv_cli::input_error;
use sv_planner::{Action, Kind, Plan, State};
use sv_snapshot::Item;

use crate::ctx::Ctx;

/// Where the archives go, relative to sv.yaml (sv.yaml has no backup destination setting).
pub const BACKUP_DIR: &str = ".sv/backups";

/// A backup to take before applying.
pub struct Pending {
    items: Vec<Item>,
    encryption: Encryption,
    /// `d1.main, kv.cache`, for messages.
    list: String,
}

/// The data stores `plan` destroys (deleted or replaced, and existing live).
fn doomed(plan: &Plan, state: &State) -> Vec<Item> {
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .filter(|c| matches!(c.kind, Kind::D1 | Kind::Kv | Kind::R2))
        .filter(|c| c.id.is_some())
        .map(|c| Item {
            resource: c.address.to_string(),
            // The live resource about to go: its recorded name (a replace may rename).
            target: state
                .resources
                .get(&c.address)
                .map_or_else(|| c.name.clone(), |r| r.name.clone()),
            skipped: None,
        })
        .collect()
}

/// Decides before anything changes: `None` when nothing needs a backup or `--no-backup`
/// was given (recorded in the audit trail); a refusal (exit 2) when there is no recipient.
pub fn prepare(
    ctx: &Ctx,
    plan: &Plan,
    state: &State,
    operation: &str,
    no_backup: bool,
) -> anyhow::Result<Option<Pending>> {
    let items = doomed(plan, state);
    if items.is_empty() {
        return Ok(None);
    }
    let list = items
        .iter()
        .map(|i| i.resource.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if no_backup {
        crate::commands::audit(
            ctx,
            &format!("{operation}.no-backup"),
            &list,
            Outcome::Succeeded,
            Some("--no-backup: data stores deleted or replaced without a backup".into()),
        )?;
        tracing::warn!("--no-backup: {list} will be deleted or replaced without a backup");
        return Ok(None);
    }
    let recipients = ctx
        .env()
        .config
        .backup
        .as_ref()
        .map(|b| b.recipients.clone())
        .unwrap_or_default();
    if recipients.is_empty() {
        return Err(input_error(anyhow::anyhow!(
            "this {operation} deletes or replaces {list}, and sv-plan backs data stores up \
             first, but sv.yaml has no `backup.recipients` to encrypt the backup to: add an \
             age recipient (`backup: {{ recipients: [age1…] }}`) or pass --no-backup to go \
             ahead without a backup. Nothing was changed."
        )));
    }
    let encryption = Encryption::recipients(recipients.iter())
        .context("backup.recipients in sv.yaml")
        .map_err(input_error)?;
    Ok(Some(Pending {
        items,
        encryption,
        list,
    }))
}

/// Takes the backup; returns the archive's path. A failure stops the apply before any
/// change.
pub async fn take(ctx: &Ctx, pending: Pending, operation: &str) -> anyhow::Result<PathBuf> {
    let dir = ctx.config.resolve_path(std::path::Path::new(BACKUP_DIR));
    let result = sv_snapshot::create_archive(
        ctx.client()?,
        &ctx.config,
        ctx.env(),
        &pending.items,
        &dir,
        pending.encryption,
    )
    .await
    .map_err(anyhow::Error::from);
    let (outcome, detail) = match &result {
        Ok(summary) => (Outcome::Succeeded, summary.path.display().to_string()),
        Err(e) => (Outcome::Failed, format!("{e:#}")),
    };
    crate::commands::audit(
        ctx,
        &format!("{operation}.backup"),
        &pending.list,
        outcome,
        Some(detail),
    )?;
    let summary = result.with_context(|| {
        format!(
            "cannot back up {} before the {operation}; nothing was changed (--no-backup skips \
             the backup)",
            pending.list
        )
    })?;
    Ok(summary.path)
}
