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
    pub jobs: D1Jobs,
}

impl D1Manager {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            conns: Mutex::new(HashMap::new()),
            jobs: D1Jobs::default(),
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
        lock(&self.jobs.history).remove(uuid);
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

    /// Drops every database and pending job (admin reset).
    pub fn drop_all(&self, uuids: &[String]) -> Result<(), Error> {
        for u in uuids {
            self.drop_db(u)?;
        }
        lock(&self.conns).clear();
        lock(&self.jobs.exports).clear();
        lock(&self.jobs.dumps).clear();
        lock(&self.jobs.uploads).clear();
        lock(&self.jobs.imports).clear();
        lock(&self.jobs.history).clear();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// API

use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use md5::{Digest as _, Md5};
use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::ValueRef;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Json, Query, RawBody, ok, ok_info, ok_status, raw};
use crate::model::D1Database;
use crate::pagination::{PageBounds, PageReq};
use crate::state::AppState;

type S = State<Arc<AppState>>;

/// Largest import file accepted on the upload URL.
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;
/// Largest SQL text accepted by `query` / `raw` (D1's statement limit is 100 KB; the body
/// limit is the API's).
pub const MAX_QUERY_BODY: usize = crate::api::JSON_LIMIT;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let base = "/accounts/{account_id}/d1/database";
    Router::new()
        .route(base, get(list).post(create))
        .route(
            &format!("{base}/{{database_id}}"),
            get(get_db)
                .delete(delete_db)
                .put(update_db)
                .patch(update_db),
        )
        .route(&format!("{base}/{{database_id}}/query"), post(query))
        .route(&format!("{base}/{{database_id}}/raw"), post(raw_query))
        .route(&format!("{base}/{{database_id}}/export"), post(export))
        .route(&format!("{base}/{{database_id}}/import"), post(import))
        .route(
            &format!("{base}/{{database_id}}/time_travel/bookmark"),
            get(tt_bookmark),
        )
        .route(
            &format!("{base}/{{database_id}}/time_travel/restore"),
            post(tt_restore),
        )
}

/// Pre-signed URL targets (no auth), mounted under `/__signed/d1`.
pub(crate) fn signed_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/export/{token}/{filename}", get(download_export))
        .route("/import/{token}", put(upload_import))
}

fn not_found() -> ApiError {
    ApiError::not_found(7404, "The database could not be found")
}

/// Pending export / import work, kept in memory (signed URLs are short-lived anyway).
#[derive(Default)]
pub struct D1Jobs {
    /// bookmark → (database uuid, export token, filename)
    exports: Mutex<HashMap<String, (String, String, String)>>,
    /// export token → SQL dump
    dumps: Mutex<HashMap<String, Vec<u8>>>,
    /// upload token → pending upload
    uploads: Mutex<HashMap<String, PendingUpload>>,
    /// bookmark → finished import result (or error)
    imports: Mutex<HashMap<String, Result<Value, String>>>,
    /// Time travel: per database, the states after its latest changes (oldest first).
    history: Mutex<HashMap<String, std::collections::VecDeque<HistoryEntry>>>,
    history_seq: std::sync::atomic::AtomicU64,
}

/// One restorable state of a database.
#[derive(Debug, Clone)]
struct HistoryEntry {
    bookmark: String,
    at_ms: i64,
    dump: Arc<String>,
}

/// How many states time travel keeps per database.
pub const HISTORY_LEN: usize = 200;

/// (database uuid, etag announced by `init`, uploaded bytes once PUT)
type PendingUpload = (String, String, Option<Vec<u8>>);

/// One executed statement.
#[derive(Debug, Clone)]
pub struct StmtResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub meta: Value,
}

fn sql_error(e: &rusqlite::Error) -> ApiError {
    let msg = match e {
        rusqlite::Error::SqliteFailure(code, Some(m)) => {
            format!("{m}: SQLITE_{}", sqlite_code_name(code.code))
        }
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            format!("{msg} at offset {offset}: SQLITE_ERROR")
        }
        other => format!("{other}: SQLITE_ERROR"),
    };
    ApiError::bad_request(7500, msg)
}

fn sqlite_code_name(code: rusqlite::ErrorCode) -> &'static str {
    use rusqlite::ErrorCode as C;
    match code {
        C::ConstraintViolation => "CONSTRAINT",
        C::DatabaseBusy => "BUSY",
        C::ReadOnly => "READONLY",
        C::TooBig => "TOOBIG",
        C::TypeMismatch => "MISMATCH",
        _ => "ERROR",
    }
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(V::Integer)
            .or_else(|| n.as_f64().map(V::Real))
            .unwrap_or(V::Null),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => json!(b),
    }
}

