//! The plan for people: terraform-like text and Markdown for PR comments and job
//! summaries. JSON is the plan's own `Serialize` form.

use std::fmt::Write as _;

use serde_json::Value;
use sv_report::{Render, Styles, code_block, details, html_escape, markdown_escape};

use crate::plan::{Action, AttributeChange, Change, Plan, RiskLevel};

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_owned(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn attribute_line(change: &AttributeChange, action: Action) -> String {
    let show = |v: &Value| {
        if change.sensitive {
            "(sensitive)".to_owned()
        } else {
            value_text(v)
        }
    };
    let mut line = if action == Action::Create {
        format!("+ {} = {}", change.name, show(&change.after))
    } else {
        format!(
            "~ {} = {} -> {}",
            change.name,
            show(&change.before),
            show(&change.after)
        )
    };
    if change.forces_replacement {
        line.push_str("   # forces replacement");
    }
    line
}

fn summary_line(plan: &Plan) -> String {
    let s = plan.summary;
    if !s.has_changes() {
        return format!(
            "No changes: `{}` matches sv.yaml ({} unchanged).",
            plan.environment, s.no_op
        );
    }
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.no_op
    )
}

fn risk_label(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::DataLoss => "DATA LOSS",
        RiskLevel::Warning => "WARNING",
        RiskLevel::Notice => "NOTICE",
    }
}

impl Render for Plan {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let title = if self.destroy { "Destroy plan" } else { "Plan" };
        let _ = writeln!(
            out,
            "{} for environment `{}` (state serial {}, config {})\n",
            s.bold(title),
            self.environment,
            self.state_serial,
            short_digest(&self.config_checksum)
        );
        for c in self.changes.iter().filter(|c| c.action != Action::NoOp) {
            let symbol = match c.action {
                Action::Create => s.green(c.action.symbol()),
                Action::Update => s.yellow(c.action.symbol()),
                Action::Replace | Action::Delete => s.red(c.action.symbol()),
                Action::NoOp => String::new(),
            };
            let _ = writeln!(
                out,
                "{symbol:>3} {} ({} `{}`) will be {}",
                s.bold(&c.address.to_string()),
                c.kind.label(),
                c.name,
                c.action.verb()
            );
            for a in &c.changes {
                let _ = writeln!(out, "      {}", attribute_line(a, c.action));
            }
        }
        if !self.drift.is_empty() {
            let _ = writeln!(
                out,
                "\n{}",
                s.yellow("Drift (changed outside sv since the last apply):")
            );
            for d in &self.drift {
                if d.deleted {
                    let _ = writeln!(out, "  - {}: deleted outside sv", d.address);
                }
                for a in &d.changes {
                    let _ = writeln!(
                        out,
                        "  ~ {}: {} was {}, now {}",
                        d.address,
                        a.name,
                        if a.sensitive {
                            "(sensitive)".into()
                        } else {
                            value_text(&a.before)
                        },
                        if a.sensitive {
                            "(sensitive)".into()
                        } else {
                            value_text(&a.after)
                        }
                    );
                }
            }
        }
        if !self.risks.is_empty() {
            let _ = writeln!(out, "\n{}", s.red("Risks:"));
            for r in &self.risks {
                let label = risk_label(r.level);
                let label = if r.level == RiskLevel::DataLoss {
                    s.red(label)
                } else {
                    s.yellow(label)
                };
                let _ = writeln!(out, "  ! {label} {}: {}", r.address, r.message);
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nNote: {note}");
        }
        if self.waves.len() > 1 {
            let _ = writeln!(out, "\nOrder:");
            for (i, wave) in self.waves.iter().enumerate() {
                let names: Vec<String> = wave.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "  {}. {}", i + 1, names.join(", "));
            }
        }
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", s.bold(&summary_line(self)));
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let title = if self.destroy {
            "sv-plan destroy"
        } else {
            "sv-plan"
        };
        let _ = writeln!(
            out,
            "### {title} · `{}`\n",
            markdown_escape(&self.environment)
        );
        let _ = writeln!(out, "**{}**\n", summary_line(self));

