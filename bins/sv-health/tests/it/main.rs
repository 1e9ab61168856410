//! End-to-end tests of `sv-health`: the real binary against `sv-emulator` (Cloudflare
//! probes), a local HTTP server (HTTP checks) and the GitHub REST subset the emulator
//! serves under `/github` (alerts).

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on set-up failure, as tests do

mod act;
mod alerts;
mod check;
mod cli;
mod comment;
mod common;
mod logs;
mod profile;
mod report;
mod store;
mod thresholds;
