//! Connection settings read from the same environment variables wrangler uses.
//!
//! The lookup is injected (`impl Fn(&str) -> Option<String>`) so binaries pass
//! `|k| std::env::var(k).ok()` and tests pass a map, without touching the process environment.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use crate::Error;

/// `CLOUDFLARE_API_TOKEN`: the bearer token.
pub const ENV_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// `CLOUDFLARE_ACCOUNT_ID`: the account all account-scoped calls go to.
pub const ENV_ACCOUNT_ID: &str = "CLOUDFLARE_ACCOUNT_ID";
/// `CLOUDFLARE_API_BASE_URL`: the API root (tests point it at the emulator).
pub const ENV_API_BASE_URL: &str = "CLOUDFLARE_API_BASE_URL";
/// The public API root.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// Base URL, token and account id: everything needed to build a [`crate::Client`].
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct ClientConfig {
    /// API root, without a trailing slash (e.g. `https://api.cloudflare.com/client/v4`).
    pub base_url: Url,
    /// Bearer token.
    pub token: SecretString,
    /// Account for account-scoped calls; `None` limits the client to user/zone calls.
    pub account_id: Option<String>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &crate::redact::RedactedUrl::new(&self.base_url))
            .field("token", &"[redacted]")
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl ClientConfig {
    /// Reads `CLOUDFLARE_API_TOKEN` (required), `CLOUDFLARE_ACCOUNT_ID` (optional) and
    /// `CLOUDFLARE_API_BASE_URL` (default [`DEFAULT_BASE_URL`]). Empty values count as unset,
    /// except that an empty base URL is an error (wrangler treats a set-but-empty variable as
    /// set, which is never what anyone meant).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let token = lookup(ENV_API_TOKEN)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::config(format!(
                    "{ENV_API_TOKEN} is not set: create an API token in the Cloudflare dashboard \
                     (My Profile → API Tokens) and export it as {ENV_API_TOKEN}"
                ))
            })?;
        let account_id = lookup(ENV_ACCOUNT_ID)
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if let Some(id) = &account_id {
            validate_account_id(id)?;
        }
        let base_url = match lookup(ENV_API_BASE_URL) {
            None => parse_base_url(DEFAULT_BASE_URL)?,
            Some(raw) => parse_base_url(&raw)?,
        };
        Ok(Self {
            base_url,
            token: SecretString::from(token),
            account_id,
        })
    }

    /// A config from explicit values.
    pub fn new(base_url: Url, token: SecretString, account_id: Option<String>) -> Self {
        Self {
            base_url,
            token,
            account_id,
        }
    }
}

/// Parses and normalises an API root: `http`/`https` only, no query or fragment, trailing
/// slashes removed (the client appends `/accounts/…` itself).
pub fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::config(format!(
            "{ENV_API_BASE_URL} is set but empty; unset it to use {DEFAULT_BASE_URL}"
        )));
    }
    let url = Url::parse(raw)
        .map_err(|e| Error::config(format!("{ENV_API_BASE_URL} is not a valid URL ({e})")))?;
    normalise_base_url(url)
}

pub(crate) fn normalise_base_url(mut url: Url) -> Result<Url, Error> {
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::config(format!(
            "the Cloudflare API base URL must use http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(Error::config("the Cloudflare API base URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            "the Cloudflare API base URL must not have a query or fragment",
        ));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// Account ids are 32 hex characters at Cloudflare; wrangler only insists on `[A-Za-z0-9_-]+`
/// and so do we (the emulator may use other shapes), which also keeps ids safe in paths.
fn validate_account_id(id: &str) -> Result<(), Error> {
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{ENV_ACCOUNT_ID} must contain only letters, digits, '_' and '-' (got {} characters of something else)",
            id.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ErrorCategory;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_and_trailing_slash() {
        let cfg = ClientConfig::from_env(env(&[(ENV_API_TOKEN, "t0k3n")])).unwrap();
        assert_eq!(cfg.base_url.as_str(), DEFAULT_BASE_URL);
        assert_eq!(cfg.account_id, None);
        let cfg = ClientConfig::from_env(env(&[
            (ENV_API_TOKEN, "t0k3n"),
            (ENV_ACCOUNT_ID, "0123abcd"),
            (ENV_API_BASE_URL, "http://127.0.0.1:8787/client/v4//"),
        ]))
        .unwrap();
        assert_eq!(cfg.base_url.as_str(), "http://127.0.0.1:8787/client/v4");
        assert_eq!(cfg.account_id.as_deref(), Some("0123abcd"));
    }

    #[test]
    fn missing_token_is_a_configuration_error() {
        for pairs in [&[][..], &[(ENV_API_TOKEN, "  ")][..]] {
            let err = ClientConfig::from_env(env(pairs)).unwrap_err();
            assert_eq!(err.category(), ErrorCategory::Configuration);
            assert!(
                err.to_string().contains("CLOUDFLARE_API_TOKEN is not set"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_base_urls_are_rejected() {
        for bad in ["", "ftp://x/y", "not a url", "http://h/x?y=1"] {
            let err = ClientConfig::from_env(env(&[(ENV_API_TOKEN, "t"), (ENV_API_BASE_URL, bad)]))
                .unwrap_err();
            assert_eq!(err.category(), ErrorCategory::Configuration, "{bad}");
        }
    }

    #[test]
    fn debug_hides_token() {
        let cfg = ClientConfig::from_env(env(&[(ENV_API_TOKEN, "super-secret-token")])).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("super-secret-token"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn account_id_with_slashes_is_rejected() {
        let err =
            ClientConfig::from_env(env(&[(ENV_API_TOKEN, "t"), (ENV_ACCOUNT_ID, "../zones")]))
                .unwrap_err();
        assert_eq!(err.category(), ErrorCategory::Configuration);
    }
}
