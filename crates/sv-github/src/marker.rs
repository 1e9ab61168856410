//! Hidden markers that let the tools find their own comment or issue again.

use std::fmt;

use crate::Error;

/// A hidden HTML comment such as `<!-- sv:plan:production -->` placed at the top of a sticky
/// comment or a tool-managed issue. GitHub does not render it, and the rendered form is
/// searched for verbatim, so `sv:plan:prod` never matches `sv:plan:production`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Marker {
    key: String,
    rendered: String,
}

impl Marker {
    /// The marker of `tool` (e.g. `plan`) for `env` (e.g. `production`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a part is empty or has characters other than ASCII letters,
    /// digits, `.`, `_` and `-` (which keeps the HTML comment well-formed: no `--`, no `>`).
    pub fn new(tool: &str, env: &str) -> Result<Self, Error> {
        Self::from_parts(&[tool, env])
    }

    /// A marker made of any number of parts, e.g. `["health", "production", "api-latency"]`
    /// for one issue per failing check.
    ///
    /// # Errors
    /// As [`Marker::new`]; also when `parts` is empty.
    pub fn from_parts(parts: &[&str]) -> Result<Self, Error> {
        if parts.is_empty() {
            return Err(Error::InvalidInput(
                "a marker needs at least one part".into(),
            ));
        }
        for part in parts {
            let valid_chars = part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if part.is_empty() || !valid_chars || part.contains("--") {
                return Err(Error::InvalidInput(format!(
                    "marker part {part:?} must be non-empty ASCII letters, digits, '.', '_' or '-' (no \"--\")"
                )));
            }
        }
        let key = format!("sv:{}", parts.join(":"));
        let rendered = format!("<!-- {key} -->");
        Ok(Marker { key, rendered })
    }

    /// The key inside the comment, e.g. `sv:plan:production`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The full hidden comment, e.g. `<!-- sv:plan:production -->`.
    pub fn as_str(&self) -> &str {
        &self.rendered
    }

    /// Whether `body` carries this marker.
    pub fn is_in(&self, body: &str) -> bool {
        body.contains(&self.rendered)
    }

    /// `body` with the marker on its first line (unless it already carries it).
    pub fn wrap(&self, body: &str) -> String {
        if self.is_in(body) {
            body.to_owned()
        } else {
            format!("{}\n{body}", self.rendered)
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_hidden_comment() {
        let m = Marker::new("plan", "production").unwrap();
        assert_eq!(m.as_str(), "<!-- sv:plan:production -->");
        assert_eq!(m.key(), "sv:plan:production");
        assert_eq!(m.to_string(), m.as_str());
        let m = Marker::from_parts(&["health", "prod", "api_latency.p99"]).unwrap();
        assert_eq!(m.as_str(), "<!-- sv:health:prod:api_latency.p99 -->");
    }

    #[test]
    fn no_prefix_collisions() {
        let short = Marker::new("plan", "prod").unwrap();
        let long = Marker::new("plan", "production").unwrap();
        assert!(!short.is_in(long.as_str()));
        assert!(!long.is_in(short.as_str()));
        assert!(short.is_in(&short.wrap("body")));
    }

    #[test]
    fn wrap_is_idempotent() {
        let m = Marker::new("deploy", "staging").unwrap();
        let once = m.wrap("hello");
        assert_eq!(once, "<!-- sv:deploy:staging -->\nhello");
        assert_eq!(m.wrap(&once), once);
    }

    #[test]
    fn rejects_parts_that_could_break_the_comment() {
        for bad in ["", "a b", "x-->", "a--b", "é", "a:b", "<"] {
            assert!(Marker::new("plan", bad).is_err(), "{bad:?}");
        }
        assert!(Marker::from_parts(&[]).is_err());
    }
}
