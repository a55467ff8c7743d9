//! The tailnet policy file of the Tailscale fake: `GET/POST
//! /api/v2/tailnet/{t}/acl` (HuJSON or JSON, `ETag`, `If-Match` → 412,
//! `ts-default`) and `POST …/acl/validate`, each body checked against the
//! vendored OpenAPI document for its content type. Like Tailscale it refuses
//! a policy naming a tag or group it does not define (TFP #380 "tag not
//! found"). 429 with Retry-After comes from `State::fail_next`.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use provider_hybrid_spoke::acl::hujson;
use serde_json::{Value, json};

use super::fake_tailscale::State;
use super::openapi::OpenApi;

/// The policy a new tailnet starts with.
pub const DEFAULT_POLICY: &str = "// Example/default ACLs for unrestricted connections.\n{\n  // Access control lists.\n  \"acls\": [\n    {\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]},\n  ],\n}\n";

#[derive(Clone, Debug)]
pub struct FakePolicy {
    pub text: String,
    /// Still the untouched default (`If-Match: "ts-default"`).
    pub is_default: bool,
    pub reads: usize,
    pub writes: usize,
    /// Writes that carried `If-Match` (stale ones included).
    pub writes_with_if_match: usize,
    pub stale_writes: usize,
    pub validations: usize,
    /// For this many GETs, someone else edits the policy right after the
    /// answer (adds host `raced-<n>`), so the ETag just sent is stale.
    pub edit_after_reads: usize,
    pub raced_edits: usize,
}

impl Default for FakePolicy {
    fn default() -> Self {
        Self {
            text: DEFAULT_POLICY.into(),
            is_default: true,
            reads: 0,
            writes: 0,
            writes_with_if_match: 0,
            stale_writes: 0,
            validations: 0,
            edit_after_reads: 0,
            raced_edits: 0,
        }
    }
}

impl FakePolicy {
    /// Quoted, like Tailscale's (`"e0b2816b418"`): a hash of the bytes.
    pub fn etag(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.text.hash(&mut h);
        format!("\"{:016x}\"", h.finish())
    }
}

pub fn is_policy_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["api", "v2", "tailnet", _, "acl"] | ["api", "v2", "tailnet", _, "acl", "validate"]
    )
}

/// Why Tailscale would refuse this policy (None: it is fine).
pub fn problems(text: &str) -> Option<String> {
    let policy = match hujson::parse(text) {
        Ok(n) => n.to_value(),
        Err(e) => return Some(e.to_string()),
    };
    if !policy.is_object() {
        return Some("policy must be a JSON object".into());
    }
    let defined = |section: &str, name: &str| {
        policy[section]
            .as_object()
            .is_some_and(|m| m.contains_key(name))
    };
    let mut refs: Vec<(String, String)> = Vec::new();
    for section in ["acls", "grants", "ssh"] {
        for (i, rule) in policy[section].as_array().into_iter().flatten().enumerate() {
            for field in ["src", "dst"] {
                for (j, s) in rule[field].as_array().into_iter().flatten().enumerate() {
                    if let Some(s) = s.as_str() {
                        refs.push((format!("{section}[{i}].{field}[{j}]"), s.to_string()));
                    }
                }
            }
        }
    }
    for (section, owners) in [
        ("tagOwners", &policy["tagOwners"]),
        ("autoApprovers.routes", &policy["autoApprovers"]["routes"]),
    ] {
        for (k, list) in owners.as_object().into_iter().flatten() {
            for s in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
            {
                refs.push((format!("{section}[{k:?}]"), s.to_string()));
            }
        }
    }
    for (at, r) in refs {
        // `tag:web:443` names tag:web; `group:x` has no port in src.
        let name: String = r.splitn(3, ':').take(2).collect::<Vec<_>>().join(":");
        if r.starts_with("tag:") && !defined("tagOwners", &name) {
            return Some(format!("{at}: tag not found: {name:?}"));
        }
        if r.starts_with("group:") && !defined("groups", &name) {
            return Some(format!("{at}: group not found: {name:?}"));
        }
    }
    None
}

