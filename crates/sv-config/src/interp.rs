//! `${NAME}` interpolation.
//!
//! * `${NAME}` — the environment variable `NAME` (looked up through a [`VarSource`]); unset is
//!   an error naming the variable and the position, unless a default is given: `${NAME:-text}`.
//! * `$${` — a literal `${`.
//! * Built-ins, rendered per environment (see [`BUILTINS`]): `${env}` (environment name),
//!   `${zone}` (its zone), `${project}` (`project:`), `${prefix}` (its name prefix). These names
//!   are reserved: they never read the process environment.
//!
//! Interpolation applies to scalar values (not to mapping keys), after YAML parsing, so a
//! value can never inject YAML structure. Values that came from environment variables are
//! remembered and redacted from error messages.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::Path;

use crate::error::{Error, Location, quote};
use crate::node::{Node, NodeKind, Scalar};

/// Where `${NAME}` values come from. Production code passes [`ProcessEnv`]; tests pass a map
/// (never mutate the process environment).
pub trait VarSource {
    /// The value of `name`, or `None` when unset.
    fn var(&self, name: &str) -> Option<String>;

    /// Whether an unset `${NAME}` without a default stays as written instead of being an
    /// error (see [`UnsetAsWritten`]).
    fn keeps_unset(&self) -> bool {
        false
    }
}

/// Reads the process environment (variables that are not valid UTF-8 count as unset).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl VarSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: BuildHasher> VarSource for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl VarSource for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl VarSource for BTreeMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| (*v).to_owned())
    }
}

/// No variables at all (every `${NAME}` without a default is an error).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVars;

