//! Integration tests: a spawned in-process emulator driven over HTTP, every response
//! validated against the operation's schema.

mod common;
mod d1;
mod dns;
mod identity;
mod kv;
mod persistence;
mod r2;
