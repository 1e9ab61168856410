//! Test context: an in-process emulator, a reqwest client, and schema validation of every
#![allow(dead_code)]
//! request body and response against `openapi-subset.json` (or, where today's API differs
//! from that 2024 schema, against the small local schemas in `local_schemas.json`).

use std::sync::OnceLock;

use reqwest::Method;
use serde_json::Value;
use sv_emulator::schema::{Outcome, schemas};
use sv_emulator::{Emulator, EmulatorBuilder, RunningEmulator};

pub struct Ctx {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

/// A response, already schema-checked.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn result(&self) -> Value {
        let j = self.json();
        assert_eq!(j["success"], true, "expected success, got {j}");
        j["result"].clone()
    }

    /// Asserts a Cloudflare error with this status and first error code.
    pub fn assert_error(&self, status: u16, code: i64) {
        let j = self.json();
        assert_eq!(self.status, status, "status; body {j}");
        assert_eq!(j["success"], false, "{j}");
        assert_eq!(j["errors"][0]["code"], code, "{j}");
        assert!(j["result"].is_null(), "{j}");
    }
}

pub fn install_crypto() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Ctx {
    pub async fn new() -> Self {
        Self::with(Emulator::builder().in_memory().seed(42)).await
    }

    pub async fn with(builder: EmulatorBuilder) -> Self {
        install_crypto();
        let emu = builder.build().unwrap().spawn("127.0.0.1:0").await.unwrap();
        Self {
            emu,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            token: "test-token".into(),
        }
    }

    pub fn a(&self) -> String {
        format!("/accounts/{}", self.emu.account_id)
    }

    pub fn z(&self) -> String {
        format!("/zones/{}", self.emu.zone_id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.api_base_url)
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// Sends a request and validates the response against the operation's schema.
    pub async fn send(&self, method: Method, path: &str, rb: reqwest::RequestBuilder) -> Resp {
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        let r = Resp {
            status,
            headers,
            body,
        };
        validate_response(&method, path, &r);
        r
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, self.req(Method::GET, path))
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, self.req(Method::DELETE, path))
            .await
    }

    /// JSON request; the body is validated against the request schema first.
    pub async fn json(&self, method: Method, path: &str, body: Value) -> Resp {
        validate_request(&method, path, &body);
        let rb = self.req(method.clone(), path).json(&body);
        self.send(method, path, rb).await
    }

    /// JSON request that deliberately breaks the request schema (error-path tests); the
    /// response is still validated.
    pub async fn json_invalid(&self, method: Method, path: &str, body: Value) -> Resp {
        let rb = self.req(method.clone(), path).json(&body);
        self.send(method, path, rb).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.json(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.json(Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.json(Method::PATCH, path, body).await
    }

    /// Raw body request (no request-schema check: raw bodies have none).
    pub async fn raw(&self, method: Method, path: &str, body: Vec<u8>, ct: &str) -> Resp {
        let rb = self
            .req(method.clone(), path)
            .header("content-type", ct)
            .body(body);
        self.send(method, path, rb).await
    }

    /// Admin call (not part of the emulated API, not schema-checked).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .http
            .request(method, format!("{}/__admin{path}", self.emu.base_url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        assert!(
            resp.status().is_success(),
            "admin {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }
}

// ---------- schema validation ----------
// The rules live in the library (`sv_emulator::schema`), shared with the
// `--validate-requests` mode; here a mismatch fails the test.

fn fail_on(outcome: Outcome, what: &str, instance: &Value) {
    match outcome {
        Outcome::Valid => {}
        Outcome::Invalid(errors) => panic!(
            "{what} does not match its schema:\n  {}\ninstance: {}",
            errors.join("\n  "),
            serde_json::to_string(instance)
                .unwrap()
                .chars()
                .take(2000)
                .collect::<String>()
        ),
        Outcome::NoSchema => panic!("no schema for {what}"),
    }
}

/// Operations whose response is not JSON by design (raw bodies); for them only error
/// responses (which are JSON envelopes) are validated.
fn is_json(r: &Resp) -> bool {
    r.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

pub fn validate_response(method: &Method, path: &str, r: &Resp) {
    if !is_json(r) {
        return;
    }
    let instance = r.json();
    fail_on(
        schemas().check_response(method.as_str(), path, r.status, &instance),
        &format!("{method} {path} -> {}", r.status),
        &instance,
    );
}

/// Validates a JSON request body against the operation's request schema, when it has one.
pub fn validate_request(method: &Method, path: &str, body: &Value) {
    let outcome = schemas().check_request_json(method.as_str(), path, Some(body));
    if outcome != Outcome::NoSchema {
        fail_on(outcome, &format!("request {method} {path}"), body);
    }
}

/// Validates one tail WebSocket event against the local trace-event schema.
pub fn validate_tail_event(event: &Value) {
    fail_on(schemas().check_tail_event(event), "tail event", event);
}
