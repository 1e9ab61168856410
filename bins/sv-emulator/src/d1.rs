//! D1: databases (CRUD), `query` and `raw` executed on one real SQLite database per D1
//! database, and the export / import flows with their signed URLs served by the emulator.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::Error;
use crate::state::lock;

/// Opens and caches one SQLite connection per D1 database.
pub struct D1Manager {
    dir: Option<PathBuf>,
    conns: Mutex<HashMap<String, Arc<Mutex<Connection>>>>,
}

impl D1Manager {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            conns: Mutex::new(HashMap::new()),
        }
    }

    /// The connection of database `uuid`, created on first use.
    pub fn conn(&self, uuid: &str) -> Result<Arc<Mutex<Connection>>, Error> {
        let mut conns = lock(&self.conns);
        if let Some(c) = conns.get(uuid) {
            return Ok(c.clone());
        }
        let conn = match &self.dir {
            Some(dir) => {
                let path = dir.join(format!("{uuid}.sqlite"));
                Connection::open(&path).map_err(|source| Error::Sqlite {
                    context: "opening a D1 database",
                    source,
                })?
            }
            None => Connection::open_in_memory().map_err(|source| Error::Sqlite {
                context: "opening a D1 database",
                source,
            })?,
        };
        let c = Arc::new(Mutex::new(conn));
        conns.insert(uuid.to_string(), c.clone());
        Ok(c)
    }

    /// Closes and deletes database `uuid`.
    pub fn drop_db(&self, uuid: &str) -> Result<(), Error> {
        lock(&self.conns).remove(uuid);
        if let Some(dir) = &self.dir {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let path = dir.join(format!("{uuid}.sqlite{suffix}"));
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(Error::Io { path, source }),
                }
            }
        }
        Ok(())
    }

    /// Drops every database (admin reset).
    pub fn drop_all(&self, uuids: &[String]) -> Result<(), Error> {
        for u in uuids {
            self.drop_db(u)?;
        }
        lock(&self.conns).clear();
        Ok(())
    }
}
