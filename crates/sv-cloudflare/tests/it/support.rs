//! A small scripted HTTP server for the client tests: every request is recorded (with its
//! arrival time) and answered by a closure that sees the request and its index.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use secrecy::SecretString;
use sv_cloudflare::{BreakerConfig, Client, ClientBuilder, RateLimiter, RetryPolicy, Url};
use tokio::net::TcpListener;
use tokio::time::Instant;

pub const TOKEN: &str = "tok-SECRET-3f9a7c1e-do-not-print";
pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Raw path (percent-encoding preserved).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Seen {
    /// Path relative to `/client/v4`.
    pub fn api_path(&self) -> &str {
        self.path.strip_prefix("/client/v4").unwrap_or(&self.path)
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn query_value(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// Parses a multipart body: (name, filename, content type, bytes) per part.
    pub async fn multipart(&self) -> Vec<(String, Option<String>, Option<String>, Bytes)> {
        let req = Request::builder()
            .header(
                "content-type",
                self.header("content-type").expect("content-type"),
            )
            .body(Body::from(self.body.clone()))
            .unwrap();
        let mut mp = Multipart::from_request(req, &())
            .await
            .expect("multipart body");
        let mut out = Vec::new();
        while let Some(field) = mp.next_field().await.expect("field") {
            let name = field.name().unwrap_or_default().to_owned();
            let file = field.file_name().map(str::to_owned);
            let ct = field.content_type().map(str::to_owned);
            let data = field.bytes().await.expect("field bytes");
            out.push((name, file, ct, data));
        }
        out
    }
}

/// What the script answers.
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from(body.to_string()),
            delay: Duration::ZERO,
        }
    }

    /// `{success:true, result, …}`.
    pub fn ok(result: serde_json::Value) -> Self {
        Self::json(
            200,
            serde_json::json!({"success": true, "errors": [], "messages": [], "result": result}),
        )
    }

    /// `{success:true, result, result_info}`.
    pub fn ok_info(result: serde_json::Value, info: serde_json::Value) -> Self {
        Self::json(
            200,
            serde_json::json!({"success": true, "errors": [], "messages": [], "result": result, "result_info": info}),
        )
    }

    /// `{success:false, errors:[{code, message}]}` with a status.
    pub fn err(status: u16, code: i64, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
        )
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct AppState {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Script>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    /// Starts the server on its own thread and runtime, so that its timestamps do not depend
    /// on the client's scheduling and its logs never mix with the client's tracing output.
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            seen: seen.clone(),
            script: Arc::new(script),
        };
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().fallback(handle).with_state(state);
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.await.unwrap();
        Self {
            addr,
            seen,
            stop: Some(stop_tx),
        }
    }

    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}/client/v4", self.addr)).unwrap()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// A client with fast retries, no limiter and a lenient breaker.
    pub fn client(&self) -> Client {
        self.builder().build().unwrap()
    }

    pub fn builder(&self) -> ClientBuilder {
        builder_for(self.base_url())
    }
}

pub fn builder_for(base: Url) -> ClientBuilder {
    Client::builder(base, SecretString::from(TOKEN))
        .account_id(ACCOUNT)
        .timeout(Duration::from_secs(5))
        .retry(fast_retry(3))
        .rate_limit(RateLimiter::unlimited())
        .circuit_breaker(BreakerConfig {
            failure_threshold: 100,
            cooldown: Duration::from_secs(1),
        })
}

pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        jitter_seed: Some(42),
    }
}

async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        at,
    };
    let index = {
        let mut all = state.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let reply = (state.script)(&seen, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (reply.status, reply.body).into_response();
    for (k, v) in reply.headers {
        resp.headers_mut()
            .insert(k, HeaderValue::from_str(&v).unwrap());
    }
    resp
}
