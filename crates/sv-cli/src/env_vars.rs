//! Every environment variable sv reads, named once. Binaries wire them into clap with
//! `env = …` so `--help` shows them; libraries receive values, never read the environment.

/// Cloudflare API token (the same variable wrangler uses). Never printed.
pub const CLOUDFLARE_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// Cloudflare account id (32 hex characters).
pub const CLOUDFLARE_ACCOUNT_ID: &str = "CLOUDFLARE_ACCOUNT_ID";
/// Cloudflare API base URL; tests and the demo point it at `sv-emulator`.
pub const CLOUDFLARE_API_BASE_URL: &str = "CLOUDFLARE_API_BASE_URL";
/// Default for [`CLOUDFLARE_API_BASE_URL`].
pub const DEFAULT_CLOUDFLARE_API_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// GitHub token for PR comments, issues and artifacts. Never printed.
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// GitHub REST base URL (set by the runner; `sv-emulator` serves a subset under `/github`).
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
/// Default for [`GITHUB_API_URL`].
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// `owner/name` of the repository.
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// `true` inside GitHub Actions.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// Who triggered the run; checked against `allowed_actors`.
pub const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
/// Used with [`GITHUB_REPOSITORY`] and [`GITHUB_RUN_ID`] to link audit records to the run.
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";

/// Path of the project config (default `sv.yaml`).
pub const SV_CONFIG: &str = "SV_CONFIG";
/// Environment from `sv.yaml` to act on.
pub const SV_ENV: &str = "SV_ENV";
/// Output format: `human`, `json` or `markdown`.
pub const SV_FORMAT: &str = "SV_FORMAT";
/// Any non-empty value disables colour (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Log filter in `tracing` syntax, e.g. `sv_cloudflare=debug`; overrides `-v`/`-q`.
pub const SV_LOG: &str = "SV_LOG";

/// Reads a variable from the process environment: the single place binaries do so.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The URL of the current Actions run, when all its parts are known.
pub fn run_url(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let server = lookup(GITHUB_SERVER_URL)?;
    let repo = lookup(GITHUB_REPOSITORY)?;
    let run = lookup(GITHUB_RUN_ID)?;
    Some(format!(
        "{}/{repo}/actions/runs/{run}",
        server.trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_url_needs_all_parts() {
        let full = |k: &str| match k {
            GITHUB_SERVER_URL => Some("https://github.com/".to_owned()),
            GITHUB_REPOSITORY => Some("o/r".to_owned()),
            GITHUB_RUN_ID => Some("42".to_owned()),
            _ => None,
        };
        assert_eq!(
            run_url(full).as_deref(),
            Some("https://github.com/o/r/actions/runs/42")
        );
        assert_eq!(run_url(|_| None), None);
    }
}
