//! D1 migrations the way wrangler keeps them: `*.sql` files in one directory, applied in
//! file-name order, each recorded by file name in the database's `d1_migrations` table.

use std::path::{Path, PathBuf};

use crate::Error;

/// wrangler's table, created when missing (same schema, so wrangler and sv agree).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    name TEXT UNIQUE,\n    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n);";

/// The names of the migration files in `dir`, sorted (wrangler's order).
///
/// # Errors
/// The directory cannot be read.
pub fn list(dir: &Path) -> Result<Vec<String>, Error> {
    let io = |source| Error::Io {
        what: "read migrations directory",
        path: dir.to_owned(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") && entry.file_type().map_err(io)?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The SQL of one migration file.
///
/// # Errors
/// The file cannot be read.
pub fn read(dir: &Path, name: &str) -> Result<String, Error> {
    let path: PathBuf = dir.join(name);
    std::fs::read_to_string(&path).map_err(|source| Error::Io {
        what: "read migration",
        path,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sql_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["0002_b.sql", "0001_a.sql", "README.md"] {
            std::fs::write(dir.path().join(f), "SELECT 1;").unwrap();
        }
        assert_eq!(list(dir.path()).unwrap(), ["0001_a.sql", "0002_b.sql"]);
        assert_eq!(read(dir.path(), "0001_a.sql").unwrap(), "SELECT 1;");
    }
}
