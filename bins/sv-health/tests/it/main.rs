//! End-to-end tests of `sv-health`: the real binary against `sv-emulator` (Cloudflare
//! probes), a local HTTP server (HTTP checks) and the GitHub emulator served in-process
//! (alerts; the sv-emulator binary does not mount `/github` yet).

mod alerts;
mod check;
mod cli;
mod common;
mod report;
