//! A stateful fake of the Cloudflare API v4 operations the provider uses
//! (tunnels, configurations, connections, token, zones, DNS records), on
//! loopback, behaving as shared/reference/cloudflare.md describes:
//!
//! - every request (body and query parameter names) and every response body
//!   is checked against shared/vendor-specs/cloudflare-tunnels-dns.openapi.json
//!   (strictly: unknown fields are violations), with the corrections listed
//!   in [`overlay`] and nothing else;
//! - the envelope `{success, errors, messages, result, result_info}`,
//!   pagination (`page`, `per_page`, limits of §1.5);
//! - soft delete: a deleted tunnel keeps answering GET with `deleted_at`,
//!   leaves `is_deleted=false` lists, frees its name; delete refused (1022)
//!   while connectors are attached;
//! - error codes of §1.7: 1013 (name taken, 409), 1022, 81053/81054/81058
//!   (record conflicts), 10000 (bad token, 403), 7003 (no route), 1000 (5xx);
//! - a sliding-window rate limit per token (1,200 per 300 s by default,
//!   scalable) answering 429 + `Retry-After`, counted;
//! - injectable faults: a share of 5xx, of 429 + Retry-After, of timeouts
//!   (the answer is held past the client's time limit, the change applied
//!   or not at random).
//!
//! Codes the reference leaves open are marked UNVERIFIED where used.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::openapi::OpenApi;

pub fn spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vendor-specs/cloudflare-tunnels-dns.openapi.json")
}

/// Corrections of the vendored document, each a defect listed in
/// shared/vendor-specs/SOURCE-cloudflare.md or the reference:
/// 1. `tunnel_ingressRule.hostname` is optional (the mandatory catch-all
///    rule has none);
/// 2. the 200 answer of DELETE dns_records/{id} is the usual envelope
///    around `{id}` (the document names only `result`);
/// 3. the POST/PATCH dns_records request bodies are the record schema
///    without its response `required` list (`id`, `proxiable`,
///    `created_on`, … do not exist before the record does).
///
/// Error answers (the document's `4XX` is `allOf(success, failure)`, which
/// no body satisfies: `success` must be both true and false) are checked
/// against the group's `*_api-response-common-failure` schema.
pub fn overlay(doc: &mut Value) {
    doc["components"]["schemas"]["tunnel_ingressRule"]["required"] = json!(["service"]);
    let del = &mut doc["paths"]["/zones/{zone_id}/dns_records/{dns_record_id}"]["delete"]["responses"]
        ["200"]["content"]["application/json"]["schema"];
    let own = del.clone();
    *del =
        json!({ "allOf": [{"$ref": "#/components/schemas/dns-records_api-response-common"}, own] });
    let mut body = doc["components"]["schemas"]["dns-records_dns-record"].clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("required");
    }
    for (path, method) in [
        ("/zones/{zone_id}/dns_records", "post"),
        ("/zones/{zone_id}/dns_records/{dns_record_id}", "patch"),
    ] {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"] =
            body.clone();
    }
}

const COLOS: [&str; 4] = ["DFW", "AMS", "FRA", "LHR"];

pub const ACCOUNT: &str = "699d98642c564d2e855e9661899b7252";

#[derive(Clone, Debug)]
pub struct FakeTunnel {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub config_src: String,
    pub secret: String,
    pub config: Option<Value>,
    pub version: i64,
    /// Connectors, each with its number of edge connections.
    pub connectors: Vec<(String, usize)>,
    /// How often `PATCH` set a new secret.
    pub secret_changes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FakeRecord {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub comment: Option<String>,
    pub tags: Vec<String>,
    pub created_on: Timestamp,
    pub modified_on: Timestamp,
}

#[derive(Clone, Debug)]
pub struct FakeZone {
    pub id: String,
    pub name: String,
}

/// Shares of requests answered with a fault (0.0 – 1.0).
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub server_errors: f64,
    pub too_many_requests: f64,
    pub timeouts: f64,
    /// How long a "timed out" answer is held.
    pub timeout_delay: Duration,
    /// Retry-After of an injected 429, seconds.
    pub retry_after: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub requests: u64,
    /// Requests per `METHOD template`.
    pub by_route: BTreeMap<String, u64>,
    /// 429s sent because the client went over the rate limit.
    pub rate_limited: u64,
    pub injected_429: u64,
    pub injected_5xx: u64,
    pub injected_timeouts: u64,
    /// The most requests of one token seen in any window (rejected ones
    /// included).
    pub max_in_window: usize,
    /// Requests the fake answered (changes applied), for crash points.
    pub answered: u64,
}

