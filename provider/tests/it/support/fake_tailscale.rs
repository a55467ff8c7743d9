//! A stateful fake of the Tailscale API v2 keys endpoints and OAuth token
//! endpoint, on loopback. Every request body and every response body is
//! checked against ../shared/vendor-specs/tailscale-openapi.yaml (strictly:
//! unknown fields are violations). That document is an Aug-2024 snapshot;
//! the fields Tailscale added since (reference/tailscale.md §1.3: keyType,
//! scopes, tags, key, userId, PUT /keys/{id}) are added to it in memory by
//! [`overlay`], and nothing else is. Errors have the real shape
//! `{"message": …}`: 400 (bad tags, description), 401, 404, 409, 429 with
//! Retry-After, 5xx (injected).

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::fake_policy::FakePolicy;
use super::openapi::OpenApi;

pub fn spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vendor-specs/tailscale-openapi.yaml")
}

/// The newer fields of the keys API, added to the vendored document.
pub fn overlay(doc: &mut Value) {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let create = &mut doc["paths"]["/tailnet/{tailnet}/keys"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let props = create["properties"]
        .as_object_mut()
        .expect("createAuthKey has properties");
    props.insert(
        "keyType".into(),
        json!({"type": "string", "enum": ["auth", "client", "federated"]}),
    );
    props.insert("scopes".into(), strings.clone());
    props.insert("tags".into(), strings.clone());
    // The current document requires `capabilities` for auth keys only
    // (trust credentials have none); the fake checks that rule itself.
    create["required"] = json!([]);
    let create_schema = create.clone();
    let key = doc["components"]["schemas"]["Key"]["properties"]
        .as_object_mut()
        .expect("Key has properties");
    key.insert("key".into(), json!({"type": "string"}));
    key.insert(
        "keyType".into(),
        json!({"type": "string", "enum": ["auth", "client", "federated", "api"]}),
    );
    key.insert("scopes".into(), strings.clone());
    key.insert("tags".into(), strings);
    key.insert("userId".into(), json!({"type": "string"}));
    key.insert("expirySeconds".into(), json!({"type": "number"}));
    key.insert(
        "updated".into(),
        json!({"type": "string", "format": "date-time"}),
    );
    doc["paths"]["/tailnet/{tailnet}/keys/{keyId}"]["put"] = json!({
        "operationId": "setKey",
        "requestBody": {"content": {"application/json": {"schema": create_schema}}},
        "responses": {
            "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}},
            "400": {"$ref": "#/components/responses/400"},
            "404": {"$ref": "#/components/responses/404"}
        }
    });
}

#[derive(Clone, Debug)]
pub struct FakeKey {
    pub id: String,
    pub key_type: String,
    pub secret: String,
    pub description: String,
    pub tags: Vec<String>,
    pub scopes: Vec<String>,
    pub reusable: bool,
    pub ephemeral: bool,
    pub preauthorized: bool,
    pub created: Timestamp,
    pub expires: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
    /// Garbage-collected: the API answers 404.
    pub gone: bool,
}

#[derive(Default)]
pub struct State {
    pub keys: BTreeMap<String, FakeKey>,
    pub api_keys: Vec<String>,
    /// OAuth clients that may get tokens: id → secret.
    pub oauth_clients: BTreeMap<String, String>,
    pub tokens: BTreeMap<String, Timestamp>,
    pub token_requests: usize,
    /// Tags the tailnet policy permits (None: any).
    pub permitted_tags: Option<Vec<String>>,
    /// Errors to answer the next requests with: (status, Retry-After).
    pub fail_next: VecDeque<(u16, Option<u64>)>,
    pub requests: Vec<String>,
    pub violations: Vec<String>,
    next: u64,
    /// The tailnet policy file (`/acl`).
    pub acl: FakePolicy,
}

pub struct FakeTailscale {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTailscale {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: u16, message: &str) -> (u16, Value, Option<u64>) {
    (status, json!({ "message": message }), None)
}

impl FakeTailscale {
    /// Starts the fake; `api_key` is a valid API access token.
    pub async fn start(api_key: &str) -> Self {
        let mut spec = OpenApi::load(&spec_path());
        overlay(&mut spec.doc);
        let spec = Arc::new(spec);
        let state = Arc::new(Mutex::new(State {
            api_keys: vec![api_key.to_string()],
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake");
        let addr: SocketAddr = listener.local_addr().expect("its address");
        let app_state = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let state = app_state.clone();
            let spec = spec.clone();
            async move { handle(req, state, spec).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// Keys that are neither revoked, expired nor gone.
    pub fn valid_keys(&self) -> Vec<FakeKey> {
        let now = Timestamp::now();
        self.with(|s| {
            s.keys
                .values()
                .filter(|k| !k.gone && k.revoked.is_none() && k.expires.is_none_or(|e| e > now))
                .cloned()
                .collect()
        })
    }
}

fn key_json(k: &FakeKey, with_secret: bool) -> Value {
    let now = Timestamp::now();
    let invalid = k.revoked.is_some() || k.expires.is_some_and(|e| e <= now);
    let mut v = json!({
        "id": k.id,
        "keyType": k.key_type,
        "created": k.created.to_string(),
        "invalid": invalid,
        "description": k.description,
    });
    if k.key_type == "auth" {
        v["capabilities"] = json!({"devices": {"create": {
            "reusable": k.reusable, "ephemeral": k.ephemeral, "preauthorized": k.preauthorized, "tags": k.tags
        }}});
    } else {
        v["scopes"] = json!(k.scopes);
        v["tags"] = json!(k.tags);
    }
    if let Some(e) = k.expires {
        v["expires"] = json!(e.to_string());
    }
    if let Some(r) = k.revoked {
        v["revoked"] = json!(r.to_string());
    }
    if with_secret {
        v["key"] = json!(k.secret);
    }
    v
}

async fn handle(
    req: Request<Body>,
    state: Arc<Mutex<State>>,
    spec: Arc<OpenApi>,
) -> Response<Body> {
    if super::fake_policy::is_policy_path(req.uri().path()) {
        return super::fake_policy::handle(req, state, spec).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let (status, body, retry) = respond(&method, &path, &headers, &bytes, &state, &spec);
    // check the response against the document
    let mut st = state.lock().unwrap();
    st.requests.push(format!("{method} {path} -> {status}"));
    if let Some(rel) = path.strip_prefix("/api/v2")
        && let Some((template, op)) = spec.operation(&method, rel)
    {
        let schema = spec
            .response_schema(op, status)
            .unwrap_or_else(|| spec.schema("Error"));
        if status == 200 && method == "DELETE" {
            // "Successful operation." has no body schema
        } else {
            for v in spec.validate(
                schema,
                &body,
                &format!("response {method} {template} {status}"),
            ) {
                st.violations.push(v);
            }
        }
    }
    drop(st);
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(r) = retry {
        response = response.header("retry-after", r.to_string());
    }
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    response.body(Body::from(text)).unwrap()
}

fn respond(
    method: &str,
    path: &str,
    headers: &HeaderMap,
    bytes: &[u8],
    state: &Arc<Mutex<State>>,
    spec: &OpenApi,
) -> (u16, Value, Option<u64>) {
    let mut st = state.lock().unwrap();
    if let Some((code, retry)) = st.fail_next.pop_front() {
        let message = match code {
            429 => "rate limit exceeded",
            409 => "conflict",
            500 => "internal server error",
            502 => "bad gateway",
            503 => "service unavailable",
            _ => "injected failure",
        };
        return (code, json!({ "message": message }), retry);
    }
    // OAuth client credentials (not in the document: form body, checked here)
    if method == "POST" && path == "/api/v2/oauth/token" {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(bytes).into_owned().collect();
        let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) else {
            st.violations
                .push("oauth token request without client_id/client_secret".into());
            return (400, json!({"error": "invalid_request"}), None);
        };
        if st.oauth_clients.get(id) != Some(secret) {
            return (
                401,
                json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
                None,
            );
        }
        st.token_requests += 1;
        let token = format!("tskey-oauthtok-{}", st.token_requests);
        st.tokens.insert(
            token.clone(),
            Timestamp::now() + SignedDuration::from_hours(1),
        );
        return (
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
            None,
        );
    }
    let Some(rel) = path.strip_prefix("/api/v2") else {
        return error(404, "not found");
    };
    let Some((template, op)) = spec.operation(method, rel) else {
        return error(404, "not found");
    };
    // bearerAuth
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let now = Timestamp::now();
    let authorized = st.api_keys.iter().any(|k| k == token)
        || st.tokens.get(token).is_some_and(|until| *until > now);
    if !authorized {
        return error(401, "API token invalid");
    }
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return error(400, &format!("invalid JSON: {e}")),
        }
    };
    if let Some(schema) = spec.request_schema(op) {
        let problems = spec.validate(schema, &body, &format!("request {method} {template}"));
        if !problems.is_empty() {
            st.violations.extend(problems.clone());
            return error(400, &problems.join("; "));
        }
    }
    let parts: Vec<&str> = rel.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["tailnet", _, "keys"]) => {
            let keys: Vec<Value> = st
                .keys
                .values()
                .filter(|k| !k.gone && k.revoked.is_none())
                .map(|k| key_json(k, false))
                .collect();
            (200, json!({ "keys": keys }), None)
        }
        ("POST", ["tailnet", _, "keys"]) => {
            let key_type = body["keyType"].as_str().unwrap_or("auth").to_string();
            let description = body["description"].as_str().unwrap_or("").to_string();
            if description.len() > 50
                || !description
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            {
                return error(
                    400,
                    "description must be at most 50 alphanumeric characters, hyphens or spaces",
                );
            }
            let (tags, scopes, caps) = if key_type == "client" {
                let scopes: Vec<String> =
                    serde_json::from_value(body["scopes"].clone()).unwrap_or_default();
                if scopes.is_empty() {
                    return error(400, "scopes are required for OAuth clients");
                }
                let tags: Vec<String> =
                    serde_json::from_value(body["tags"].clone()).unwrap_or_default();
                (tags, scopes, Value::Null)
            } else {
                if body["capabilities"]["devices"].is_null() {
                    st.violations
                        .push("auth key request without capabilities.devices".into());
                    return error(400, "capabilities.devices is required");
                }
                let caps = body["capabilities"]["devices"]["create"].clone();
                let tags: Vec<String> =
                    serde_json::from_value(caps["tags"].clone()).unwrap_or_default();
                (tags, Vec::new(), caps)
            };
            if let Some(permitted) = &st.permitted_tags {
                let bad: Vec<&String> = tags.iter().filter(|t| !permitted.contains(t)).collect();
                if !bad.is_empty() {
                    let list: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
                    return error(
                        400,
                        &format!(
                            "requested tags [{}] are invalid or not permitted",
                            list.join(", ")
                        ),
                    );
                }
            }
            st.next += 1;
            let id = format!("k{}CNTRL", 1000 + st.next);
            let prefix = if key_type == "client" {
                "tskey-client"
            } else {
                "tskey-auth"
            };
            let expires = (key_type == "auth").then(|| {
                let secs = body["expirySeconds"].as_f64().unwrap_or(90.0 * 86400.0) as i64;
                now + SignedDuration::from_secs(secs)
            });
            let key = FakeKey {
                id: id.clone(),
                key_type,
                secret: format!("{prefix}-{id}-s3cr3t{:08x}", st.next * 7919),
                description,
                tags,
                scopes,
                reusable: caps["reusable"].as_bool().unwrap_or(false),
                ephemeral: caps["ephemeral"].as_bool().unwrap_or(false),
                preauthorized: caps["preauthorized"].as_bool().unwrap_or(false),
                created: now,
                expires,
                revoked: None,
                gone: false,
            };
            let v = key_json(&key, true);
            st.keys.insert(id, key);
            (200, v, None)
        }
        ("GET", ["tailnet", _, "keys", id]) => match st.keys.get(*id) {
            Some(k) if !k.gone => (200, key_json(k, false), None),
            _ => error(404, "not found"),
        },
        ("DELETE", ["tailnet", _, "keys", id]) => match st.keys.get_mut(*id) {
            Some(k) if !k.gone => {
                k.revoked.get_or_insert(now);
                (200, Value::Null, None)
            }
            _ => error(404, "not found"),
        },
        ("PUT", ["tailnet", _, "keys", id]) => match st.keys.get_mut(*id) {
            Some(k) if !k.gone && k.key_type == "client" => {
                k.scopes = serde_json::from_value(body["scopes"].clone()).unwrap_or_default();
                k.tags = serde_json::from_value(body["tags"].clone()).unwrap_or_default();
                k.description = body["description"].as_str().unwrap_or("").to_string();
                (200, key_json(k, false), None)
            }
            Some(k) if !k.gone => error(400, "only trust credentials can be updated"),
            _ => error(404, "not found"),
        },
        _ => error(404, "not found"),
    }
}
