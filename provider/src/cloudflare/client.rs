//! The Cloudflare API v4 client (reqwest): every call waits for the token's
//! [`Limiter`], unwraps the `{success, errors, messages, result,
//! result_info}` envelope (reference §1.4), and retries what is worth
//! retrying: 5xx and transport failures with exponential backoff and jitter,
//! 429 after `Retry-After` (which also pauses every other request with the
//! same token). Lists are read page by page (§1.5).
//!
//! Retrying a POST whose answer was lost is safe here: tunnel names are
//! unique (409/1013) and a CNAME cannot exist twice (81053), and callers
//! treat both as "already made".

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::limiter::{self, Limiter};
use super::types::{
    CnameRecord, ConfigurationResult, Connector, DnsRecord, Tunnel, TunnelConfig, Zone,
};
use crate::managed::ExternalError;

/// How the client behaves (not per ProviderConfig: per process).
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Time limit of one HTTP request.
    pub request_timeout: Duration,
    /// Tries per call (5xx, transport errors, 429).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest wait for the rate limit inside a call (a `Retry-After`,
    /// a pause after a 429, the token's budget). A longer one ends the call
    /// at once with [`CloudflareError::RateLimited`]: the reconciler shows
    /// it and requeues after it.
    pub max_retry_after: Duration,
    pub tunnels_per_page: u32,
    pub records_per_page: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(5),
            tunnels_per_page: 1000,
            records_per_page: 5000,
        }
    }
}

/// One entry of the envelope's `errors`/`messages`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiMessage {
    pub code: i64,
    pub message: String,
}