fn standardized(text: &str) -> Value {
    hujson::parse(text)
        .map(|n| n.to_value())
        .unwrap_or(Value::Null)
}

pub async fn handle(
    req: Request<Body>,
    state: Arc<Mutex<State>>,
    spec: Arc<OpenApi>,
) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let bytes = axum::body::to_bytes(req.into_body(), 4 << 20)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let rel = path.trim_start_matches("/api/v2").to_string();
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let Some((template, op)) = spec.operation(&method, &rel) else {
        return reply(404, json!({"message": "not found"}), None, None, false);
    };
    let if_match = header("if-match");
    st.requests.push(format!(
        "{method} {path}{}",
        if if_match.is_empty() {
            String::new()
        } else {
            format!(" If-Match: {if_match}")
        }
    ));
    if let Some((code, retry)) = st.fail_next.pop_front() {
        let message = if code == 429 {
            "rate limit exceeded"
        } else {
            "injected failure"
        };
        return reply(code, json!({ "message": message }), retry, None, false);
    }
    let token = header("authorization");
    let token = token.strip_prefix("Bearer ").unwrap_or("");
    let now = jiff::Timestamp::now();
    if !(st.api_keys.iter().any(|k| k == token) || st.tokens.get(token).is_some_and(|t| *t > now)) {
        return reply(
            401,
            json!({"message": "API token invalid"}),
            None,
            None,
            false,
        );
    }

    // The request body, checked for its content type.
    let content_type = header("content-type");
    let content_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let body_text: Option<String> = if method == "POST" {
        let (schema_type, value, policy_text) = match content_type.as_str() {
            "application/hujson" | "application/husjon" => {
                // The document spells the validate type "application/husjon".
                let key = if spec.request_schema_for(op, "application/hujson").is_some() {
                    "application/hujson"
                } else {
                    "application/husjon"
                };
                (key, Value::String(text.clone()), text.clone())
            }
            "application/json" => match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    let t = v.to_string();
                    ("application/json", v, t)
                }
                Err(e) => {
                    return reply(
                        400,
                        json!({"message": format!("invalid JSON: {e}")}),
                        None,
                        None,
                        false,
                    );
                }
            },
            other => {
                st.violations.push(format!(
                    "{method} {template}: content type {other:?} is not in the document"
                ));
                return reply(
                    415,
                    json!({"message": "unsupported content type"}),
                    None,
                    None,
                    false,
                );
            }
        };
        match spec.request_schema_for(op, schema_type) {
            Some(schema) => {
                let problems =
                    spec.validate(schema, &value, &format!("request {method} {template}"));
                if !problems.is_empty() {
                    st.violations.extend(problems.clone());
                    return reply(
                        400,
                        json!({"message": problems.join("; ")}),
                        None,
                        None,
                        false,
                    );
                }
            }
            None => st.violations.push(format!(
                "{method} {template}: no {schema_type} request body in the document"
            )),
        }
        Some(policy_text)
    } else {
        None
    };
    let wants_json = header("accept") == "application/json";

    let (status, body, etag, hujson_body) = match (method.as_str(), rel.ends_with("/validate")) {
        ("GET", false) => {
            st.acl.reads += 1;
            let etag = st.acl.etag();
            let answer = if wants_json {
                (200, standardized(&st.acl.text), Some(etag), false)
            } else {
                (200, Value::String(st.acl.text.clone()), Some(etag), true)
            };
            if st.acl.edit_after_reads > 0 {
                st.acl.edit_after_reads -= 1;
                let n = st.acl.raced_edits;
                st.acl.raced_edits += 1;
                let line = format!("\"hosts\": {{\n    \"raced-{n}\": \"100.64.2.{n}\",");
                st.acl.text = st.acl.text.replacen("\"hosts\": {", &line, 1);
            }
            answer
        }
        ("POST", false) => {
            let new_text = body_text.unwrap_or_default();
            if !if_match.is_empty() {
                st.acl.writes_with_if_match += 1;
                let want = if_match.trim_matches('"');
                let ok = if want == "ts-default" {
                    st.acl.is_default
                } else {
                    want == st.acl.etag().trim_matches('"')
                };
                if !ok {
                    st.acl.stale_writes += 1;
                    let r = (
                        412,
                        json!({"message": "precondition failed, invalid old hash"}),
                        None,
                        false,
                    );
                    return finish(&mut st, &spec, op, &method, &template, r);
                }
            }
            if let Some(p) = problems(&new_text) {
                (400, json!({ "message": p }), None, false)
            } else {
                st.acl.writes += 1;
                st.acl.is_default = false;
                st.acl.text = new_text;
                let etag = st.acl.etag();
                if wants_json {
                    (200, standardized(&st.acl.text), Some(etag), false)
                } else {
                    (200, Value::String(st.acl.text.clone()), Some(etag), true)
                }
            }
        }
        ("POST", true) => {
            st.acl.validations += 1;
            match problems(&body_text.unwrap_or_default()) {
                Some(p) => (
                    200,
                    json!({"message": "policy is invalid", "data": [{"errors": [p]}]}),
                    None,
                    false,
                ),
                None => (200, json!({}), None, false),
            }
        }
        _ => (404, json!({"message": "not found"}), None, false),
    };
    finish(
        &mut st,
        &spec,
        op,
        &method,
        &template,
        (status, body, etag, hujson_body),
    )
}

