//! The API contract as JSON Schema: `schemas/openapi-subset.json` (Cloudflare's official
//! OpenAPI, 2024-08) plus `schemas/local_schemas.json` (operations absent from that file,
//! or answered differently today, per ENDPOINTS.md — each with a description saying why).
//!
//! One place checks requests and responses against it, so the emulator's own test suite
//! (responses and request bodies) and the `--validate-requests` mode (every request a
//! client sends, see [`crate::validation`]) judge by the same rules.
//!
//! The 2024 file cannot be used verbatim; every adjustment is made in [`Schemas::load`] and
//! commented there (OpenAPI → JSON Schema conversion, schemas no body can satisfy, and
//! request-side allowances where today's API accepts what the 2024 file forbids).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use crate::state::lock;

const OPENAPI: &str = include_str!("../schemas/openapi-subset.json");
const LOCAL: &str = include_str!("../schemas/local_schemas.json");

/// The result of checking one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It matches its schema.
    Valid,
    /// It does not; one message per error (`at /pointer: what`), at most ten.
    Invalid(Vec<String>),
    /// Neither file describes it (unknown operation, or a body without a schema).
    NoSchema,
}

impl Outcome {
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid(_))
    }
}

/// Query parameters that today's API (or a client we must support) sends although the
/// 2024 file does not declare them for that operation. Keyed by operation
/// (`METHOD /template`); each entry says why. Anything not listed here and not declared
/// is a violation.
const QUERY_ALLOWANCES: &[(&str, &str, &str)] = &[
    (
        "PUT /accounts/{account_id}/workers/scripts/{script_name}",
        "excludeScript",
        "ENDPOINTS.md §7.1 / WRANGLER.md: wrangler sends excludeScript=true (do not echo the script back); today's API accepts it, the 2024 file declares only rollback_to",
    ),
    (
        "PUT /accounts/{account_id}/workers/scripts/{script_name}",
        "bindings_inherit",
        "ENDPOINTS.md §7.1 / WRANGLER.md: wrangler sends bindings_inherit=strict on uploads",
    ),
    (
        "POST /accounts/{account_id}/workers/scripts/{script_name}/versions",
        "bindings_inherit",
        "ENDPOINTS.md §8 / WRANGLER.md: wrangler adds ?bindings_inherit=strict to version uploads",
    ),
    (
        "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}",
        "expiration",
        "ENDPOINTS.md §3 [OAS-new, wrangler]: absolute expiry (epoch seconds) as a query parameter; the 2024 file declares no query parameters here",
    ),
    (
        "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}",
        "expiration_ttl",
        "ENDPOINTS.md §3 [OAS-new, wrangler]: relative expiry (seconds, >= 60) as a query parameter",
    ),
    (
        "GET /accounts/{account_id}/pages/projects",
        "page",
        "ENDPOINTS.md §2: Pages projects and deployments lists are page style (page, per_page) today; the 2024 file declares no pagination parameters there",
    ),
    (
        "GET /accounts/{account_id}/pages/projects",
        "per_page",
        "ENDPOINTS.md §2: Pages projects and deployments lists are page style (page, per_page) today; the 2024 file declares no pagination parameters there",
    ),
    (
        "GET /accounts/{account_id}/pages/projects/{project_name}/deployments",
        "page",
        "ENDPOINTS.md §2: Pages projects and deployments lists are page style (page, per_page) today; the 2024 file declares no pagination parameters there",
    ),
    (
        "GET /accounts/{account_id}/pages/projects/{project_name}/deployments",
        "per_page",
        "ENDPOINTS.md §2: Pages projects and deployments lists are page style (page, per_page) today; the 2024 file declares no pagination parameters there",
    ),
];

/// Both schema documents, compiled lazily per pointer.
pub struct Schemas {
    /// The 2024 file, adjusted (see [`Schemas::load`]), as seen by responses.
    doc: Value,
    /// The same document as seen by requests: OpenAPI says a `readOnly` property listed in
    /// `required` is required in responses only; plus the request-side allowances.
    doc_req: Value,
    local: Value,
    templates: Vec<String>,
    cache: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The process-wide schemas (parsed once).
pub fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::load)
}

