//! Reports of the commands besides the plan itself (which renders in sv-planner).

use std::fmt::Write as _;

use serde::Serialize;
use sv_infra::{ApplyReport, OpOutcome};
use sv_planner::{Address, StateResource};
use sv_report::{Render, Styles, markdown_escape};

/// The outcome of `apply`/`destroy`.
#[derive(Debug, Serialize)]
pub struct ApplyOutput {
    #[serde(flatten)]
    pub report: ApplyReport,
    /// The archive taken before data stores were deleted or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

impl Render for ApplyOutput {
    fn human(&self, s: &Styles) -> String {
        let r = &self.report;
        let mut out = String::new();
        if let Some(path) = &self.backup {
            let _ = writeln!(
                out,
                "Backed up the data stores it deletes or replaces first: {path}"
            );
        }
        for op in &r.results {
            let (mark, tail) = match &op.outcome {
                OpOutcome::Done { .. } => (s.green("done"), String::new()),
                OpOutcome::Failed { error } => (s.red("FAILED"), format!(": {error}")),
                OpOutcome::NotStarted => (s.yellow("not started"), String::new()),
                OpOutcome::Deferred { worker } => (
                    s.yellow("deferred"),
                    format!(": Worker `{worker}` is not deployed yet"),
                ),
            };
            let _ = writeln!(
                out,
                "wave {} {} {} ({}) {mark}{tail}",
                op.wave,
                op.action.symbol(),
                op.address,
                op.action.verb()
            );
        }
        let c = r.counts();
        let verdict = if r.succeeded {
            s.green("Apply complete")
        } else {
            s.red("Apply failed")
        };
        let _ = writeln!(
            out,
            "{verdict}: {} done, {} failed, {} not started{}; state serial {}.",
            c.done,
            c.failed,
            c.not_started,
            deferred_count(c.deferred),
            r.state_serial
        );
        if let Some(note) = deferred_note(r) {
            let _ = writeln!(out, "{note}");
        }
        if !r.succeeded {
            let _ = writeln!(
                out,
                "Everything marked done is recorded in state: fix the cause and run apply again to converge."
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let r = &self.report;
        let c = r.counts();
        let backup = self
            .backup
            .as_ref()
            .map(|p| format!("Backed up the data stores it deletes or replaces first: `{p}`\n\n"))
            .unwrap_or_default();
        let mut out = format!(
            "### sv-plan apply: `{}` {}\n\n{backup}{} done, {} failed, {} not started{} (state serial {}).\n\n{}| wave | action | address | result |\n|---|---|---|---|\n",
            markdown_escape(&r.environment),
            if r.succeeded { "succeeded" } else { "failed" },
            c.done,
            c.failed,
            c.not_started,
            deferred_count(c.deferred),
            r.state_serial,
            deferred_note(r)
                .map(|n| format!("{n}\n\n"))
                .unwrap_or_default(),
        );
        for op in &r.results {
            let result = match &op.outcome {
                OpOutcome::Done { .. } => "done".to_owned(),
                OpOutcome::Failed { error } => format!("failed: {}", markdown_escape(error)),
                OpOutcome::NotStarted => "not started".to_owned(),
                OpOutcome::Deferred { worker } => {
                    format!("deferred: Worker `{worker}` is not deployed yet")
                }
            };
            let _ = writeln!(
                out,
                "| {} | {:?} | `{}` | {result} |",
                op.wave, op.action, op.address
            );
        }
        out
    }
}

/// `, N deferred` when any operation was.
fn deferred_count(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} deferred")
    }
}

/// What happens to deferred operations, when there are any.
fn deferred_note(r: &ApplyReport) -> Option<String> {
    let workers: Vec<String> = r.waiting_for().iter().map(|w| format!("`{w}`")).collect();
    (!workers.is_empty()).then(|| {
        format!(
            "Deferred until the Worker {} is deployed: `sv-deploy deploy` creates them right \
             after its first upload (or run apply again once it exists).",
            workers.join(", ")
        )
    })
}

/// `state list`.
#[derive(Debug, Serialize)]
pub struct StateList {
    pub environment: String,
    pub serial: u64,
    pub resources: Vec<StateEntry>,
}

#[derive(Debug, Serialize)]
pub struct StateEntry {
    pub address: Address,
    pub id: String,
    pub name: String,
}

impl Render for StateList {
    fn human(&self, _s: &Styles) -> String {
        let mut out = String::new();
        for r in &self.resources {
            let _ = writeln!(out, "{}\t{}\t{}", r.address, r.id, r.name);
        }
        if self.resources.is_empty() {
            let _ = writeln!(out, "No resources are managed in `{}`.", self.environment);
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### State of `{}` (serial {})\n\n| address | id | name |\n|---|---|---|\n",
            markdown_escape(&self.environment),
            self.serial
        );
        for r in &self.resources {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} |",
                r.address,
                r.id,
                markdown_escape(&r.name)
            );
        }
        out
    }
}

/// `state show`.
#[derive(Debug, Serialize)]
pub struct StateShow {
    pub address: Address,
    #[serde(flatten)]
    pub resource: StateResource,
}

impl Render for StateShow {
    fn human(&self, _s: &Styles) -> String {
        let mut out = format!(
            "{}\n  id   = {}\n  name = {}\n",
            self.address, self.resource.id, self.resource.name
        );
        for (k, v) in &self.resource.attributes {
            let _ = writeln!(out, "  {k} = {v}");
        }
        if !self.resource.depends_on.is_empty() {
            let deps: Vec<String> = self
                .resource
                .depends_on
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = writeln!(out, "  depends_on = [{}]", deps.join(", "));
        }
        out
    }

    fn markdown(&self) -> String {
        format!(
            "### `{}`\n\n```json\n{}\n```\n",
            self.address,
            serde_json::to_string_pretty(&self.resource).unwrap_or_default()
        )
    }
}

/// A one-line result (`state rm`, `state unlock`, `import`, `refresh`).
#[derive(Debug, Serialize)]
pub struct Message {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

impl Render for Message {
    fn human(&self, _s: &Styles) -> String {
        self.message.clone()
    }

    fn markdown(&self) -> String {
        markdown_escape(&self.message)
    }
}
