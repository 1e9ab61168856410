//! Test context: an in-process emulator, a reqwest client, and schema validation of every
#![allow(dead_code)]
//! request body and response against `openapi-subset.json` (or, where today's API differs
//! from that 2024 schema, against the small local schemas in `local_schemas.json`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::{Value, json};
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

struct Schemas {
    doc: Value,
    /// The same document as seen by requests: OpenAPI says a `readOnly` property listed in
    /// `required` is required in responses only.
    doc_req: Value,
    local: Value,
    templates: Vec<String>,
    cache: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(include_str!("../openapi-subset.json")).unwrap();
        openapi_to_json_schema(&mut doc);
        // `d1_api-response-common` types `result` as an object, and every D1 operation
        // combines it with `allOf` and its own `result` (an array for list/query/raw), which
        // no body can satisfy. The common envelope's placeholder is dropped; each operation's
        // own `result` schema still applies.
        doc["components"]["schemas"]["d1_api-response-common"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("result");
        // Binding types that today's API returns in settings and versions but the 2024 union
        // (`workers_binding`) lacks: plain_text, secret_text, json, version_metadata, … Their
        // shape (`{type, name, …}`) is added as one more alternative.
        doc["components"]["schemas"]["workers_binding"]["anyOf"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "type": "object",
                "required": ["type", "name"],
                "properties": {
                    "type": {"enum": ["plain_text", "secret_text", "secret_key", "json", "version_metadata", "assets", "ai", "browser", "analytics_engine", "hyperdrive", "vectorize", "workflow", "send_email", "rate_limit", "pipelines", "images", "inherit"]},
                    "name": {"type": "string"},
                    "text": {"type": "string"}
                }
            }));
        let mut doc_req = doc.clone();
        drop_read_only_required(&mut doc_req, &doc);
        // The 2024 file lists the server-assigned record `id` as required on
        // `dns-records_dns-record`, which is also the create/overwrite request body; no
        // client sends an id when creating. Requests are checked without that one entry.
        if let Some(req) =
            doc_req["components"]["schemas"]["dns-records_dns-record"]["required"].as_array_mut()
        {
            req.retain(|n| n != "id");
        }
        let mut local: Value = serde_json::from_str(include_str!("local_schemas.json")).unwrap();
        openapi_to_json_schema(&mut local);
        let mut templates: Vec<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        for k in local["operations"].as_object().unwrap().keys() {
            let path = k.split_once(' ').unwrap().1.to_string();
            if !templates.contains(&path) {
                templates.push(path);
            }
        }
        Schemas {
            doc,
            doc_req,
            local,
            templates,
            cache: Mutex::new(HashMap::new()),
        }
    })
}

/// OpenAPI 3.0 schema objects are almost JSON Schema draft 4. Two fixes make them exact:
/// `nullable: true` becomes "or null", and `oneOf` becomes `anyOf` (the Cloudflare schema
/// uses `oneOf` for alternatives that overlap, e.g. memberships with roles / with policies,
/// which no instance could satisfy under strict `oneOf`).
fn openapi_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (_, child) in map.iter_mut() {
                openapi_to_json_schema(child);
            }
            if let Some(one) = map.remove("oneOf") {
                map.insert("anyOf".into(), one);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                let inner = Value::Object(std::mem::take(map));
                map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(openapi_to_json_schema),
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..20 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => match doc.pointer(r.trim_start_matches('#')) {
                Some(t) => v = t,
                None => return v,
            },
            None => return v,
        }
    }
    v
}

/// Whether property `name` is `readOnly` in `schema` or any schema it combines.
fn is_read_only(doc: &Value, schema: &Value, name: &str, depth: usize) -> bool {
    if depth > 6 {
        return false;
    }
    let schema = resolve(doc, schema);
    if let Some(p) = schema.get("properties").and_then(|p| p.get(name))
        && resolve(doc, p).get("readOnly") == Some(&Value::Bool(true))
    {
        return true;
    }
    ["allOf", "anyOf", "oneOf"].iter().any(|k| {
        schema[*k]
            .as_array()
            .into_iter()
            .flatten()
            .any(|sub| is_read_only(doc, sub, name, depth + 1))
    })
}

