//! The reference app, copied into a scratch directory so a test can change it freely.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Build outputs and local state that a fresh copy must not inherit from the checkout.
const SKIP: &[&str] = &["node_modules", "dist", ".sv", ".wrangler"];

/// `examples/spacevision` in this checkout.
pub fn spacevision() -> PathBuf {
    crate::paths::workspace_root().join("examples/spacevision")
}

/// Copies `examples/spacevision` into `dest` (created if missing), without build outputs
/// (`dist`), dependencies (`node_modules`) or local state (`.sv`, `.wrangler`).
pub fn copy_to(dest: &Path) -> Result<(), Error> {
    copy_dir(&spacevision(), dest, SKIP)
}

/// Copies the tree `from` into `to` (created if missing), leaving out entries named in `skip`
/// at any depth.
pub(crate) fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(Error::io(to))?;
    for entry in fs::read_dir(from).map_err(Error::io(from))? {
        let entry = entry.map_err(Error::io(from))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type().map_err(Error::io(&source))?.is_dir() {
            copy_dir(&source, &dest, skip)?;
        } else {
            fs::copy(&source, &dest).map_err(Error::io(&dest))?;
        }
    }
    Ok(())
}
