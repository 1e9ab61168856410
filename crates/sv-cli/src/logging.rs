//! Log set-up: human logs on stderr, level from `-v`/`-q` or `SV_LOG`.

use tracing_subscriber::EnvFilter;

use crate::env_vars;
use crate::flags::GlobalArgs;

/// Our crates log progress at `info`; everyone else only warnings.
const OUR_CRATES: &[&str] = &[
    "sv_plan",
    "sv_deploy",
    "sv_health",
    "sv_backup",
    "sv_snapshot",
    "sv_onboard",
    "sv_emulator",
    "sv_cloudflare",
    "sv_github",
    "sv_config",
    "sv_cli",
    "sv_audit",
];

fn return_info() -> String {
    let mut filter = "warn".to_owned();
    for krate in OUR_CRATES {
        filter.push_str(&format!(",{krate}=info"));
    }
    filter
}

/// Installs the global subscriber. Call once, first thing in `run`.
pub fn init(args: &GlobalArgs) {
    let default = match (args.quiet, args.verbose) {
        (true, _) => "error".to_owned(),
        (false, 0) => return_info(),
        (false, 1) => "debug,hyper=info,hyper_util=info,h2=info,rustls=info".to_owned(),
        (false, _) => "trace".to_owned(),
    };
    let filter = env_vars::process_env(env_vars::SV_LOG)
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(args.color(env_vars::process_env))
        .with_target(args.verbose > 0)
        .without_time()
        .try_init();
}