#[derive(Deserialize, Clone, Copy, Debug, Default)]
pub struct ResultInfo {
    #[serde(default)]
    pub page: Option<f64>,
    #[serde(default)]
    pub per_page: Option<f64>,
    #[serde(default)]
    pub count: Option<f64>,
    #[serde(default)]
    pub total_count: Option<f64>,
    #[serde(default)]
    pub total_pages: Option<f64>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

/// A failed call: which request, and what the API said. Never the token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudflareError {
    #[error("{method} {path}: HTTP {status}: {}", describe(.errors))]
    Api {
        method: String,
        path: String,
        status: u16,
        errors: Vec<ApiMessage>,
        retry_after: Option<Duration>,
    },
    /// Not answered because of the rate limit: `why` says how it was told.
    #[error("{method} {path}: {why}; retry after {}s", .wait.as_secs_f64().ceil())]
    RateLimited {
        method: String,
        path: String,
        why: String,
        wait: Duration,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: cannot decode the response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
}

fn describe(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return "no error details".into();
    }
    errors
        .iter()
        .map(|e| format!("{} {}", e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl CloudflareError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether the API answered with error `code`.
    pub fn has_code(&self, code: i64) -> bool {
        matches!(self, Self::Api { errors, .. } if errors.iter().any(|e| e.code == code))
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl From<CloudflareError> for ExternalError {
    fn from(e: CloudflareError) -> Self {
        if let CloudflareError::RateLimited {
            method,
            path,
            why,
            wait,
        } = &e
        {
            return ExternalError::rate_limited(
                "Cloudflare",
                &format!("{method} {path}"),
                why,
                *wait,
            );
        }
        let (status, retry_after) = match &e {
            CloudflareError::Api {
                status,
                retry_after,
                ..
            } => (Some(*status), *retry_after),
            _ => (None, None),
        };
        ExternalError {
            message: e.to_string(),
            status,
            retry_after,
            kind: Default::default(),
        }
    }
}

pub use crate::http::retry_after;

fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Wait before try `attempt + 1`: base·2^attempt capped, minus ≤ 25 % jitter.
pub fn backoff(opts: &ClientOptions, attempt: u32) -> Duration {
    let exp = opts.backoff_base.saturating_mul(1u32 << attempt.min(16));
    let d = exp.min(opts.backoff_cap);
    d.mul_f64(1.0 - 0.25 * jitter_fraction())
}

/// A client of one account, with one API token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    account_id: String,
    token: Arc<str>,
    limiter: Arc<Limiter>,
    opts: ClientOptions,
    /// Names the token without revealing it (cache and limiter key).
    key: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("cloudflare::Client")
            .field("base", &self.base)
            .field("account_id", &self.account_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

impl Client {
    /// `limit` requests per `window`, shared with every client of the token.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        account_id: &str,
        token: &str,
        limit: u32,
        window: Duration,
        opts: ClientOptions,
    ) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let key = limiter::token_key(&base, token);
        Self {
            limiter: limiter::for_token(key, limit, window),
            http,
            base,
            account_id: account_id.to_string(),
            token: Arc::from(token),
            opts,
            key,
        }
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The cache scope: token (hashed), API and account.
    pub fn scope(&self) -> String {
        format!("{:016x}/{}", self.key, self.account_id)
    }

    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    fn tunnels_path(&self) -> String {
        format!("/accounts/{}/cfd_tunnel", self.account_id)
    }

    /// One call, with retries. `Ok((None, _))` when the result is null.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(Option<T>, Option<ResultInfo>), CloudflareError> {
        let m = method.as_str().to_string();
        let mut attempt = 0;
        loop {
            let permit = match self.limiter.acquire_within(self.opts.max_retry_after).await {
                Ok(p) => p,
                Err((wait, why)) => {
                    return Err(CloudflareError::RateLimited {
                        method: m,
                        path: path.into(),
                        why: why.to_string(),
                        wait,
                    });
                }
            };
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&*self.token)
                .timeout(self.opts.request_timeout);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let sent = req.send().await;
            let last = attempt + 1 >= self.opts.max_attempts;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    let message = transport_message(&e);
                    if last {
                        return Err(CloudflareError::Transport {
                            method: m,
                            path: path.into(),
                            message,
                        });
                    }
                    tracing::debug!(method = %m, path, attempt, "retrying after a transport error: {message}");
                    tokio::time::sleep(backoff(&self.opts, attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry = retry_after(response.headers());
            let bytes = response.bytes().await;
            drop(permit);
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    let message = transport_message(&e);
                    if last {
                        return Err(CloudflareError::Transport {
                            method: m,
                            path: path.into(),
                            message,
                        });
                    }
                    tokio::time::sleep(backoff(&self.opts, attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let errors = || {
                serde_json::from_slice::<Envelope<Value>>(&bytes)
                    .map(|e| e.errors)
                    .unwrap_or_default()
            };
            if status == 429 {
                let wait = retry.unwrap_or(self.opts.backoff_cap);
                // the budget is the token's: everyone waits
                self.limiter.pause_until(Instant::now() + wait);
                if last || wait > self.opts.max_retry_after {
                    return Err(CloudflareError::RateLimited {
                        method: m,
                        path: path.into(),
                        why: format!("answered HTTP 429: {}", describe(&errors())),
                        wait,
                    });
                }
                tracing::debug!(method = %m, path, ?wait, "429: waiting Retry-After");
                attempt += 1;
                continue;
            }
            if status >= 500 {
                if last {
                    return Err(CloudflareError::Api {
                        method: m,
                        path: path.into(),
                        status,
                        errors: errors(),
                        retry_after: retry,
                    });
                }
                tracing::debug!(method = %m, path, status, attempt, "retrying a server error");
                tokio::time::sleep(retry.unwrap_or_else(|| backoff(&self.opts, attempt))).await;
                attempt += 1;
                continue;
            }
            let envelope: Envelope<T> = match serde_json::from_slice(&bytes) {
                Ok(e) => e,
                Err(e) if status >= 400 => {
                    return Err(CloudflareError::Api {
                        method: m,
                        path: path.into(),
                        status,
                        errors: vec![ApiMessage {
                            code: 0,
                            message: format!("undecodable error body: {e}"),
                        }],
                        retry_after: retry,
                    });
                }
                Err(e) => {
                    return Err(CloudflareError::Decode {
                        method: m,
                        path: path.into(),
                        message: e.to_string(),
                    });
                }
            };
            if status >= 400 || !envelope.success {
                return Err(CloudflareError::Api {
                    method: m,
                    path: path.into(),
                    status,
                    errors: envelope.errors,
                    retry_after: retry,
                });
            }
            return Ok((envelope.result, envelope.result_info));
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>, CloudflareError> {
        Ok(self.call(Method::GET, path, query, None).await?.0)
    }

    /// Every page of a list (stops on an empty or short page, or at
    /// `total_count`).
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        per_page: u32,
    ) -> Result<Vec<T>, CloudflareError> {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("per_page", per_page.to_string()));
            let (items, info) = self.call::<Vec<T>>(Method::GET, path, &q, None).await?;
            let items = items.unwrap_or_default();
            let n = items.len();
            all.extend(items);
            let info = info.unwrap_or_default();
            let total = info.total_count.map(|t| t as usize);
            let pages = info.total_pages.map(|t| t as u32);
            if n == 0
                || n < per_page as usize
                || total.is_some_and(|t| all.len() >= t)
                || pages.is_some_and(|p| page >= p)
            {
                return Ok(all);
            }
            page += 1;
        }
    }

    // -- tunnels ------------------------------------------------------------

    /// Tunnels not deleted (optionally only those named `name`).
    pub async fn list_tunnels(&self, name: Option<&str>) -> Result<Vec<Tunnel>, CloudflareError> {
        let mut q = vec![("is_deleted", "false".to_string())];
        if let Some(n) = name {
            q.push(("name", n.to_string()));
        }
        self.list(&self.tunnels_path(), &q, self.opts.tunnels_per_page)
            .await
    }

    /// Creates a remotely-managed tunnel (`config_src: cloudflare`).
    pub async fn create_tunnel(&self, name: &str) -> Result<Tunnel, CloudflareError> {
        let body = json!({ "name": name, "config_src": "cloudflare" });
        let path = self.tunnels_path();
        let (t, _) = self
            .call::<Tunnel>(Method::POST, &path, &[], Some(&body))
            .await?;
        t.ok_or_else(|| empty("POST", &path))
    }

    /// `None`: 404.
    pub async fn get_tunnel(&self, id: &str) -> Result<Option<Tunnel>, CloudflareError> {
        match self
            .get::<Tunnel>(&format!("{}/{id}", self.tunnels_path()), &[])
            .await
        {
            Err(e) if e.is_not_found() => Ok(None),
            other => other,
        }
    }

    /// Deletes (soft) the tunnel; a tunnel already gone is fine.
    pub async fn delete_tunnel(&self, id: &str) -> Result<(), CloudflareError> {
        let path = format!("{}/{id}", self.tunnels_path());
        match self
            .call::<Value>(Method::DELETE, &path, &[], Some(&json!({})))
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    /// Sets the tunnel's secret (base64 of at least 32 bytes): its
    /// connector token changes with it.
    pub async fn set_tunnel_secret(&self, id: &str, secret: &str) -> Result<(), CloudflareError> {
        let path = format!("{}/{id}", self.tunnels_path());
        self.call::<Value>(
            Method::PATCH,
            &path,
            &[],
            Some(&json!({ "tunnel_secret": secret })),
        )
        .await?;
        Ok(())
    }

    /// The connector token (secret).
    pub async fn tunnel_token(&self, id: &str) -> Result<String, CloudflareError> {
        let path = format!("{}/{id}/token", self.tunnels_path());
        self.get::<String>(&path, &[])
            .await?
            .ok_or_else(|| empty("GET", &path))
    }

    pub async fn get_config(&self, id: &str) -> Result<ConfigurationResult, CloudflareError> {
        let path = format!("{}/{id}/configurations", self.tunnels_path());
        Ok(self
            .get::<ConfigurationResult>(&path, &[])
            .await?
            .unwrap_or_default())
    }

    pub async fn put_config(
        &self,
        id: &str,
        config: &TunnelConfig,
    ) -> Result<ConfigurationResult, CloudflareError> {
        let path = format!("{}/{id}/configurations", self.tunnels_path());
        let body = json!({ "config": config });
        let (r, _) = self
            .call::<ConfigurationResult>(Method::PUT, &path, &[], Some(&body))
            .await?;
        Ok(r.unwrap_or_default())
    }

    pub async fn connections(&self, id: &str) -> Result<Vec<Connector>, CloudflareError> {
        let path = format!("{}/{id}/connections", self.tunnels_path());
        Ok(self
            .get::<Vec<Connector>>(&path, &[])
            .await?
            .unwrap_or_default())
    }

    /// Removes every connector of the tunnel.
    pub async fn delete_connections(&self, id: &str) -> Result<(), CloudflareError> {
        let path = format!("{}/{id}/connections", self.tunnels_path());
        match self
            .call::<Value>(Method::DELETE, &path, &[], Some(&json!({})))
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    // -- zones and DNS ------------------------------------------------------

    /// The zone named `name` (exactly), if the token sees it.
    pub async fn find_zone(&self, name: &str) -> Result<Option<Zone>, CloudflareError> {
        let q = [("name", name.to_string())];
        let zones: Vec<Zone> = self.list("/zones", &q, 50).await?;
        Ok(zones
            .into_iter()
            .find(|z| z.name.eq_ignore_ascii_case(name)))
    }

    /// Records of a zone (filtered by `query`, e.g. `name`), every page.
    pub async fn list_records(
        &self,
        zone_id: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<DnsRecord>, CloudflareError> {
        self.list(
            &format!("/zones/{zone_id}/dns_records"),
            query,
            self.opts.records_per_page,
        )
        .await
    }

    /// `None`: 404.
    pub async fn get_record(
        &self,
        zone_id: &str,
        id: &str,
    ) -> Result<Option<DnsRecord>, CloudflareError> {
        match self
            .get::<DnsRecord>(&format!("/zones/{zone_id}/dns_records/{id}"), &[])
            .await
        {
            Err(e) if e.is_not_found() => Ok(None),
            other => other,
        }
    }

    pub async fn create_record(
        &self,
        zone_id: &str,
        record: &CnameRecord,
    ) -> Result<DnsRecord, CloudflareError> {
        let path = format!("/zones/{zone_id}/dns_records");
        let body = serde_json::to_value(record).unwrap_or(Value::Null);
        let (r, _) = self
            .call::<DnsRecord>(Method::POST, &path, &[], Some(&body))
            .await?;
        r.ok_or_else(|| empty("POST", &path))
    }

    pub async fn patch_record(
        &self,
        zone_id: &str,
        id: &str,
        record: &CnameRecord,
    ) -> Result<DnsRecord, CloudflareError> {
        let path = format!("/zones/{zone_id}/dns_records/{id}");
        let body = serde_json::to_value(record).unwrap_or(Value::Null);
        let (r, _) = self
            .call::<DnsRecord>(Method::PATCH, &path, &[], Some(&body))
            .await?;
        r.ok_or_else(|| empty("PATCH", &path))
    }

    /// Deletes a record; one already gone is fine.
    pub async fn delete_record(&self, zone_id: &str, id: &str) -> Result<(), CloudflareError> {
        let path = format!("/zones/{zone_id}/dns_records/{id}");
        match self
            .call::<Value>(Method::DELETE, &path, &[], Some(&json!({})))
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }
}

fn empty(method: &str, path: &str) -> CloudflareError {
    CloudflareError::Decode {
        method: method.into(),
        path: path.into(),
        message: "success without a result".into(),
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    // reqwest errors carry the URL, which holds no credentials here.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}
