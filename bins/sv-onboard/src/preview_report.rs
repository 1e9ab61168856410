//! What the preview commands print (human, Markdown, JSON) and the sticky PR comment.

use std::fmt::Write as _;

use serde::Serialize;
use sv_config::Environment;
use sv_planner::Action;
use sv_report::{Render, Styles, details, markdown_escape};

use crate::branch::BranchReport;

/// One resource of the preview and what happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceLine {
    pub address: String,
    pub name: String,
    pub action: Action,
}

/// Data put into (or planned for) a data store.
#[derive(Debug, Clone, Serialize)]
pub struct DataStep {
    pub address: String,
    pub name: String,
    pub what: String,
    /// Something was written.
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<BranchReport>,
}

impl DataStep {
    pub fn planned(address: &str, name: &str, what: String) -> Self {
        Self {
            address: address.to_owned(),
            name: name.to_owned(),
            what,
            changed: false,
            branch: None,
        }
    }

    pub fn done(address: &str, name: &str, what: String) -> Self {
        Self {
            changed: true,
            ..Self::planned(address, name, what)
        }
    }

    /// Left as it was (it already holds data).
    pub fn kept(address: &str, name: &str, what: &str) -> Self {
        Self::planned(address, name, format!("kept: {what}"))
    }

    pub fn branched(address: &str, name: &str, from: &str, report: BranchReport) -> Self {
        let copied: u64 = report.tables.iter().map(|t| t.copied).sum();
        let masked: usize = report.tables.iter().map(|t| t.masked.len()).sum();
        let schema = if report.schema_copied {
            ", schema created from it"
        } else {
            ""
        };
        Self {
            address: address.to_owned(),
            name: name.to_owned(),
            what: format!(
                "branched from `{from}` ({}): {copied} row(s) in {} table(s), {masked} column(s) masked{schema}",
                report.source,
                report.tables.len()
            ),
            changed: true,
            branch: Some(report),
        }
    }
}

/// The result of `preview create` or `preview destroy`.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewReport {
    pub pr: u64,
    pub environment: String,
    pub prefix: String,
    /// `create` or `destroy`.
    pub operation: String,
    pub dry_run: bool,
    /// Anything was (or, in a dry run, would be) changed.
    pub changed: bool,
    /// Resources found live and recorded in state before planning.
    pub adopted: Vec<String>,
    pub resources: Vec<ResourceLine>,
    pub data: Vec<DataStep>,
    /// The preview's Worker scripts (deployed by `sv-deploy deploy --env pr-N`).
    pub workers: Vec<String>,
    /// workers.dev URLs of the Workers.
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Operations that failed, `address: error`.
    pub errors: Vec<String>,
}

impl PreviewReport {
    pub fn new(env: &Environment, pr: u64, dry_run: bool, operation: &str) -> Self {
        Self {
            pr,
            environment: env.name.clone(),
            prefix: env.prefix.clone(),
            operation: operation.to_owned(),
            dry_run,
            changed: false,
            adopted: Vec::new(),
            resources: Vec::new(),
            data: Vec::new(),
            workers: Vec::new(),
            urls: Vec::new(),
            failed: None,
            errors: Vec::new(),
        }
    }

    fn headline(&self) -> String {
        let env = &self.environment;
        let pr = self.pr;
        match (self.operation.as_str(), self.dry_run, self.changed) {
            (_, _, _) if self.failed.is_some() => {
                format!(
                    "Preview {env} (pull request #{pr}): {} failed",
                    self.operation
                )
            }
            ("create", true, true) => {
                format!("Preview {env} (pull request #{pr}) would be created or updated")
            }
            ("create", true, false) => {
                format!("Preview {env} (pull request #{pr}) is up to date: nothing would change")
            }
            ("create", false, true) => format!("Preview {env} (pull request #{pr}) is ready"),
            ("create", false, false) => {
                format!("Preview {env} (pull request #{pr}) is up to date: nothing changed")
            }
            (_, true, true) => format!("Preview {env} (pull request #{pr}) would be deleted"),
            (_, true, false) | (_, false, false) => {
                format!("Preview {env} (pull request #{pr}) does not exist: nothing to delete")
            }
            (_, false, true) => format!("Preview {env} (pull request #{pr}) is deleted"),
        }
    }
}

