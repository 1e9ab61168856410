//! Filling a derived environment's new data stores: D1 branching (production's schema and a
//! masked subset of its rows, from a live export) and the seed files of
//! `onboarding.seed`. `preview create` calls it; `setup --developer` can call the same
//! functions.
//!
//! Branching works on a scratch SQLite copy of the source, never on the source itself:
//! the export (D1's export API, SQL text) is loaded into a temporary database, cut down to
//! at most `rows` rows per table, then rows whose foreign keys point at rows left out are
//! dropped until the copy is consistent, and what is left is inserted into the target
//! table by table, parents first, with the masked columns replaced. The scratch copy (and
//! the export) live in a temporary directory removed when the function returns; row
//! values are never logged.
//!
//! The target keeps its own schema (the migrations of the branch under review) and gets
//! only the columns both sides have; when it has no tables at all (a database without
//! migrations), the source's schema is created first.
//!
//! Not done: branching from the latest sv-backup archive instead of a live export.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use futures::TryStreamExt as _;
use serde::Serialize;
use serde_json::Value;
use sv_cloudflare::Client;

/// Default `onboarding.branch_rows`.
pub const DEFAULT_ROWS: u32 = 1000;

/// Largest SQL text sent in one D1 query (D1 caps statements at 100 KB).
const BATCH_BYTES: usize = 90_000;

/// A D1 database by id, with its name for messages.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub uuid: String,
    pub name: String,
}

/// What to copy where.
#[derive(Debug, Clone)]
pub struct BranchSpec<'a> {
    pub source: &'a Database,
    pub target: &'a Database,
    /// Columns to mask, by table.
    pub mask: &'a BTreeMap<String, Vec<String>>,
    /// At most this many rows per table.
    pub rows: u32,
}

/// What a branch copied.
#[derive(Debug, Clone, Serialize)]
pub struct BranchReport {
    pub source: String,
    pub target: String,
    /// The target had no tables: the source's schema was created in it.
    pub schema_copied: bool,
    pub tables: Vec<TableCopy>,
}

