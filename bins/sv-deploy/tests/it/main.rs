//! Integration tests of the `sv-deploy` binary against `sv-emulator` (build the workspace's
//! binaries first: `cargo build --workspace --bins`).
// Test helpers may panic on unexpected failures (that is how a test fails) and say on
// stderr what an old emulator made them skip.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod act;
mod affected;
mod cli;
mod common;
mod deploy;
mod history_remote;
mod lock;
mod pause;
mod release;
mod routes;
