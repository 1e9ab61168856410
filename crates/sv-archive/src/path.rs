//! Entry path rules, shared by the writer (refuse to produce) and the reader (refuse to
//! accept): an archive must unpack with plain `tar` into the current directory and touch
//! nothing outside it, on any platform.

use std::collections::HashSet;

use crate::MANIFEST_PATH;

/// Longest accepted entry path in bytes (PAX headers carry long paths; this only bounds
/// memory and keeps paths usable on common filesystems).
pub const MAX_PATH_BYTES: usize = 4096;

/// Checks one entry path; returns why it is refused.
///
/// Accepted: relative, `/`-separated, normalized (no empty, `.` or `..` component), no
/// backslash (a separator on Windows), no control characters (they break listings and
/// terminals), at most [`MAX_PATH_BYTES`]. Producers encode arbitrary keys (R2 object keys
/// may contain anything) before calling the writer.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.ends_with('/') {
        return Err("ends with '/' (directories are not entries)");
    }
    if path.contains('\\') {
        return Err("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty component ('//')"),
            "." => return Err("'.' component"),
            ".." => return Err("'..' component (would escape the extraction directory)"),
            _ => {}
        }
    }
    if path == MANIFEST_PATH {
        return Err("reserved for the archive manifest");
    }
    Ok(())
}

/// Rejects duplicates and file/directory conflicts (`a/b` and `a/b/c`), which `tar x`
/// would turn into an error or a silently overwritten file.
#[derive(Debug, Default)]
pub(crate) struct PathSet {
    files: HashSet<String>,
    dirs: HashSet<String>,
}

pub(crate) enum Conflict {
    Duplicate,
    With(String),
}

impl PathSet {
    pub(crate) fn check(&self, path: &str) -> Result<(), Conflict> {
        if self.files.contains(path) {
            return Err(Conflict::Duplicate);
        }
        if self.dirs.contains(path) {
            let other = self
                .files
                .iter()
                .filter(|f| f.starts_with(path) && f.as_bytes().get(path.len()) == Some(&b'/'))
                .min()
                .cloned()
                .unwrap_or_default();
            return Err(Conflict::With(other));
        }
        for (i, _) in path.match_indices('/') {
            let dir = &path[..i];
            if self.files.contains(dir) {
                return Err(Conflict::With(dir.to_owned()));
            }
        }
        Ok(())
    }

    pub(crate) fn insert(&mut self, path: &str) {
        for (i, _) in path.match_indices('/') {
            self.dirs.insert(path[..i].to_owned());
        }
        self.files.insert(path.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_and_unicode_paths() {
        for ok in [
            "d1/main/dump.sql",
            "kv/sessions/entries.jsonl",
            "r2/uploads/objects/photos/été 2025/ø.jpg",
            "a",
            "..a/b..",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_unsafe_paths() {
        for bad in [
            "",
            "/etc/passwd",
            "../evil",
            "a/../../evil",
            "a/./b",
            "a//b",
            "dir/",
            "a\\b",
            "a\nb",
            "a\0b",
            "manifest.json",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_path(&"x".repeat(MAX_PATH_BYTES + 1)).is_err());
    }

    #[test]
    fn path_set_detects_duplicates_and_conflicts() {
        let mut set = PathSet::default();
        set.insert("a/b");
        set.insert("c/d/e");
        assert!(matches!(set.check("a/b"), Err(Conflict::Duplicate)));
        assert!(matches!(set.check("a/b/c"), Err(Conflict::With(o)) if o == "a/b"));
        assert!(matches!(set.check("c/d"), Err(Conflict::With(o)) if o == "c/d/e"));
        assert!(set.check("c/d/f").is_ok());
        assert!(set.check("a/bc").is_ok());
    }
}