fn drop_read_only_required(v: &mut Value, doc: &Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(req)) = map.get("required") {
                let here = Value::Object(map.clone());
                let keep: Vec<Value> = req
                    .iter()
                    .filter(|name| {
                        !name
                            .as_str()
                            .is_some_and(|n| is_read_only(doc, &here, n, 0))
                    })
                    .cloned()
                    .collect();
                map.insert("required".into(), Value::Array(keep));
            }
            for (_, child) in map.iter_mut() {
                drop_read_only_required(child, doc);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| drop_read_only_required(i, doc)),
        _ => {}
    }
}

/// Finds the template of `path` (`/accounts/x/d1/database/y` → `/accounts/{account_id}/…`),
/// preferring literal segments over parameters.
fn template_for(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &String)> = None;
    for t in &schemas().templates {
        let tsegs: Vec<&str> = t.trim_start_matches('/').split('/').collect();
        let wildcard_tail = tsegs.last().is_some_and(|s| s.starts_with("{*"));
        if tsegs.len() != segs.len() && !(wildcard_tail && segs.len() >= tsegs.len()) {
            continue;
        }
        let mut literal = 0;
        let mut ok = true;
        for (i, ts) in tsegs.iter().enumerate() {
            if ts.starts_with('{') {
                continue;
            }
            if segs.get(i) == Some(ts) {
                literal += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok && best.is_none_or(|(l, _)| literal > l) {
            best = Some((literal, t));
        }
    }
    best.map(|(_, t)| t.clone())
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn validator_for(pointer: &str, from_local: bool) -> Arc<jsonschema::Validator> {
    validator_in(pointer, from_local, false)
}

fn validator_in(pointer: &str, from_local: bool, request: bool) -> Arc<jsonschema::Validator> {
    let s = schemas();
    let key = format!("{from_local}:{request}:{pointer}");
    if let Some(v) = s.cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let mut root = if from_local {
        // Local schemas may reference the official components.
        let mut l = s.local.clone();
        l["components"] = s.doc["components"].clone();
        l
    } else if request {
        s.doc_req.clone()
    } else {
        s.doc.clone()
    };
    // The pointer goes into a URI fragment: percent-encode what a fragment cannot hold.
    let fragment: String = pointer
        .chars()
        .map(|c| match c {
            '{' => "%7B".to_string(),
            '}' => "%7D".to_string(),
            ' ' => "%20".to_string(),
            c => c.to_string(),
        })
        .collect();
    root.as_object_mut()
        .unwrap()
        .insert("$ref".into(), Value::String(format!("#{fragment}")));
    let v = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {pointer} does not compile: {e}"));
    let v = Arc::new(v);
    s.cache.lock().unwrap().insert(key, v.clone());
    v
}

fn check(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("  at {}: {}", e.instance_path(), e))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}\ninstance: {}",
        errors.join("\n"),
        serde_json::to_string(instance)
            .unwrap()
            .chars()
            .take(2000)
            .collect::<String>()
    );
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
    if r.status == 429 {
        return check(
            &validator_for("/definitions/rate_limited", true),
            &r.json(),
            &format!("{method} {path} -> 429"),
        );
    }
    let s = schemas();
    let Some(template) = template_for(path) else {
        panic!("no schema for {method} {path}");
    };
    let m = method.as_str().to_ascii_lowercase();
    let op_key = format!("{} {template}", method.as_str());
    let status = r.status.to_string();
    let instance = r.json();
    // Local schemas first: they record where today's API differs from the 2024 file.
    if let Some(op) = s.local["operations"].get(&op_key) {
        // Raw-body operations (object GET): a success body is the stored bytes, whatever
        // their content type; only error envelopes are checked.
        if op["raw_success"] == true && r.status < 400 {
            return;
        }
        let code = if op["responses"].get(&status).is_some() {
            status.clone()
        } else if r.status >= 400 {
            "4XX".into()
        } else {
            "200".into()
        };
        let code = if r.status >= 400 && op["responses"].get(&code).is_none() {
            return check(
                &validator_for("/definitions/failure", true),
                &instance,
                &format!("{op_key} -> {status}"),
            );
        } else {
            code
        };
        let pointer = format!(
            "/operations/{}/responses/{}",
            escape_pointer(&op_key),
            escape_pointer(&code)
        );
        return check(
            &validator_for(&pointer, true),
            &instance,
            &format!("{op_key} -> {status}"),
        );
    }
    let Some(op) = s.doc["paths"][&template].get(&m) else {
        panic!("no schema for {op_key}");
    };
    let responses = &op["responses"];
    let class = format!("{}XX", &status[..1]);
    let code = [status.as_str(), class.as_str(), "default"]
        .into_iter()
        .find(|c| responses.get(*c).is_some())
        .map(str::to_string)
        .or_else(|| (r.status < 300).then(|| "200".to_string()))
        // 5xx (injected faults) are described nowhere in the file: the operation's failure
        // envelope is the contract for every error.
        .or_else(|| (r.status >= 400 && responses.get("4XX").is_some()).then(|| "4XX".to_string()))
        .unwrap_or_else(|| panic!("{op_key} has no response schema for {status}"));
    let pointer = format!(
        "/paths/{}/{m}/responses/{code}/content/application~1json/schema",
        escape_pointer(&template)
    );
    if r.status >= 400 {
        // The 2024 file writes most failure schemas as `allOf: [<success response>,
        // <…-common-failure>]`, which no body can satisfy (success must be both true and
        // false). The failure member is the contract; validate against it alone, and
        // against the generic failure envelope where the file names none.
        let schema = s.doc.pointer(&pointer).cloned().unwrap_or(Value::Null);
        let mut refs: Vec<String> = Vec::new();
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            refs.push(r.to_string());
        }
        for member in schema["allOf"].as_array().into_iter().flatten() {
            if let Some(r) = member.get("$ref").and_then(Value::as_str) {
                refs.push(r.to_string());
            }
        }
        let failures: Vec<String> = refs
            .into_iter()
            .filter(|r| r.ends_with("failure"))
            .map(|r| r.trim_start_matches('#').to_string())
            .collect();
        if failures.is_empty() {
            return check(
                &validator_for("/definitions/failure", true),
                &instance,
                &format!("{op_key} -> {status}"),
            );
        }
        for f in failures {
            check(
                &validator_for(&f, false),
                &instance,
                &format!("{op_key} -> {status}"),
            );
        }
        return;
    }
    if s.doc.pointer(&pointer).is_none() {
        // The 2024 file declares the response without a schema (e.g. detach domain): only the
        // generic success envelope can be checked.
        return check(
            &validator_for("/definitions/success", true),
            &instance,
            &format!("{op_key} -> {status}"),
        );
    }
    check(
        &validator_for(&pointer, false),
        &instance,
        &format!("{op_key} -> {status}"),
    );
}