impl Schemas {
    /// Parses both files and applies every adjustment. The files are compiled into the
    /// binary and covered by the emulator's tests, so a parse failure is a build defect;
    /// it degrades to empty documents (every operation then has no schema) instead of
    /// taking the emulator down.
    fn load() -> Self {
        let mut doc: Value = serde_json::from_str(OPENAPI).unwrap_or_else(|_| json!({}));
        openapi_to_json_schema(&mut doc);
        // `d1_api-response-common` types `result` as an object, and every D1 operation
        // combines it with `allOf` and its own `result` (an array for list/query/raw), which
        // no body can satisfy. The common envelope's placeholder is dropped; each operation's
        // own `result` schema still applies.
        if let Some(props) = doc
            .pointer_mut("/components/schemas/d1_api-response-common/properties")
            .and_then(Value::as_object_mut)
        {
            props.remove("result");
        }
        // Binding types that today's API returns in settings and versions but the 2024 union
        // (`workers_binding`) lacks: plain_text, secret_text, json, version_metadata, … Their
        // shape (`{type, name, …}`) is added as one more alternative.
        if let Some(union) = doc
            .pointer_mut("/components/schemas/workers_binding/anyOf")
            .and_then(Value::as_array_mut)
        {
            union.push(json!({
                "type": "object",
                "required": ["type", "name"],
                "properties": {
                    "type": {"enum": ["plain_text", "secret_text", "secret_key", "json", "version_metadata", "assets", "ai", "browser", "analytics_engine", "hyperdrive", "vectorize", "workflow", "send_email", "rate_limit", "pipelines", "images", "inherit"]},
                    "name": {"type": "string"},
                    "text": {"type": "string"}
                }
            }));
        }
        // Deployments may give a version 0 % (Cloudflare's "version overrides" docs: deploy the
        // new version at 0 % beside the old one at 100 %, then smoke-test it with the
        // `Cloudflare-Workers-Version-Overrides` header; `wrangler versions deploy` accepts
        // it). The 2024 file says `minimum: 0.01`; today's API takes 0, in requests and in
        // the deployments it answers.
        if let Some(min) = doc.pointer_mut(
            "/components/schemas/workers_deployments-strategy-percentage/properties/versions/items/properties/percentage/minimum",
        ) {
            *min = json!(0);
        }
        let mut doc_req = doc.clone();
        drop_read_only_required(&mut doc_req, &doc);
        request_allowances(&mut doc_req);
        let mut local: Value = serde_json::from_str(LOCAL).unwrap_or_else(|_| json!({}));
        openapi_to_json_schema(&mut local);
        let mut templates: Vec<String> = doc["paths"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for k in local["operations"].as_object().into_iter().flatten() {
            if let Some((_, path)) = k.0.split_once(' ')
                && !templates.iter().any(|t| t == path)
            {
                templates.push(path.to_string());
            }
        }
        Self {
            doc,
            doc_req,
            local,
            templates,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The template of `path` (`/accounts/x/d1/database/y` →
    /// `/accounts/{account_id}/d1/database/{database_id}`), preferring literal segments
    /// over parameters. `path` is relative to `/client/v4`; a query string is ignored.
    pub fn template_for(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, &String)> = None;
        for t in &self.templates {
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

    /// `METHOD /template` of a request, when either file knows the path.
    pub fn operation(&self, method: &str, path: &str) -> Option<String> {
        self.template_for(path)
            .map(|t| format!("{} {t}", method.to_ascii_uppercase()))
    }

    fn local_op(&self, op_key: &str) -> Option<&Value> {
        self.local["operations"].get(op_key)
    }

    fn official_op(&self, method: &str, template: &str) -> Option<&Value> {
        self.doc["paths"][template].get(method.to_ascii_lowercase())
    }

    /// Compiles (once) the schema at `pointer` of the local file (`local`) or the official
    /// one (requests see the request variant of it).
    fn validator(
        &self,
        pointer: &str,
        local: bool,
        request: bool,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let key = format!("{local}:{request}:{pointer}");
        if let Some(v) = lock(&self.cache).get(&key) {
            return Ok(v.clone());
        }
        let mut root = if local {
            // Local schemas may reference the official components.
            let mut l = self.local.clone();
            l["components"] = self.doc["components"].clone();
            l
        } else if request {
            self.doc_req.clone()
        } else {
            self.doc.clone()
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
        if let Some(obj) = root.as_object_mut() {
            obj.insert("$ref".into(), Value::String(format!("#{fragment}")));
        }
        let v = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("schema {pointer} does not compile: {e}"))?;
        let v = Arc::new(v);
        lock(&self.cache).insert(key, v.clone());
        Ok(v)
    }

    fn check(&self, pointer: &str, local: bool, request: bool, instance: &Value) -> Outcome {
        match self.validator(pointer, local, request) {
            Ok(v) => {
                let errors: Vec<String> = v
                    .iter_errors(instance)
                    .map(|e| {
                        let at = e.instance_path().to_string();
                        format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
                    })
                    .take(10)
                    .collect();
                if errors.is_empty() {
                    Outcome::Valid
                } else {
                    Outcome::Invalid(errors)
                }
            }
            Err(e) => Outcome::Invalid(vec![e]),
        }
    }

    /// A JSON response body (success or error envelope) of `method path` with `status`.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &Value) -> Outcome {
        if status == 429 {
            return self.check("/definitions/rate_limited", true, false, body);
        }
        let Some(template) = self.template_for(path) else {
            return Outcome::NoSchema;
        };
        let m = method.to_ascii_lowercase();
        let op_key = format!("{} {template}", method.to_ascii_uppercase());
        let code_str = status.to_string();
        // Local schemas first: they record where today's API differs from the 2024 file.
        if let Some(op) = self.local_op(&op_key) {
            // Raw-body operations (object GET): a success body is the stored bytes.
            if op["raw_success"] == true && status < 400 {
                return Outcome::Valid;
            }
            let code = if op["responses"].get(&code_str).is_some() {
                code_str
            } else if status >= 400 {
                "4XX".into()
            } else {
                "200".into()
            };
            if status >= 400 && op["responses"].get(&code).is_none() {
                return self.check("/definitions/failure", true, false, body);
            }
            let pointer = format!(
                "/operations/{}/responses/{}",
                escape_pointer(&op_key),
                escape_pointer(&code)
            );
            return self.check(&pointer, true, false, body);
        }
        let Some(op) = self.official_op(method, &template) else {
            return Outcome::NoSchema;
        };
        let responses = &op["responses"];
        let class = format!("{}XX", &code_str[..1]);
        let code = [code_str.as_str(), class.as_str(), "default"]
            .into_iter()
            .find(|c| responses.get(*c).is_some())
            .map(str::to_string)
            .or_else(|| (status < 300).then(|| "200".to_string()))
            // 5xx (injected faults) are described nowhere in the file: the operation's
            // failure envelope is the contract for every error.
            .or_else(|| (status >= 400 && responses.get("4XX").is_some()).then(|| "4XX".into()));
        let Some(code) = code else {
            return Outcome::NoSchema;
        };
        let pointer = format!(
            "/paths/{}/{m}/responses/{code}/content/application~1json/schema",
            escape_pointer(&template)
        );
        if status >= 400 {
            // The 2024 file writes most failure schemas as `allOf: [<success response>,
            // <…-common-failure>]`, which no body can satisfy (success must be both true
            // and false). The failure member is the contract; validate against it alone,
            // and against the generic failure envelope where the file names none.
            let schema = self.doc.pointer(&pointer).cloned().unwrap_or(Value::Null);
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
                return self.check("/definitions/failure", true, false, body);
            }
            let mut errors = Vec::new();
            for f in failures {
                if let Outcome::Invalid(e) = self.check(&f, false, false, body) {
                    errors.extend(e);
                }
            }
            return if errors.is_empty() {
                Outcome::Valid
            } else {
                Outcome::Invalid(errors)
            };
        }
        if self.doc.pointer(&pointer).is_none() {
            // Declared without a schema (e.g. detach domain): only the generic success
            // envelope can be checked.
            return self.check("/definitions/success", true, false, body);
        }
        self.check(&pointer, false, false, body)
    }

    /// Pointer (in the official file) of the request body of an operation, resolved
    /// through a `$ref`ed `requestBody`, plus whether the body is required.
    fn request_body_base(&self, method: &str, template: &str) -> Option<(String, Value)> {
        let op = self.official_op(method, template)?;
        let rb = &op["requestBody"];
        let base = match rb.get("$ref").and_then(Value::as_str) {
            Some(r) => r.trim_start_matches('#').to_string(),
            None => format!(
                "/paths/{}/{}/requestBody",
                escape_pointer(template),
                method.to_ascii_lowercase()
            ),
        };
        let resolved = self.doc.pointer(&base).cloned()?;
        Some((base, resolved))
    }

    /// A JSON request body of `method path` against the operation's request schema.
    /// `None` is a request without a body: it is checked as `{}` (the 2024 file marks the
    /// body `required` even on DELETEs whose schema is an empty object, which Cloudflare
    /// accepts without a body; a body whose schema requires members still fails).
    pub fn check_request_json(&self, method: &str, path: &str, body: Option<&Value>) -> Outcome {
        let Some(template) = self.template_for(path) else {
            return Outcome::NoSchema;
        };
        let op_key = format!("{} {template}", method.to_ascii_uppercase());
        let empty = json!({});
        let body = body.unwrap_or(&empty);
        if let Some(op) = self.local_op(&op_key) {
            if op.get("request").is_none() {
                return Outcome::NoSchema;
            }
            let pointer = format!("/operations/{}/request", escape_pointer(&op_key));
            return self.check(&pointer, true, true, body);
        }
        let Some((base, resolved)) = self.request_body_base(method, &template) else {
            return Outcome::NoSchema;
        };
        if resolved["content"].get("application/json").is_none() {
            return Outcome::NoSchema;
        }
        let pointer = format!("{base}/content/application~1json/schema");
        if self.doc.pointer(&pointer).is_none() {
            // JSON body declared without a schema (e.g. start tail).
            return Outcome::NoSchema;
        }
        self.check(&pointer, false, true, body)
    }

    /// One JSON part (`metadata`, `settings`) of a multipart request body, against that
    /// property of the operation's multipart schema. Parts the schema does not describe
    /// as JSON (modules, files, values) have no schema.
    pub fn check_request_part(
        &self,
        method: &str,
        path: &str,
        part: &str,
        value: &Value,
    ) -> Outcome {
        let Some(template) = self.template_for(path) else {
            return Outcome::NoSchema;
        };
        let Some((base, resolved)) = self.request_body_base(method, &template) else {
            return Outcome::NoSchema;
        };
        let Some(schema) = resolved["content"]
            .get("multipart/form-data")
            .map(|c| &c["schema"])
        else {
            return Outcome::NoSchema;
        };
        let schema_ptr = format!("{base}/content/multipart~1form-data/schema");
        let mut candidates = vec![(schema_ptr.clone(), schema)];
        for (i, alt) in schema["anyOf"].as_array().into_iter().flatten().enumerate() {
            candidates.push((format!("{schema_ptr}/anyOf/{i}"), alt));
        }
        for (ptr, s) in candidates {
            let s = resolve(&self.doc, s);
            let Some(prop) = s["properties"].get(part) else {
                continue;
            };
            let prop = resolve(&self.doc, prop);
            let is_json = prop["type"] == "object"
                || prop.get("properties").is_some()
                || prop.get("allOf").is_some()
                || prop.get("anyOf").is_some();
            if !is_json {
                return Outcome::NoSchema;
            }
            let pointer = format!("{ptr}/properties/{}", escape_pointer(part));
            return self.check(&pointer, false, true, value);
        }
        Outcome::NoSchema
    }

    /// The query string's parameters against the operation's declared `in: query`
    /// parameters: unknown names (unless allowed in [`QUERY_ALLOWANCES`]), missing
    /// required ones, and values that do not match their schema (after the string is read
    /// as the schema's type) are violations. Operations of the local file declare their
    /// query parameters under `query` (name → schema); without it their query is not
    /// checked.
    pub fn check_query(&self, method: &str, path: &str, pairs: &[(String, String)]) -> Outcome {
        let Some(template) = self.template_for(path) else {
            return Outcome::NoSchema;
        };
        let op_key = format!("{} {template}", method.to_ascii_uppercase());
        // name → (pointer, local?, required)
        let mut declared: Vec<(String, String, bool, bool)> = Vec::new();
        if let Some(op) = self.local_op(&op_key) {
            let Some(q) = op.get("query").and_then(Value::as_object) else {
                return Outcome::NoSchema;
            };
            for (name, s) in q {
                let pointer = format!(
                    "/operations/{}/query/{}",
                    escape_pointer(&op_key),
                    escape_pointer(name)
                );
                declared.push((name.clone(), pointer, true, s["x-required"] == true));
            }
        } else {
            let m = method.to_ascii_lowercase();
            let Some(op) = self.official_op(method, &template) else {
                return Outcome::NoSchema;
            };
            let path_ptr = format!("/paths/{}", escape_pointer(&template));
            let lists = [
                (
                    format!("{path_ptr}/parameters"),
                    &self.doc["paths"][&template]["parameters"],
                ),
                (format!("{path_ptr}/{m}/parameters"), &op["parameters"]),
            ];
            for (list_ptr, list) in lists {
                for (i, p) in list.as_array().into_iter().flatten().enumerate() {
                    let (p_ptr, p) = match p.get("$ref").and_then(Value::as_str) {
                        Some(r) => (r.trim_start_matches('#').to_string(), resolve(&self.doc, p)),
                        None => (format!("{list_ptr}/{i}"), p),
                    };
                    if p["in"] != "query" {
                        continue;
                    }
                    let Some(name) = p["name"].as_str() else {
                        continue;
                    };
                    declared.push((
                        name.to_string(),
                        format!("{p_ptr}/schema"),
                        false,
                        p["required"] == true,
                    ));
                }
            }
        }
        let mut errors = Vec::new();
        for (name, value) in pairs {
            match declared.iter().find(|d| &d.0 == name) {
                Some((_, pointer, local, _)) => {
                    let schema = if *local {
                        self.local.pointer(pointer)
                    } else {
                        self.doc.pointer(pointer)
                    };
                    let Some(schema) = schema else { continue };
                    let root = if *local { &self.local } else { &self.doc };
                    let instance = typed_query_value(root, schema, value);
                    if let Outcome::Invalid(e) = self.check(pointer, *local, true, &instance) {
                        errors.extend(e.into_iter().map(|e| format!("query `{name}` {e}")));
                    }
                }
                None if query_allowed(&op_key, name) => {}
                None => errors.push(format!(
                    "query parameter `{name}` is not declared for {op_key}"
                )),
            }
        }
        for (name, _, _, required) in &declared {
            if *required && !pairs.iter().any(|(n, _)| n == name) {
                errors.push(format!("required query parameter `{name}` is missing"));
            }
        }
        if errors.is_empty() {
            Outcome::Valid
        } else {
            Outcome::Invalid(errors)
        }
    }

    /// The trace event shape of the tail WebSocket (local file).
    pub fn check_tail_event(&self, event: &Value) -> Outcome {
        self.check("/definitions/tail_event", true, false, event)
    }
}

fn query_allowed(op_key: &str, name: &str) -> bool {
    QUERY_ALLOWANCES
        .iter()
        .any(|(op, n, _why)| *op == op_key && *n == name)
}

/// Reads a query string value as the JSON type its schema declares (`per_page=20` is the
/// integer 20); a value that does not read as that type stays a string, so the schema
/// reports the mismatch.
fn typed_query_value(root: &Value, schema: &Value, value: &str) -> Value {
    let s = resolve(root, schema);
    let ty = s["type"].as_str().or_else(|| {
        // `nullable` became `anyOf: [inner, null]`.
        s["anyOf"]
            .as_array()
            .and_then(|a| a.first())
            .map(|inner| resolve(root, inner))
            .and_then(|inner| inner["type"].as_str())
    });
    match ty {
        Some("integer") => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.into())),
        Some("number") => value
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.into())),
        Some("boolean") => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(value.into()),
        },
        Some("array") => Value::Array(
            value
                .split(',')
                .map(|v| Value::String(v.to_string()))
                .collect(),
        ),
        _ => Value::String(value.into()),
    }
}