/// One table of a branch.
#[derive(Debug, Clone, Serialize)]
pub struct TableCopy {
    pub table: String,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows inserted (existing primary keys are left as they are).
    pub copied: u64,
    /// Columns whose values were replaced.
    pub masked: Vec<String>,
    /// Why nothing was copied, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Tables that belong to D1 or SQLite, never copied.
fn internal(table: &str) -> bool {
    table.starts_with("sqlite_") || table.starts_with("_cf_") || table == "d1_migrations"
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A value as an SQL literal.
fn literal(v: &rusqlite::types::Value) -> String {
    use rusqlite::types::Value as V;
    match v {
        V::Null => "NULL".into(),
        V::Integer(i) => i.to_string(),
        V::Real(f) if f.is_finite() => format!("{f:?}"),
        V::Real(f) if f.is_nan() => "NULL".into(),
        V::Real(f) if *f > 0.0 => "9e999".into(),
        V::Real(_) => "-9e999".into(),
        V::Text(t) => quote_text(t),
        V::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

/// The replacement of a masked value: row `n`'s stand-in, unique per table and of the
/// same type (`NULL` stays `NULL`: it hides nothing). Text that looks like an e-mail
/// address (or sits in a column named like one) becomes `user-<n>@example.invalid`.
pub fn mask_value(column: &str, value: &rusqlite::types::Value, n: u64) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        V::Null => V::Null,
        V::Integer(_) => V::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
        #[allow(clippy::cast_precision_loss)]
        V::Real(_) => V::Real(n as f64),
        V::Text(t) => {
            if column.to_ascii_lowercase().contains("email") || t.contains('@') {
                V::Text(format!("user-{n}@example.invalid"))
            } else {
                V::Text(format!("masked-{n}"))
            }
        }
        V::Blob(_) => V::Blob(Vec::new()),
    }
}

/// Copies `spec.source` into `spec.target` as the module doc says.
///
/// # Errors
/// The export or a query fails, the export is not SQLite's SQL, or `mask` names a table or
/// column the source does not have (so a typo never lets a column through unmasked).
pub async fn branch_d1(client: &Client, spec: &BranchSpec<'_>) -> anyhow::Result<BranchReport> {
    let scratch = tempfile::Builder::new()
        .prefix("sv-branch-")
        .tempdir()
        .context("cannot create a temporary directory for the export")?;
    let dump = scratch.path().join("export.sql");
    export_to(client, spec.source, &dump).await?;
    let copy = scratch.path().join("copy.sqlite");
    let prepared = tokio::task::spawn_blocking({
        let dump = dump.clone();
        let copy = copy.clone();
        let mask = spec.mask.clone();
        let rows = spec.rows;
        move || prepare_copy(&dump, &copy, &mask, rows)
    })
    .await
    .context("the branch preparation stopped")??;

    let d1 = client.d1();
    let target_tables = user_tables(client, spec.target).await?;
    let schema_copied = target_tables.is_empty() && !prepared.schema.is_empty();
    if schema_copied {
        for batch in batches(prepared.schema.iter().map(|s| format!("{s};"))) {
            d1.query(&spec.target.uuid, &batch, &[])
                .await
                .with_context(|| {
                    format!("creating the schema in D1 database `{}`", spec.target.name)
                })?;
        }
    }
    let mut tables = Vec::new();
    for table in &prepared.tables {
        let target_columns = table_columns(client, spec.target, &table.name).await?;
        let masked = spec.mask.get(&table.name).cloned().unwrap_or_default();
        let mut copy_report = TableCopy {
            table: table.name.clone(),
            source_rows: table.source_rows,
            copied: 0,
            masked: masked.clone(),
            skipped: None,
        };
        let columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| target_columns.contains(*c))
            .cloned()
            .collect();
        if target_columns.is_empty() {
            copy_report.skipped = Some("not in the target's schema".into());
            tables.push(copy_report);
            continue;
        }
        if columns.is_empty() {
            copy_report.skipped = Some("no column in common with the target".into());
            tables.push(copy_report);
            continue;
        }
        let statements = tokio::task::spawn_blocking({
            let copy = copy.clone();
            let name = table.name.clone();
            let columns = columns.clone();
            let has_rowid = table.has_rowid;
            let rows = spec.rows;
            move || insert_statements(&copy, &name, &columns, &masked, has_rowid, rows)
        })
        .await
        .context("reading the branch copy stopped")??;
        copy_report.copied = statements.len() as u64;
        for batch in batches(statements.into_iter()) {
            d1.query(&spec.target.uuid, &batch, &[])
                .await
                .with_context(|| {
                    format!(
                        "copying rows of `{}` into D1 database `{}`",
                        table.name, spec.target.name
                    )
                })?;
        }
        tables.push(copy_report);
    }
    Ok(BranchReport {
        source: spec.source.name.clone(),
        target: spec.target.name.clone(),
        schema_copied,
        tables,
    })
}

/// Runs a D1 export of `db` and writes its SQL to `path`.
async fn export_to(client: &Client, db: &Database, path: &Path) -> anyhow::Result<()> {
    let d1 = client.d1();
    let export = d1
        .export(&db.uuid, &sv_cloudflare::d1::ExportOptions::default())
        .await
        .with_context(|| format!("exporting D1 database `{}`", db.name))?;
    let mut stream = Box::pin(
        d1.download_export(&export)
            .await
            .with_context(|| format!("downloading the export of D1 database `{}`", db.name))?,
    );
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    while let Some(chunk) = stream
        .try_next()
        .await
        .with_context(|| format!("downloading the export of D1 database `{}`", db.name))?
    {
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The scratch copy, cut down and consistent.
struct Prepared {
    /// `CREATE …` statements of the source (tables first), internal tables left out.
    schema: Vec<String>,
    /// Tables to copy, parents before children.
    tables: Vec<SourceTable>,
}

struct SourceTable {
    name: String,
    columns: Vec<String>,
    source_rows: u64,
    has_rowid: bool,
}

fn sqlite_err(what: &str) -> impl FnOnce(rusqlite::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {e}")
}

fn prepare_copy(
    dump: &Path,
    copy: &Path,
    mask: &BTreeMap<String, Vec<String>>,
    rows: u32,
) -> anyhow::Result<Prepared> {
    let sql = std::fs::read_to_string(dump)
        .with_context(|| format!("cannot read the export {}", dump.display()))?;
    let conn = rusqlite::Connection::open(copy).map_err(sqlite_err("opening the scratch copy"))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF;")
        .map_err(sqlite_err("configuring the scratch copy"))?;
    conn.execute_batch(&sql)
        .map_err(sqlite_err("loading the export into the scratch copy"))?;
    drop(sql);

    let mut schema = Vec::new();
    let mut names = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL
                 ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid",
            )
            .map_err(sqlite_err("reading the schema"))?;
        let objects = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(sqlite_err("reading the schema"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err("reading the schema"))?;
        for (kind, name, table, sql) in objects {
            if internal(&table) || internal(&name) {
                continue;
            }
            schema.push(sql);
            if kind == "table" {
                names.push(name);
            }
        }
    }

    let mut tables = BTreeMap::new();
    for name in &names {
        let columns = column_names(&conn, name)?;
        for column in mask.get(name).into_iter().flatten() {
            if !columns.contains(column) {
                anyhow::bail!(
                    "onboarding.mask names column `{column}` of table `{name}`, which the \
                     source database does not have: fix the mask (nothing was copied)"
                );
            }
        }
        let q = quote_ident(name);
        let source_rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {q}"), [], |r| r.get(0))
            .map_err(sqlite_err("counting rows"))?;
        let has_rowid = conn
            .prepare(&format!("SELECT rowid FROM {q} LIMIT 0"))
            .is_ok();
        if has_rowid {
            conn.execute(
                &format!(
                    "DELETE FROM {q} WHERE rowid NOT IN (SELECT rowid FROM {q} ORDER BY rowid LIMIT ?1)"
                ),
                [rows],
            )
            .map_err(sqlite_err("cutting the copy down"))?;
        }
        tables.insert(
            name.clone(),
            SourceTable {
                name: name.clone(),
                columns,
                source_rows: u64::try_from(source_rows).unwrap_or(0),
                has_rowid,
            },
        );
    }
    for table in mask.keys() {
        if !tables.contains_key(table) {
            anyhow::bail!(
                "onboarding.mask names table `{table}`, which the source database does not \
                 have: fix the mask (nothing was copied)"
            );
        }
    }
    drop_dangling_rows(&conn)?;
    let order = parents_first(&conn, &names)?;
    Ok(Prepared {
        schema,
        tables: order
            .into_iter()
            .filter_map(|n| tables.remove(&n))
            .collect(),
    })
}

fn column_names(conn: &rusqlite::Connection, table: &str) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .map_err(sqlite_err("reading columns"))?;
    stmt.query_map([table], |r| r.get::<_, String>(0))
        .map_err(sqlite_err("reading columns"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_err("reading columns"))
}

/// Deletes rows whose foreign keys point at rows that are not in the copy, until none do
/// (deleting a parent can orphan its children in turn).
fn drop_dangling_rows(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    for _ in 0..64 {
        let mut stmt = conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(sqlite_err("checking foreign keys"))?;
        let dangling: BTreeSet<(String, i64)> = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .map_err(sqlite_err("checking foreign keys"))?
            .filter_map(|r| match r {
                Ok((table, Some(rowid))) => Some(Ok((table, rowid))),
                Ok((_, None)) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()
            .map_err(sqlite_err("checking foreign keys"))?;
        if dangling.is_empty() {
            return Ok(());
        }
        for (table, rowid) in dangling {
            conn.execute(
                &format!("DELETE FROM {} WHERE rowid = ?1", quote_ident(&table)),
                [rowid],
            )
            .map_err(sqlite_err("dropping rows with dangling references"))?;
        }
    }
    Ok(())
}

/// Table names ordered so that a table comes after the tables its foreign keys reference
/// (cycles keep their declaration order).
fn parents_first(conn: &rusqlite::Connection, names: &[String]) -> anyhow::Result<Vec<String>> {
    let mut parents: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for name in names {
        let mut stmt = conn
            .prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")
            .map_err(sqlite_err("reading foreign keys"))?;
        let refs = stmt
            .query_map([name], |r| r.get::<_, String>(0))
            .map_err(sqlite_err("reading foreign keys"))?
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(sqlite_err("reading foreign keys"))?;
        parents.insert(
            name,
            refs.into_iter()
                .filter(|p| p != name && names.contains(p))
                .collect(),
        );
    }
    let mut order: Vec<String> = Vec::new();
    let mut left: Vec<&String> = names.iter().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|n| parents[n.as_str()].iter().all(|p| order.contains(p)))
            .collect();
        if ready.is_empty() {
            // A cycle: the rest in declaration order.
            order.extend(left.iter().map(|n| (*n).clone()));
            break;
        }
        left.retain(|n| !ready.contains(n));
        order.extend(ready.into_iter().cloned());
    }
    Ok(order)
}

/// One `INSERT OR IGNORE` per row of the copy, masked columns replaced.
fn insert_statements(
    copy: &Path,
    table: &str,
    columns: &[String],
    mask: &[String],
    has_rowid: bool,
    rows: u32,
) -> anyhow::Result<Vec<String>> {
    let conn = rusqlite::Connection::open(copy).map_err(sqlite_err("opening the scratch copy"))?;
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let order = if has_rowid { " ORDER BY rowid" } else { "" };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {cols} FROM {}{order} LIMIT ?1",
            quote_ident(table)
        ))
        .map_err(sqlite_err("reading the copy"))?;
    let mut out = Vec::new();
    let mut rows_iter = stmt.query([rows]).map_err(sqlite_err("reading the copy"))?;
    let mut n = 0u64;
    while let Some(row) = rows_iter.next().map_err(sqlite_err("reading the copy"))? {
        n += 1;
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let value: rusqlite::types::Value =
                row.get(i).map_err(sqlite_err("reading the copy"))?;
            let value = if mask.contains(column) {
                mask_value(column, &value, n)
            } else {
                value
            };
            values.push(literal(&value));
        }
        out.push(format!(
            "INSERT OR IGNORE INTO {} ({cols}) VALUES ({});",
            quote_ident(table),
            values.join(", ")
        ));
    }
    Ok(out)
}

