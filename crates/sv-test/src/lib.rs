//! Test support shared by sv's crates (a dev-dependency only).
//!
//! It owns two things every end-to-end test needs:
//!
//! - [`EmulatorProcess`]: a real `sv-emulator` process on `127.0.0.1:<free port>`, with the
//!   environment variables (`CLOUDFLARE_API_BASE_URL`, `CLOUDFLARE_API_TOKEN`,
//!   `CLOUDFLARE_ACCOUNT_ID`, `GITHUB_API_URL`) that point sv's binaries and wrangler at it.
//!   The process is killed when the value drops.
//! - [`ActRun`]: runs a workflow of this repository under `act` in host mode (no Docker),
//!   from a snapshot of the repository, with local stand-ins for `actions/checkout`,
//!   `actions/upload-artifact` and `actions/download-artifact`, and returns an
//!   [`ActOutcome`] holding the logs and the uploaded artifacts.
//!
//! Paths to built binaries come from [`paths`]. Nothing here mutates the test process's
//! environment: every setting is passed to the child process explicitly.

pub mod act;
pub mod emulator;
mod error;
pub mod example;
mod http;
pub mod paths;
mod process;

pub use act::{ActOutcome, ActRun};
pub use emulator::{EmulatorBuilder, EmulatorProcess};
pub use error::Error;
