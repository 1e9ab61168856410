//! The one error type of this crate. Every error that comes from a file names the file, the
//! line and the column (1-based) of the node that is wrong, so that a binary can print it as
//! `sv.yaml:12:5: …` or turn it into a GitHub `::error file=…,line=…,col=…::` annotation.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::address::ResourceAddress;

/// A position in a configuration file, 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// The file as it was given to the loader (not canonicalized, so messages stay short).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// A location in `file` at `line`:`column` (both 1-based).
    #[must_use]
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An operation that `allowed_actors` can restrict.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `sv-plan apply`.
    Apply,
    /// `sv-plan destroy`.
    Destroy,
    /// `sv-deploy` (and rollback).
    Deploy,
    /// `sv-backup restore`.
    Restore,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 4] = [
        Operation::Apply,
        Operation::Destroy,
        Operation::Deploy,
        Operation::Restore,
    ];

    /// The name used in `sv.yaml` and in messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
            Operation::Deploy => "deploy",
            Operation::Restore => "restore",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong while loading, validating or resolving a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: cannot read file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than we are willing to parse.
    #[error("{}: file is {size} bytes; the limit is {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The text is not valid YAML / JSONC / TOML, or breaks a parser limit (depth, aliases).
    #[error("{location}: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// What it expected.
        message: String,
    },
    /// The document does not have the shape of the model: unknown key, wrong type, missing field.
    #[error("{location}: {message}")]
    Shape {
        /// The node that does not fit.
        location: Location,
        /// What was expected (serde's wording, e.g. "unknown field `x`, expected one of …").
        message: String,
    },
    /// `${NAME}` names an environment variable that is not set.
    #[error(
        "{location}: environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default, or `$${{` for a literal `${{`)"
    )]
    UnsetVariable {
        /// The scalar holding the reference.
        location: Location,
        /// The variable.
        name: String,
    },
    /// A malformed `${…}` reference.
    #[error("{location}: {message}")]
    Interpolation {
        /// The scalar holding the reference.
        location: Location,
        /// What is wrong with it.
        message: String,
    },
    /// The document has the right shape but breaks a rule: an invalid resource name, a rollout
    /// that does not end at 100, a reference to something that does not exist, a duplicate…
    #[error("{}{message}", prefix(location.as_ref()))]
    Invalid {
        /// The offending node, when the error comes from a file.
        location: Option<Location>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// An environment name that is not declared under `environments:`.
    #[error(
        "{}unknown environment `{name}`; known environments: {}",
        prefix(location.as_ref()),
        list(known)
    )]
    UnknownEnvironment {
        /// Where it was referenced, when it comes from a file (None when a caller asked for it).
        location: Option<Location>,
        /// The name asked for.
        name: String,
        /// The declared environments.
        known: Vec<String>,
    },
    /// Resources depend on each other in a circle.
    #[error(
        "{}dependency cycle: {}",
        prefix(location.as_ref()),
        cycle.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> ")
    )]
    Cycle {
        /// The `depends_on` (or resource) of the first member of the cycle.
        location: Option<Location>,
        /// The cycle, first element repeated at the end.
        cycle: Vec<ResourceAddress>,
    },
    /// `allowed_actors` does not list this actor for this operation in this environment.
    #[error(
        "`{actor}` may not {operation} in environment `{environment}`; allowed: {}",
        list(allowed)
    )]
    AccessDenied {
        /// Who asked.
        actor: String,
        /// What they asked for.
        operation: Operation,
        /// Where.
        environment: String,
        /// Who may.
        allowed: Vec<String>,
    },
}

fn prefix(location: Option<&Location>) -> String {
    location.map(|l| format!("{l}: ")).unwrap_or_default()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Error {
    /// Where in which file the problem is, when it comes from a file.
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Syntax { location, .. }
            | Error::Shape { location, .. }
            | Error::UnsetVariable { location, .. }
            | Error::Interpolation { location, .. } => Some(location),
            Error::Invalid { location, .. }
            | Error::UnknownEnvironment { location, .. }
            | Error::Cycle { location, .. } => location.as_ref(),
            Error::Read { .. } | Error::TooLarge { .. } | Error::AccessDenied { .. } => None,
        }
    }

    /// The file the error is about, if any (also for read errors, which have no line).
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        match self {
            Error::Read { path, .. } | Error::TooLarge { path, .. } => Some(path),
            other => other.location().map(|l| l.file.as_path()),
        }
    }

    pub(crate) fn invalid(location: Option<Location>, message: impl Into<String>) -> Self {
        Error::Invalid {
            location,
            message: sanitize(&message.into()),
        }
    }
}

/// Longest message we keep: hostile input must not produce megabyte error lines.
const MAX_MESSAGE: usize = 600;

/// Makes a message safe to print on one line: control characters are escaped and long
/// messages are cut, so hostile strings in a config cannot forge log lines or annotations.
pub(crate) fn sanitize(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE + 16));
    for (count, c) in message.chars().enumerate() {
        if count >= MAX_MESSAGE {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Shortens a user-provided value for inclusion in a message.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (count, c) in value.chars().enumerate() {
        if count >= MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    format!("`{out}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_controls_and_truncates() {
        assert_eq!(sanitize("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(5000);
        assert_eq!(sanitize(&long).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn display_has_file_line_column() {
        let e = Error::Shape {
            location: Location::new("sv.yaml", 12, 5),
            message: "unknown field `locaton`".into(),
        };
        assert_eq!(e.to_string(), "sv.yaml:12:5: unknown field `locaton`");
        assert_eq!(e.location().map(|l| l.line), Some(12));
    }
}