fn action_word(action: Action, dry_run: bool) -> &'static str {
    match (action, dry_run) {
        (Action::Create, false) => "created",
        (Action::Create, true) => "create",
        (Action::Update, false) => "updated",
        (Action::Update, true) => "update",
        (Action::Replace, false) => "replaced",
        (Action::Replace, true) => "replace",
        (Action::Delete, false) => "deleted",
        (Action::Delete, true) => "delete",
        (Action::NoOp, _) => "unchanged",
    }
}

impl Render for PreviewReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let headline = self.headline();
        let _ = writeln!(
            out,
            "{}",
            if self.failed.is_some() {
                s.red(&headline)
            } else {
                s.bold(&headline)
            }
        );
        let _ = writeln!(out, "  prefix {}", self.prefix);
        if !self.adopted.is_empty() {
            let _ = writeln!(
                out,
                "  found from an earlier run: {}",
                self.adopted.join(", ")
            );
        }
        for r in &self.resources {
            let _ = writeln!(
                out,
                "  {} {:<22} {:<28} {}",
                r.action.symbol(),
                r.address,
                r.name,
                action_word(r.action, self.dry_run)
            );
        }
        for d in &self.data {
            let _ = writeln!(out, "  data {:<17} {}", d.address, d.what);
            if let Some(b) = &d.branch {
                for t in &b.tables {
                    let masked = if t.masked.is_empty() {
                        String::new()
                    } else {
                        format!(", masked: {}", t.masked.join(", "))
                    };
                    let skipped = t
                        .skipped
                        .as_ref()
                        .map(|w| format!(" (skipped: {w})"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "       {:<17} {}/{} row(s){masked}{skipped}",
                        t.table, t.copied, t.source_rows
                    );
                }
            }
        }
        for e in &self.errors {
            let _ = writeln!(out, "  {} {e}", s.red("error"));
        }
        if let Some(f) = &self.failed {
            let _ = writeln!(out, "{}", s.red(f));
        }
        if self.operation == "create" && self.failed.is_none() {
            for u in &self.urls {
                let _ = writeln!(out, "  url {u}");
            }
            if !self.workers.is_empty() {
                let _ = writeln!(
                    out,
                    "Deploy it with `sv-deploy deploy --env {}` (Worker{}: {}).",
                    self.environment,
                    if self.workers.len() == 1 { "" } else { "s" },
                    self.workers.join(", ")
                );
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", markdown_escape(&self.headline()));
        if !self.resources.is_empty() {
            out.push_str("| resource | name | |\n|---|---|---|\n");
            for r in &self.resources {
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} |",
                    r.address.replace('`', "'"),
                    r.name.replace('`', "'"),
                    action_word(r.action, self.dry_run)
                );
            }
            out.push('\n');
        }
        for d in &self.data {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                d.address.replace('`', "'"),
                markdown_escape(&d.what)
            );
        }
        if !self.data.is_empty() {
            out.push('\n');
        }
        for e in &self.errors {
            let _ = writeln!(out, "- **error** {}", markdown_escape(e));
        }
        if let Some(f) = &self.failed {
            let _ = writeln!(out, "**{}**\n", markdown_escape(f));
        }
        for u in &self.urls {
            let _ = writeln!(out, "URL: {u}\n");
        }
        out
    }
}

