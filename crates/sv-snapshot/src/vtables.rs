//! D1 virtual tables (FTS5, FTS4, R*Tree …) as SQL that recreates them after the base
//! tables are imported.
//!
//! Their shadow tables (`notes_data`, `notes_idx` …) are an index SQLite maintains: exporting
//! them as plain tables breaks the import (`CREATE VIRTUAL TABLE` creates them already). So
//! the backup holds, per virtual table, its `CREATE VIRTUAL TABLE` statement and then:
//! - an FTS table with external content (`content=posts`): the `'rebuild'` command, which
//!   re-indexes from the base table restored just before;
//! - a contentless FTS table (`content=''`): nothing — it never held the text, so the index
//!   cannot be rebuilt from a backup (said in a comment in the file);
//! - any other virtual table: its rows, as `INSERT`s (FTS tables with their `rowid`, so
//!   external references to them stay valid).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sv_cloudflare::Client;
use tokio::sync::mpsc::Sender;

use crate::d1::{D1Table, quote_ident};
use crate::error::{Error, Result};

/// Rows read per query.
const PAGE: usize = 500;
/// Bytes of SQL per chunk sent.
const CHUNK: usize = 256 * 1024;

/// The module of a `CREATE VIRTUAL TABLE … USING module(args)` statement, lowercased.
pub fn module(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    let at = lower.find(" using ")? + " using ".len();
    let rest = lower[at..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// The `content=` option of an FTS table: `None` when absent (the table keeps its own
/// content), `Some("")` for contentless, else the external content table.
pub fn content_option(sql: &str) -> Option<String> {
    let open = sql.find('(')?;
    let close = sql.rfind(')')?;
    let args = sql.get(open + 1..close)?;
    for arg in split_args(args) {
        let Some((key, value)) = arg.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("content") {
            let v = value.trim();
            let unquoted = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .unwrap_or(v);
            return Some(unquoted.to_owned());
        }
    }
    None
}

/// Splits module arguments at top-level commas (not inside quotes or parentheses).
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in args.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '(') => {
                depth += 1;
                current.push(c);
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            (None, ',') if depth == 0 => out.push(std::mem::take(&mut current)),
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out
}

/// A JSON value from D1 as an SQL literal.
pub fn literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        // D1 returns BLOBs as arrays of byte values.
        serde_json::Value::Array(a) => {
            let bytes: Vec<u8> = a
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            format!("X'{}'", hex_encode(&bytes))
        }
        serde_json::Value::Object(_) => format!("'{}'", v.to_string().replace('\'', "''")),
    }
}

