//! Integration tests: `sv-github` against `sv-emu-github` served on 127.0.0.1:0 under `/github`.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace rule); helpers outside #[test] need it said

mod artifacts;
mod comments;
mod common;
mod errors;
mod fidelity;
mod issues;
mod secrets;
