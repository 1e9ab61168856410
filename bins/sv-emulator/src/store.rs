//! Durable storage: one SQLite database (a file under `--data`, or `:memory:`) holding the
//! control-plane snapshot, KV entries, R2 objects, content-addressed blobs (Worker modules,
//! Pages assets) and the Worker invocation log that GraphQL analytics aggregates.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::Error;
use crate::model::Model;

pub struct Store {
    conn: Mutex<Connection>,
}

/// One KV entry.
#[derive(Debug, Clone)]
pub struct KvEntry {
    pub value: Vec<u8>,
    pub metadata: Option<Value>,
    pub expiration: Option<i64>,
}

/// One row of a bulk write: key, value, metadata, expiration.
pub type KvRow = (String, Vec<u8>, Option<Value>, Option<i64>);

/// A key as listed (no value).
#[derive(Debug, Clone)]
pub struct KvKey {
    pub name: String,
    pub metadata: Option<Value>,
    pub expiration: Option<i64>,
}

/// R2 object metadata (everything but the body).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct R2Meta {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub uploaded: String,
    pub version: String,
    pub storage_class: String,
    pub http_metadata: Value,
    pub custom_metadata: Value,
}

/// One emulated Worker invocation, as analytics sees it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub script_name: String,
    pub version_id: String,
    pub datetime_ms: i64,
    pub status: String,
    pub http_status: u16,
    pub cpu_time_us: f64,
    pub wall_time_us: f64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS control (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, metadata TEXT, expiration INTEGER,
    PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r2 (
    bucket TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS invocations (
    script TEXT NOT NULL, version TEXT NOT NULL, ts_ms INTEGER NOT NULL, status TEXT NOT NULL,
    http_status INTEGER NOT NULL, cpu_us REAL NOT NULL, wall_us REAL NOT NULL);
CREATE INDEX IF NOT EXISTS invocations_by_script ON invocations (script, ts_ms);
CREATE TABLE IF NOT EXISTS tails (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
";

fn sql_err(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Sqlite { context, source }
}

impl Store {
    /// Opens `DIR/state.sqlite`, or an in-memory database when `dir` is `None`.
    pub fn open(dir: Option<&Path>) -> Result<Self, Error> {
        let conn = match dir {
            Some(dir) => {
                let path = dir.join("state.sqlite");
                let conn = Connection::open(&path).map_err(sql_err("opening state.sqlite"))?;
                conn.pragma_update(None, "journal_mode", "WAL")
                    .map_err(sql_err("enabling WAL"))?;
                conn.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(sql_err("setting synchronous"))?;
                conn
            }
            None => Connection::open_in_memory().map_err(sql_err("opening in-memory store"))?,
        };
        conn.execute_batch(SCHEMA)
            .map_err(sql_err("creating the store schema"))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn load_model(&self) -> Result<Option<Model>, Error> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT json FROM control WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(sql_err("reading the control snapshot"))?;
        match json {
            None => Ok(None),
            Some(j) => serde_json::from_str(&j)
                .map(Some)
                .map_err(|source| Error::Snapshot { source }),
        }
    }

    pub fn save_model(&self, model: &Model) -> Result<(), Error> {
        let json = serde_json::to_string(model).map_err(|source| Error::Snapshot { source })?;
        self.conn()
            .execute(
                "INSERT INTO control (id, json) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json",
                params![json],
            )
            .map_err(sql_err("writing the control snapshot"))?;
        Ok(())
    }

    // ---- KV ----

    pub fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        metadata: Option<&Value>,
        expiration: Option<i64>,
    ) -> Result<(), Error> {
        let meta = metadata.map(Value::to_string);
        self.conn()
            .prepare_cached(
                "INSERT INTO kv (ns, key, value, metadata, expiration) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
                 metadata = excluded.metadata, expiration = excluded.expiration",
            )
            .and_then(|mut s| s.execute(params![ns, key, value, meta, expiration]))
            .map_err(sql_err("writing a KV value"))?;
        Ok(())
    }

    /// Writes many entries in one transaction.
    pub fn kv_put_many(&self, ns: &str, entries: &[KvRow]) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(sql_err("starting a KV bulk write"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO kv (ns, key, value, metadata, expiration) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
                     metadata = excluded.metadata, expiration = excluded.expiration",
                )
                .map_err(sql_err("preparing a KV bulk write"))?;
            for (key, value, meta, exp) in entries {
                stmt.execute(params![
                    ns,
                    key,
                    value,
                    meta.as_ref().map(Value::to_string),
                    exp
                ])
                .map_err(sql_err("writing a KV value"))?;
            }
        }
        tx.commit().map_err(sql_err("committing a KV bulk write"))
    }

    /// Reads an entry that has not expired at `now` (epoch seconds).
    pub fn kv_get(&self, ns: &str, key: &str, now: i64) -> Result<Option<KvEntry>, Error> {
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT value, metadata, expiration FROM kv WHERE ns = ?1 AND key = ?2
                 AND (expiration IS NULL OR expiration > ?3)",
            )
            .and_then(|mut s| {
                s.query_row(params![ns, key, now], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .optional()
            })
            .map_err(sql_err("reading a KV value"))?;
        Ok(row.map(|(value, meta, expiration)| KvEntry {
            value,
            metadata: meta.and_then(|m| serde_json::from_str(&m).ok()),
            expiration,
        }))
    }

    pub fn kv_delete(&self, ns: &str, keys: &[String]) -> Result<usize, Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(sql_err("starting a KV delete"))?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM kv WHERE ns = ?1 AND key = ?2")
                .map_err(sql_err("preparing a KV delete"))?;
            for k in keys {
                n += stmt
                    .execute(params![ns, k])
                    .map_err(sql_err("deleting a KV key"))?;
            }
        }
        tx.commit().map_err(sql_err("committing a KV delete"))?;
        Ok(n)
    }

    pub fn kv_drop_namespace(&self, ns: &str) -> Result<(), Error> {
        self.conn()
            .execute("DELETE FROM kv WHERE ns = ?1", params![ns])
            .map_err(sql_err("dropping a KV namespace"))?;
        Ok(())
    }

    /// Lists live keys after `after` that start with `prefix`, at most `limit + 1` of them
    /// (the extra one tells the caller whether to hand out a cursor).
    pub fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<KvKey>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, metadata, expiration FROM kv WHERE ns = ?1 AND key >= ?2 AND key > ?3
                 AND (expiration IS NULL OR expiration > ?4) ORDER BY key",
            )
            .map_err(sql_err("listing KV keys"))?;
        let mut rows = stmt
            .query(params![ns, prefix, after.unwrap_or(""), now])
            .map_err(sql_err("listing KV keys"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err("listing KV keys"))? {
            let name: String = row.get(0).map_err(sql_err("listing KV keys"))?;
            if !name.starts_with(prefix) {
                break;
            }
            let meta: Option<String> = row.get(1).map_err(sql_err("listing KV keys"))?;
            out.push(KvKey {
                name,
                metadata: meta.and_then(|m| serde_json::from_str(&m).ok()),
                expiration: row.get(2).map_err(sql_err("listing KV keys"))?,
            });
            if out.len() > limit {
                break;
            }
        }
        Ok(out)
    }

    /// Every live entry of a namespace (admin snapshot).
    pub fn kv_count(&self, ns: &str, now: i64) -> Result<i64, Error> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM kv WHERE ns = ?1 AND (expiration IS NULL OR expiration > ?2)",
                params![ns, now],
                |r| r.get(0),
            )
            .map_err(sql_err("counting KV keys"))
    }

    // ---- R2 ----

    pub fn r2_put(&self, bucket: &str, meta: &R2Meta, body: &[u8]) -> Result<(), Error> {
        let m = serde_json::to_string(meta).map_err(|source| Error::Snapshot { source })?;
        self.conn()
            .execute(
                "INSERT INTO r2 (bucket, key, body, meta) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (bucket, key) DO UPDATE SET body = excluded.body, meta = excluded.meta",
                params![bucket, meta.key, body, m],
            )
            .map_err(sql_err("writing an R2 object"))?;
        Ok(())
    }

    pub fn r2_get(&self, bucket: &str, key: &str) -> Result<Option<(R2Meta, Vec<u8>)>, Error> {
        let row: Option<(String, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT meta, body FROM r2 WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_err("reading an R2 object"))?;
        match row {
            None => Ok(None),
            Some((m, body)) => {
                let meta = serde_json::from_str(&m).map_err(|source| Error::Snapshot { source })?;
                Ok(Some((meta, body)))
            }
        }
    }

    pub fn r2_delete(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM r2 WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
            )
            .map_err(sql_err("deleting an R2 object"))?;
        Ok(n > 0)
    }

    pub fn r2_count(&self, bucket: &str) -> Result<i64, Error> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM r2 WHERE bucket = ?1",
                params![bucket],
                |r| r.get(0),
            )
            .map_err(sql_err("counting R2 objects"))
    }

    pub fn r2_drop_bucket(&self, bucket: &str) -> Result<(), Error> {
        self.conn()
            .execute("DELETE FROM r2 WHERE bucket = ?1", params![bucket])
            .map_err(sql_err("dropping an R2 bucket"))?;
        Ok(())
    }

    /// Object metadata in key order, keys `>= prefix` and `> after`, stopping at the first key
    /// outside the prefix; at most `limit` rows are scanned.
    pub fn r2_list(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<R2Meta>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, meta FROM r2 WHERE bucket = ?1 AND key >= ?2 AND key > ?3 ORDER BY key",
            )
            .map_err(sql_err("listing R2 objects"))?;
        let mut rows = stmt
            .query(params![bucket, prefix, after])
            .map_err(sql_err("listing R2 objects"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err("listing R2 objects"))? {
            let key: String = row.get(0).map_err(sql_err("listing R2 objects"))?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            let m: String = row.get(1).map_err(sql_err("listing R2 objects"))?;
            out.push(serde_json::from_str(&m).map_err(|source| Error::Snapshot { source })?);
        }
        Ok(out)
    }

    // ---- blobs ----

    pub fn blob_put(&self, hash: &str, data: &[u8]) -> Result<(), Error> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO blobs (hash, data) VALUES (?1, ?2)",
                params![hash, data],
            )
            .map_err(sql_err("writing a blob"))?;
        Ok(())
    }

    pub fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>, Error> {
        self.conn()
            .query_row(
                "SELECT data FROM blobs WHERE hash = ?1",
                params![hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("reading a blob"))
    }

    pub fn blob_exists(&self, hash: &str) -> Result<bool, Error> {
        Ok(self
            .conn()
            .query_row("SELECT 1 FROM blobs WHERE hash = ?1", params![hash], |_| {
                Ok(())
            })
            .optional()
            .map_err(sql_err("checking a blob"))?
            .is_some())
    }

    // ---- invocations ----

    pub fn record_invocation(&self, inv: &Invocation) -> Result<(), Error> {
        self.conn()
            .prepare_cached(
                "INSERT INTO invocations (script, version, ts_ms, status, http_status, cpu_us, wall_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    inv.script_name,
                    inv.version_id,
                    inv.datetime_ms,
                    inv.status,
                    inv.http_status,
                    inv.cpu_time_us,
                    inv.wall_time_us
                ])
            })
            .map_err(sql_err("recording an invocation"))?;
        Ok(())
    }

    /// Invocations of `script` (any when `None`) within `[from_ms, to_ms]`.
    pub fn invocations(
        &self,
        script: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Invocation>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT script, version, ts_ms, status, http_status, cpu_us, wall_us FROM invocations
                 WHERE (?1 IS NULL OR script = ?1) AND ts_ms >= ?2 AND ts_ms <= ?3 ORDER BY ts_ms",
            )
            .map_err(sql_err("reading invocations"))?;
        let rows = stmt
            .query_map(params![script, from_ms, to_ms], |r| {
                Ok(Invocation {
                    script_name: r.get(0)?,
                    version_id: r.get(1)?,
                    datetime_ms: r.get(2)?,
                    status: r.get(3)?,
                    http_status: r.get(4)?,
                    cpu_time_us: r.get(5)?,
                    wall_time_us: r.get(6)?,
                })
            })
            .map_err(sql_err("reading invocations"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(sql_err("reading invocations"))
    }

    // ---- tails ----

    /// Records an active tail, so it survives a restart with `--data` (until it expires).
    pub fn tail_put(&self, tail: &crate::tail::Tail) -> Result<(), Error> {
        let json = serde_json::to_string(tail).map_err(|source| Error::Snapshot { source })?;
        self.conn()
            .execute(
                "INSERT INTO tails (id, json) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json",
                params![tail.id, json],
            )
            .map_err(sql_err("writing a tail"))?;
        Ok(())
    }

    pub fn tail_delete(&self, id: &str) -> Result<(), Error> {
        self.conn()
            .execute("DELETE FROM tails WHERE id = ?1", params![id])
            .map_err(sql_err("deleting a tail"))?;
        Ok(())
    }

    pub fn tails(&self) -> Result<Vec<crate::tail::Tail>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT json FROM tails")
            .map_err(sql_err("reading tails"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sql_err("reading tails"))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(sql_err("reading tails"))?;
            out.push(serde_json::from_str(&json).map_err(|source| Error::Snapshot { source })?);
        }
        Ok(out)
    }

    /// Empties every table (admin reset).
    pub fn clear(&self) -> Result<(), Error> {
        self.conn()
            .execute_batch(
                "DELETE FROM control; DELETE FROM kv; DELETE FROM r2; DELETE FROM blobs;
                 DELETE FROM invocations; DELETE FROM tails;",
            )
            .map_err(sql_err("resetting the store"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_list_prefix_cursor_and_expiry() {
        let s = Store::open(None).unwrap();
        for k in ["a1", "a2", "a3", "b1"] {
            s.kv_put("ns", k, b"v", None, None).unwrap();
        }
        s.kv_put("ns", "a4", b"v", None, Some(100)).unwrap();
        let page = s.kv_list("ns", "a", None, 2, 50).unwrap();
        assert_eq!(
            page.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["a1", "a2", "a3"]
        );
        let rest = s.kv_list("ns", "a", Some("a2"), 10, 200).unwrap();
        assert_eq!(rest.len(), 1, "a4 expired at 100");
        assert!(s.kv_get("ns", "a4", 200).unwrap().is_none());
        assert!(s.kv_get("ns", "a4", 50).unwrap().is_some());
    }

    #[test]
    fn model_roundtrip() {
        let s = Store::open(None).unwrap();
        assert!(s.load_model().unwrap().is_none());
        let m = Model {
            subdomain: Some("x".into()),
            ..Model::default()
        };
        s.save_model(&m).unwrap();
        assert_eq!(
            s.load_model().unwrap().unwrap().subdomain.as_deref(),
            Some("x")
        );
    }
}
