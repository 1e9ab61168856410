//! Integration tests: a spawned in-process emulator driven over HTTP, every response
//! validated against the operation's schema.

// Helpers shared by the tests unwrap like the tests do.
#![allow(clippy::unwrap_used)]

mod cli;
mod common;
mod d1;
mod dns;
mod faults;
mod identity;
mod kv;
mod pages;
mod persistence;
mod r2;
mod robustness;
mod tail;
mod validation;
mod workers;