/// Request-side allowances: where today's API accepts requests the 2024 file forbids
/// (ENDPOINTS.md "[OAS-new]" / §16 notes). Each is explicit; nothing else is loosened.
fn request_allowances(doc_req: &mut Value) {
    // Version annotations (ENDPOINTS.md §8, current spec [OAS-new]): `workers/message` is
    // truncated at 1000 bytes instead of refused past 50 characters, and `workers/tag` may
    // be up to 100 bytes (2024: 20 characters).
    let annotations = "/components/requestBodies/workers_version-post/content/multipart~1form-data/schema/properties/metadata/properties/annotations/properties";
    if let Some(props) = doc_req
        .pointer_mut(annotations)
        .and_then(Value::as_object_mut)
    {
        if let Some(m) = props
            .get_mut("workers/message")
            .and_then(Value::as_object_mut)
        {
            m.remove("maxLength");
        }
        if let Some(t) = props.get_mut("workers/tag").and_then(Value::as_object_mut) {
            t.insert("maxLength".into(), json!(100));
        }
    }
    // The 2024 file lists the server-assigned record `id` as required on
    // `dns-records_dns-record`, which is also the create/overwrite request body; no
    // client sends an id when creating.
    if let Some(req) = doc_req
        .pointer_mut("/components/schemas/dns-records_dns-record/required")
        .and_then(Value::as_array_mut)
    {
        req.retain(|n| n != "id");
    }
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

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_prefer_literal_segments() {
        let s = schemas();
        assert_eq!(
            s.template_for("/accounts/abc/workers/subdomain").as_deref(),
            Some("/accounts/{account_id}/workers/subdomain")
        );
        assert_eq!(
            s.template_for("/accounts/a/r2/buckets/b/objects/x/y/z?p=1")
                .as_deref(),
            Some("/accounts/{account_id}/r2/buckets/{bucket_name}/objects/{*object_key}")
        );
    }

    #[test]
    fn request_bodies() {
        let s = schemas();
        let ns = "/accounts/a/storage/kv/namespaces";
        assert_eq!(
            s.check_request_json("POST", ns, Some(&json!({"title": "t"}))),
            Outcome::Valid
        );
        assert!(
            s.check_request_json("POST", ns, Some(&json!({"name": "t"})))
                .is_invalid()
        );
        assert!(s.check_request_json("POST", ns, None).is_invalid());
        // A DELETE whose schema is an empty object needs no body.
        assert!(
            !s.check_request_json("DELETE", &format!("{ns}/x"), None)
                .is_invalid()
        );
    }

    #[test]
    fn query_parameters() {
        let s = schemas();
        let keys = "/accounts/a/storage/kv/namespaces/n/keys";
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            s.check_query("GET", keys, &q(&[("limit", "100"), ("prefix", "a")])),
            Outcome::Valid
        );
        assert!(
            s.check_query("GET", keys, &q(&[("limit", "5")]))
                .is_invalid()
        );
        assert!(
            s.check_query("GET", keys, &q(&[("limit", "many")]))
                .is_invalid()
        );
        assert!(
            s.check_query("GET", keys, &q(&[("per_page", "10")]))
                .is_invalid()
        );
    }

    #[test]
    fn multipart_metadata() {
        let s = schemas();
        let p = "/accounts/a/workers/scripts/w";
        assert_eq!(
            s.check_request_part("PUT", p, "metadata", &json!({"main_module": "w.js"})),
            Outcome::Valid
        );
        assert!(
            s.check_request_part("PUT", p, "metadata", &json!({"main_module": 1}))
                .is_invalid()
        );
        assert_eq!(
            s.check_request_part("PUT", p, "w.js", &json!("code")),
            Outcome::NoSchema
        );
    }
}
