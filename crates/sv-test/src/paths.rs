//! Where the workspace and its built binaries are, seen from a running test.

use std::path::{Path, PathBuf};

use crate::Error;

/// Root of the sv repository (this crate lives at `crates/sv-test`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The cargo profile directory (`<target>/debug`) the running test binary was built into.
///
/// Test binaries live in `<target>/<profile>/deps/`, and the workspace's binaries next to
/// `deps/`, so this finds them whatever `CARGO_TARGET_DIR` or profile the build used.
pub fn profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    deps.parent().map(Path::to_path_buf)
}

/// The environment variable that overrides where binary `name` is: `sv-emulator` →
/// `SV_EMULATOR_BIN`.
pub fn bin_env_var(name: &str) -> String {
    format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"))
}

/// Path of a workspace binary, e.g. `cargo_bin("sv-emulator")`.
///
/// Looks, in order, at the `SV_…_BIN` variable ([`bin_env_var`]), the test's own profile
/// directory, `$CARGO_TARGET_DIR/debug` and `<workspace>/target/debug`. Fails with the list
/// of places searched when the binary is not built: `cargo test` builds only the binaries of
/// the package under test, so other packages' binaries must be built first
/// (`cargo build --workspace --bins`).
pub fn cargo_bin(name: &str) -> Result<PathBuf, Error> {
    let env_var = bin_env_var(name);
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut searched = Vec::new();
    if let Some(explicit) = std::env::var_os(&env_var) {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(path);
        }
        searched.push(path);
    }
    let mut dirs = Vec::new();
    dirs.extend(profile_dir());
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("debug"));
    }
    dirs.push(workspace_root().join("target").join("debug"));
    for dir in dirs {
        let path = dir.join(&file);
        if path.is_file() {
            return Ok(path);
        }
        if !searched.contains(&path) {
            searched.push(path);
        }
    }
    Err(Error::BinaryNotBuilt {
        name: name.to_owned(),
        env_var,
        searched,
    })
}

/// Whether the workspace has a member at `relative` (e.g. `bins/sv-emulator`).
pub fn workspace_has_member(relative: &str) -> bool {
    workspace_root().join(relative).join("Cargo.toml").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_the_binary_name() {
        assert_eq!(bin_env_var("sv-emulator"), "SV_EMULATOR_BIN");
        assert_eq!(bin_env_var("sv-plan"), "SV_PLAN_BIN");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn profile_dir_contains_the_test_binary_deps() {
        let dir = profile_dir().expect("tests run from <target>/<profile>/deps");
        assert!(dir.join("deps").is_dir());
    }

    #[test]
    fn missing_binary_names_every_place_searched() {
        let err = cargo_bin("sv-no-such-binary").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("sv-no-such-binary is not built"),
            "{message}"
        );
        assert!(message.contains("SV_NO_SUCH_BINARY_BIN"), "{message}");
        assert!(
            message.contains("cargo build -p sv-no-such-binary"),
            "{message}"
        );
    }
}
