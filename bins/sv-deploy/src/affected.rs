//! `deploy --affected --since REF`: only what changed since a git ref, and what depends on
//! it. The files come from `git diff --name-only --relative REF` (committed and uncommitted
//! changes against REF) plus untracked files, run in the app root; sv-workspaces maps them
//! to workspaces and adds their dependents. The Worker is deployed when its workspace is
//! affected, Pages when the web workspace is; the builds are the affected workspaces and
//! what they need built first.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use sv_config::Environment;
use sv_workspaces::Graph;

use crate::build::{BuildPlan, workspace_id};

/// What `--affected` selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Changed files, relative to the app root.
    pub changed: Vec<String>,
    /// Affected workspace ids (changed, and their dependents).
    pub affected: BTreeSet<String>,
    /// Deploy the Worker.
    pub worker: bool,
    /// Deploy Pages.
    pub pages: bool,
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<Vec<String>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| {
            sv_cli::input_error(anyhow::anyhow!(
                "--affected needs git: cannot run `git {}`: {e}",
                args.join(" ")
            ))
        })?;
    if !out.status.success() {
        return Err(sv_cli::input_error(anyhow::anyhow!(
            "--affected: `git {}` failed in {}: {}",
            args.join(" "),
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Files changed since `since` (and untracked ones), relative to `root`.
///
/// # Errors
/// git missing, not a repository, or an unknown ref (exit 2).
pub fn changed_files(root: &Path, since: &str) -> anyhow::Result<Vec<String>> {
    // `REF^{commit}` first: an unknown ref is then an input error naming it.
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{since}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        sv_cli::input_error(anyhow::anyhow!(
            "--since {since}: not a commit in the git repository at {}",
            root.display()
        ))
    })?;
    let mut files = git(root, &["diff", "--name-only", "--relative", since, "--"])?;
    files.extend(git(
        root,
        &["ls-files", "--others", "--exclude-standard", "--", "."],
    )?);
    files.sort();
    files.dedup();
    Ok(files)
}

/// The workspace id of the first sv.yaml workspace `pick` accepts.
fn id_where(
    graph: &Graph,
    env: &Environment,
    pick: impl Fn(&sv_config::Workspace) -> bool,
) -> Option<String> {
    env.config
        .workspaces
        .iter()
        .find(|(_, ws)| pick(ws))
        .and_then(|(key, ws)| workspace_id(graph, key, ws.path.as_deref()).ok())
}

/// What `changed` means for this environment's deploy.
pub fn select(graph: &Graph, env: &Environment, changed: Vec<String>) -> Selection {
    let affected = graph.affected(&changed);
    let hit = |id: Option<String>| id.is_some_and(|id| affected.contains(&id));
    let worker = hit(id_where(graph, env, |ws| ws.wrangler.is_some()));
    let pages = hit(id_where(graph, env, |ws| {
        ws.pages.is_some() && ws.output.is_some()
    }));
    Selection {
        changed,
        affected,
        worker,
        pages,
    }
}

/// The plan restricted to the affected workspaces and what those with a build need built
/// first (a workspace with nothing to build, like SpaceVision's `tests`, pulls in nothing).
pub fn restrict(plan: BuildPlan, graph: &Graph, affected: &BTreeSet<String>) -> BuildPlan {
    let mut keep = affected.clone();
    let builds = plan
        .waves
        .iter()
        .flatten()
        .filter(|s| s.command.is_some() && affected.contains(&s.workspace));
    for step in builds {
        keep.extend(graph.dependencies_of(&step.workspace));
    }
    BuildPlan {
        waves: plan
            .waves
            .into_iter()
            .map(|wave| {
                wave.into_iter()
                    .filter(|s| keep.contains(&s.workspace))
                    .collect::<Vec<_>>()
            })
            .filter(|wave| !wave.is_empty())
            .collect(),
    }
}
