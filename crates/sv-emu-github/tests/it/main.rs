//! Integration tests: the emulator served on 127.0.0.1:0 under `/github`, driven over HTTP.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace rule); helpers outside #[test] need it said

mod artifacts;
mod auth;
mod comments;
mod common;
mod issues;
mod labels;
mod persistence;
