//! Derived environment names: `pr-<n>` (a pull request's preview) and `dev-<name>` (a
//! developer's isolated resources) are not declared under `environments:` but are valid
//! `--env` values for every tool, so `sv-deploy deploy --env pr-7` deploys to the preview
//! that `sv-onboard preview create --pr 7` made.
//!
//! A declared environment always wins over a derived one of the same name.

use crate::env::Environment;
use crate::{Error, LoadedConfig};

/// What a derived environment name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedName {
    /// `pr-<n>`: pull request `n`'s preview.
    Preview(u64),
    /// `dev-<name>`: developer `name`'s environment.
    Developer(String),
}

impl DerivedName {
    /// Reads `pr-<n>` or `dev-<name>`; anything else is `None` (an ordinary name).
    ///
    /// `pr-` followed by something that is not a number (`pr-x`, `pr-007`) is not a
    /// preview name; `pr-0` is (and is refused by [`LoadedConfig::derived_environment`]).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(n) = name.strip_prefix("pr-") {
            let canonical = !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'));
            return canonical
                .then(|| n.parse().ok().map(DerivedName::Preview))
                .flatten();
        }
        name.strip_prefix("dev-")
            .filter(|d| !d.is_empty())
            .map(|d| DerivedName::Developer(d.to_owned()))
    }
}

impl LoadedConfig {
    /// The derived environment `name` stands for (`pr-<n>`, `dev-<name>`), or `None` when
    /// `name` is declared under `environments:` or is not a derived name.
    ///
    /// # Errors
    /// `pr-0`, an invalid developer name, or a prefix that makes a resource name invalid.
    pub fn derived_environment(&self, name: &str) -> Result<Option<Environment>, Error> {
        if self.environments.contains_key(name) {
            return Ok(None);
        }
        match DerivedName::parse(name) {
            None => Ok(None),
            Some(DerivedName::Preview(0)) => Err(Error::invalid(
                None,
                "invalid environment `pr-0`: pull request numbers start at 1",
            )),
            Some(DerivedName::Preview(pr)) => self.preview_environment(pr).map(Some),
            Some(DerivedName::Developer(dev)) => self.developer_environment(&dev).map(Some),
        }
    }

    /// Resolves the derived environment `name` stands for and keeps it, so
    /// [`LoadedConfig::environment`] answers it from then on, as for a declared one.
    /// `None` (and nothing kept) when `name` is declared or not a derived name.
    ///
    /// # Errors
    /// As [`LoadedConfig::derived_environment`].
    pub fn add_derived_environment(&mut self, name: &str) -> Result<Option<&Environment>, Error> {
        let Some(env) = self.derived_environment(name)? else {
            return Ok(None);
        };
        self.environments.insert(name.to_owned(), env);
        Ok(self.environments.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_preview_and_developer_names() {
        assert_eq!(DerivedName::parse("pr-7"), Some(DerivedName::Preview(7)));
        assert_eq!(DerivedName::parse("pr-0"), Some(DerivedName::Preview(0)));
        assert_eq!(
            DerivedName::parse("dev-alice"),
            Some(DerivedName::Developer("alice".into()))
        );
        for plain in [
            "production",
            "pr-",
            "pr-x",
            "pr-007",
            "pr-1a",
            "dev-",
            "pr-99999999999999999999999",
        ] {
            assert_eq!(DerivedName::parse(plain), None, "{plain}");
        }
    }
}