fn db_size(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// Runs every statement of `sql` in one savepoint (all or nothing), binding `params` to the
/// statements that take parameters, like D1 does.
pub fn execute(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<StmtResult>, ApiError> {
    conn.execute_batch("SAVEPOINT sv_d1_query")
        .map_err(|e| sql_error(&e))?;
    let out = execute_inner(conn, sql, params);
    let end = if out.is_ok() {
        "RELEASE sv_d1_query"
    } else {
        "ROLLBACK TO sv_d1_query; RELEASE sv_d1_query"
    };
    if let Err(e) = conn.execute_batch(end) {
        // The user's SQL may have ended the transaction itself (COMMIT); nothing to undo then.
        if out.is_ok() && conn.is_autocommit() {
            return out;
        }
        return Err(sql_error(&e));
    }
    out
}

fn execute_inner(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<StmtResult>, ApiError> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut results = Vec::new();
    let bound: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
    while let Some(mut stmt) = batch.next().map_err(|e| sql_error(&e))? {
        let started = Instant::now();
        let count = stmt.parameter_count();
        if count > 0 && count != bound.len() {
            return Err(ApiError::bad_request(
                7500,
                format!(
                    "Wrong number of parameter bindings for SQL query: expected {count}, got {}",
                    bound.len()
                ),
            ));
        }
        let readonly = stmt.readonly();
        let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let before_changes = conn.total_changes();
        let mut rows_out = Vec::new();
        {
            let p: Vec<&dyn rusqlite::ToSql> = if count > 0 {
                bound.iter().map(|v| v as &dyn rusqlite::ToSql).collect()
            } else {
                Vec::new()
            };
            let mut rows = stmt.query(p.as_slice()).map_err(|e| sql_error(&e))?;
            while let Some(row) = rows.next().map_err(|e| sql_error(&e))? {
                let mut vals = Vec::with_capacity(columns.len());
                for i in 0..columns.len() {
                    vals.push(from_sql(row.get_ref(i).map_err(|e| sql_error(&e))?));
                }
                rows_out.push(vals);
            }
        }
        let changes = if readonly {
            0
        } else {
            conn.total_changes() - before_changes
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let rows_read = rows_out.len() as u64;
        results.push(StmtResult {
            columns,
            meta: json!({
                "served_by": "sv-emulator",
                "served_by_region": "WNAM",
                "served_by_primary": true,
                "duration": duration_ms,
                "changes": changes,
                "last_row_id": conn.last_insert_rowid(),
                "changed_db": !readonly,
                "size_after": db_size(conn),
                "rows_read": rows_read,
                "rows_written": changes,
                "timings": {"sql_duration_ms": duration_ms},
            }),
            rows: rows_out,
        });
    }
    if results.is_empty() {
        return Err(ApiError::bad_request(
            7500,
            "No SQL statements detected: SQLITE_ERROR",
        ));
    }
    Ok(results)
}

fn sql_literal(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => {
            if f.is_finite() {
                format!("{f:?}")
            } else if f.is_nan() {
                "NULL".into()
            } else if f > 0.0 {
                "9e999".into()
            } else {
                "-9e999".into()
            }
        }
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn dump_header() -> String {
    "PRAGMA defer_foreign_keys=TRUE;\n".to_string()
}

/// `name → type` (`table`, `view`, `virtual`, `shadow`) of the main schema's tables.
fn table_kinds(conn: &Connection) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let mut stmt = conn
        .prepare("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
        .map_err(|e| sql_error(&e))?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| sql_error(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| sql_error(&e))
}

/// The virtual tables (FTS5 and the like) of a database, which D1 cannot export.
pub fn virtual_tables(conn: &Connection) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = table_kinds(conn)?
        .into_iter()
        .filter(|(_, kind)| kind == "virtual")
        .map(|(name, _)| name)
        .collect();
    names.sort();
    Ok(names)
}

/// Dumps the database as SQL text (what D1 export produces), with D1's dump options.
///
/// Like SQLite's `.dump` (which D1's export follows): `CREATE` statements and rows, then the
/// AUTOINCREMENT counters (`DELETE FROM sqlite_sequence; INSERT INTO "sqlite_sequence" …`,
/// only for the dumped tables when `tables` filters). Shadow tables of virtual tables are
/// not created (the virtual table creates them) but their rows are replaced, so the
/// emulator's own time-travel states round-trip an FTS5 index; the export endpoint refuses
/// databases with virtual tables before calling this, as D1 does.
pub fn dump(
    conn: &Connection,
    no_schema: bool,
    no_data: bool,
    tables: &[String],
) -> Result<String, ApiError> {
    let mut out = dump_header();
    let kinds = table_kinds(conn)?;
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'
             ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'trigger' THEN 2 ELSE 3 END, rowid",
        )
        .map_err(|e| sql_error(&e))?;
    let objects: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(|e| sql_error(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| sql_error(&e))?;
    let wanted = |t: &str| tables.is_empty() || tables.iter().any(|x| x == t);
    for (kind, name, tbl, sql) in &objects {
        if !wanted(tbl) {
            continue;
        }
        let table_kind = kinds.get(name).map_or("table", String::as_str);
        let shadow = kind == "table" && table_kind == "shadow";
        if !no_schema && !shadow {
            out.push_str(sql);
            out.push_str(";\n");
        }
        if kind == "table" && table_kind != "virtual" && !no_data {
            if shadow {
                out.push_str(&format!("DELETE FROM {};\n", quote_ident(name)));
            }
            dump_rows(conn, name, &mut out)?;
        }
    }
    if !no_data && kinds.contains_key("sqlite_sequence") {
        let mut s = conn
            .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY rowid")
            .map_err(|e| sql_error(&e))?;
        let rows: Vec<(String, i64)> = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| sql_error(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| sql_error(&e))?;
        let rows: Vec<(String, i64)> = rows.into_iter().filter(|(t, _)| wanted(t)).collect();
        if !rows.is_empty() {
            if tables.is_empty() {
                out.push_str("DELETE FROM sqlite_sequence;\n");
            }
            for (t, seq) in rows {
                let lit = sql_literal(rusqlite::types::ValueRef::Text(t.as_bytes()));
                if !tables.is_empty() {
                    out.push_str(&format!(
                        "DELETE FROM sqlite_sequence WHERE name = {lit};\n"
                    ));
                }
                out.push_str(&format!(
                    "INSERT INTO \"sqlite_sequence\" VALUES({lit},{seq});\n"
                ));
            }
        }
    }
    Ok(out)
}

fn dump_rows(conn: &Connection, name: &str, out: &mut String) -> Result<(), ApiError> {
    let mut s = conn
        .prepare(&format!("SELECT * FROM {}", quote_ident(name)))
        .map_err(|e| sql_error(&e))?;
    let n = s.column_count();
    let mut rows = s.query([]).map_err(|e| sql_error(&e))?;
    while let Some(row) = rows.next().map_err(|e| sql_error(&e))? {
        let vals: Vec<String> = (0..n)
            .map(|i| row.get_ref(i).map(sql_literal))
            .collect::<Result<_, _>>()
            .map_err(|e| sql_error(&e))?;
        out.push_str(&format!(
            "INSERT INTO {} VALUES({});\n",
            quote_ident(name),
            vals.join(",")
        ));
    }
    Ok(())
}

fn count_tables(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

impl AppState {
    /// Resolves a database by uuid or by name (wrangler puts the name in the id slot).
    pub fn d1_resolve(&self, id_or_name: &str) -> Result<D1Database, ApiError> {
        self.read(|m| {
            m.d1.get(id_or_name)
                .or_else(|| m.d1.values().find(|d| d.name == id_or_name))
                .cloned()
        })
        .ok_or_else(not_found)
    }

    pub fn d1_create(
        &self,
        name: &str,
        location: Option<&str>,
        jurisdiction: Option<&str>,
    ) -> Result<D1Database, ApiError> {
        if !valid_name(name) {
            return Err(ApiError::bad_request(
                7400,
                format!(
                    "Invalid database name {name:?}: use lower-case letters, digits, '-' and '_'"
                ),
            ));
        }
        if let Some(l) = location
            && !["wnam", "enam", "weur", "eeur", "apac", "oc"].contains(&l)
        {
            return Err(ApiError::bad_request(
                7400,
                format!("Invalid primary_location_hint {l:?}"),
            ));
        }
        if let Some(j) = jurisdiction
            && !["eu", "fedramp", "us"].contains(&j)
        {
            return Err(ApiError::bad_request(
                7400,
                format!("Invalid jurisdiction {j:?}"),
            ));
        }
        let uuid = self.uuid();
        let now = self.now_rfc3339();
        let db = self.mutate(|m| {
            if m.d1.values().any(|d| d.name == name) {
                return Err(ApiError::bad_request(
                    7502,
                    format!("A database with that name already exists: {name}"),
                ));
            }
            let db = D1Database {
                uuid: uuid.clone(),
                name: name.to_string(),
                created_at: now,
                version: "production".into(),
                primary_location_hint: location.map(str::to_string),
                jurisdiction: jurisdiction.map(str::to_string),
                read_replication_mode: "disabled".into(),
                region: location.unwrap_or("wnam").to_ascii_uppercase(),
            };
            m.d1.insert(uuid.clone(), db.clone());
            Ok(db)
        })?;
        self.d1.conn(&db.uuid)?;
        self.d1_record_state(&db.uuid, dump_header());
        Ok(db)
    }

    /// Executes `sql` on database `uuid` off the async threads.
    pub async fn d1_execute(
        &self,
        uuid: &str,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<StmtResult>, ApiError> {
        let conn = self.d1.conn(uuid)?;
        let (results, dump) = tokio::task::spawn_blocking(move || {
            let conn = lock(&conn);
            let results = execute(&conn, &sql, &params)?;
            // Time travel keeps the state after every change.
            let changed = results.iter().any(|r| r.meta["changed_db"] == true);
            let dump = if changed {
                Some(dump(&conn, false, false, &[])?)
            } else {
                None
            };
            Ok::<_, ApiError>((results, dump))
        })
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))??;
        if let Some(d) = dump {
            self.d1_record_state(uuid, d);
        }
        Ok(results)
    }

    /// Records a restorable state of `uuid` and returns its bookmark.
    pub fn d1_record_state(&self, uuid: &str, dump: String) -> String {
        let seq = self
            .d1
            .jobs
            .history_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = self.now_ms();
        let bookmark = format!(
            "{now:016x}-{seq:08x}-{}",
            &uuid.replace('-', "")[..16.min(uuid.len())]
        );
        let mut history = lock(&self.d1.jobs.history);
        let h = history.entry(uuid.to_string()).or_default();
        h.push_back(HistoryEntry {
            bookmark: bookmark.clone(),
            at_ms: now,
            dump: Arc::new(dump),
        });
        while h.len() > HISTORY_LEN {
            h.pop_front();
        }
        bookmark
    }

    /// The database's time-travel history. History is kept in memory only: after a restart
    /// (or for a database the history has never seen) it starts at the current state.
    fn d1_history(&self, uuid: &str) -> Result<Vec<HistoryEntry>, ApiError> {
        let known = lock(&self.d1.jobs.history)
            .get(uuid)
            .is_some_and(|h| !h.is_empty());
        if !known {
            let conn = self.d1.conn(uuid)?;
            let current = dump(&lock(&conn), false, false, &[])?;
            self.d1_record_state(uuid, current);
        }
        Ok(lock(&self.d1.jobs.history)
            .get(uuid)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default())
    }

    fn d1_json(&self, db: &D1Database, detail: bool) -> Value {
        let mut v = json!({
            "uuid": db.uuid,
            "name": db.name,
            "version": db.version,
            "created_at": db.created_at,
            "read_replication": {"mode": db.read_replication_mode},
        });
        if let Some(j) = &db.jurisdiction {
            v["jurisdiction"] = json!(j);
        }
        if detail && let Ok(conn) = self.d1.conn(&db.uuid) {
            let conn = lock(&conn);
            v["file_size"] = json!(db_size(&conn));
            v["num_tables"] = json!(count_tables(&conn));
            v["running_in_region"] = json!(db.region);
        }
        v
    }

    fn next_bookmark(&self) -> Result<String, ApiError> {
        let seq = self.mutate(|m| {
            m.bookmark_seq += 1;
            Ok(m.bookmark_seq)
        })?;
        let h = self.hex_id();
        Ok(format!("{seq:08x}-00000000-00004c6d-{h}"))
    }
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    name: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

async fn list(State(st): S, Query(q): Query<ListQuery>) -> ApiResult {
    let req = PageReq::parse(
        q.page.as_deref(),
        q.per_page.as_deref(),
        PageBounds {
            default: 1000,
            min: 10,
            max: 10000,
        },
    )?;
    let mut dbs: Vec<D1Database> = st.read(|m| m.d1.values().cloned().collect());
    dbs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
    if let Some(n) = q.name.as_deref().filter(|n| !n.is_empty()) {
        dbs.retain(|d| d.name.contains(n));
    }
    let items: Vec<Value> = dbs.iter().map(|d| st.d1_json(d, false)).collect();
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    primary_location_hint: Option<String>,
    jurisdiction: Option<String>,
}

async fn create(State(st): S, Json(b): Json<CreateBody>) -> ApiResult {
    let db = st.d1_create(
        &b.name,
        b.primary_location_hint.as_deref(),
        b.jurisdiction.as_deref(),
    )?;
    ok(st.d1_json(&db, false))
}

#[derive(Debug, Deserialize, Default)]
struct GetQuery {
    /// `fields=uuid,name` [OAS-new]: only these fields.
    fields: Option<String>,
}

async fn get_db(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Query(q): Query<GetQuery>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    let mut v = st.d1_json(&db, true);
    if let Some(fields) = q.fields.as_deref().filter(|f| !f.is_empty())
        && let Some(o) = v.as_object_mut()
    {
        let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
        o.retain(|k, _| keep.contains(&k.as_str()));
    }
    ok(v)
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    read_replication: Option<ReadReplication>,
}

#[derive(Debug, Deserialize)]
struct ReadReplication {
    mode: String,
}

async fn update_db(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Json(b): Json<UpdateBody>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    let Some(rr) = b.read_replication else {
        return Err(ApiError::bad_request(
            7400,
            "Only read_replication can be updated",
        ));
    };
    if !["auto", "disabled"].contains(&rr.mode.as_str()) {
        return Err(ApiError::bad_request(
            7400,
            format!("Invalid read_replication mode {:?}", rr.mode),
        ));
    }
    let updated = st.mutate(|m| {
        let d = m.d1.get_mut(&db.uuid).ok_or_else(not_found)?;
        d.read_replication_mode = rr.mode;
        Ok(d.clone())
    })?;
    ok(st.d1_json(&updated, true))
}

async fn delete_db(State(st): S, Path((_a, id)): Path<(String, String)>) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    st.mutate(|m| m.d1.remove(&db.uuid).map(|_| ()).ok_or_else(not_found))?;
    st.d1.drop_db(&db.uuid)?;
    ok(Value::Null)
}

#[derive(Debug, Deserialize)]
struct QueryBody {
    sql: Option<String>,
    #[serde(default)]
    params: Vec<Value>,
    batch: Option<Vec<BatchItem>>,
}

#[derive(Debug, Deserialize)]
struct BatchItem {
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
}

async fn run_query(st: &AppState, id: &str, body: QueryBody) -> Result<Vec<StmtResult>, ApiError> {
    let db = st.d1_resolve(id)?;
    let items = match (body.sql, body.batch) {
        (Some(sql), None) => vec![BatchItem {
            sql,
            params: body.params,
        }],
        (None, Some(batch)) if !batch.is_empty() => batch,
        _ => {
            return Err(ApiError::bad_request(
                7400,
                "Provide either sql or a non-empty batch",
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let sql = item.sql.replace("\r\n", "\n");
        out.extend(st.d1_execute(&db.uuid, sql, item.params).await?);
    }
    Ok(out)
}

async fn query(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Json(b): Json<QueryBody>,
) -> ApiResult {
    let results = run_query(&st, &id, b).await?;
    ok(results
        .into_iter()
        .map(|r| {
            let rows: Vec<Value> = r
                .rows
                .into_iter()
                .map(|row| {
                    let mut o = serde_json::Map::new();
                    for (c, v) in r.columns.iter().zip(row) {
                        o.insert(c.clone(), v);
                    }
                    Value::Object(o)
                })
                .collect();
            json!({"results": rows, "success": true, "meta": r.meta})
        })
        .collect::<Vec<_>>())
}

async fn raw_query(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Json(b): Json<QueryBody>,
) -> ApiResult {
    let results = run_query(&st, &id, b).await?;
    ok(results
        .into_iter()
        .map(|r| json!({"results": {"columns": r.columns, "rows": r.rows}, "success": true, "meta": r.meta}))
        .collect::<Vec<_>>())
}

/// `http://HOST` of this request, for the signed URLs the emulator hands out.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

#[derive(Debug, Deserialize)]
struct ExportBody {
    output_format: String,
    #[serde(default)]
    dump_options: DumpOptions,
    current_bookmark: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct DumpOptions {
    #[serde(default)]
    no_schema: bool,
    #[serde(default)]
    no_data: bool,
    #[serde(default)]
    tables: Vec<String>,
}

async fn export(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(b): Json<ExportBody>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    if b.output_format != "polling" {
        return Err(ApiError::bad_request(
            7400,
            "output_format must be \"polling\"",
        ));
    }
    if let Some(bm) = b.current_bookmark.as_deref().filter(|b| !b.is_empty()) {
        let job = lock(&st.d1.jobs.exports).get(bm).cloned();
        let Some((_, token, filename)) = job.filter(|j| j.0 == db.uuid) else {
            return Err(ApiError::bad_request(
                7400,
                format!("Unknown export bookmark {bm:?}"),
            ));
        };
        let url = format!("{}/__signed/d1/export/{token}/{filename}", origin(&headers));
        return ok(json!({
            "success": true,
            "type": "export",
            "at_bookmark": bm,
            "status": "complete",
            "messages": [format!("Generated {filename}"), "Uploaded part 1"],
            "result": {"filename": filename, "signed_url": url},
        }));
    }
    // Start: take a consistent dump now; the client polls for completion.
    let conn = st.d1.conn(&db.uuid)?;
    let opts = b.dump_options;
    let dumped = tokio::task::spawn_blocking(move || {
        let conn = lock(&conn);
        // D1 refuses to export a database with virtual tables at all (whatever `tables`
        // says): their dump would need `PRAGMA writable_schema`, which D1 does not allow.
        let virtuals = virtual_tables(&conn)?;
        if !virtuals.is_empty() {
            return Ok(Err(virtuals));
        }
        dump(&conn, opts.no_schema, opts.no_data, &opts.tables).map(Ok)
    })
    .await
    .map_err(|e| ApiError::internal(format!("export task failed: {e}")))??;
    let sql = match dumped {
        Ok(sql) => sql,
        Err(virtuals) => {
            let bookmark = st.next_bookmark()?;
            let error = format!(
                "Export is not supported for databases with virtual tables (found: {}). Drop \
                 the virtual tables, export, then recreate them.",
                virtuals.join(", ")
            );
            return ok(json!({
                "success": false,
                "type": "export",
                "at_bookmark": bookmark,
                "status": "error",
                "error": error,
                "messages": [error],
            }));
        }
    };
    let bookmark = st.next_bookmark()?;
    let token = st.hex_id();
    let filename = format!("{}-{}.sql", db.name, &bookmark[..17]);
    lock(&st.d1.jobs.dumps).insert(token.clone(), sql.into_bytes());
    lock(&st.d1.jobs.exports).insert(bookmark.clone(), (db.uuid.clone(), token, filename));
    ok_status(
        StatusCode::ACCEPTED,
        json!({
            "success": true,
            "type": "export",
            "at_bookmark": bookmark,
            "status": "active",
            "messages": ["Generating export"],
        }),
    )
}

async fn download_export(
    State(st): S,
    Path((token, _f)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let body = lock(&st.d1.jobs.dumps).get(&token).cloned();
    body.map(|b| raw(StatusCode::OK, "application/sql", b))
        .ok_or_else(|| ApiError::not_found(7404, "Export not found or expired"))
}

#[derive(Debug, Deserialize)]
struct ImportBody {
    action: String,
    etag: Option<String>,
    filename: Option<String>,
    current_bookmark: Option<String>,
}

async fn import(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(b): Json<ImportBody>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    match b.action.as_str() {
        "init" => {
            let etag = b
                .etag
                .ok_or_else(|| ApiError::bad_request(7400, "etag is required"))?;
            let token = st.hex_id();
            let filename = format!("{token}.sql");
            lock(&st.d1.jobs.uploads).insert(token.clone(), (db.uuid.clone(), etag, None));
            ok(json!({
                "success": true,
                "type": "import",
                "upload_url": format!("{}/__signed/d1/import/{token}", origin(&headers)),
                "filename": filename,
            }))
        }
        "ingest" => {
            let etag = b
                .etag
                .ok_or_else(|| ApiError::bad_request(7400, "etag is required"))?;
            let filename = b
                .filename
                .ok_or_else(|| ApiError::bad_request(7400, "filename is required"))?;
            let token = filename.trim_end_matches(".sql").to_string();
            let upload = lock(&st.d1.jobs.uploads).get(&token).cloned();
            let Some((uuid, announced, Some(bytes))) = upload.filter(|u| u.0 == db.uuid) else {
                return Err(ApiError::bad_request(
                    7400,
                    format!("No uploaded file named {filename:?}"),
                ));
            };
            let md5 = hex::encode(Md5::digest(&bytes));
            let bookmark = st.next_bookmark()?;
            // The file must be the one announced by `init` and match the md5 given now.
            let etag = etag.trim_matches('"');
            let outcome = if md5 == etag && announced.trim_matches('"') == etag {
                let sql = String::from_utf8_lossy(&bytes).into_owned();
                let conn = st.d1.conn(&uuid)?;
                let started = Instant::now();
                let res = tokio::task::spawn_blocking(move || {
                    let conn = lock(&conn);
                    let results = execute(&conn, &sql, &[])?;
                    Ok::<_, ApiError>((results, dump(&conn, false, false, &[])?))
                })
                .await
                .map_err(|e| ApiError::internal(format!("import task failed: {e}")))?
                .map(|(results, state)| {
                    st.d1_record_state(&uuid, state);
                    results
                });
                match res {
                    Ok(results) => {
                        let changes: i64 = results
                            .iter()
                            .filter_map(|r| r.meta["changes"].as_i64())
                            .sum();
                        let size = results
                            .last()
                            .map(|r| r.meta["size_after"].clone())
                            .unwrap_or(json!(0));
                        Ok(json!({
                            "final_bookmark": bookmark,
                            "num_queries": results.len(),
                            "meta": {
                                "served_by": "sv-emulator",
                                "duration": started.elapsed().as_secs_f64() * 1000.0,
                                "changes": changes,
                                "last_row_id": results.last().map(|r| r.meta["last_row_id"].clone()).unwrap_or(json!(0)),
                                "changed_db": changes > 0,
                                "size_after": size,
                                "rows_read": 0,
                                "rows_written": changes,
                            },
                        }))
                    }
                    Err(e) => Err(e
                        .errors
                        .first()
                        .map(|x| x.message.clone())
                        .unwrap_or_default()),
                }
            } else {
                Err(format!("etag mismatch: uploaded file has md5 {md5}"))
            };
            lock(&st.d1.jobs.uploads).remove(&token);
            lock(&st.d1.jobs.imports).insert(bookmark.clone(), outcome);
            ok_status(
                StatusCode::ACCEPTED,
                json!({
                    "success": true,
                    "type": "import",
                    "at_bookmark": bookmark,
                    "status": "active",
                    "messages": ["Ingesting import"],
                }),
            )
        }
        "poll" => {
            let bm = b
                .current_bookmark
                .ok_or_else(|| ApiError::bad_request(7400, "current_bookmark is required"))?;
            let outcome = lock(&st.d1.jobs.imports).get(&bm).cloned();
            match outcome {
                None => Err(ApiError::bad_request(
                    7400,
                    format!("Unknown import bookmark {bm:?}"),
                )),
                Some(Ok(result)) => ok(json!({
                    "success": true,
                    "type": "import",
                    "at_bookmark": bm,
                    "status": "complete",
                    "messages": ["Import complete"],
                    "result": result,
                })),
                Some(Err(msg)) => ok(json!({
                    "success": false,
                    "type": "import",
                    "at_bookmark": bm,
                    "status": "error",
                    "messages": [],
                    "error": msg,
                })),
            }
        }
        other => Err(ApiError::bad_request(
            7400,
            format!("Unknown import action {other:?}"),
        )),
    }
}

async fn upload_import(
    State(st): S,
    Path(token): Path<String>,
    RawBody(body): RawBody<MAX_IMPORT_BYTES>,
) -> Result<Response, ApiError> {
    let mut uploads = lock(&st.d1.jobs.uploads);
    let Some(entry) = uploads.get_mut(&token) else {
        return Err(ApiError::not_found(7404, "Upload URL not found or expired"));
    };
    let md5 = hex::encode(Md5::digest(&body));
    entry.2 = Some(body.to_vec());
    let mut resp = raw(StatusCode::OK, "text/plain", Vec::new());
    if let Ok(v) = HeaderValue::from_str(&format!("\"{md5}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executes_multiple_statements_with_params_and_rolls_back_on_error() {
        let c = Connection::open_in_memory().unwrap();
        let r = execute(
            &c,
            "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x');",
            &[],
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].meta["changes"], 1);
        let r = execute(&c, "SELECT * FROM t WHERE a = ?", &[json!(1)]).unwrap();
        assert_eq!(r[0].rows, vec![vec![json!(1), json!("x")]]);
        assert_eq!(r[0].columns, vec!["a", "b"]);
        let e = execute(&c, "INSERT INTO t VALUES (2, 'y'); SELEC 1", &[]).unwrap_err();
        assert_eq!(e.code(), 7500);
        assert!(e.errors[0].message.contains("SQLITE_ERROR"), "{e:?}");
        let r = execute(&c, "SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(
            r[0].rows[0][0],
            json!(1),
            "the failed batch was rolled back"
        );
        let e = execute(&c, "SELECT ?", &[]).unwrap_err();
        assert_eq!(e.code(), 7500);
    }

    #[test]
    fn dump_restores_into_a_fresh_database() {
        let c = Connection::open_in_memory().unwrap();
        execute(
            &c,
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL, d BLOB); CREATE INDEX ti ON t(b);
             INSERT INTO t VALUES (1, 'it''s', 1.5, X'00ff'), (2, NULL, -0.25, NULL);",
            &[],
        )
        .unwrap();
        let sql = dump(&c, false, false, &[]).unwrap();
        let c2 = Connection::open_in_memory().unwrap();
        execute(&c2, &sql, &[]).unwrap();
        assert_eq!(dump(&c2, false, false, &[]).unwrap(), sql);
        assert!(!dump(&c, true, false, &[]).unwrap().contains("CREATE TABLE"));
        assert!(!dump(&c, false, true, &[]).unwrap().contains("INSERT"));
    }

    #[test]
    fn names() {
        assert!(valid_name("prod-db_1"));
        assert!(!valid_name("Prod"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
    }
}

// ---- time travel ----

fn parse_ts(s: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .or_else(|_| s.parse::<i64>().map(|secs| secs * 1000))
        .map_err(|_| {
            ApiError::bad_request(
                7400,
                format!("Invalid timestamp {s:?}: use RFC 3339 or Unix seconds"),
            )
        })
}

/// How far back time travel reaches on D1 (bookmarks older than this are invalid).
const TIME_TRAVEL_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// The state at `timestamp` (the last change at or before it), or the latest.
///
/// Like D1, any timestamp within the last 30 days gets a bookmark — one before the
/// database's creation gets the creation state (the empty database), as long as the
/// emulator still keeps it; older than 30 days is 400 (D1: "Bookmarks older than 30 days
/// are invalid"). When the creation state has been dropped (more than [`HISTORY_LEN`]
/// changes, or a restart), an older timestamp is 400 (an emulator limit).
fn entry_at(
    history: &[HistoryEntry],
    timestamp: Option<&str>,
    created_ms: Option<i64>,
    now_ms: i64,
) -> Result<HistoryEntry, ApiError> {
    let at = timestamp.map(parse_ts).transpose()?;
    if let Some(t) = at
        && now_ms - t > TIME_TRAVEL_WINDOW_MS
    {
        return Err(ApiError::bad_request(
            7400,
            "Bookmarks older than 30 days are invalid: time travel reaches back 30 days",
        ));
    }
    if let Some(e) = history
        .iter()
        .rev()
        .find(|e| at.is_none_or(|t| e.at_ms <= t))
    {
        return Ok(e.clone());
    }
    match (history.first(), created_ms) {
        // Before creation: the database was empty, which is its creation state.
        (Some(first), Some(created)) if first.at_ms <= created + 5_000 => Ok(first.clone()),
        _ => Err(ApiError::bad_request(
            7400,
            "No bookmark that old: the emulator keeps the database's last 200 states only",
        )),
    }
}

#[derive(Debug, Deserialize, Default)]
struct TimeTravelQuery {
    timestamp: Option<String>,
    bookmark: Option<String>,
}

async fn tt_bookmark(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Query(q): Query<TimeTravelQuery>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    let created = parse_ts(&db.created_at).ok();
    let e = entry_at(
        &st.d1_history(&db.uuid)?,
        q.timestamp.as_deref(),
        created,
        st.now_ms(),
    )?;
    ok(json!({"bookmark": e.bookmark}))
}

/// Empties a database: views, triggers, indexes, then tables.
fn clear(conn: &Connection) -> Result<(), ApiError> {
    let mut stmt = conn
        .prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY CASE type WHEN 'view' THEN 0 WHEN 'trigger' THEN 1 WHEN 'index' THEN 2 ELSE 3 END")
        .map_err(|e| sql_error(&e))?;
    let objects: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| sql_error(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| sql_error(&e))?;
    for (kind, name) in objects {
        conn.execute_batch(&format!(
            "DROP {} IF EXISTS {}",
            kind.to_ascii_uppercase(),
            quote_ident(&name)
        ))
        .map_err(|e| sql_error(&e))?;
    }
    Ok(())
}

async fn tt_restore(
    State(st): S,
    Path((_a, id)): Path<(String, String)>,
    Query(q): Query<TimeTravelQuery>,
) -> ApiResult {
    let db = st.d1_resolve(&id)?;
    let history = st.d1_history(&db.uuid)?;
    let target = match (&q.bookmark, &q.timestamp) {
        (Some(b), _) => history
            .iter()
            .find(|e| &e.bookmark == b)
            .cloned()
            .ok_or_else(|| ApiError::bad_request(7400, format!("Unknown bookmark {b:?}")))?,
        (None, Some(t)) => entry_at(
            &history,
            Some(t),
            parse_ts(&db.created_at).ok(),
            st.now_ms(),
        )?,
        (None, None) => {
            return Err(ApiError::bad_request(
                7400,
                "Give a bookmark or a timestamp",
            ));
        }
    };
    let previous = entry_at(&history, None, None, st.now_ms())?;
    let conn = st.d1.conn(&db.uuid)?;
    let dump = target.dump.clone();
    let after = tokio::task::spawn_blocking(move || {
        let conn = lock(&conn);
        conn.execute_batch("SAVEPOINT sv_d1_restore")
            .map_err(|e| sql_error(&e))?;
        let restored = clear(&conn).and_then(|()| execute(&conn, &dump, &[]).map(|_| ()));
        match restored {
            Ok(()) => {
                conn.execute_batch("RELEASE sv_d1_restore")
                    .map_err(|e| sql_error(&e))?;
                dump_fn(&conn)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK TO sv_d1_restore; RELEASE sv_d1_restore");
                Err(e)
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("restore task failed: {e}")))??;
    let bookmark = st.d1_record_state(&db.uuid, after);
    ok(json!({
        "bookmark": bookmark,
        "previous_bookmark": previous.bookmark,
        "message": format!("Database restored to bookmark {}", target.bookmark),
    }))
}

fn dump_fn(conn: &Connection) -> Result<String, ApiError> {
    dump(conn, false, false, &[])
}
