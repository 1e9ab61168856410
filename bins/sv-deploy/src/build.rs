//! Ordered workspace builds: which command builds each workspace, in which wave, and running
//! them (a wave's workspaces in parallel, output streamed as it comes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;
use sv_config::Environment;
use sv_workspaces::Graph;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::console::Console;

/// One workspace's build, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildStep {
    /// Workspace id (its directory).
    pub workspace: String,
    /// Shell command, run from the app root; `None` when the workspace has nothing to build.
    pub command: Option<String>,
}

/// Builds in waves: each wave only needs earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildPlan {
    pub waves: Vec<Vec<BuildStep>>,
}

/// The result of one build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildResult {
    pub workspace: String,
    pub wave: usize,
    pub command: Option<String>,
    pub duration_ms: u64,
    pub ok: bool,
    /// Exit code when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// The package.json graph of the app at `root`, plus sv.yaml's `workspaces.<n>.depends_on`.
///
/// # Errors
/// Unreadable package.json files, sv.yaml naming a workspace package.json does not declare.
pub fn graph(root: &Path, env: &Environment) -> anyhow::Result<Graph> {
    let mut graph = sv_workspaces::read(root).map_err(sv_cli::input_error)?;
    for (key, ws) in &env.config.workspaces {
        let id = workspace_id(&graph, key, ws.path.as_deref()).map_err(sv_cli::input_error)?;
        for dep in &ws.depends_on {
            let dep_ws = env.config.workspaces.get(dep);
            let dep_id = workspace_id(&graph, dep, dep_ws.and_then(|w| w.path.as_deref()))
                .map_err(sv_cli::input_error)?;
            graph
                .add_dependency(&id, &dep_id)
                .map_err(sv_cli::input_error)?;
        }
    }
    Ok(graph)
}

/// The package.json workspace an sv.yaml `workspaces.<key>` entry means: its `path`, else
/// the key as directory, package name or last directory component.
pub fn workspace_id(
    graph: &Graph,
    key: &str,
    path: Option<&Path>,
) -> Result<String, sv_workspaces::Error> {
    let lookup = path.map_or_else(
        || key.to_owned(),
        |p| p.to_string_lossy().trim_end_matches('/').replace('\\', "/"),
    );
    graph.find(&lookup).map(|w| w.id.clone()).ok_or_else(|| {
        sv_workspaces::Error::UnknownWorkspace {
            name: format!("{key} (sv.yaml workspaces.{key})"),
            known: graph.workspaces.keys().cloned().collect(),
        }
    })
}

/// Which command builds each workspace: sv.yaml `workspaces.<n>.build`, else
/// `npm run build -w <dir>` when its package.json has a `build` script, else nothing.
///
/// # Errors
/// A dependency cycle (exit 2).
pub fn plan(graph: &Graph, env: &Environment) -> anyhow::Result<BuildPlan> {
    let mut configured: BTreeMap<String, String> = BTreeMap::new();
    for (key, ws) in &env.config.workspaces {
        if let Some(build) = &ws.build {
            let id = workspace_id(graph, key, ws.path.as_deref()).map_err(sv_cli::input_error)?;
            configured.insert(id, build.clone());
        }
    }
    let waves = graph.waves().map_err(sv_cli::input_error)?;
    Ok(BuildPlan {
        waves: waves
            .into_iter()
            .map(|wave| {
                wave.into_iter()
                    .map(|id| {
                        let command = configured.get(&id).cloned().or_else(|| {
                            graph
                                .workspaces
                                .get(&id)
                                .filter(|w| w.has_script("build"))
                                .map(|_| format!("npm run build -w {id}"))
                        });
                        BuildStep {
                            workspace: id,
                            command,
                        }
                    })
                    .collect()
            })
            .collect(),
    })
}

/// Runs the plan wave by wave, each wave's builds in parallel. Stops after the first wave
/// with a failure (its other builds finish), so nothing later runs.
pub async fn run(
    plan: &BuildPlan,
    root: &Path,
    console: &Console,
) -> anyhow::Result<Vec<BuildResult>> {
    let mut results = Vec::new();
    for (index, wave) in plan.waves.iter().enumerate() {
        let runs = wave
            .iter()
            .map(|step| run_one(step, index + 1, root.to_owned(), console));
        let wave_results = futures::future::join_all(runs).await;
        let mut failed = false;
        for r in wave_results {
            let r = r?;
            failed |= !r.ok;
            results.push(r);
        }
        if failed {
            break;
        }
    }
    Ok(results)
}

async fn run_one(
    step: &BuildStep,
    wave: usize,
    root: PathBuf,
    console: &Console,
) -> anyhow::Result<BuildResult> {
    let Some(command) = &step.command else {
        return Ok(BuildResult {
            workspace: step.workspace.clone(),
            wave,
            command: None,
            duration_ms: 0,
            ok: true,
            exit_code: None,
        });
    };
    let started = Instant::now();
    let stream = console.build_stream(&step.workspace, command);
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start `{command}` for workspace {}", step.workspace))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let pump = |reader: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        let stream = stream.clone();
        async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                stream.line(&line);
            }
        }
    };
    let (status, (), ()) =
        tokio::join!(child.wait(), pump(Box::new(stdout)), pump(Box::new(stderr)));
    let status = status.with_context(|| format!("waiting for `{command}`"))?;
    let ok = status.success();
    stream.finish(ok);
    Ok(BuildResult {
        workspace: step.workspace.clone(),
        wave,
        command: Some(command.clone()),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ok,
        exit_code: if ok { None } else { status.code() },
    })
}
