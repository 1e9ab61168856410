//! `sv-onboard dev`: every workspace's dev process, started in dependency order, their logs
//! in one terminal (each line prefixed with its workspace), a status table at start, on
//! every change and at the end; workspaces that others depend on (`shared/`) are watched
//! and, when a file changes, rebuilt together with every workspace depending on them (the
//! dev servers then hot-reload the rebuilt output). Ctrl-C stops everything it started:
//! each service runs in its own process group, which gets SIGTERM, then SIGKILL after 5 s.
//!
//! The dev command of a workspace is `workspaces.<name>.dev` in sv.yaml, else its
//! package.json `dev` script (`npm run dev -w <dir>`); its build command likewise `build`.
//! Commands run with `sh -c` from the app root, with `SV_ENV` and `SV_DEVELOPER` set.
//!
//! Watching polls file modification times (every `--poll-ms`), skipping `node_modules`,
//! `dist` and `.wrangler`: no extra dependency, and good enough for a source tree.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Args;
use sv_cli::{ExitStatus, GlobalArgs, input_error};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::mpsc;

use crate::ctx::Ctx;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Developer whose environment the services use [default: SV_DEVELOPER, else the only one set up]
    #[arg(long, env = "SV_DEVELOPER", value_name = "NAME")]
    pub developer: Option<String>,
    /// Do not watch shared workspaces for changes
    #[arg(long)]
    pub no_watch: bool,
    /// How often to look for changed files, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub poll_ms: u64,
}

struct Service {
    id: String,
    child: Option<tokio::process::Child>,
    pid: Option<u32>,
    status: String,
    last_line: String,
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the services from being cleaned up.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn signal_group(pid: u32, signal: &str) {
    // The group of a service is its pid (process_group(0)); `kill -SIG -PGID` reaches
    // everything it started (npm → node → …).
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".to_owned(), format!("-{pid}")])
        .stderr(std::process::Stdio::null())
        .status();
}

fn files_of(dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if matches!(name.as_ref(), "node_modules" | "dist" | ".wrangler")
            || name.starts_with(".sv-tmp")
        {
            continue;
        }
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_of(&p, out),
            Ok(t) if t.is_file() => {
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    out.insert(p, m);
                }
            }
            _ => {}
        }
    }
}

/// The command `dev` runs for a workspace's `dev` or `build`: sv.yaml's
/// `workspaces.<id>.dev`/`build`, else the package.json script through npm. `guide` shows
/// the same.
pub fn command_for(
    config: &sv_config::LoadedConfig,
    graph: &sv_workspaces::Graph,
    id: &str,
    script: &str,
) -> Option<String> {
    let sv = config.config.workspaces.get(id);
    let configured = match script {
        "dev" => sv.and_then(|w| w.dev.clone()),
        _ => sv.and_then(|w| w.build.clone()),
    };
    configured.or_else(|| {
        graph
            .find(id)
            .filter(|w| w.has_script(script))
            .map(|w| format!("npm run {script} -w {}", w.id))
    })
}

fn table(services: &[Service]) -> String {
    let mut out = String::from("  service      pid      status        last log line\n");
    for s in services {
        out.push_str(&format!(
            "  {:<12} {:<8} {:<13} {}\n",
            s.id,
            s.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            s.status,
            s.last_line.chars().take(60).collect::<String>()
        ));
    }
    out
}

