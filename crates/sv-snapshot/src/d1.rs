//! D1 databases: `d1/<name>/dump.sql` through the export API, or — for a database holding
//! virtual tables, which D1 refuses to export — a dump of its base tables through the query
//! API plus `d1/<name>/virtual.sql` (see `vtables`). The schema helpers here are shared
//! with sv-backup's restore and drill.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::StreamExt as _;
use sv_archive::NewEntry;
use sv_cloudflare::Client;
use tokio::sync::mpsc::Sender;

use crate::archive::Sink;
use crate::error::{Error, Result};

/// A schema object of a D1 database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct D1Table {
    pub name: String,
    /// `table`, `virtual`, `shadow`, `view`.
    pub kind: String,
    /// The `CREATE …` statement (virtual tables).
    pub sql: Option<String>,
}

/// The user's tables of a D1 database, with SQLite's own classification (`PRAGMA
/// table_list`: `shadow` marks the tables an FTS5 or R*Tree virtual table keeps its data in).
///
/// # Errors
/// [`Error::Api`] when the query fails.
pub async fn d1_tables(client: &Client, uuid: &str) -> Result<Vec<D1Table>> {
    let d1 = client.d1();
    let listed = d1
        .query_read_only(
            uuid,
            "SELECT l.name AS name, l.type AS type, m.sql AS sql FROM pragma_table_list AS l \
             LEFT JOIN sqlite_master AS m ON m.name = l.name \
             WHERE l.schema = 'main' AND l.name NOT LIKE 'sqlite_%' AND l.name NOT LIKE '_cf_%' \
             ORDER BY m.rowid",
            &[],
        )
        .await
        .map_err(|source| Error::Api {
            operation: "listing the tables of D1 database",
            resource: uuid.to_owned(),
            source: Box::new(source),
        })?;
    Ok(listed
        .iter()
        .flat_map(|r| r.results.iter())
        .filter_map(|row| {
            Some(D1Table {
                name: row.get("name")?.as_str()?.to_owned(),
                kind: row.get("type")?.as_str()?.to_owned(),
                sql: row
                    .get("sql")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect())
}

/// `s` as an SQL identifier (double-quoted, inner quotes doubled).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) async fn backup_d1(
    client: &Client,
    name: &str,
    database: &str,
    sink: &mut Sink,
) -> Result<()> {
    let d1 = client.d1();
    let api = |operation: &'static str| {
        move |source| Error::Api {
            operation,
            resource: format!("{database:?}"),
            source: Box::new(source),
        }
    };
    let db = d1.get(database).await.map_err(api("reading D1 database"))?;
    // A database with virtual tables cannot go through the export API (D1 refuses it, and
    // their shadow tables would not import anyway): its base tables are dumped through the
    // query API, and each virtual table is kept as SQL that recreates and refills it after.
    let tables = d1_tables(client, &db.uuid).await?;
    let virtuals: Vec<D1Table> = tables
        .iter()
        .filter(|t| t.kind == "virtual")
        .cloned()
        .collect();
    let mut entry = NewEntry::new(
        format!("d1/{name}/dump.sql"),
        format!("d1.{name}"),
        "d1-sql-dump",
    )
    .with_extra("database", database)
    .with_extra("uuid", db.uuid.clone());
    if virtuals.is_empty() {
        let export = d1
            .export(&db.uuid, &Default::default())
            .await
            .map_err(api("exporting D1 database"))?;
        let stream = d1
            .download_export(&export)
            .await
            .map_err(api("downloading the export of D1 database"))?
            .boxed();
        let reader = crate::bridge::BlockingReader::spawn(stream);
        if let Some(bookmark) = &export.at_bookmark {
            entry = entry.with_extra("bookmark", bookmark.clone());
        }
        sink.add(entry, None, reader).await?;
        return Ok(());
    }
    // D1 refuses to export a database holding a virtual table (even with a table filter):
    // its base tables are read through the query API instead, and the Time Travel bookmark
    // of the moment is recorded as an export's would be.
    if let Ok(bookmark) = d1.time_travel_bookmark(&db.uuid, None).await {
        entry = entry.with_extra("bookmark", bookmark.bookmark);
    }
    let tables_for_dump = tables.clone();
    let rows = add_generated(
        client,
        &db.uuid,
        entry,
        sink,
        move |client, uuid, tx, count| async move {
            crate::vtables::base_dump_sql(&client, &uuid, &tables_for_dump, &tx, &count).await
        },
    )
    .await?;
    sink.set_last_items(rows)?;
    let virtual_entry = NewEntry::new(
        format!("d1/{name}/virtual.sql"),
        format!("d1.{name}"),
        "d1-virtual-sql",
    )
    .with_extra(
        "tables",
        virtuals.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    );
    let rows = add_generated(
        client,
        &db.uuid,
        virtual_entry,
        sink,
        move |client, uuid, tx, count| async move {
            crate::vtables::rebuild_sql(&client, &uuid, &virtuals, &tx, &count).await
        },
    )
    .await?;
    sink.set_last_items(rows)?;
    Ok(())
}

/// Adds an entry whose SQL a task generates from D1 reads (see `vtables`), streamed into
/// the archive as it is produced. Returns the rows the task counted.
async fn add_generated<F, Fut>(
    client: &Client,
    uuid: &str,
    entry: NewEntry,
    sink: &mut Sink,
    produce: F,
) -> Result<u64>
where
    F: FnOnce(Client, String, Sender<Result<Bytes, String>>, Arc<AtomicU64>) -> Fut
        + Send
        + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let count = Arc::new(AtomicU64::new(0));
    let producer = {
        let (client, uuid, count) = (client.clone(), uuid.to_owned(), count.clone());
        tokio::spawn(async move {
            let errors = tx.clone();
            if let Err(e) = produce(client, uuid, tx, count).await {
                let _ = errors.send(Err(crate::error::chain(&e))).await;
            }
        })
    };
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let reader = crate::bridge::BlockingReader::spawn(stream);
    let added = sink.add(entry, None, reader).await;
    producer.await.map_err(|source| Error::Task {
        task: "the D1 reading task",
        source,
    })?;
    added?;
    Ok(count.load(Ordering::SeqCst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("notes"), "\"notes\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