/// Statements joined into query texts of at most [`BATCH_BYTES`] (a longer statement goes
/// alone).
fn batches(statements: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for s in statements {
        if !current.is_empty() && current.len() + s.len() + 1 > BATCH_BYTES {
            out.push(std::mem::take(&mut current));
        }
        current.push_str(&s);
        current.push('\n');
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn rows_of(results: Vec<sv_cloudflare::d1::QueryResult>) -> Vec<serde_json::Map<String, Value>> {
    results.into_iter().flat_map(|r| r.results).collect()
}

/// The user tables of a live database (internal ones left out).
///
/// # Errors
/// The query fails.
pub async fn user_tables(client: &Client, db: &Database) -> anyhow::Result<Vec<String>> {
    let rows = client
        .d1()
        .query_read_only(
            &db.uuid,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            &[],
        )
        .await
        .with_context(|| format!("reading the tables of D1 database `{}`", db.name))?;
    Ok(rows_of(rows)
        .into_iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
        .filter(|n| !internal(n))
        .collect())
}

async fn table_columns(
    client: &Client,
    db: &Database,
    table: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let rows = client
        .d1()
        .query_read_only(
            &db.uuid,
            &format!(
                "SELECT name FROM pragma_table_info({}) ORDER BY cid",
                quote_text(table)
            ),
            &[],
        )
        .await
        .with_context(|| format!("reading the columns of `{table}` in `{}`", db.name))?;
    Ok(rows_of(rows)
        .into_iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Whether no user table of a live database holds a row (true for a database without
/// tables): new databases, or ones an interrupted run created but never filled.
///
/// # Errors
/// A query fails.
pub async fn is_empty(client: &Client, db: &Database) -> anyhow::Result<bool> {
    let tables = user_tables(client, db).await?;
    if tables.is_empty() {
        return Ok(true);
    }
    let sql = tables
        .iter()
        .map(|t| format!("SELECT 1 AS found FROM {} ", quote_ident(t)))
        .collect::<Vec<_>>()
        .join("UNION ALL ");
    let rows = client
        .d1()
        .query_read_only(&db.uuid, &format!("SELECT EXISTS({sql}) AS found"), &[])
        .await
        .with_context(|| format!("checking whether D1 database `{}` is empty", db.name))?;
    Ok(rows_of(rows)
        .first()
        .and_then(|r| r.get("found"))
        .and_then(Value::as_i64)
        .is_none_or(|v| v == 0))
}

/// Runs a seed SQL file against a live database.
///
/// # Errors
/// The file is unreadable or the SQL fails.
pub async fn seed_d1(client: &Client, db: &Database, file: &Path) -> anyhow::Result<u64> {
    let sql = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read seed file {}", file.display()))?;
    let results = client
        .d1()
        .query(&db.uuid, &sql, &[])
        .await
        .with_context(|| format!("running seed {} in `{}`", file.display(), db.name))?;
    Ok(results.iter().filter_map(|r| r.meta.changes).sum())
}

/// Writes a seed JSON file (`{"key": value, …}`; strings as they are, anything else as its
/// JSON text) into a KV namespace. Returns the number of keys written.
///
/// # Errors
/// The file is unreadable or not a JSON object, or the write fails.
pub async fn seed_kv(
    client: &Client,
    namespace_id: &str,
    title: &str,
    file: &Path,
) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read seed file {}", file.display()))?;
    let Value::Object(map) = serde_json::from_str::<Value>(&text)
        .with_context(|| format!("seed file {} is not JSON", file.display()))?
    else {
        anyhow::bail!(
            "seed file {} must hold a JSON object of key → value",
            file.display()
        );
    };
    let pairs: Vec<sv_cloudflare::kv::KvBulkPair> = map
        .into_iter()
        .map(|(key, v)| sv_cloudflare::kv::KvBulkPair {
            key,
            value: match v {
                Value::String(s) => s,
                other => other.to_string(),
            },
            expiration: None,
            expiration_ttl: None,
            metadata: None,
            base64: false,
        })
        .collect();
    client
        .kv()
        .bulk_write(namespace_id, &pairs)
        .await
        .with_context(|| format!("writing seed {} into KV `{title}`", file.display()))?;
    Ok(pairs.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::Value as V;

    #[test]
    fn masks_keep_type_and_hide_the_value() {
        assert_eq!(
            mask_value("email", &V::Text("ada@example.org".into()), 3),
            V::Text("user-3@example.invalid".into())
        );
        assert_eq!(
            mask_value("contact", &V::Text("ada@example.org".into()), 1),
            V::Text("user-1@example.invalid".into())
        );
        assert_eq!(
            mask_value("phone", &V::Text("+44 20 7946 0001".into()), 2),
            V::Text("masked-2".into())
        );
        assert_eq!(mask_value("phone", &V::Null, 2), V::Null);
        assert_eq!(mask_value("pin", &V::Integer(1234), 7), V::Integer(7));
        assert_eq!(mask_value("x", &V::Blob(vec![1, 2]), 7), V::Blob(vec![]));
    }

    #[test]
    fn literals_are_valid_sql() {
        assert_eq!(literal(&V::Text("it's".into())), "'it''s'");
        assert_eq!(literal(&V::Blob(vec![0xab])), "X'ab'");
        assert_eq!(literal(&V::Real(1.0)), "1.0");
        assert_eq!(literal(&V::Null), "NULL");
    }

    #[test]
    fn batches_split_before_the_limit() {
        let long = "x".repeat(BATCH_BYTES / 2);
        let out = batches([long.clone(), long.clone(), "y".into()].into_iter());
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|b| b.len() <= BATCH_BYTES + 1));
    }

    /// A scratch copy cut to one row per table keeps only rows whose parents survived,
    /// and a mask naming a missing column is refused.
    #[test]
    fn subset_is_consistent_and_ordered() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("d.sql");
        std::fs::write(
            &dump,
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
             CREATE TABLE parent (id INTEGER PRIMARY KEY, email TEXT);
             CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO parent VALUES (1, 'a@x.org'), (2, 'b@x.org');
             INSERT INTO child VALUES (1, 2), (2, 1);",
        )
        .unwrap();
        let mask = BTreeMap::from([("parent".to_owned(), vec!["email".to_owned()])]);
        let copy = dir.path().join("c.sqlite");
        let prepared = prepare_copy(&dump, &copy, &mask, 1).unwrap();
        let order: Vec<&str> = prepared.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(order, ["parent", "child"]);
        // parent keeps row 1; child row 1 points at parent 2 (cut): dropped.
        let rows = insert_statements(
            &copy,
            "child",
            &["id".into(), "parent_id".into()],
            &[],
            true,
            10,
        )
        .unwrap();
        assert_eq!(rows.len(), 0, "{rows:?}");
        let parents = insert_statements(
            &copy,
            "parent",
            &["id".into(), "email".into()],
            &["email".into()],
            true,
            10,
        )
        .unwrap();
        assert_eq!(
            parents,
            [
                "INSERT OR IGNORE INTO \"parent\" (\"id\", \"email\") VALUES (1, 'user-1@example.invalid');"
            ]
        );

        let bad = BTreeMap::from([("parent".to_owned(), vec!["mail".to_owned()])]);
        let copy2 = dir.path().join("c2.sqlite");
        let e = prepare_copy(&dump, &copy2, &bad, 1).err().unwrap();
        assert!(e.to_string().contains("column `mail`"), "{e}");
    }
}
