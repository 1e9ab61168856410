use futures::{SinkExt as _, StreamExt as _};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::common::Ctx;
use crate::workers::{hit, upload};

pub async fn connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "trace-v1".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "trace-v1");
    ws.send(Message::Text(r#"{"debug":false}"#.into()))
        .await
        .unwrap();
    ws
}

pub async fn next_event(
    ws: &mut (
             impl futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin
         ),
) -> Value {
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str::<Value>(&t).unwrap(),
                Message::Binary(b) => return serde_json::from_slice::<Value>(&b).unwrap(),
                _ => {}
            }
        }
    })
    .await
    .expect("a tail event within 5 s");
    crate::common::validate_tail_event(&ev);
    ev
}

#[tokio::test]
async fn tail_streams_invocations_with_filters() {
    let c = Ctx::new().await;
    upload(&c, "tailed", json!({"main_module": "index.js", "bindings": [{"type": "plain_text", "name": "SV_RESPONSE", "text": r#"{"logs": ["handled"], "paths": {"/boom": {"outcome": "exception", "body": "kaboom"}}}"#}]})).await.result();
    let tails = format!("{}/workers/scripts/tailed/tails", c.a());
    // No active tail: an empty result, not an error.
    assert_eq!(c.get(&tails).await.result(), json!({}));
    let t = c.post(&tails, json!({"filters": []})).await.result();
    let url = t["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("ws://"));
    let mut ws = connect(&url).await;

    let host = "tailed.sv-emulator.workers.dev";
    hit(&c, host, "/hello?x=1", &[]).await;
    let ev = next_event(&mut ws).await;
    assert_eq!(ev["scriptName"], "tailed");
    assert_eq!(ev["outcome"], "ok");
    assert_eq!(ev["event"]["request"]["method"], "GET");
    assert_eq!(
        ev["event"]["request"]["url"],
        "https://tailed.sv-emulator.workers.dev/hello?x=1"
    );
    assert_eq!(ev["event"]["response"]["status"], 200);
    assert_eq!(ev["logs"][0]["message"][0], "handled");

    // A second tail that only wants exceptions.
    let t2 = c
        .post(&tails, json!({"filters": [{"outcome": ["exception"]}]}))
        .await
        .result();
    let mut ws2 = connect(t2["url"].as_str().unwrap()).await;
    hit(&c, host, "/fine", &[]).await;
    hit(&c, host, "/boom", &[]).await;
    let ev = next_event(&mut ws2).await;
    assert_eq!(ev["outcome"], "exception");
    assert_eq!(ev["exceptions"][0]["message"], "kaboom");
    // The unfiltered tail saw both, in order.
    assert_eq!(
        next_event(&mut ws).await["event"]["request"]["url"],
        "https://tailed.sv-emulator.workers.dev/fine"
    );
    assert_eq!(next_event(&mut ws).await["outcome"], "exception");

    // Events injected through the admin surface reach tails too.
    c.admin(Method::POST, "/tail-events", Some(json!({"script": "tailed", "event": {"scriptName": "tailed", "outcome": "ok", "eventTimestamp": 1, "event": {"cron": "*/5 * * * *", "scheduledTime": 1}, "logs": [], "exceptions": []}}))).await;
    assert_eq!(next_event(&mut ws).await["event"]["cron"], "*/5 * * * *");
    // A cron trigger fired through the admin surface.
    c.put(
        &format!("{}/workers/scripts/tailed/schedules", c.a()),
        json!([{"cron": "0 * * * *"}]),
    )
    .await
    .result();
    c.admin(
        Method::POST,
        "/scheduled",
        Some(json!({"script": "tailed"})),
    )
    .await;
    let ev = next_event(&mut ws).await;
    assert_eq!(ev["event"]["cron"], "0 * * * *");
    assert!(ev["event"]["scheduledTime"].is_number());

    assert_eq!(c.get(&tails).await.result()["id"], t2["id"]);
    assert_eq!(
        c.delete(&format!("{tails}/{}", t["id"].as_str().unwrap()))
            .await
            .status,
        200
    );
    c.delete(&format!("{tails}/{}", t["id"].as_str().unwrap()))
        .await
        .assert_error(404, 10050);
    c.post(&format!("{}/workers/scripts/nope/tails", c.a()), json!({}))
        .await
        .assert_error(404, 10007);

    // Without the trace-v1 subprotocol the socket is refused.
    let plain = c
        .http
        .get(t2["url"].as_str().unwrap().replace("ws://", "http://"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    c.delete(&format!("{tails}/{}", t2["id"].as_str().unwrap()))
        .await
        .result();
    assert_eq!(c.get(&tails).await.result(), json!({}));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn graphql_counts_worker_invocations() {
    let c = Ctx::new().await;
    upload(&c, "counted", json!({"main_module": "index.js", "bindings": [{"type": "plain_text", "name": "SV_RESPONSE", "text": r#"{"cpu_ms": 3, "paths": {"/err": {"outcome": "exception"}}}"#}]})).await.result();
    let host = "counted.sv-emulator.workers.dev";
    for _ in 0..4 {
        hit(&c, host, "/", &[]).await;
    }
    hit(&c, host, "/err", &[]).await;
    let q = r#"query($accountTag: string!, $since: Time) {
      viewer { accounts(filter: {accountTag: $accountTag}) {
        inv: workersInvocationsAdaptive(limit: 100, filter: {scriptName: "counted", datetime_geq: $since}, orderBy: [sum_requests_DESC]) {
          sum { requests errors subrequests }
          quantiles { cpuTimeP50 cpuTimeP99 }
          dimensions { scriptName status }
        }
      } }
    }"#;
    let body = json!({"query": q, "variables": {"accountTag": c.emu.account_id, "since": "2000-01-01T00:00:00Z"}});
    let r = c.post("/graphql", body).await.json();
    assert!(r["errors"].is_null(), "{r}");
    let rows = r["data"]["viewer"]["accounts"][0]["inv"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["dimensions"]["status"], "success");
    assert_eq!(rows[0]["sum"]["requests"], 4);
    assert_eq!(rows[1]["sum"]["errors"], 1);
    assert_eq!(rows[0]["quantiles"]["cpuTimeP50"], 3000.0);

    // Query errors are GraphQL errors with HTTP 200.
    let q = format!(
        "{{ viewer {{ accounts(filter: {{accountTag: \"{}\"}}) {{ d1AnalyticsAdaptiveGroups(limit: 1) {{ count }} }} }} }}",
        c.emu.account_id
    );
    let bad = c.post("/graphql", json!({"query": q})).await;
    assert_eq!(bad.status, 200);
    assert!(
        bad.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("d1AnalyticsAdaptiveGroups")
    );
    // Another account: nothing visible.
    let other = c.post("/graphql", json!({"query": "{ viewer { accounts(filter: {accountTag: \"00000000000000000000000000000000\"}) { workersInvocationsAdaptive(limit: 1) { count } } } }"})).await.json();
    assert_eq!(other["data"]["viewer"]["accounts"], json!([]));
    let bad = c
        .post("/graphql", json!({"query": "{ viewer { "}))
        .await
        .json();
    assert!(
        bad["data"].is_null()
            && bad["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("syntax")
    );
    c.emu.shutdown().await;
}
