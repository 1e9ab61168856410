//! `sv-proof` holds the checks that span the whole toolkit rather than one crate (issue #9):
//! today the bad-input corpus of `tests/corpus/` run against every binary. It has no library
//! code; everything is in `tests/`.
//!
//! The corpus rules, for every case: the binary exits with the expected code (1 or 2, never
//! 0, never a panic or a signal), says why on stderr, leaves the emulated Cloudflare account
//! exactly as it was, and writes nothing next to a config it could not load.
