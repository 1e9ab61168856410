//! Turning flags and environment into the things every command needs: the loaded config,
//! the chosen environment, a Cloudflare client, a GitHub client, the Actions runner. One
//! place does it, so every binary reports the same errors the same way (config problems
//! exit 2 with `file:line:column`, a missing token names the variable to set).

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use sv_actions::Runner;
use sv_config::{Environment, LoadedConfig, ProcessEnv};

use crate::env_vars;
use crate::exit::InputError;
use crate::flags::{CloudflareArgs, GlobalArgs};

/// The Actions runner handle for this process (inert outside Actions).
pub fn runner() -> Runner {
    Runner::from_env(env_vars::process_env)
}

/// Converts a config error into an input error (exit 2) that keeps its location, so
/// Actions annotates the right line of `sv.yaml`.
pub fn config_error(err: sv_config::Error) -> anyhow::Error {
    let location = err.location().cloned();
    let mut input = InputError::new(err);
    if let Some(loc) = location {
        input = input.at(loc.file, loc.line, loc.column);
    }
    input.into()
}

/// Loads `--config` (default `sv.yaml`) with `${VAR}` from the process environment, and
/// resolves the derived environment `--env` names, if it names one (`pr-N`, `dev-NAME`).
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<LoadedConfig> {
    load_config_with(global, &ProcessEnv)
}

/// [`load_config`] with `${NAME}` values from `vars` (e.g.
/// `sv_config::UnsetAsWritten(ProcessEnv)` for a command that needs no credentials).
pub fn load_config_with(
    global: &GlobalArgs,
    vars: &dyn sv_config::VarSource,
) -> anyhow::Result<LoadedConfig> {
    if !global.config.exists() {
        return Err(InputError::new(anyhow::anyhow!(
            "{} not found: run from your app's root or pass --config PATH (sv.example.yaml in \
             the sv repository shows the shape)",
            global.config.display()
        ))
        .into());
    }
    let mut config = sv_config::load(&global.config, vars).map_err(config_error)?;
    // `--env pr-7` / `--env dev-alice`: derived environments answer `environment` like
    // declared ones, in every tool.
    if let Some(name) = &global.environment {
        config.add_derived_environment(name).map_err(config_error)?;
    }
    Ok(config)
}

/// The environment chosen by `--env`; when the config declares exactly one, it is the
/// default.
pub fn environment<'a>(
    config: &'a LoadedConfig,
    global: &GlobalArgs,
) -> anyhow::Result<&'a Environment> {
    match &global.environment {
        Some(name) => config.environment(name).map_err(config_error),
        None => {
            let all: Vec<&Environment> = config.environments().collect();
            match all.as_slice() {
                [only] => Ok(*only),
                _ => Err(InputError::new(anyhow::anyhow!(
                    "choose an environment with --env (or SV_ENV): {}",
                    all.iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into()),
            }
        }
    }
}

/// A Cloudflare client from wrangler's variables and the flags. The token is masked in
/// Actions logs before anything else happens.
pub fn cloudflare(args: &CloudflareArgs, runner: &Runner) -> anyhow::Result<sv_cloudflare::Client> {
    let token = args.api_token.clone().ok_or_else(|| {
        InputError::new(anyhow::anyhow!(
            "{} is not set: create an API token (Cloudflare dashboard → My Profile → API Tokens) \
             and export it, or point {} at sv-emulator for a local run",
            env_vars::CLOUDFLARE_API_TOKEN,
            env_vars::CLOUDFLARE_API_BASE_URL
        ))
    })?;
    runner
        .mask(token.expose_secret())
        .context("cannot write to stdout")?;
    let base =
        sv_cloudflare::parse_base_url(args.api_base_url.as_str()).map_err(InputError::new)?;
    let config = sv_cloudflare::ClientConfig::new(base, token, args.account_id.clone());
    sv_cloudflare::Client::builder_from_config(&config)
        .build()
        .map_err(|e| InputError::new(e).into())
}

/// The GitHub context of this run, and a client when a token is available. Masks the token.
pub fn github(runner: &Runner) -> anyhow::Result<sv_github::GitHubContext> {
    let ctx = sv_github::GitHubContext::from_env(env_vars::process_env).map_err(InputError::new)?;
    if let Some(token) = &ctx.token {
        runner
            .mask(token.expose_secret())
            .context("cannot write to stdout")?;
    }
    Ok(ctx)
}
