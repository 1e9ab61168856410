//! Integration tests for sv-cloudflare against scripted local HTTP servers.

// Test helpers outside #[test] functions may unwrap too (clippy.toml only covers test fns).
#![allow(clippy::unwrap_used)]

mod endpoints;
mod errors;
mod limiter;
mod pagination;
mod reliability;
mod secrets;
mod support;