fn query_error(uuid: &str, source: sv_cloudflare::Error) -> Error {
    Error::Api {
        operation: "querying D1 database",
        resource: uuid.to_owned(),
        source: Box::new(source),
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams the SQL that recreates `tables` (virtual tables of database `uuid`) into `tx`,
/// counting the rows written into `count`.
pub async fn rebuild_sql(
    client: &Client,
    uuid: &str,
    tables: &[D1Table],
    tx: &Sender<Result<Bytes, String>>,
    count: &AtomicU64,
) -> Result<()> {
    let mut out = String::from(
        "-- sv-backup: virtual tables, recreated after the base tables were imported\n",
    );
    for t in tables {
        let Some(sql) = &t.sql else { continue };
        let name = quote_ident(&t.name);
        out.push_str(sql);
        out.push_str(";\n");
        let module = module(sql).unwrap_or_default();
        let fts = module.starts_with("fts");
        match content_option(sql).filter(|_| fts) {
            Some(c) if c.is_empty() => {
                out.push_str(&format!(
                    "-- {name} is contentless (content=''): its index cannot be rebuilt from a backup\n"
                ));
            }
            Some(_) => {
                out.push_str(&format!("INSERT INTO {name}({name}) VALUES('rebuild');\n"));
            }
            None => {
                if !insert_rows(client, uuid, &t.name, fts, &mut out, tx, count).await? {
                    return Ok(());
                }
            }
        }
    }
    if !out.is_empty() {
        let _ = tx.send(Ok(Bytes::from(out.into_bytes()))).await;
    }
    Ok(())
}

/// Appends `INSERT`s for every row of table `table`, read page by page in rowid order
/// (FTS tables keep their `rowid`), sending full chunks to `tx`. Returns false when the
/// receiver is gone.
async fn insert_rows(
    client: &Client,
    uuid: &str,
    table: &str,
    keep_rowid: bool,
    out: &mut String,
    tx: &Sender<Result<Bytes, String>>,
    count: &AtomicU64,
) -> Result<bool> {
    let name = quote_ident(table);
    let mut last: Option<i64> = None;
    loop {
        let select = if keep_rowid {
            "rowid, *"
        } else {
            "rowid AS __sv_rowid, *"
        };
        let query = match last {
            None => format!("SELECT {select} FROM {name} ORDER BY rowid LIMIT {PAGE}"),
            Some(r) => {
                format!("SELECT {select} FROM {name} WHERE rowid > {r} ORDER BY rowid LIMIT {PAGE}")
            }
        };
        let results = client
            .d1()
            .raw_read_only(uuid, &query, &[])
            .await
            .map_err(|source| query_error(uuid, source))?;
        let Some(page) = results.into_iter().next() else {
            break;
        };
        let rows = page.results.rows;
        let columns = page.results.columns;
        if rows.is_empty() {
            break;
        }
        // Without keep_rowid the rowid was only read to page; the columns go back.
        let skip = usize::from(!keep_rowid);
        let cols: Vec<String> = columns.iter().skip(skip).map(|c| quote_ident(c)).collect();
        for row in &rows {
            last = row.first().and_then(serde_json::Value::as_i64).or(last);
            let values: Vec<String> = row.iter().skip(skip).map(literal).collect();
            out.push_str(&format!(
                "INSERT INTO {name}({}) VALUES({});\n",
                cols.join(","),
                values.join(",")
            ));
            count.fetch_add(1, Ordering::SeqCst);
            if out.len() >= CHUNK {
                let full = Bytes::from(std::mem::take(out).into_bytes());
                if tx.send(Ok(full)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        if rows.len() < PAGE {
            break;
        }
    }
    Ok(true)
}

/// Streams a dump of the base tables of database `uuid` — schema, rows, then their indexes,
/// triggers and views, and the AUTOINCREMENT counters — for a database the export API
/// refuses: D1 refuses to export any database holding a virtual table. Unlike an export it
/// is read page by page rather than at one instant, so writes during the backup may be
/// partly in it.
pub async fn base_dump_sql(
    client: &Client,
    uuid: &str,
    tables: &[D1Table],
    tx: &Sender<Result<Bytes, String>>,
    count: &AtomicU64,
) -> Result<()> {
    let mut out = String::from(
        "-- sv-backup: base tables read through the query API (D1 does not export a database \
         with virtual tables)\nPRAGMA defer_foreign_keys=TRUE;\n",
    );
    let base: Vec<&D1Table> = tables.iter().filter(|t| t.kind == "table").collect();
    for t in &base {
        let Some(sql) = &t.sql else { continue };
        out.push_str(sql);
        out.push_str(";\n");
        if !insert_rows(client, uuid, &t.name, false, &mut out, tx, count).await? {
            return Ok(());
        }
    }
    let names: std::collections::BTreeSet<&str> = base.iter().map(|t| t.name.as_str()).collect();
    let d1 = client.d1();
    let schema = d1
        .query_read_only(
            uuid,
            "SELECT type, name, tbl_name, sql FROM sqlite_master \
             WHERE type IN ('index', 'trigger', 'view') AND sql IS NOT NULL ORDER BY rowid",
            &[],
        )
        .await
        .map_err(|source| query_error(uuid, source))?;
    for row in schema.iter().flat_map(|r| r.results.iter()) {
        let text = |k: &str| {
            row.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        };
        if text("type") == "view" || names.contains(text("tbl_name")) {
            out.push_str(text("sql"));
            out.push_str(";\n");
        }
    }
    let has_sequence = d1
        .query_read_only(
            uuid,
            "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'",
            &[],
        )
        .await
        .map_err(|source| query_error(uuid, source))?
        .iter()
        .any(|r| !r.results.is_empty());
    if has_sequence {
        let counters = d1
            .query_read_only(uuid, "SELECT name, seq FROM sqlite_sequence", &[])
            .await
            .map_err(|source| query_error(uuid, source))?;
        out.push_str("DELETE FROM sqlite_sequence;\n");
        for row in counters.iter().flat_map(|r| r.results.iter()) {
            let (Some(name), Some(seq)) = (row.get("name"), row.get("seq")) else {
                continue;
            };
            if name.as_str().is_some_and(|n| names.contains(n)) {
                out.push_str(&format!(
                    "INSERT INTO sqlite_sequence(name, seq) VALUES({}, {});\n",
                    literal(name),
                    literal(seq)
                ));
            }
        }
    }
    let _ = tx.send(Ok(Bytes::from(out.into_bytes()))).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_module_and_content_option() {
        let own = "CREATE VIRTUAL TABLE notes USING fts5(title, body)";
        assert_eq!(module(own).as_deref(), Some("fts5"));
        assert_eq!(content_option(own), None);
        let external =
            "CREATE VIRTUAL TABLE posts_fts USING fts5(title, content='posts', content_rowid='id')";
        assert_eq!(content_option(external).as_deref(), Some("posts"));
        let contentless = "CREATE VIRTUAL TABLE t USING fts5(a, content='')";
        assert_eq!(content_option(contentless).as_deref(), Some(""));
        let tricky = "CREATE VIRTUAL TABLE t USING fts5(a, tokenize = 'porter unicode61 remove_diacritics 1', content=\"p\")";
        assert_eq!(content_option(tricky).as_deref(), Some("p"));
        assert_eq!(
            module("create virtual table r using rtree(id, x0, x1)").as_deref(),
            Some("rtree")
        );
    }

    #[test]
    fn literals_quote_text_and_encode_blobs() {
        assert_eq!(literal(&serde_json::json!("it's")), "'it''s'");
        assert_eq!(literal(&serde_json::json!(null)), "NULL");
        assert_eq!(literal(&serde_json::json!(1.5)), "1.5");
        assert_eq!(literal(&serde_json::json!([0, 255])), "X'00ff'");
    }
}