        let data_loss: Vec<_> = self
            .risks
            .iter()
            .filter(|r| r.level == RiskLevel::DataLoss)
            .collect();
        let other: Vec<_> = self
            .risks
            .iter()
            .filter(|r| r.level != RiskLevel::DataLoss)
            .collect();
        if !data_loss.is_empty() {
            let _ = writeln!(out, "> [!CAUTION]\n> **This plan deletes data.**");
            for r in &data_loss {
                let _ = writeln!(out, "> - `{}`: {}", r.address, markdown_escape(&r.message));
            }
            out.push('\n');
        }
        if !other.is_empty() {
            let _ = writeln!(out, "> [!WARNING]");
            for r in &other {
                let _ = writeln!(out, "> - `{}`: {}", r.address, markdown_escape(&r.message));
            }
            out.push('\n');
        }
        if !self.drift.is_empty() {
            let _ = writeln!(
                out,
                "> [!NOTE]\n> **Drift:** {} resource(s) changed outside sv since the last apply:",
                self.drift.len()
            );
            for d in &self.drift {
                let what = if d.deleted {
                    "deleted".to_owned()
                } else {
                    d.changes
                        .iter()
                        .map(|a| format!("`{}`", markdown_escape(&a.name)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(out, "> - `{}`: {what}", d.address);
            }
            out.push('\n');
        }
        for note in &self.notes {
            let _ = writeln!(out, "> [!NOTE]\n> {}\n", markdown_escape(note));
        }

        let active: Vec<&Change> = self
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .collect();
        if !active.is_empty() {
            out.push_str("| | Resource | Kind | Name | Action |\n|---|---|---|---|---|\n");
            for c in &active {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | {} |",
                    emoji(c.action),
                    c.address,
                    c.kind.label(),
                    markdown_escape(&c.name),
                    c.action.verb()
                );
            }
            out.push('\n');
            for c in &active {
                let body: Vec<String> = c
                    .changes
                    .iter()
                    .map(|a| attribute_line(a, c.action))
                    .collect();
                let body = if body.is_empty() {
                    let id =
                        c.id.as_deref()
                            .map(|id| format!(" (id {id})"))
                            .unwrap_or_default();
                    format!("- {} `{}`{id}", c.kind.label(), c.name)
                } else {
                    diff_lines(&body.join("\n"), c.action)
                };
                out.push_str(&details(
                    &format!("{} {} — {}", c.action.symbol(), c.address, c.action.verb()),
                    &code_block("diff", &body),
                ));
            }
            out.push('\n');
        }
        if self.waves.len() > 1 {
            out.push_str(&details(
                "Execution order (dependency waves)",
                &mermaid(self),
            ));
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "<sub>state serial {} · config {} · planned {}</sub>",
            self.state_serial,
            html_escape(&short_digest(&self.config_checksum)),
            self.created_at.format("%Y-%m-%d %H:%M UTC")
        );
        out
    }
}

/// Marks attribute lines so GitHub's `diff` highlighting colours them: `+` for new
/// resources, `!` for changes.
fn diff_lines(body: &str, action: Action) -> String {
    let sign = if action == Action::Create { '+' } else { '!' };
    body.lines()
        .map(|l| match l.get(2..) {
            Some(rest) if l.starts_with("+ ") || l.starts_with("~ ") => format!("{sign} {rest}"),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn emoji(action: Action) -> &'static str {
    match action {
        Action::Create => "🟢",
        Action::Update => "🟡",
        Action::Replace => "🟠",
        Action::Delete => "🔴",
        Action::NoOp => "⚪",
    }
}

fn mermaid(plan: &Plan) -> String {
    let mut ids = std::collections::BTreeMap::new();
    let mut body = String::from("graph LR\n");
    for (w, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(body, "  subgraph wave{} [\"Wave {}\"]", w + 1, w + 1);
        for address in wave {
            let id = format!("n{}", ids.len());
            let label = address.to_string().replace('"', "#quot;");
            let action = plan.change(address).map_or("", |c| c.action.symbol());
            let _ = writeln!(body, "    {id}[\"{action} {label}\"]");
            ids.insert(address.clone(), id);
        }
        body.push_str("  end\n");
    }
    for c in &plan.changes {
        let Some(to) = ids.get(&c.address) else {
            continue;
        };
        for dep in &c.depends_on {
            if let Some(from) = ids.get(dep) {
                let _ = writeln!(body, "  {from} --> {to}");
            }
        }
    }
    code_block("mermaid", &body)
}

fn short_digest(d: &str) -> String {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}