/// Validates a JSON request body against the operation's request schema, when it has one.
pub fn validate_request(method: &Method, path: &str, body: &Value) {
    let s = schemas();
    let Some(template) = template_for(path) else {
        return;
    };
    let m = method.as_str().to_ascii_lowercase();
    let op_key = format!("{} {template}", method.as_str());
    if let Some(op) = s.local["operations"].get(&op_key)
        && op.get("request").is_some()
    {
        let pointer = format!("/operations/{}/request", escape_pointer(&op_key));
        check(
            &validator_for(&pointer, true),
            body,
            &format!("request {op_key}"),
        );
        return;
    }
    let Some(op) = s.doc["paths"][&template].get(&m) else {
        return;
    };
    let rb = &op["requestBody"];
    let rb_pointer_base = if let Some(r) = rb.get("$ref").and_then(Value::as_str) {
        r.trim_start_matches('#').to_string()
    } else {
        format!("/paths/{}/{m}/requestBody", escape_pointer(&template))
    };
    let resolved = s
        .doc
        .pointer(&rb_pointer_base)
        .cloned()
        .unwrap_or(Value::Null);
    if resolved["content"].get("application/json").is_none() {
        return;
    }
    let pointer = format!("{rb_pointer_base}/content/application~1json/schema");
    if s.doc.pointer(&pointer).is_none() {
        // JSON body declared without a schema (e.g. start tail).
        return;
    }
    check(
        &validator_in(&pointer, false, true),
        body,
        &format!("request {op_key}"),
    );
}

/// Validates one tail WebSocket event against the local trace-event schema.
pub fn validate_tail_event(event: &Value) {
    check(
        &validator_for("/definitions/tail_event", true),
        event,
        "tail event",
    );
}