/// Checks the response against the document, then sends it.
fn finish(
    st: &mut State,
    spec: &OpenApi,
    op: &Value,
    method: &str,
    template: &str,
    (status, body, etag, hujson_body): (u16, Value, Option<String>, bool),
) -> Response<Body> {
    let content_type = if hujson_body {
        "application/hujson"
    } else {
        "application/json"
    };
    let schema = spec
        .response_schema_for(op, status, content_type)
        .unwrap_or_else(|| spec.schema("Error"));
    for v in spec.validate(
        schema,
        &body,
        &format!("response {method} {template} {status}"),
    ) {
        st.violations.push(v);
    }
    reply(status, body, None, etag, hujson_body)
}

fn reply(
    status: u16,
    body: Value,
    retry: Option<u64>,
    etag: Option<String>,
    hujson_body: bool,
) -> Response<Body> {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(
            "content-type",
            if hujson_body {
                "application/hujson"
            } else {
                "application/json"
            },
        );
    if let Some(r2) = retry {
        r = r.header("retry-after", r2.to_string());
    }
    if let Some(e) = etag {
        r = r.header("etag", e);
    }
    let text = match body {
        Value::String(s) if hujson_body => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    r.body(Body::from(text)).unwrap_or_default()
}

/// Another tool editing the policy through the API: each round adds host
/// `foreign-<i>` (`100.64.1.<i>`) right after `"hosts": {` with `If-Match`,
/// re-reading on 412. Returns how many of its writes were stale.
pub async fn foreign_writer(
    url: String,
    api_key: &str,
    rounds: usize,
    pause: std::time::Duration,
) -> usize {
    let http = reqwest::Client::new();
    let acl = format!("{url}/api/v2/tailnet/-/acl");
    let mut stale = 0;
    for i in 0..rounds {
        loop {
            let r = http
                .get(&acl)
                .bearer_auth(api_key)
                .header("accept", "application/hujson")
                .send()
                .await
                .expect("GET /acl");
            let etag = r.headers()["etag"].to_str().expect("ETag").to_string();
            let text = r.text().await.expect("policy text");
            let line =
                format!("\"hosts\": {{\n    \"foreign-{i}\": \"100.64.1.{i}\", // another tool");
            let edited = text.replacen("\"hosts\": {", &line, 1);
            let w = http
                .post(&acl)
                .bearer_auth(api_key)
                .header("if-match", etag)
                .header("content-type", "application/hujson")
                .body(edited)
                .send()
                .await
                .expect("POST /acl");
            match w.status().as_u16() {
                200 => break,
                412 => stale += 1,
                s => panic!("foreign write failed: {s}"),
            }
        }
        tokio::time::sleep(pause).await;
    }
    stale
}
