//! The GitHub Actions *runner protocol*: what a step tells the runner through files and
//! specially formatted lines on stdout. Step outputs (`$GITHUB_OUTPUT`), the job summary
//! (`$GITHUB_STEP_SUMMARY`), annotations (`::error file=…,line=…::`), log groups and
//! `::add-mask::`.
//!
//! This crate owns only the protocol. It does no network I/O (the REST API lives in
//! `sv-github`) and it writes only to the writer and files it is given, so every command
//! can be tested byte for byte. Outside Actions (`GITHUB_ACTIONS` is not `true`) the runner
//! is inert: outputs and summaries are dropped, annotations become plain lines.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Severity of an annotation, as the runner names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Notice,
    Warning,
    Error,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// An annotation shown on the run page and, when `file`/`line` are set, on the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Annotation {
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            title: None,
            file: None,
            line: None,
            column: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Level::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Level::Warning, message)
    }

    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Points the annotation at a file position (1-based line and column).
    pub fn at(mut self, file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// The workflow-command line, e.g. `::error file=sv.yaml,line=3,col=5::unknown field`.
    pub fn to_command(&self) -> String {
        let mut props = Vec::new();
        if let Some(title) = &self.title {
            props.push(format!("title={}", escape_property(title)));
        }
        if let Some(file) = &self.file {
            props.push(format!(
                "file={}",
                escape_property(&file.to_string_lossy().replace('\\', "/"))
            ));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        if let Some(col) = self.column {
            props.push(format!("col={col}"));
        }
        let mut out = format!("::{}", self.level.command());
        if !props.is_empty() {
            out.push(' ');
            out.push_str(&props.join(","));
        }
        out.push_str("::");
        out.push_str(&escape_data(&self.message));
        out
    }
}

/// Escapes a command's message part (`%`, CR, LF), as the runner's toolkit does.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: the data escapes plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Where workflow commands go: the process stdout in production, a buffer in tests.
pub type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// A handle on the runner. Cheap to clone; all clones write to the same places.
#[derive(Clone)]
pub struct Runner {
    active: bool,
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    commands: SharedWriter,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("active", &self.active)
            .field("output_file", &self.output_file)
            .field("summary_file", &self.summary_file)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Reads `GITHUB_ACTIONS`, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` through `lookup`
    /// (the process environment in binaries, a map in tests). Commands go to stdout.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let active = lookup("GITHUB_ACTIONS").as_deref() == Some("true");
        let path = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Self {
            active,
            output_file: path("GITHUB_OUTPUT"),
            summary_file: path("GITHUB_STEP_SUMMARY"),
            commands: Arc::new(Mutex::new(Box::new(io::stdout()))),
        }
    }

    /// A runner that is not inside Actions: every call is a no-op except plain annotations.
    pub fn inactive() -> Self {
        Self::from_env(|_| None)
    }

    /// Sends workflow commands to `writer` instead of stdout (tests, or stderr).
    pub fn with_command_writer(mut self, writer: SharedWriter) -> Self {
        self.commands = writer;
        self
    }

    /// True when running inside GitHub Actions.
    pub fn is_active(&self) -> bool {
        self.active
    }

    fn emit(&self, line: &str) -> io::Result<()> {
        let mut w = self
            .commands
            .lock()
            .map_err(|_| io::Error::other("command writer poisoned"))?;
        writeln!(w, "{line}")?;
        w.flush()
    }

    /// Sets a step output. Multi-line values use the heredoc form with a random delimiter
    /// that cannot occur in the value.
    pub fn set_output(&self, name: &str, value: &str) -> io::Result<()> {
        let Some(path) = self.output_file.as_deref().filter(|_| self.active) else {
            return Ok(());
        };
        append(path, &format_key_value(name, value))
    }

    /// Appends Markdown to the job summary (each call is separated by a blank line).
    pub fn append_summary(&self, markdown: &str) -> io::Result<()> {
        let Some(path) = self.summary_file.as_deref().filter(|_| self.active) else {
            return Ok(());
        };
        let mut text = markdown.trim_end().to_owned();
        text.push_str("\n\n");
        append(path, &text)
    }

    /// Asks the runner to mask `secret` in all later log output. Every line of a
    /// multi-line secret is masked separately, because the runner matches per line.
    /// Must be called before anything could print the value.
    pub fn mask(&self, secret: &str) -> io::Result<()> {
        if !self.active {
            return Ok(());
        }
        for line in secret.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.emit(&format!("::add-mask::{}", escape_data(line)))?;
        }
        Ok(())
    }

    /// Emits an annotation inside Actions; returns `false` outside so the caller prints
    /// the message its own way.
    pub fn annotate(&self, annotation: &Annotation) -> io::Result<bool> {
        if !self.active {
            return Ok(false);
        }
        self.emit(&annotation.to_command())?;
        Ok(true)
    }

    /// Starts a collapsible log group; it ends when the guard drops.
    pub fn group(&self, title: &str) -> io::Result<Group> {
        if self.active {
            self.emit(&format!("::group::{}", escape_data(title)))?;
        }
        Ok(Group {
            runner: self.clone(),
        })
    }
}

/// Ends its log group on drop.
#[must_use = "the group ends when this guard is dropped"]
pub struct Group {
    runner: Runner,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Group")
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.runner.active {
            // Nothing useful can be done if stdout is gone while unwinding a group.
            let _ = self.runner.emit("::endgroup::");
        }
    }
}

fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// `name=value\n`, or the heredoc form `name<<DELIM\nvalue\nDELIM\n` for multi-line values.
fn format_key_value(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let delimiter = loop {
        let candidate = format!("ghadelimiter_{:016x}", rand::random::<u64>());
        if !value.contains(&candidate) {
            break candidate;
        }
    };
    let mut out = String::new();
    let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn active_runner(dir: &Path) -> (Runner, Arc<Mutex<Vec<u8>>>) {
        let vars: HashMap<&str, String> = HashMap::from([
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_OUTPUT", dir.join("out").display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                dir.join("summary").display().to_string(),
            ),
        ]);
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer: SharedWriter = Arc::new(Mutex::new(Box::new(Buf(buf.clone()))));
        let runner = Runner::from_env(|k| vars.get(k).cloned()).with_command_writer(writer);
        (runner, buf)
    }

    #[test]
    fn annotation_escapes_message_and_properties() {
        let a = Annotation::error("bad: 100%\nsecond line")
            .title("Config, invalid")
            .at("dir/sv.yaml", 3, 7);
        assert_eq!(
            a.to_command(),
            "::error title=Config%2C invalid,file=dir/sv.yaml,line=3,col=7::bad: 100%25%0Asecond line"
        );
        assert_eq!(Annotation::warning("w").to_command(), "::warning::w");
    }

    #[test]
    fn outputs_use_heredoc_for_multiline_values() {
        let dir = tempfile::tempdir().unwrap();
        let (runner, _) = active_runner(dir.path());
        runner.set_output("changes", "3").unwrap();
        runner.set_output("plan", "a\nb").unwrap();
        let text = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("changes=3"));
        let open = lines.next().unwrap();
        let delim = open.strip_prefix("plan<<").unwrap();
        assert!(delim.starts_with("ghadelimiter_"));
        assert_eq!(lines.next(), Some("a"));
        assert_eq!(lines.next(), Some("b"));
        assert_eq!(lines.next(), Some(delim));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn summary_appends_and_masks_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let (runner, buf) = active_runner(dir.path());
        runner.append_summary("# One").unwrap();
        runner.append_summary("two\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("summary")).unwrap(),
            "# One\n\ntwo\n\n"
        );
        runner.mask("line1\n  line2  \n\n").unwrap();
        {
            let _g = runner.group("Build worker").unwrap();
        }
        let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out,
            "::add-mask::line1\n::add-mask::line2\n::group::Build worker\n::endgroup::\n"
        );
    }

    #[test]
    fn inactive_runner_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let vars: HashMap<&str, String> = HashMap::from([(
            "GITHUB_OUTPUT",
            dir.path().join("out").display().to_string(),
        )]);
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer: SharedWriter = Arc::new(Mutex::new(Box::new(Buf(buf.clone()))));
        let runner = Runner::from_env(|k| vars.get(k).cloned()).with_command_writer(writer);
        assert!(!runner.is_active());
        runner.set_output("a", "b").unwrap();
        runner.mask("secret").unwrap();
        assert!(!runner.annotate(&Annotation::error("x")).unwrap());
        assert!(!dir.path().join("out").exists());
        assert!(buf.lock().unwrap().is_empty());
    }
}
