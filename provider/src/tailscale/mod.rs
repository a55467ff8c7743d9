//! Clients of a tailnet's control server: the Tailscale API v2 (also
//! Headscale main's Tailscale-compatible `/api/v2`) and Headscale v0.29's
//! `/api/v1` (shared/reference/tailscale.md §1, §6).

pub mod headscale;
pub mod v2;

use std::time::Duration;

use jiff::Timestamp;

use crate::apis::tailnet::KeyType;
use crate::managed::ExternalError;

/// The key to create (or, for an OAuth client, to update to).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyRequest {
    pub key_type: KeyType,
    pub description: String,
    pub tags: Vec<String>,
    pub reusable: bool,
    pub ephemeral: bool,
    pub preauthorized: bool,
    pub expiry_seconds: i64,
    pub scopes: Vec<String>,
}

/// A key as the API describes it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyInfo {
    pub id: String,
    /// `auth`, `client`, … as the API says; empty when it says nothing.
    pub key_type: String,
    pub description: String,
    pub tags: Vec<String>,
    pub scopes: Vec<String>,
    pub reusable: Option<bool>,
    pub ephemeral: Option<bool>,
    pub created: Option<Timestamp>,
    pub expires: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
    /// Revoked or expired.
    pub invalid: bool,
}

/// A created key with its secret (shown only once).
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    pub info: KeyInfo,
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("info", &self.info)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A connected control-server API.
#[derive(Clone, Debug)]
pub enum TailnetApi {
    /// Tailscale API v2, or Headscale's Tailscale-compatible `/api/v2`.
    V2(v2::Client),
    /// Headscale `/api/v1`.
    HeadscaleV1(headscale::Client),
}

impl TailnetApi {
    /// `tailscale`, `headscale/v2` or `headscale/v1`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::V2(c) if c.is_headscale() => "headscale/v2",
            Self::V2(_) => "tailscale",
            Self::HeadscaleV1(_) => "headscale/v1",
        }
    }

    pub async fn create_key(&self, req: &KeyRequest) -> Result<NewKey, ExternalError> {
        match self {
            Self::V2(c) => c.create_key(req).await,
            Self::HeadscaleV1(c) => c.create_key(req).await,
        }
    }

    /// `None` when the API does not know the key (404).
    pub async fn get_key(&self, id: &str) -> Result<Option<KeyInfo>, ExternalError> {
        match self {
            Self::V2(c) => c.get_key(id).await,
            Self::HeadscaleV1(c) => c.get_key(id).await,
        }
    }

    /// Every key the credential can see.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ExternalError> {
        match self {
            Self::V2(c) => c.list_keys().await,
            Self::HeadscaleV1(c) => c.list_keys().await,
        }
    }

    /// Revokes the key; a key already gone is fine.
    pub async fn delete_key(&self, id: &str) -> Result<(), ExternalError> {
        match self {
            Self::V2(c) => c.delete_key(id).await,
            Self::HeadscaleV1(c) => c.delete_key(id).await,
        }
    }

    /// Updates an OAuth client's description, scopes and tags in place.
    pub async fn update_client(
        &self,
        id: &str,
        req: &KeyRequest,
    ) -> Result<KeyInfo, ExternalError> {
        match self {
            Self::V2(c) => c.update_client(id, req).await,
            Self::HeadscaleV1(_) => Err(ExternalError::new(
                "Headscale /api/v1 has no OAuth clients: use Headscale's /api/v2 or Tailscale",
            )),
        }
    }
}

pub(crate) use crate::http::retry_after;

/// Until when each control server (by base URL) asked for no requests (a
/// 429's `Retry-After`), shared by every client of the process, as the
/// Cloudflare limiter's pause is.
static PAUSES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
> = std::sync::LazyLock::new(Default::default);

/// Records a 429 of `base`: nothing is sent to it for `wait`.
pub(crate) fn pause(base: &str, wait: Duration) {
    let until = std::time::Instant::now() + wait;
    let mut p = PAUSES.lock().unwrap_or_else(|e| e.into_inner());
    let e = p.entry(base.to_string()).or_insert(until);
    *e = (*e).max(until);
}

/// `Err` (rate limited, nothing sent) while `base` asked to wait.
pub(crate) fn check_pause(
    service: &str,
    base: &str,
    method: &str,
    path: &str,
) -> Result<(), ExternalError> {
    let now = std::time::Instant::now();
    let until = PAUSES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(base)
        .copied();
    match until {
        Some(until) if until > now => Err(ExternalError::rate_limited(
            service,
            &format!("{method} {path}"),
            "not sent: the API answered 429 and asked to wait",
            until - now,
        )),
        _ => Ok(()),
    }
}

/// An error for an HTTP failure: method, path, status and the API's own
/// message, never a credential. A 429 is a rate limit of `service`.
pub(crate) fn http_error(
    service: &str,
    method: &str,
    path: &str,
    status: reqwest::StatusCode,
    message: &str,
    retry: Option<Duration>,
) -> ExternalError {
    let message = message.trim();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("").to_string()
    } else {
        message.to_string()
    };
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return ExternalError::rate_limited(
            service,
            &format!("{method} {path}"),
            &format!("answered HTTP 429: {message}"),
            retry.unwrap_or(DEFAULT_RETRY_AFTER),
        );
    }
    ExternalError {
        message: format!("{method} {path}: HTTP {}: {message}", status.as_u16()),
        status: Some(status.as_u16()),
        retry_after: retry,
        kind: Default::default(),
    }
}

/// How long to wait after a 429 without `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// An error for a request that got no HTTP answer.
pub(crate) fn transport_error(method: &str, path: &str, e: &reqwest::Error) -> ExternalError {
    // reqwest errors carry the URL, which holds no credentials here.
    let mut message = format!("{method} {path}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    ExternalError::new(message)
}

/// The HTTP client every backend uses: rustls, a time limit per request.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("provider-hybrid-spoke/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
