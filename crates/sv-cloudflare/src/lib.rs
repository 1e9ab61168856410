//! Cloudflare API v4 client for the sv toolkit.
//!
//! Owns everything between "call this Cloudflare endpoint" and the wire: typed requests and
//! responses for the endpoints in `shared/cloudflare-api/ENDPOINTS.md`, the response envelope,
//! the mapping of Cloudflare error codes onto the design's error categories, page and cursor
//! pagination as streams, retries with backoff and `Retry-After`, the client-side request budget
//! (1,200 per 5 minutes), a circuit breaker, timeouts and tracing that never shows the token.
//!
//! It knows nothing of clap, config files or plans: it takes a base URL, a token and an account
//! id (see [`ClientConfig::from_env`] for the wrangler-compatible environment variables), so
//! tests and the emulator plug in by pointing the base URL at `127.0.0.1`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sv_cloudflare::Error> {
//! use futures::TryStreamExt;
//! let config = sv_cloudflare::ClientConfig::from_env(|k| std::env::var(k).ok())?;
//! let client = sv_cloudflare::Client::builder_from_config(&config).build()?;
//! let namespaces: Vec<_> = client.kv().list_namespaces().try_collect().await?;
//! # let _ = namespaces; Ok(()) }
//! ```
//!
//! Retry rules (which calls are repeated after which failures) are documented in [`retry`].

mod breaker;
mod client;
mod config;
mod envelope;
mod error;
mod limiter;
mod pagination;
mod redact;
pub mod retry;

pub mod d1;
pub mod dns;
pub mod graphql;
pub mod kv;
pub mod pages;
pub mod r2;
pub mod r2_conditional;
pub mod tail;
pub mod tokens;
pub mod user;
pub mod workers;
pub mod zones;

pub use breaker::BreakerConfig;
pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, install_crypto_provider,
};
pub use config::{
    ClientConfig, DEFAULT_BASE_URL, ENV_ACCOUNT_ID, ENV_API_BASE_URL, ENV_API_TOKEN, parse_base_url,
};
pub use envelope::ResultInfo;
pub use error::{ApiMessage, Error, ErrorCategory, TransportKind, classify};
pub use limiter::{CLOUDFLARE_BUDGET, CLOUDFLARE_WINDOW, RateLimiter};
pub use pagination::{ListStream, collect};
pub use redact::RedactedUrl;
pub use retry::{Idempotency, RetryPolicy};

/// Re-exported so callers can name secrets without depending on secrecy directly.
pub use secrecy::SecretString;
/// Re-exported for building base URLs.
pub use url::Url;