impl VarSource for NoVars {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Reads `S`; a variable `S` lacks and that has no default stays as written (`${NAME}`,
/// literally) instead of being an error. For commands that only read parts of the config that hold no credentials — `sv-onboard
/// dev` starts local processes and must not need `CLOUDFLARE_ACCOUNT_ID` to do it. Never use it
/// for a command that talks to an API: a literal `${NAME}` would be sent as the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsetAsWritten<S>(pub S);

impl<S: VarSource> VarSource for UnsetAsWritten<S> {
    fn var(&self, name: &str) -> Option<String> {
        self.0.var(name)
    }

    fn keeps_unset(&self) -> bool {
        true
    }
}

/// The reserved built-in names, rendered per environment.
pub const BUILTINS: [&str; 4] = ["env", "zone", "project", "prefix"];

/// Values of the built-ins for one environment.
#[derive(Debug, Clone)]
pub(crate) struct Builtins {
    pub env: String,
    pub zone: Option<String>,
    pub project: String,
    pub prefix: String,
}

impl Builtins {
    fn get(&self, name: &str) -> Result<String, String> {
        match name {
            "env" => Ok(self.env.clone()),
            "project" => Ok(self.project.clone()),
            "prefix" => Ok(self.prefix.clone()),
            "zone" => self.zone.clone().ok_or_else(|| {
                format!(
                    "`${{zone}}` is used but environment `{}` has no `zone`",
                    self.env
                )
            }),
            _ => Err(format!("unknown built-in `{name}`")),
        }
    }
}

/// Interpolates every scalar value of the tree.
///
/// Two passes: at load, `builtins == None` substitutes environment variables only and leaves
/// built-ins and `$${` escapes as written (substituted values are escaped so they stay
/// literal); per environment, `Some(builtins)` renders built-ins and escapes.
pub(crate) fn interpolate(
    node: &mut Node,
    vars: &dyn VarSource,
    builtins: Option<&Builtins>,
    file: &Path,
) -> Result<(), Error> {
    match &mut node.kind {
        NodeKind::Scalar(s) => {
            if s.text.contains('$') {
                let mark = node.mark;
                interpolate_scalar(s, vars, builtins).map_err(|(offset, e)| {
                    let before = &s.text[..offset.min(s.text.len())];
                    let column = if before.contains('\n') {
                        mark.column
                    } else {
                        mark.column + usize::from(!s.plain) + before.chars().count()
                    };
                    let location = Location::new(file, mark.line, column);
                    match e {
                        Problem::Unset(name) => Error::UnsetVariable { location, name },
                        Problem::Other(message) => Error::Interpolation { location, message },
                    }
                })?;
            }
            Ok(())
        }
        NodeKind::Seq(items) => items
            .iter_mut()
            .try_for_each(|n| interpolate(n, vars, builtins, file)),
        NodeKind::Map(entries) => entries
            .iter_mut()
            .try_for_each(|(_, v)| interpolate(v, vars, builtins, file)),
    }
}

enum Problem {
    Unset(String),
    Other(String),
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn interpolate_scalar(
    s: &mut Scalar,
    vars: &dyn VarSource,
    builtins: Option<&Builtins>,
) -> Result<(), (usize, Problem)> {
    let text = &s.text;
    let mut out = String::with_capacity(text.len());
    let mut secrets = Vec::new();
    let mut changed = false;
    let full = builtins.is_some();
    let mut i = 0;
    while let Some(rel) = text[i..].find('$') {
        let at = i + rel;
        out.push_str(&text[i..at]);
        let rest = &text[at..];
        if rest.starts_with("$${") {
            if full {
                out.push_str("${");
                changed = true;
            } else {
                out.push_str("$${");
            }
            i = at + 3;
            continue;
        }
        if !rest.starts_with("${") {
            out.push('$');
            i = at + 1;
            continue;
        }
        let Some(close) = rest.find('}') else {
            return Err((
                at,
                Problem::Other(
                    "unterminated `${`: write `${NAME}`, or `$${` for a literal `${`".into(),
                ),
            ));
        };
        let inner = &rest[2..close];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if !valid_name(name) {
            return Err((
                at,
                Problem::Other(format!(
                    "invalid variable name {} in `${{…}}`: expected letters, digits and `_`",
                    quote(name)
                )),
            ));
        }
        if BUILTINS.contains(&name) {
            match builtins {
                Some(b) => {
                    let value = b.get(name).map_err(|m| (at, Problem::Other(m)))?;
                    out.push_str(&value);
                    changed = true;
                }
                None => out.push_str(&rest[..=close]),
            }
        } else {
            match vars.var(name) {
                Some(value) => {
                    if full {
                        out.push_str(&value);
                    } else {
                        // Keep the value literal through the later built-in pass.
                        out.push_str(&value.replace("${", "$${"));
                        if value.ends_with('$') && rest[close + 1..].starts_with('{') {
                            out.push('$');
                        }
                    }
                    secrets.push(value);
                }
                None => match default {
                    Some(d) => out.push_str(d),
                    None if vars.keeps_unset() => out.push_str(&format!("$${{{name}}}")),
                    None => return Err((at, Problem::Unset(name.to_owned()))),
                },
            }
            changed = true;
        }
        i = at + close + 1;
    }
    out.push_str(&text[i..]);
    if changed {
        s.text = out;
        s.interpolated = true;
        s.secrets.extend(secrets);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Mark;

    fn run(text: &str, builtins: Option<&Builtins>) -> Result<String, Error> {
        let vars: BTreeMap<&str, &str> = [("A", "alpha"), ("EMPTY", "")].into_iter().collect();
        let mut node = Node::scalar(text, true, Mark { line: 3, column: 7 });
        interpolate(&mut node, &vars, builtins, Path::new("sv.yaml"))?;
        Ok(node.as_str().unwrap_or_default().to_owned())
    }

    fn staging() -> Builtins {
        Builtins {
            env: "staging".into(),
            zone: Some("staging.example.com".into()),
            project: "demo".into(),
            prefix: "staging-".into(),
        }
    }

    #[test]
    fn substitutes_vars_defaults_and_escapes() {
        assert_eq!(run("x-${A}-y", None).unwrap(), "x-alpha-y");
        assert_eq!(run("${EMPTY}", None).unwrap(), "");
        assert_eq!(run("${B:-dflt}", None).unwrap(), "dflt");
        assert_eq!(run("$${A} costs $5", None).unwrap(), "$${A} costs $5");
        assert_eq!(
            run("$${A} costs $5", Some(&staging())).unwrap(),
            "${A} costs $5"
        );
    }

    #[test]
    fn values_stay_literal_through_the_second_pass() {
        let vars: BTreeMap<&str, &str> = [("V", "a${zone}b$")].into_iter().collect();
        let mut node = Node::scalar("${V}{x}", true, Mark { line: 1, column: 1 });
        interpolate(&mut node, &vars, None, Path::new("f")).unwrap();
        interpolate(&mut node, &NoVars, Some(&staging()), Path::new("f")).unwrap();
        assert_eq!(node.as_str(), Some("a${zone}b${x}"));
    }

    #[test]
    fn builtins_wait_for_an_environment() {
        assert_eq!(run("api.${zone}/*", None).unwrap(), "api.${zone}/*");
        assert_eq!(
            run("${prefix}${project}@${zone} in ${env}", Some(&staging())).unwrap(),
            "staging-demo@staging.example.com in staging"
        );
    }

    #[test]
    fn unset_variable_names_variable_and_column() {
        let e = run("ab${MISSING}", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sv.yaml:3:9: environment variable `MISSING` is not set (write `${MISSING:-default}` to give a default, or `$${` for a literal `${`)"
        );
    }

    #[test]
    fn unset_as_written_keeps_the_reference_literal() {
        let vars: BTreeMap<&str, &str> = [("A", "alpha")].into_iter().collect();
        let mut node = Node::scalar("${A}/${MISSING}/${D:-d}", true, Mark { line: 1, column: 1 });
        interpolate(&mut node, &UnsetAsWritten(vars), None, Path::new("f")).unwrap();
        interpolate(&mut node, &NoVars, Some(&staging()), Path::new("f")).unwrap();
        assert_eq!(node.as_str(), Some("alpha/${MISSING}/d"));
    }

    #[test]
    fn malformed_references() {
        assert!(
            run("${A", None)
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
        assert!(
            run("${not a name}", None)
                .unwrap_err()
                .to_string()
                .contains("invalid variable name")
        );
        let mut b = staging();
        b.zone = None;
        assert!(
            run("${zone}", Some(&b))
                .unwrap_err()
                .to_string()
                .contains("has no `zone`")
        );
    }
}
