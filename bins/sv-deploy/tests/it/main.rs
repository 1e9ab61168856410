//! Integration tests of the `sv-deploy` binary against `sv-emulator` (build the workspace's
//! binaries first: `cargo build --workspace --bins`).
// Test helpers may panic on unexpected failures: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod cli;
mod common;
mod deploy;
