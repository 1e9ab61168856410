//! Integration tests of sv-test itself and of the packaging it exercises: the root action
//! under act, the install script, and the emulator process wrapper.

// Test helpers outside #[test] functions: unwrap is the assertion, and stderr is where a
// test says why it skipped.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod act;
mod emulator;
mod install;
