//! Progress and build logs on stderr (and `::group::` blocks in Actions). The only module
//! besides the report output that prints.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::sync::{Arc, Mutex};

use sv_actions::Runner;

/// Where progress lines and build output go.
#[derive(Debug, Clone)]
pub struct Console {
    runner: Runner,
    quiet: bool,
}

impl Console {
    pub fn new(runner: Runner, quiet: bool) -> Self {
        Self { runner, quiet }
    }

    /// The Actions runner handle.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// A progress line (not in `--quiet`).
    pub fn info(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// A warning, always shown.
    pub fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    /// A sink for one build's output. On a terminal lines are streamed as they come,
    /// prefixed with the workspace; in Actions (where parallel output would break log
    /// groups) each build's output is one `::group::` when it ends; with `--quiet` only a
    /// failing build's last lines are shown.
    pub fn build_stream(&self, workspace: &str, command: &str) -> BuildStream {
        let mode = if self.runner.is_active() {
            Mode::Group
        } else if self.quiet {
            Mode::Quiet
        } else {
            eprintln!("[{workspace}] $ {command}");
            Mode::Prefix
        };
        BuildStream {
            inner: Arc::new(Inner {
                workspace: workspace.to_owned(),
                command: command.to_owned(),
                mode,
                runner: self.runner.clone(),
                lines: Mutex::new(Vec::new()),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Prefix,
    Group,
    Quiet,
}

#[derive(Debug)]
struct Inner {
    workspace: String,
    command: String,
    mode: Mode,
    runner: Runner,
    lines: Mutex<Vec<String>>,
}

/// See [`Console::build_stream`].
#[derive(Debug, Clone)]
pub struct BuildStream {
    inner: Arc<Inner>,
}

/// Lines kept for a failing build in `--quiet`.
const QUIET_TAIL: usize = 40;

impl BuildStream {
    pub fn line(&self, line: &str) {
        match self.inner.mode {
            Mode::Prefix => eprintln!("[{}] {line}", self.inner.workspace),
            Mode::Group | Mode::Quiet => {
                if let Ok(mut lines) = self.inner.lines.lock() {
                    lines.push(line.to_owned());
                }
            }
        }
    }

    pub fn finish(&self, ok: bool) {
        let lines = self
            .inner
            .lines
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        let verdict = if ok { "ok" } else { "FAILED" };
        match self.inner.mode {
            Mode::Prefix => eprintln!("[{}] build {verdict}", self.inner.workspace),
            Mode::Group => {
                let title = format!(
                    "build {} ({verdict}): {}",
                    self.inner.workspace, self.inner.command
                );
                let group = self.inner.runner.group(&title);
                for l in &lines {
                    println!("{l}");
                }
                drop(group);
            }
            Mode::Quiet => {
                if !ok {
                    eprintln!(
                        "[{}] build FAILED: {}",
                        self.inner.workspace, self.inner.command
                    );
                    for l in lines.iter().skip(lines.len().saturating_sub(QUIET_TAIL)) {
                        eprintln!("[{}] {l}", self.inner.workspace);
                    }
                }
            }
        }
    }
}