/// What `preview comment` found and posted.
#[derive(Debug, Clone, Serialize)]
pub struct CommentReport {
    pub pr: u64,
    pub environment: String,
    /// The preview has resources in the account.
    pub exists: bool,
    /// Its resources' names.
    pub resources: Vec<String>,
    /// Worker script → version serving most traffic (empty when not deployed).
    pub workers: Vec<(String, String)>,
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destroyed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `created|updated|unchanged URL` once posted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posted: Option<String>,
}

/// The sticky comment's Markdown (the marker is added by sv-github).
#[must_use]
pub fn comment_body(r: &CommentReport) -> String {
    if !r.exists {
        return format!(
            "### Preview of #{} is gone\n\nThe preview environment `{}` and every resource it \
             had are deleted{}.\n",
            r.pr,
            r.environment.replace('`', "'"),
            r.destroyed_at
                .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        );
    }
    let mut out = format!("### Preview of #{}\n\n", r.pr);
    match r.urls.as_slice() {
        [] => out.push_str("Not deployed yet: no Worker URL.\n\n"),
        urls => {
            for u in urls {
                let _ = writeln!(out, "**{u}**\n");
            }
        }
    }
    out.push_str("| | |\n|---|---|\n");
    let _ = writeln!(
        out,
        "| environment | `{}` |",
        r.environment.replace('`', "'")
    );
    for (script, version) in &r.workers {
        let v = if version.is_empty() {
            "not deployed".to_owned()
        } else {
            format!("version `{}`", version.replace('`', "'"))
        };
        let _ = writeln!(out, "| worker `{}` | {v} |", script.replace('`', "'"));
    }
    if let Some(sha) = &r.sha {
        let _ = writeln!(out, "| commit | `{}` |", sha.replace('`', "'"));
    }
    out.push('\n');
    let list: String = r
        .resources
        .iter()
        .map(|n| format!("- `{}`\n", n.replace('`', "'")))
        .collect();
    out.push_str(&details(
        &format!("Resources ({})", r.resources.len()),
        &list,
    ));
    out.push_str("\nUpdated on every push; everything is deleted when the pull request closes.\n");
    out
}

impl Render for CommentReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        if self.exists {
            let _ = writeln!(
                out,
                "{}",
                s.bold(&format!(
                    "Preview {} (pull request #{}): {} resource(s)",
                    self.environment,
                    self.pr,
                    self.resources.len()
                ))
            );
            for (script, version) in &self.workers {
                let v = if version.is_empty() {
                    "not deployed"
                } else {
                    version
                };
                let _ = writeln!(out, "  worker {script}: {v}");
            }
            for u in &self.urls {
                let _ = writeln!(out, "  url {u}");
            }
        } else {
            let _ = writeln!(
                out,
                "{}",
                s.bold(&format!(
                    "Preview {} (pull request #{}) is gone",
                    self.environment, self.pr
                ))
            );
        }
        match &self.posted {
            Some(p) => {
                let _ = writeln!(out, "Comment {p}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "Comment not posted (--dry-run):\n\n{}",
                    comment_body(self)
                );
            }
        }
        out
    }

    fn markdown(&self) -> String {
        comment_body(self)
    }
}

/// `preview list`.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewList {
    pub max_previews: Option<u32>,
    /// PR number → resource names.
    pub previews: Vec<(u64, Vec<String>)>,
}

impl Render for PreviewList {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let limit = self
            .max_previews
            .map(|m| format!(" (at most {m})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}",
            s.bold(&format!("{} preview(s){limit}", self.previews.len()))
        );
        for (pr, names) in &self.previews {
            let _ = writeln!(out, "  #{pr}  {}", names.join(", "));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {} preview(s)\n\n", self.previews.len());
        if !self.previews.is_empty() {
            out.push_str("| pull request | resources |\n|---|---|\n");
            for (pr, names) in &self.previews {
                let _ = writeln!(
                    out,
                    "| #{pr} | {} |",
                    names
                        .iter()
                        .map(|n| format!("`{}`", n.replace('`', "'")))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        out
    }
}
