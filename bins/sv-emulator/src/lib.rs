//! `sv-emulator`: a local, stateful emulator of the Cloudflare API v4 subset the sv tools use.
//!
//! It owns the whole emulated account: the `/client/v4` API (identity, zones, DNS, KV, D1,
//! R2, Workers, Pages, tails, GraphQL analytics), the emulated Workers answering HTTP on
//! `*.workers.dev` hosts and routes, fault injection, and an admin surface under `/__admin`.
//! State lives in SQLite (in memory or under a data directory) so restarts keep it.
//! `docs/emulator.md` documents flags, faults, admin routes and every operation's status.
//!
//! Layout: one module per resource family (`identity`, `kv`, `d1`, `r2`, `dns`, `workers`,
//! `worker_routes`, `worker_assets`, `worker_http`, `tail`, `graphql`, `pages`), each adding
//! its logic to [`state::AppState`] (so unit tests drive it without HTTP) plus thin axum
//! handlers; `server` assembles the router and listener, `store` owns SQLite, `faults` the
//! fault and rate-limit middleware, `admin` the test controls, `schema` the API contract
//! (OpenAPI + local schemas) and `validation` the `--validate-requests` mode built on it.
//!
//! Start one in-process:
//! ```no_run
//! # async fn demo() -> Result<(), sv_emulator::Error> {
//! let emu = sv_emulator::Emulator::builder().in_memory().seed(7).build()?;
//! let running = emu.spawn("127.0.0.1:0").await?;
//! println!("{} {}", running.base_url, running.account_id);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod api;
pub mod config;
pub mod d1;
pub mod dns;
pub mod faults;
pub mod graphql;
pub mod identity;
pub mod jwt;
pub mod kv;
pub mod model;
pub mod pages;
pub mod pagination;
pub mod r2;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod tail;
pub mod validation;
pub mod worker_assets;
pub mod worker_http;
pub mod worker_routes;
pub mod workers;

use std::path::PathBuf;

pub use config::{Config, FaultConfig, FaultKind};
pub use server::{Emulator, EmulatorBuilder, RunningEmulator};

/// Errors of the emulator library (start-up, storage). Request-level failures are
/// Cloudflare envelopes, not this type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("SQLite error while {context}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the state snapshot is not valid JSON")]
    Snapshot {
        #[source]
        source: serde_json::Error,
    },
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}
