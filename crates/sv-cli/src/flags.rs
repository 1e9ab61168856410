//! The flags every sv binary accepts, flattened into each binary's clap parser.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{ArgAction, Args};
use secrecy::SecretString;
use url::Url;

use crate::env_vars;
use crate::output::{Format, Output};

/// Common flags (PRODUCT.md, "Conventions every binary follows").
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Project config file
    #[arg(
        long,
        global = true,
        env = env_vars::SV_CONFIG,
        value_name = "FILE",
        default_value = "sv.yaml"
    )]
    pub config: PathBuf,

    /// Environment from sv.yaml to act on (e.g. production, staging)
    #[arg(long = "env", short = 'e', global = true, env = env_vars::SV_ENV, value_name = "ENVIRONMENT")]
    pub environment: Option<String>,

    /// Output format: human text, JSON (stable fields) or Markdown
    #[arg(long, global = true, value_enum, env = env_vars::SV_FORMAT, default_value_t = Format::Human)]
    pub format: Format,

    /// More log detail (-v debug, -vv trace); logs go to stderr
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr; the report itself is still written
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Never colour output (also: NO_COLOR set to any non-empty value)
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl GlobalArgs {
    /// Whether colour is allowed on stdout: a terminal, no `--no-color`, no `NO_COLOR`.
    pub fn color(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        !self.no_color
            && lookup(env_vars::NO_COLOR).is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal()
    }

    /// The output sink configured by these flags.
    pub fn output(&self) -> Output {
        Output::new(self.format, self.color(env_vars::process_env))
    }
}

/// Cloudflare credentials and endpoint, from wrangler's own environment variables.
#[derive(Clone, Args)]
pub struct CloudflareArgs {
    /// Cloudflare API token [env: CLOUDFLARE_API_TOKEN]
    #[arg(long = "api-token", env = env_vars::CLOUDFLARE_API_TOKEN, hide_env_values = true, value_name = "TOKEN", hide = true)]
    pub api_token: Option<SecretString>,

    /// Cloudflare account id (32 hex characters)
    #[arg(long = "account-id", env = env_vars::CLOUDFLARE_ACCOUNT_ID, value_name = "ID", global = true)]
    pub account_id: Option<String>,

    /// Cloudflare API base URL (point it at sv-emulator for local runs)
    #[arg(
        long = "api-base-url",
        env = env_vars::CLOUDFLARE_API_BASE_URL,
        value_name = "URL",
        default_value = env_vars::DEFAULT_CLOUDFLARE_API_BASE_URL,
        global = true
    )]
    pub api_base_url: Url,
}

impl std::fmt::Debug for CloudflareArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareArgs")
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("account_id", &self.account_id)
            .field("api_base_url", &self.api_base_url.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(flatten)]
        cf: CloudflareArgs,
    }

    #[test]
    fn defaults_and_debug_never_show_the_token() {
        let cli = Cli::try_parse_from([
            "sv",
            "--api-token",
            "s3cr3t-token",
            "--format",
            "json",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.global.format, Format::Json);
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(cli.global.config, PathBuf::from("sv.yaml"));
        let debug = format!("{cli:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn verbose_and_quiet_conflict() {
        let err = Cli::try_parse_from(["sv", "-v", "-q"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
