//! Whole-toolkit checks (issue #9). One test binary, a module per area.

// Tests may unwrap (workspace rule); helpers outside `#[test]` functions need saying so.
#![allow(clippy::unwrap_used)]

mod archives;
mod cli;
mod config;
mod crash;
mod leaks;
mod reliability;
mod support;
