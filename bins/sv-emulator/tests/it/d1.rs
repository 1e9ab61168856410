use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Ctx;

async fn create(c: &Ctx, name: &str) -> Value {
    let r = c
        .post(&format!("{}/d1/database", c.a()), json!({"name": name}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.result()
}

#[tokio::test]
async fn databases_crud_and_lookup_by_name() {
    let c = Ctx::new().await;
    let base = format!("{}/d1/database", c.a());
    let db = create(&c, "app-db").await;
    let uuid = db["uuid"].as_str().unwrap();
    create(&c, "other").await;
    c.post(&base, json!({"name": "app-db"}))
        .await
        .assert_error(400, 7502);
    c.json_invalid(Method::POST, &base, json!({"name": "Bad Name"}))
        .await
        .assert_error(400, 7400);

    let list = c.get(&format!("{base}?name=app")).await.json();
    assert_eq!(list["result_info"]["total_count"], 1);
    assert_eq!(list["result"][0]["name"], "app-db");

    // wrangler resolves by name in the id slot.
    let by_name = c
        .get(&format!("{base}/app-db?fields=uuid,name"))
        .await
        .result();
    assert_eq!(by_name["uuid"], uuid);
    assert_eq!(
        by_name.as_object().unwrap().len(),
        2,
        "fields=uuid,name: {by_name}"
    );
    c.get(&format!("{base}/missing-db"))
        .await
        .assert_error(404, 7404);

    let upd = c
        .patch(
            &format!("{base}/{uuid}"),
            json!({"read_replication": {"mode": "auto"}}),
        )
        .await
        .result();
    assert_eq!(upd["read_replication"]["mode"], "auto");

    assert_eq!(c.delete(&format!("{base}/{uuid}")).await.status, 200);
    c.get(&format!("{base}/{uuid}"))
        .await
        .assert_error(404, 7404);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn query_and_raw_really_execute() {
    let c = Ctx::new().await;
    let db = create(&c, "q").await;
    let q = format!(
        "{}/d1/database/{}/query",
        c.a(),
        db["uuid"].as_str().unwrap()
    );
    let r = c
        .post(&q, json!({"sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\r\nINSERT INTO users (name) VALUES ('ada'), ('bob');"}))
        .await
        .result();
    assert_eq!(r.as_array().unwrap().len(), 2);
    assert_eq!(r[1]["meta"]["changes"], 2);
    assert_eq!(r[1]["meta"]["last_row_id"], 2);

    let r = c
        .post(
            &q,
            json!({"sql": "SELECT * FROM users WHERE name = ?", "params": ["bob"]}),
        )
        .await
        .result();
    assert_eq!(r[0]["results"], json!([{"id": 2, "name": "bob"}]));

    let rawp = q.replace("/query", "/raw");
    let r = c
        .post(
            &rawp,
            json!({"sql": "SELECT id, name FROM users ORDER BY id"}),
        )
        .await
        .result();
    assert_eq!(r[0]["results"]["columns"], json!(["id", "name"]));
    assert_eq!(r[0]["results"]["rows"], json!([[1, "ada"], [2, "bob"]]));

    // Invalid SQL: D1's error, and the emulator keeps serving.
    c.post(&q, json!({"sql": "SELEC 1"}))
        .await
        .assert_error(400, 7500);
    c.post(
        &q,
        json!({"sql": "INSERT INTO users (name) VALUES ('c'); INSERT INTO nope VALUES (1)"}),
    )
    .await
    .assert_error(400, 7500);
    let r = c
        .post(&q, json!({"sql": "SELECT count(*) AS n FROM users"}))
        .await
        .result();
    assert_eq!(r[0]["results"][0]["n"], 2, "failed statements roll back");
    c.raw(Method::POST, &q, b"{\"sql\":".to_vec(), "application/json")
        .await
        .assert_error(400, 6007);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn export_and_import_flows_with_signed_urls() {
    let c = Ctx::new().await;
    let src = create(&c, "src").await;
    let src_id = src["uuid"].as_str().unwrap();
    let q = format!("{}/d1/database/{src_id}/query", c.a());
    c.post(&q, json!({"sql": "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2);"})).await.result();

    // Export: start, poll with the bookmark, download the signed URL without auth.
    let exp = format!("{}/d1/database/{src_id}/export", c.a());
    let first = c
        .post(
            &exp,
            json!({"output_format": "polling", "dump_options": {}}),
        )
        .await;
    assert_eq!(first.status, 202);
    let first = first.result();
    assert_eq!(first["status"], "active");
    let bm = first["at_bookmark"].as_str().unwrap();
    let done = c
        .post(
            &exp,
            json!({"output_format": "polling", "dump_options": {}, "current_bookmark": bm}),
        )
        .await
        .result();
    assert_eq!(done["status"], "complete");
    let url = done["result"]["signed_url"].as_str().unwrap();
    let sql = c.http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(sql.contains("CREATE TABLE t"), "{sql}");
    assert!(sql.contains("INSERT INTO \"t\" VALUES('a',1);"), "{sql}");

    // Import into another database: init, PUT upload_url (ETag = md5), ingest, poll.
    let dst = create(&c, "dst").await;
    let dst_id = dst["uuid"].as_str().unwrap();
    let imp = format!("{}/d1/database/{dst_id}/import", c.a());
    let etag = md5_hex(sql.as_bytes());
    let init = c
        .post(&imp, json!({"action": "init", "etag": etag}))
        .await
        .result();
    let upload_url = init["upload_url"].as_str().unwrap();
    let put = c
        .http
        .put(upload_url)
        .body(sql.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.headers()["etag"].to_str().unwrap().trim_matches('"'),
        etag
    );
    let ingest = c
        .post(
            &imp,
            json!({"action": "ingest", "etag": etag, "filename": init["filename"]}),
        )
        .await
        .result();
    assert_eq!(ingest["status"], "active");
    let polled = c
        .post(
            &imp,
            json!({"action": "poll", "current_bookmark": ingest["at_bookmark"]}),
        )
        .await
        .result();
    assert_eq!(polled["status"], "complete", "{polled}");
    assert!(polled["result"]["num_queries"].as_u64().unwrap() >= 3);
    assert!(polled["result"]["final_bookmark"].is_string());
    let q2 = format!("{}/d1/database/{dst_id}/query", c.a());
    let r = c
        .post(&q2, json!({"sql": "SELECT v FROM t ORDER BY k"}))
        .await
        .result();
    assert_eq!(r[0]["results"], json!([{"v": 1}, {"v": 2}]));

    // A bad import reports status error, not a crash.
    let bad = "CREATE TABLE x (a); INSERT INTO nope VALUES (1);";
    let etag = md5_hex(bad.as_bytes());
    let init = c
        .post(&imp, json!({"action": "init", "etag": etag}))
        .await
        .result();
    c.http
        .put(init["upload_url"].as_str().unwrap())
        .body(bad)
        .send()
        .await
        .unwrap();
    let ingest = c
        .post(
            &imp,
            json!({"action": "ingest", "etag": etag, "filename": init["filename"]}),
        )
        .await
        .result();
    let polled = c
        .post(
            &imp,
            json!({"action": "poll", "current_bookmark": ingest["at_bookmark"]}),
        )
        .await
        .result();
    assert_eq!(polled["status"], "error");
    assert!(polled["error"].as_str().unwrap().contains("no such table"));
    c.emu.shutdown().await;
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

#[tokio::test]
async fn time_travel_bookmarks_and_restore() {
    let c = Ctx::new().await;
    let db = create(&c, "tt").await;
    let base = format!("{}/d1/database/{}", c.a(), db["uuid"].as_str().unwrap());
    let q = format!("{base}/query");
    c.post(
        &q,
        json!({"sql": "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"}),
    )
    .await
    .result();
    let bm1 = c
        .get(&format!("{base}/time_travel/bookmark"))
        .await
        .result()["bookmark"]
        .as_str()
        .unwrap()
        .to_string();
    c.admin(Method::POST, "/clock", Some(json!({"advance_secs": 60})))
        .await;
    let between = c
        .admin(Method::POST, "/clock", Some(json!({"advance_secs": 0})))
        .await["now"]
        .as_i64()
        .unwrap();
    c.admin(Method::POST, "/clock", Some(json!({"advance_secs": 60})))
        .await;
    c.post(
        &q,
        json!({"sql": "INSERT INTO t VALUES (2), (3); CREATE TABLE other (y);"}),
    )
    .await
    .result();
    assert_eq!(count(&c, &q).await, 3);

    // The bookmark for a time between the two changes is the first state.
    let at = c
        .get(&format!("{base}/time_travel/bookmark?timestamp={between}"))
        .await
        .result();
    assert_eq!(at["bookmark"], bm1.as_str());
    let r = c
        .post(
            &format!("{base}/time_travel/restore?bookmark={bm1}"),
            json!({}),
        )
        .await
        .result();
    assert!(r["previous_bookmark"].as_str().unwrap() > bm1.as_str());
    assert_eq!(count(&c, &q).await, 1);
    c.post(&q, json!({"sql": "SELECT * FROM other"}))
        .await
        .assert_error(400, 7500);
    // Restoring to the previous bookmark undoes the restore.
    c.post(
        &format!(
            "{base}/time_travel/restore?bookmark={}",
            r["previous_bookmark"].as_str().unwrap()
        ),
        json!({}),
    )
    .await
    .result();
    assert_eq!(count(&c, &q).await, 3);

    c.post(
        &format!("{base}/time_travel/restore?bookmark=nope"),
        json!({}),
    )
    .await
    .assert_error(400, 7400);
    c.get(&format!(
        "{base}/time_travel/bookmark?timestamp=2000-01-01T00:00:00Z"
    ))
    .await
    .assert_error(400, 7400);
    c.emu.shutdown().await;
}

async fn count(c: &Ctx, q: &str) -> Value {
    c.post(q, json!({"sql": "SELECT count(*) AS n FROM t"}))
        .await
        .result()[0]["results"][0]["n"]
        .clone()
}

/// Starts an export and returns the first answer's `result` (and its HTTP status).
async fn start_export(c: &Ctx, id: &str, options: Value) -> (u16, Value) {
    let r = c
        .post(
            &format!("{}/d1/database/{id}/export", c.a()),
            json!({"output_format": "polling", "dump_options": options}),
        )
        .await;
    (r.status, r.result())
}

async fn export_sql(c: &Ctx, id: &str, options: Value) -> String {
    let (status, first) = start_export(c, id, options.clone()).await;
    assert_eq!(status, 202, "{first}");
    let done = c
        .post(
            &format!("{}/d1/database/{id}/export", c.a()),
            json!({"output_format": "polling", "dump_options": options,
                   "current_bookmark": first["at_bookmark"]}),
        )
        .await
        .result();
    let url = done["result"]["signed_url"].as_str().unwrap();
    c.http.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn export_refuses_virtual_tables_like_d1() {
    let c = Ctx::new().await;
    let db = create(&c, "fts").await;
    let id = db["uuid"].as_str().unwrap();
    let q = format!("{}/d1/database/{id}/query", c.a());
    c.post(&q, json!({"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); CREATE VIRTUAL TABLE notes_fts USING fts5(body); INSERT INTO notes_fts VALUES ('hello world');"}))
        .await
        .result();
    // Whatever the table filter: D1 checks the whole database first.
    for options in [json!({}), json!({"tables": ["notes"]})] {
        let (status, r) = start_export(&c, id, options).await;
        assert_eq!(status, 200);
        assert_eq!(r["status"], "error", "{r}");
        let error = r["error"].as_str().unwrap();
        assert!(
            error.contains("virtual tables") && error.contains("notes_fts"),
            "{error}"
        );
    }
    // Time travel still round-trips the FTS index (shadow tables are not re-created).
    let base = format!("{}/d1/database/{id}", c.a());
    let bm = c
        .get(&format!("{base}/time_travel/bookmark"))
        .await
        .result()["bookmark"]
        .as_str()
        .unwrap()
        .to_owned();
    c.post(
        &q,
        json!({"sql": "INSERT INTO notes_fts VALUES ('second row');"}),
    )
    .await
    .result();
    c.post(
        &format!("{base}/time_travel/restore?bookmark={bm}"),
        json!({}),
    )
    .await
    .result();
    let hits = c
        .post(
            &q,
            json!({"sql": "SELECT body FROM notes_fts WHERE notes_fts MATCH 'hello OR second'"}),
        )
        .await
        .result();
    assert_eq!(hits[0]["results"], json!([{"body": "hello world"}]));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn export_keeps_autoincrement_counters() {
    let c = Ctx::new().await;
    let src = create(&c, "seq-src").await;
    let id = src["uuid"].as_str().unwrap();
    let q = format!("{}/d1/database/{id}/query", c.a());
    // Counter 3 but max(id) 1: only the sqlite_sequence row keeps "next id is 4".
    c.post(&q, json!({"sql": "CREATE TABLE u (id INTEGER PRIMARY KEY AUTOINCREMENT, n TEXT); INSERT INTO u (n) VALUES ('a'), ('b'), ('c'); DELETE FROM u WHERE id > 1; CREATE TABLE plain (x);"}))
        .await
        .result();
    let sql = export_sql(&c, id, json!({})).await;
    assert!(!sql.contains("CREATE TABLE sqlite_sequence"), "{sql}");
    assert!(
        sql.contains(
            "DELETE FROM sqlite_sequence;\nINSERT INTO \"sqlite_sequence\" VALUES('u',3);"
        ),
        "{sql}"
    );
    assert!(
        !export_sql(&c, id, json!({"no_data": true}))
            .await
            .contains("sqlite_sequence")
    );
    let only_plain = export_sql(&c, id, json!({"tables": ["plain"]})).await;
    assert!(!only_plain.contains("sqlite_sequence"), "{only_plain}");

    // Imported elsewhere (as /query runs it), the next id continues at 4.
    let dst = create(&c, "seq-dst").await;
    let dq = format!(
        "{}/d1/database/{}/query",
        c.a(),
        dst["uuid"].as_str().unwrap()
    );
    c.post(&dq, json!({"sql": sql})).await.result();
    let r = c
        .post(
            &dq,
            json!({"sql": "INSERT INTO u (n) VALUES ('d') RETURNING id"}),
        )
        .await
        .result();
    assert_eq!(r[0]["results"][0]["id"], 4);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn time_travel_before_creation_is_the_empty_database() {
    let c = Ctx::new().await;
    let db = create(&c, "young").await;
    let base = format!("{}/d1/database/{}", c.a(), db["uuid"].as_str().unwrap());
    let q = format!("{base}/query");
    c.admin(Method::POST, "/clock", Some(json!({"advance_secs": 600})))
        .await;
    c.post(
        &q,
        json!({"sql": "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"}),
    )
    .await
    .result();
    let now = c
        .admin(Method::POST, "/clock", Some(json!({"advance_secs": 0})))
        .await["now"]
        .as_i64()
        .unwrap();
    // A day before the database existed (within D1's 30-day window): a bookmark, the
    // creation state's.
    let before = now - 86_400;
    let bm = c
        .get(&format!("{base}/time_travel/bookmark?timestamp={before}"))
        .await;
    assert_eq!(bm.status, 200, "{}", bm.text());
    let bm = bm.result()["bookmark"].as_str().unwrap().to_owned();
    c.post(
        &format!("{base}/time_travel/restore?bookmark={bm}"),
        json!({}),
    )
    .await
    .result();
    c.post(&q, json!({"sql": "SELECT * FROM t"}))
        .await
        .assert_error(400, 7500);
    // Older than 30 days: invalid, as on D1.
    c.get(&format!(
        "{base}/time_travel/bookmark?timestamp={}",
        now - 31 * 86_400
    ))
    .await
    .assert_error(400, 7400);
    c.emu.shutdown().await;
}