fn spawn(
    root: &Path,
    id: &str,
    command: &str,
    env: &[(String, String)],
    tx: &mpsc::UnboundedSender<(String, String)>,
) -> anyhow::Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{command}` for {id}"))?;
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send((id.clone(), line)).is_err() {
                    break;
                }
            }
        });
    }
    Ok(child)
}

/// Runs `command` to completion, its output as log lines of `label`; true on success.
async fn run_to_end(root: &Path, label: &str, command: &str, env: &[(String, String)]) -> bool {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(o) => {
            for l in String::from_utf8_lossy(&o.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&o.stderr).lines())
            {
                say(&format!("[{label}] {l}"));
            }
            o.status.success()
        }
        Err(e) => {
            say(&format!("[{label}] cannot run `{command}`: {e}"));
            false
        }
    }
}

pub async fn run(global: &GlobalArgs, args: DevArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::local(global)?;
    let root = match ctx.root() {
        r if r.as_os_str().is_empty() => PathBuf::from("."),
        r => r,
    };
    let developer = crate::reset::pick_developer(&ctx, args.developer).ok();
    let env_name = developer.as_ref().map(|d| format!("dev-{d}"));
    let mut env: Vec<(String, String)> = Vec::new();
    if let (Some(d), Some(e)) = (&developer, &env_name) {
        env.push(("SV_DEVELOPER".into(), d.clone()));
        env.push(("SV_ENV".into(), e.clone()));
    }

    let mut graph = sv_workspaces::read(&root).map_err(input_error)?;
    for (name, ws) in &ctx.config.config.workspaces {
        for d in &ws.depends_on {
            graph.add_dependency(name, d).map_err(input_error)?;
        }
    }
    let waves = graph.waves().map_err(input_error)?;
    let command_of = |id: &str, script: &str| command_for(&ctx.config, &graph, id, script);

    let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
    let mut services: Vec<Service> = Vec::new();
    say(&format!(
        "sv-onboard dev{}: starting services in dependency order (Ctrl-C stops everything)",
        env_name
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    ));
    for (i, wave) in waves.iter().enumerate() {
        for id in wave {
            let Some(command) = command_of(id, "dev") else {
                continue;
            };
            say(&format!("wave {}: starting {id}: {command}", i + 1));
            let child = spawn(&root, id, &command, &env, &tx)?;
            services.push(Service {
                id: id.clone(),
                pid: child.id(),
                child: Some(child),
                status: "running".into(),
                last_line: String::new(),
            });
        }
    }
    if services.is_empty() {
        return Err(input_error(anyhow::anyhow!(
            "no workspace has a dev command: set `workspaces.<name>.dev` in sv.yaml or a `dev` script in the workspace's package.json"
        )));
    }
    say(&table(&services));

    // Watched: workspaces something else depends on.
    let mut watched: BTreeMap<String, BTreeMap<PathBuf, SystemTime>> = BTreeMap::new();
    if !args.no_watch {
        for ws in graph.workspaces.values() {
            if graph
                .workspaces
                .values()
                .any(|o| o.depends_on.contains(&ws.id))
            {
                let mut files = BTreeMap::new();
                files_of(&root.join(&ws.id), &mut files);
                watched.insert(ws.id.clone(), files);
            }
        }
        if !watched.is_empty() {
            say(&format!(
                "watching {} for changes",
                watched
                    .keys()
                    .map(|k| format!("{k}/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    let mut tick = tokio::time::interval(Duration::from_millis(args.poll_ms.max(50)));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                interrupted = true;
                break;
            }
            Some((id, line)) = rx.recv() => {
                say(&format!("[{id}] {line}"));
                if let Some(s) = services.iter_mut().find(|s| s.id == id) {
                    s.last_line = line;
                }
            }
            _ = tick.tick() => {
                let mut changed_status = false;
                for s in &mut services {
                    if let Some(child) = &mut s.child
                        && let Ok(Some(code)) = child.try_wait()
                    {
                        s.status = format!("exited {}", code.code().map_or_else(|| "by signal".to_owned(), |c| c.to_string()));
                        s.child = None;
                        changed_status = true;
                    }
                }
                if changed_status {
                    say(&table(&services));
                }
                if services.iter().all(|s| s.child.is_none()) {
                    say("every service has exited");
                    break;
                }
                let mut changed: Vec<String> = Vec::new();
                for (id, files) in &mut watched {
                    let mut now = BTreeMap::new();
                    files_of(&root.join(id.as_str()), &mut now);
                    if now != *files {
                        *files = now;
                        changed.push(id.clone());
                    }
                }
                if !changed.is_empty() {
                    rebuild(&root, &graph, &waves, &changed, &env, &command_of).await;
                }
            }
        }
    }
    stop(&mut services).await;
    // Lines still queued from the services' last moments.
    while let Ok((id, line)) = rx.try_recv() {
        say(&format!("[{id}] {line}"));
    }
    say(&format!(
        "{}: stopped everything it started",
        if interrupted { "interrupted" } else { "done" }
    ));
    say(&table(&services));
    Ok(ExitStatus::Success)
}

/// Rebuilds the changed workspaces and everything that depends on them, in build order.
async fn rebuild(
    root: &Path,
    graph: &sv_workspaces::Graph,
    waves: &[Vec<String>],
    changed: &[String],
    env: &[(String, String)],
    command_of: &dyn Fn(&str, &str) -> Option<String>,
) {
    let mut affected: BTreeSet<String> = changed.iter().cloned().collect();
    loop {
        let more: Vec<String> = graph
            .workspaces
            .values()
            .filter(|w| {
                !affected.contains(&w.id) && w.depends_on.iter().any(|d| affected.contains(d))
            })
            .map(|w| w.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        affected.extend(more);
    }
    say(&format!(
        "change in {}: rebuilding {}",
        changed.join(", "),
        affected.iter().cloned().collect::<Vec<_>>().join(", ")
    ));
    for id in waves.iter().flatten().filter(|id| affected.contains(*id)) {
        let Some(build) = command_of(id, "build") else {
            continue;
        };
        if !run_to_end(root, &format!("build {id}"), &build, env).await {
            say(&format!(
                "build of {id} failed: dependents keep their previous build"
            ));
            break;
        }
    }
}

async fn stop(services: &mut [Service]) {
    for s in services.iter() {
        if let (Some(_), Some(pid)) = (&s.child, s.pid) {
            signal_group(pid, "TERM");
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for s in services.iter_mut() {
        let Some(child) = &mut s.child else {
            continue;
        };
        match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(Ok(_)) => s.status = "stopped".into(),
            _ => {
                if let Some(pid) = s.pid {
                    signal_group(pid, "KILL");
                }
                let _ = child.wait().await;
                s.status = "killed".into();
            }
        }
        // Anything left in its group (a grandchild that ignored TERM).
        if let Some(pid) = s.pid {
            signal_group(pid, "KILL");
        }
        s.child = None;
    }
}