pub struct State {
    pub tokens: Vec<String>,
    pub tunnels: BTreeMap<String, FakeTunnel>,
    pub zones: BTreeMap<String, FakeZone>,
    pub records: BTreeMap<String, FakeRecord>,
    pub limit: usize,
    pub window: Duration,
    arrivals: HashMap<String, VecDeque<Instant>>,
    pub faults: Faults,
    pub counters: Counters,
    pub violations: Vec<String>,
    /// The last requests (`METHOD path -> status`).
    pub log: VecDeque<String>,
    rng: u64,
    next: u64,
}

impl State {
    fn random(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn id(&mut self, width: usize) -> String {
        self.next += 1;
        let a = self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("{:032x}", (u128::from(a) << 64) | u128::from(self.next))[..width].to_string()
    }

    fn uuid(&mut self) -> String {
        let h = self.id(32);
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

pub struct FakeCloudflare {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    answered: tokio::sync::watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: u16, code: i64, message: &str) -> (u16, Value, Option<u64>) {
    (
        status,
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
        None,
    )
}

fn ok(result: Value) -> (u16, Value, Option<u64>) {
    (
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
        None,
    )
}

fn page_of(items: Vec<Value>, page: usize, per_page: usize) -> (u16, Value, Option<u64>) {
    let total = items.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let chunk: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    (
        200,
        json!({
            "success": true, "errors": [], "messages": [], "result": chunk,
            "result_info": {"page": page, "per_page": per_page, "count": chunk.len(), "total_count": total}
        }),
        None,
    )
}

fn tunnel_json(t: &FakeTunnel) -> Value {
    let mut v = json!({
        "id": t.id, "account_tag": ACCOUNT, "name": t.name, "created_at": t.created_at.to_string(),
        "status": if t.connectors.is_empty() { "inactive" } else { "healthy" },
        "tun_type": "cfd_tunnel", "remote_config": t.config_src == "cloudflare", "metadata": {},
        "connections": [],
    });
    if let Some(d) = t.deleted_at {
        v["deleted_at"] = json!(d.to_string());
    }
    if !t.connectors.is_empty() {
        v["conns_active_at"] = json!(t.created_at.to_string());
    }
    v
}

fn record_json(r: &FakeRecord) -> Value {
    let mut v = json!({
        "id": r.id, "name": r.name, "type": r.record_type, "content": r.content, "proxiable": true,
        "proxied": r.proxied, "ttl": 1, "tags": r.tags, "meta": {"auto_added": false, "source": "primary"},
        "created_on": r.created_on.to_string(), "modified_on": r.modified_on.to_string(),
    });
    if let Some(c) = &r.comment {
        v["comment"] = json!(c);
    }
    v
}

fn zone_json(z: &FakeZone) -> Value {
    json!({
        "id": z.id, "name": z.name, "development_mode": 0,
        "owner": {"id": ACCOUNT, "name": "hybrid-spoke", "type": "organization"},
        "account": {"id": ACCOUNT, "name": "hybrid-spoke"},
        "meta": {"step": 4}, "name_servers": ["bob.ns.cloudflare.com", "lola.ns.cloudflare.com"],
        "original_name_servers": null, "original_registrar": null, "original_dnshost": null,
        "created_on": "2024-01-01T00:00:00Z", "modified_on": "2024-01-01T00:00:00Z", "activated_on": "2024-01-01T00:00:00Z",
    })
}

impl FakeCloudflare {
    /// Starts the fake with one account, one valid token and `zones`.
    pub async fn start(token: &str, zones: &[&str]) -> Self {
        let mut spec = OpenApi::load(&spec_path());
        overlay(&mut spec.doc);
        let spec = Arc::new(spec);
        let mut st = State {
            tokens: vec![token.to_string()],
            tunnels: BTreeMap::new(),
            zones: BTreeMap::new(),
            records: BTreeMap::new(),
            limit: 1200,
            window: Duration::from_secs(300),
            arrivals: HashMap::new(),
            faults: Faults::default(),
            counters: Counters::default(),
            violations: Vec::new(),
            log: VecDeque::new(),
            rng: 0x1234_5678_9abc_def1,
            next: 0,
        };
        for z in zones {
            let id = st.id(32);
            st.zones.insert(
                id.clone(),
                FakeZone {
                    id,
                    name: z.to_string(),
                },
            );
        }
        let state = Arc::new(Mutex::new(st));
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let tx = Arc::new(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake");
        let addr: SocketAddr = listener.local_addr().expect("its address");
        let app_state = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let state = app_state.clone();
            let spec = spec.clone();
            let tx = tx.clone();
            async move { handle(req, state, spec, tx).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/client/v4"),
            state,
            answered: rx,
            task,
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    pub fn counters(&self) -> Counters {
        self.with(|s| s.counters.clone())
    }

    pub fn set_faults(&self, f: Faults) {
        self.with(|s| s.faults = f);
    }

    pub fn set_rate_limit(&self, limit: usize, window: Duration) {
        self.with(|s| {
            s.limit = limit;
            s.window = window;
        });
    }

    pub fn seed(&self, seed: u64) {
        self.with(|s| s.rng = seed | 1);
    }

    /// Waits until the fake has answered `n` requests in all.
    pub async fn answered(&self, n: u64) {
        let mut rx = self.answered.clone();
        let _ = rx.wait_for(|v| *v >= n).await;
    }

    pub fn zone_id(&self, name: &str) -> String {
        self.with(|s| {
            s.zones
                .values()
                .find(|z| z.name == name)
                .map(|z| z.id.clone())
                .expect("zone")
        })
    }

    pub fn live_tunnels(&self) -> Vec<FakeTunnel> {
        self.with(|s| {
            s.tunnels
                .values()
                .filter(|t| t.deleted_at.is_none())
                .cloned()
                .collect()
        })
    }

    pub fn tunnel(&self, id: &str) -> Option<FakeTunnel> {
        self.with(|s| s.tunnels.get(id).cloned())
    }

    pub fn records(&self) -> Vec<FakeRecord> {
        self.with(|s| s.records.values().cloned().collect())
    }

    pub fn record(&self, id: &str) -> Option<FakeRecord> {
        self.with(|s| s.records.get(id).cloned())
    }

    /// Someone else's record, made outside the provider.
    pub fn add_record(
        &self,
        zone: &str,
        name: &str,
        record_type: &str,
        content: &str,
        comment: Option<&str>,
    ) -> String {
        let zone_id = self.zone_id(zone);
        self.with(|s| {
            let id = s.id(32);
            let now = Timestamp::now();
            s.records.insert(
                id.clone(),
                FakeRecord {
                    id: id.clone(),
                    zone_id,
                    name: name.into(),
                    record_type: record_type.into(),
                    content: content.into(),
                    proxied: true,
                    comment: comment.map(String::from),
                    tags: vec![],
                    created_on: now,
                    modified_on: now,
                },
            );
            id
        })
    }

    /// Changes outside the provider (drift).
    pub fn edit_record(&self, id: &str, f: impl FnOnce(&mut FakeRecord)) {
        self.with(|s| {
            if let Some(r) = s.records.get_mut(id) {
                f(r);
                r.modified_on = Timestamp::now();
            }
        });
    }

    pub fn remove_record(&self, id: &str) {
        self.with(|s| s.records.remove(id));
    }

    pub fn set_config(&self, tunnel: &str, config: Value) {
        self.with(|s| {
            if let Some(t) = s.tunnels.get_mut(tunnel) {
                t.config = Some(config);
                t.version += 1;
            }
        });
    }

    /// `n` connectors of four edge connections each (cloudflared running).
    pub fn connect(&self, tunnel: &str, n: usize) {
        self.with(|s| {
            let ids: Vec<String> = (0..n).map(|_| s.uuid()).collect();
            if let Some(t) = s.tunnels.get_mut(tunnel) {
                t.connectors.extend(ids.into_iter().map(|id| (id, 4)));
            }
        });
    }

    pub fn delete_tunnel_outside(&self, id: &str) {
        self.with(|s| {
            if let Some(t) = s.tunnels.get_mut(id) {
                t.connectors.clear();
                t.deleted_at = Some(Timestamp::now());
            }
        });
    }
}

fn query_of(req: &Request<Body>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The failure schema of an operation's group (see [`overlay`]).
fn failure_schema<'a>(spec: &'a OpenApi, template: &str) -> &'a Value {
    if template.starts_with("/accounts") {
        spec.schema("tunnel_api-response-common-failure")
    } else if template.contains("dns_records") {
        spec.schema("dns-records_api-response-common-failure")
    } else {
        spec.schema("zones_api-response-common-failure")
    }
}

async fn handle(
    req: Request<Body>,
    state: Arc<Mutex<State>>,
    spec: Arc<OpenApi>,
    tx: Arc<tokio::sync::watch::Sender<u64>>,
) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = query_of(&req);
    let headers = req.headers().clone();
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 22)
        .await
        .unwrap_or_default();
    let rel = path.strip_prefix("/client/v4").unwrap_or("").to_string();
    let op = spec.operation(&method, &rel).map(|(t, op)| (t, op.clone()));
    // faults and the rate limit are decided before the operation runs
    let (pre, hold) = {
        let mut st = state.lock().unwrap();
        st.counters.requests += 1;
        if let Some((t, _)) = &op {
            *st.counters
                .by_route
                .entry(format!("{method} {t}"))
                .or_default() += 1;
        }
        let token = bearer(&headers);
        let now = Instant::now();
        let window = st.window;
        let limit = st.limit;
        let arrivals = st.arrivals.entry(token).or_default();
        while arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            arrivals.pop_front();
        }
        arrivals.push_back(now);
        let seen = arrivals.len();
        let oldest = arrivals.front().copied();
        st.counters.max_in_window = st.counters.max_in_window.max(seen);
        let f = st.faults;
        let mut pre = None;
        let mut hold = None;
        if seen > limit {
            st.counters.rate_limited += 1;
            let wait = oldest
                .map(|o| (o + window).saturating_duration_since(now))
                .unwrap_or(window);
            let (s, b, _) = error(
                429,
                971,
                "Please wait and consider throttling your request speed",
            );
            pre = Some((s, b, Some(wait.as_secs().max(1))));
        } else if st.random() < f.too_many_requests {
            st.counters.injected_429 += 1;
            let (s, b, _) = error(
                429,
                971,
                "Please wait and consider throttling your request speed",
            );
            pre = Some((s, b, Some(f.retry_after)));
        } else if st.random() < f.server_errors {
            st.counters.injected_5xx += 1;
            pre = Some(error(500, 1000, "Internal server error"));
        } else if st.random() < f.timeouts {
            st.counters.injected_timeouts += 1;
            // half of them after the change was made: a lost answer
            hold = Some((f.timeout_delay, st.random() < 0.5));
        }
        (pre, hold)
    };
    if let Some((delay, before)) = hold
        && before
    {
        tokio::time::sleep(delay).await;
    }
    let refused = pre.is_some();
    let (status, body, retry) = match pre {
        Some(r) => r,
        None => respond(
            &method,
            &rel,
            &query,
            &headers,
            &bytes,
            &state,
            &spec,
            op.as_ref(),
        ),
    };
    if let Some((delay, false)) = hold {
        tokio::time::sleep(delay).await;
    }
    {
        let mut st = state.lock().unwrap();
        let template = op
            .as_ref()
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| rel.clone());
        let schema = match &op {
            Some((_, o)) if status == 200 => spec.response_schema(o, 200).cloned(),
            _ => Some(failure_schema(&spec, &template).clone()),
        };
        if let Some(schema) = schema {
            for v in spec.validate(
                &schema,
                &body,
                &format!("response {method} {template} {status}"),
            ) {
                st.violations.push(v);
            }
        }
        st.log.push_back(format!("{method} {rel} -> {status}"));
        if st.log.len() > 200 {
            st.log.pop_front();
        }
        if !refused {
            st.counters.answered += 1;
            let _ = tx.send(st.counters.answered);
        }
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(r) = retry {
        response = response.header("retry-after", r.to_string());
    }
    response.body(Body::from(body.to_string())).unwrap()
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn paging(
    query: &[(String, String)],
    default: usize,
    min: usize,
    max: usize,
) -> Result<(usize, usize), (u16, Value, Option<u64>)> {
    let page = param(query, "page").map(|p| p.parse::<usize>()).transpose();
    let per = param(query, "per_page")
        .map(|p| p.parse::<usize>())
        .transpose();
    match (page, per) {
        (Ok(page), Ok(per)) => {
            let page = page.unwrap_or(1);
            let per = per.unwrap_or(default);
            if page < 1 || per < min || per > max {
                return Err(error(
                    400,
                    1001,
                    &format!("per_page must be between {min} and {max}, page at least 1"),
                ));
            }
            Ok((page, per))
        }
        _ => Err(error(400, 1001, "page and per_page must be numbers")),
    }
}

#[allow(clippy::too_many_arguments)]
fn respond(
    method: &str,
    rel: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    bytes: &[u8],
    state: &Arc<Mutex<State>>,
    spec: &OpenApi,
    op: Option<&(String, Value)>,
) -> (u16, Value, Option<u64>) {
    let mut st = state.lock().unwrap();
    let Some((template, op)) = op else {
        return error(404, 7003, "No route for the URI");
    };
    if !st.tokens.contains(&bearer(headers)) {
        return error(403, 10000, "Authentication error");
    }
    // query parameters the operation does not declare are violations
    let declared: Vec<String> = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for (k, _) in query {
        if !declared.contains(k) {
            st.violations.push(format!(
                "request {method} {template}: query parameter {k:?} is not in the document"
            ));
        }
    }
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return error(400, 1001, &format!("invalid JSON: {e}")),
        }
    };
    let body_required = op["requestBody"]["required"].as_bool() == Some(true);
    if body_required && body.is_null() {
        st.violations.push(format!(
            "request {method} {template}: the required body is missing"
        ));
    }
    if let Some(schema) = spec.request_schema(op) {
        let problems =
            spec.validate_request(schema, &body, &format!("request {method} {template}"));
        if !problems.is_empty() {
            st.violations.extend(problems.clone());
            return error(400, 1001, &problems.join("; "));
        }
    }
    let now = Timestamp::now();
    let parts: Vec<&str> = rel.trim_matches('/').split('/').collect();
    if let ["accounts", account, ..] = parts.as_slice()
        && *account != ACCOUNT
    {
        return error(403, 10000, "Authentication error");
    }
    match (method, parts.as_slice()) {
        ("GET", ["accounts", _, "cfd_tunnel"]) => {
            let (page, per) = match paging(query, 20, 1, 1000) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let name = param(query, "name");
            let deleted = param(query, "is_deleted");
            let items: Vec<Value> = st
                .tunnels
                .values()
                .filter(|t| name.is_none_or(|n| t.name == n))
                .filter(|t| match deleted {
                    Some("true") => t.deleted_at.is_some(),
                    Some("false") => t.deleted_at.is_none(),
                    _ => true,
                })
                .map(tunnel_json)
                .collect();
            page_of(items, page, per)
        }
        ("POST", ["accounts", _, "cfd_tunnel"]) => {
            let name = body["name"].as_str().unwrap_or("").to_string();
            if name.is_empty() {
                return error(400, 1001, "name is required");
            }
            if st
                .tunnels
                .values()
                .any(|t| t.name == name && t.deleted_at.is_none())
            {
                return (
                    409,
                    json!({"success": false, "errors": [{"code": 1013, "message": "You already have a tunnel with this name. Delete the existing tunnel, or choose a different name for your new tunnel"}], "messages": [], "result": null}),
                    None,
                );
            }
            let id = st.uuid();
            let secret = st.id(32);
            let t = FakeTunnel {
                id: id.clone(),
                name,
                created_at: now,
                deleted_at: None,
                config_src: body["config_src"].as_str().unwrap_or("local").to_string(),
                secret,
                config: None,
                version: 0,
                connectors: Vec::new(),
                secret_changes: 0,
            };
            let v = tunnel_json(&t);
            st.tunnels.insert(id, t);
            ok(v)
        }
        ("GET", ["accounts", _, "cfd_tunnel", id]) => match st.tunnels.get(*id) {
            Some(t) => ok(tunnel_json(t)),
            // UNVERIFIED: the code of an unknown tunnel
            None => error(404, 1002, "tunnel not found"),
        },
        // a new secret (a new token) and/or a new name
        ("PATCH", ["accounts", _, "cfd_tunnel", id]) => {
            let Some(t) = st.tunnels.get_mut(*id).filter(|t| t.deleted_at.is_none()) else {
                return error(404, 1002, "tunnel not found");
            };
            if let Some(secret) = body.get("tunnel_secret") {
                // "at least 32 bytes and encoded as a base64 string"
                let s = secret.as_str().unwrap_or_default();
                let base64_chars = s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                if !base64_chars || s.len() % 4 != 0 || s.trim_end_matches('=').len() * 3 / 4 < 32 {
                    // UNVERIFIED: the code of a bad tunnel_secret
                    return error(400, 1001, "tunnel_secret must be at least 32 bytes, base64");
                }
                t.secret = s.to_string();
                t.secret_changes += 1;
            }
            if let Some(name) = body.get("name").and_then(Value::as_str) {
                t.name = name.to_string();
            }
            let v = tunnel_json(t);
            ok(v)
        }
        ("DELETE", ["accounts", _, "cfd_tunnel", id]) => match st.tunnels.get_mut(*id) {
            Some(t) if t.deleted_at.is_none() => {
                if !t.connectors.is_empty() {
                    // UNVERIFIED: the HTTP status of 1022
                    return error(
                        400,
                        1022,
                        "Cannot delete tunnel because it has active connections",
                    );
                }
                t.deleted_at = Some(now);
                t.config = None;
                ok(tunnel_json(t))
            }
            _ => error(404, 1002, "tunnel not found"),
        },
        ("GET", ["accounts", _, "cfd_tunnel", id, "token"]) => match st.tunnels.get(*id) {
            Some(t) if t.deleted_at.is_none() => {
                let token = json!({"a": ACCOUNT, "t": t.id, "s": t.secret}).to_string();
                ok(json!(base64(token.as_bytes())))
            }
            _ => error(404, 1002, "tunnel not found"),
        },
        ("GET", ["accounts", _, "cfd_tunnel", id, "configurations"]) => match st.tunnels.get(*id) {
            Some(t) if t.deleted_at.is_none() => ok(json!({
                "account_id": ACCOUNT, "tunnel_id": t.id, "version": t.version, "source": t.config_src,
                "config": t.config.clone().unwrap_or(Value::Null), "created_at": t.created_at.to_string(),
            })),
            _ => error(404, 1002, "tunnel not found"),
        },
        ("PUT", ["accounts", _, "cfd_tunnel", id, "configurations"]) => {
            let Some(t) = st.tunnels.get_mut(*id).filter(|t| t.deleted_at.is_none()) else {
                return error(404, 1002, "tunnel not found");
            };
            let rules = body["config"]["ingress"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let Some(last) = rules.last() else {
                return error(
                    400,
                    1055,
                    "Bad Configuration: At least one ingress rule needs to be defined for the tunnel.",
                );
            };
            if !last["hostname"].is_null() || !last["path"].as_str().unwrap_or("").is_empty() {
                // UNVERIFIED: the code; the message is cloudflared's
                return error(
                    400,
                    1055,
                    "Bad Configuration: Validation failed: The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)",
                );
            }
            t.config = Some(body["config"].clone());
            t.version += 1;
            ok(json!({
                "account_id": ACCOUNT, "tunnel_id": t.id, "version": t.version, "source": t.config_src,
                "config": t.config, "created_at": now.to_string(),
            }))
        }
        ("GET", ["accounts", _, "cfd_tunnel", id, "connections"]) => match st.tunnels.get(*id) {
            Some(t) if t.deleted_at.is_none() => {
                let clients: Vec<Value> = t
                    .connectors
                    .iter()
                    .map(|(cid, n)| {
                        let conns: Vec<Value> = (0..*n)
                            .map(|i| json!({"id": cid, "client_id": cid, "colo_name": COLOS[i % 4], "is_pending_reconnect": false, "opened_at": now.to_string(), "origin_ip": "198.51.100.7"}))
                            .collect();
                        json!({"id": cid, "arch": "linux_amd64", "config_version": t.version, "conns": conns, "features": [], "run_at": now.to_string(), "version": "2026.8.2"})
                    })
                    .collect();
                ok(json!(clients))
            }
            _ => error(404, 1002, "tunnel not found"),
        },
        ("DELETE", ["accounts", _, "cfd_tunnel", id, "connections"]) => {
            match st.tunnels.get_mut(*id) {
                Some(t) if t.deleted_at.is_none() => {
                    match param(query, "client_id") {
                        Some(c) => t.connectors.retain(|(id, _)| id != c),
                        None => t.connectors.clear(),
                    }
                    ok(json!({}))
                }
                _ => error(404, 1002, "tunnel not found"),
            }
        }
        ("GET", ["zones"]) => {
            let (page, per) = match paging(query, 20, 5, 50) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let name = param(query, "name");
            let items: Vec<Value> = st
                .zones
                .values()
                .filter(|z| name.is_none_or(|n| z.name == n))
                .map(zone_json)
                .collect();
            page_of(items, page, per)
        }
        ("GET", ["zones", zone, "dns_records"]) => {
            if !st.zones.contains_key(*zone) {
                return error(404, 7003, "No route for the URI");
            }
            let (page, per) = match paging(query, 100, 5, 5_000_000) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let name = param(query, "name").map(|n| n.to_ascii_lowercase());
            let comment = param(query, "comment").map(|c| c.to_ascii_lowercase());
            let items: Vec<Value> = st
                .records
                .values()
                .filter(|r| r.zone_id == *zone)
                .filter(|r| {
                    name.as_ref()
                        .is_none_or(|n| r.name.to_ascii_lowercase() == *n)
                })
                .filter(|r| {
                    comment.as_ref().is_none_or(|c| {
                        r.comment
                            .as_ref()
                            .is_some_and(|rc| rc.to_ascii_lowercase() == *c)
                    })
                })
                .map(record_json)
                .collect();
            page_of(items, page, per)
        }
        ("POST", ["zones", zone, "dns_records"]) => {
            if !st.zones.contains_key(*zone) {
                return error(404, 7003, "No route for the URI");
            }
            let name = body["name"].as_str().unwrap_or("").to_ascii_lowercase();
            let rtype = body["type"].as_str().unwrap_or("").to_string();
            let content = body["content"].as_str().unwrap_or("").to_string();
            let clash = st
                .records
                .values()
                .filter(|r| r.zone_id == *zone && r.name.eq_ignore_ascii_case(&name))
                .cloned()
                .collect::<Vec<_>>();
            if clash
                .iter()
                .any(|r| r.record_type == rtype && r.content == content)
            {
                return error(400, 81058, "An identical record already exists.");
            }
            if rtype == "CNAME"
                && clash
                    .iter()
                    .any(|r| matches!(r.record_type.as_str(), "A" | "AAAA" | "CNAME"))
            {
                return error(
                    400,
                    81053,
                    "An A, AAAA, or CNAME record with that host already exists.",
                );
            }
            if matches!(rtype.as_str(), "A" | "AAAA")
                && clash.iter().any(|r| r.record_type == "CNAME")
            {
                return error(400, 81054, "A CNAME record with that host already exists.");
            }
            let id = st.id(32);
            let r = FakeRecord {
                id: id.clone(),
                zone_id: zone.to_string(),
                name,
                record_type: rtype,
                content,
                proxied: body["proxied"].as_bool().unwrap_or(false),
                comment: body["comment"].as_str().map(String::from),
                tags: serde_json::from_value(body["tags"].clone()).unwrap_or_default(),
                created_on: now,
                modified_on: now,
            };
            let v = record_json(&r);
            st.records.insert(id, r);
            ok(v)
        }
        ("GET", ["zones", zone, "dns_records", id]) => match st.records.get(*id) {
            Some(r) if r.zone_id == *zone => ok(record_json(r)),
            // 81044 "Record does not exist." (UNVERIFIED here)
            _ => error(404, 81044, "Record does not exist."),
        },
        ("PATCH", ["zones", zone, "dns_records", id]) => match st.records.get_mut(*id) {
            Some(r) if r.zone_id == *zone => {
                if let Some(v) = body["content"].as_str() {
                    r.content = v.into();
                }
                if let Some(v) = body["name"].as_str() {
                    r.name = v.to_ascii_lowercase();
                }
                if let Some(v) = body["type"].as_str() {
                    r.record_type = v.into();
                }
                if let Some(v) = body["proxied"].as_bool() {
                    r.proxied = v;
                }
                if let Some(v) = body["comment"].as_str() {
                    r.comment = Some(v.into());
                }
                r.modified_on = now;
                ok(record_json(r))
            }
            _ => error(404, 81044, "Record does not exist."),
        },
        ("DELETE", ["zones", zone, "dns_records", id]) => match st.records.get(*id) {
            Some(r) if r.zone_id == *zone => {
                st.records.remove(*id);
                ok(json!({"id": id}))
            }
            _ => error(404, 81044, "Record does not exist."),
        },
        _ => error(404, 7003, "No route for the URI"),
    }
}

/// Standard base64 (the token format, reference §2.8).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
