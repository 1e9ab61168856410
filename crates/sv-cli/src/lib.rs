//! What every sv binary shares, so that they behave as one tool:
//!
//! - [`flags`]: the common flags (`--config`, `--env`, `--format`, `--verbose`, `--quiet`,
//!   `--no-color`) and the Cloudflare/GitHub credential arguments, each bound to its
//!   environment variable from [`env_vars`].
//! - [`exit`]: the exit-code contract (0 success, 1 the job failed, 2 bad usage, config or
//!   input) and [`main`], the shim every `main.rs` calls.
//! - [`output`]: one way to render a report as human text, JSON or Markdown.
//! - [`progress`]: a bar on a terminal, plain log lines in CI.
//!
//! Domain crates never see clap types: binaries turn these arguments into requests.

pub mod completions;
pub mod context;
pub mod env_vars;
pub mod exit;
pub mod flags;
pub mod logging;
pub mod output;
pub mod progress;
pub mod validate;

pub use completions::CompletionsArgs;
pub use exit::{ExitStatus, InputError, input_error, main};
pub use flags::{CloudflareArgs, GlobalArgs};
pub use output::{Format, Output, Render, Styles};
