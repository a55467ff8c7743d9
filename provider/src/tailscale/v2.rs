//! Tailscale API v2 keys (`/api/v2/tailnet/{tailnet}/keys`), with an API
//! access token or OAuth client credentials (1-hour tokens, cached). Also
//! speaks to Headscale main's Tailscale-compatible `/api/v2`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{KeyInfo, KeyRequest, NewKey, http_error, retry_after, transport_error};
use crate::apis::tailnet::KeyType;
use crate::managed::ExternalError;

/// Access tokens by client, shared by every connection of a process.
pub type TokenCache = Arc<Mutex<HashMap<String, (String, Instant)>>>;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// An API access token, sent as a Bearer token.
    ApiKey(String),
    /// OAuth client credentials, exchanged at `/api/v2/oauth/token`.
    OAuth {
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
        cache: TokenCache,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Self::OAuth {
                client_id, scopes, ..
            } => f
                .debug_struct("OAuth")
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    tailnet: String,
    auth: Auth,
    headscale: bool,
}

/// Percent-encodes one path segment.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CreateCaps {
    reusable: Option<bool>,
    ephemeral: Option<bool>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Devices {
    #[serde(default)]
    create: CreateCaps,
}

#[derive(Deserialize, Default)]
struct Caps {
    #[serde(default)]
    devices: Devices,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    id: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_type: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    revoked: Option<String>,
    #[serde(default)]
    invalid: Option<bool>,
    #[serde(default)]
    capabilities: Option<Caps>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

fn time(s: &Option<String>) -> Option<Timestamp> {
    s.as_deref()
        .filter(|s| !s.is_empty() && !s.starts_with("0001-"))
        .and_then(|s| s.parse().ok())
}

impl KeyJson {
    fn info(&self) -> KeyInfo {
        let caps = self.capabilities.as_ref().map(|c| &c.devices.create);
        let mut tags = self.tags.clone().unwrap_or_default();
        if tags.is_empty() {
            tags = caps.map(|c| c.tags.clone()).unwrap_or_default();
        }
        let expires = time(&self.expires);
        let revoked = time(&self.revoked);
        let invalid = self.invalid.unwrap_or(false);
        KeyInfo {
            id: self.id.clone(),
            key_type: self.key_type.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            tags,
            scopes: self.scopes.clone().unwrap_or_default(),
            reusable: caps.and_then(|c| c.reusable),
            ephemeral: caps.and_then(|c| c.ephemeral),
            created: time(&self.created),
            expires,
            revoked,
            invalid,
        }
    }
}

#[derive(Deserialize)]
struct TokenJson {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Client {
    /// `base` is the server (`https://api.tailscale.com`), `tailnet` the path
    /// segment (`-`).
    pub fn new(
        http: reqwest::Client,
        base: &str,
        tailnet: &str,
        auth: Auth,
        headscale: bool,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            tailnet: tailnet.to_string(),
            auth,
            headscale,
        }
    }

    pub fn is_headscale(&self) -> bool {
        self.headscale
    }

    /// The service's name in messages.
    pub fn service(&self) -> &'static str {
        if self.headscale {
            "Headscale"
        } else {
            "Tailscale"
        }
    }

    fn keys_path(&self) -> String {
        format!("/api/v2/tailnet/{}/keys", segment(&self.tailnet))
    }

    async fn token(&self) -> Result<String, ExternalError> {
        let (client_id, client_secret, scopes, cache) = match &self.auth {
            Auth::ApiKey(key) => return Ok(key.clone()),
            Auth::OAuth {
                client_id,
                client_secret,
                scopes,
                cache,
            } => (client_id, client_secret, scopes, cache),
        };
        let cache_key = format!(
            "{}|{}|{}|{}",
            self.base,
            client_id,
            scopes.join(" "),
            fingerprint(client_secret)
        );
        {
            let cached = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((token, until)) = cached.get(&cache_key)
                && Instant::now() < *until
            {
                return Ok(token.clone());
            }
        }
        let path = "/api/v2/oauth/token";
        let mut form = vec![
            ("client_id", client_id.clone()),
            ("client_secret", client_secret.clone()),
        ];
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error("POST", path, &e))?;
        let status = response.status();
        let retry = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| transport_error("POST", path, &e))?;
        if !status.is_success() {
            return Err(http_error(
                self.service(),
                "POST",
                path,
                status,
                &error_message(&body),
                retry,
            ));
        }
        let token: TokenJson = serde_json::from_str(&body)
            .map_err(|e| ExternalError::new(format!("POST {path}: unexpected response: {e}")))?;
        // Renew five minutes before the hour is up.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600))
            .saturating_sub(Duration::from_secs(300));
        let lifetime = lifetime.max(Duration::from_secs(30));
        cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
            cache_key,
            (token.access_token.clone(), Instant::now() + lifetime),
        );
        Ok(token.access_token)
    }

    /// Forgets a cached token the server refused.
    fn forget_token(&self) {
        if let Auth::OAuth {
            cache, client_id, ..
        } = &self.auth
        {
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|k, _| !k.contains(&format!("|{client_id}|")));
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(reqwest::StatusCode, String), ExternalError> {
        super::check_pause(self.service(), &self.base, method.as_str(), path)?;
        let token = self.token().await?;
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(method.as_str(), path, &e))?;
        let status = response.status();
        let retry = retry_after(response.headers());
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(method.as_str(), path, &e))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.forget_token();
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            super::pause(&self.base, retry.unwrap_or(super::DEFAULT_RETRY_AFTER));
        }
        if !status.is_success() {
            return Err(http_error(
                self.service(),
                method.as_str(),
                path,
                status,
                &error_message(&text),
                retry,
            ));
        }
        Ok((status, text))
    }

    /// A request with extra headers and a raw body (`(content type, text)`);
    /// answers every HTTP status (the policy endpoints need 412, `ETag`).
    pub(crate) async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), ExternalError> {
        super::check_pause(self.service(), &self.base, method.as_str(), path)?;
        let token = self.token().await?;
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some((content_type, text)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(text);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(method.as_str(), path, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(method.as_str(), path, &e))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.forget_token();
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            super::pause(
                &self.base,
                retry_after(&headers).unwrap_or(super::DEFAULT_RETRY_AFTER),
            );
        }
        Ok((status, headers, text))
    }

    /// The tailnet's path prefix (`/api/v2/tailnet/-`).
    pub(crate) fn tailnet_path(&self) -> String {
        format!("/api/v2/tailnet/{}", segment(&self.tailnet))
    }

    fn parse_key(path: &str, text: &str) -> Result<KeyJson, ExternalError> {
        serde_json::from_str(text)
            .map_err(|e| ExternalError::new(format!("{path}: unexpected response: {e}")))
    }

    pub fn request_body(req: &KeyRequest) -> Value {
        match req.key_type {
            KeyType::Auth => {
                let mut body = json!({
                    "capabilities": {"devices": {"create": {
                        "reusable": req.reusable,
                        "ephemeral": req.ephemeral,
                        "preauthorized": req.preauthorized,
                        "tags": req.tags,
                    }}},
                    "expirySeconds": req.expiry_seconds,
                });
                if !req.description.is_empty() {
                    body["description"] = json!(req.description);
                }
                body
            }
            KeyType::Client => {
                let mut body = json!({
                    "keyType": "client",
                    "scopes": req.scopes,
                    "tags": req.tags,
                });
                if !req.description.is_empty() {
                    body["description"] = json!(req.description);
                }
                body
            }
        }
    }

    pub async fn create_key(&self, req: &KeyRequest) -> Result<NewKey, ExternalError> {
        let path = self.keys_path();
        let (_, text) = self
            .call(reqwest::Method::POST, &path, Some(&Self::request_body(req)))
            .await?;
        let key = Self::parse_key(&path, &text)?;
        let Some(secret) = key.key.clone().filter(|k| !k.is_empty()) else {
            return Err(ExternalError::new(format!(
                "POST {path}: the response has no key secret"
            )));
        };
        Ok(NewKey {
            info: key.info(),
            secret,
        })
    }

    pub async fn get_key(&self, id: &str) -> Result<Option<KeyInfo>, ExternalError> {
        let path = format!("{}/{}", self.keys_path(), segment(id));
        match self.call(reqwest::Method::GET, &path, None).await {
            Ok((_, text)) => Ok(Some(Self::parse_key(&path, &text)?.info())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The keys the credential sees, each read in full (list items may carry
    /// only `id` and `description`).
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ExternalError> {
        let path = self.keys_path();
        let (_, text) = self.call(reqwest::Method::GET, &path, None).await?;
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            keys: Vec<KeyJson>,
        }
        let listed: Listed = serde_json::from_str(&text)
            .map_err(|e| ExternalError::new(format!("GET {path}: unexpected response: {e}")))?;
        let mut out = Vec::new();
        for k in listed.keys {
            if let Some(info) = self.get_key(&k.id).await? {
                out.push(info);
            }
        }
        Ok(out)
    }

    pub async fn delete_key(&self, id: &str) -> Result<(), ExternalError> {
        let path = format!("{}/{}", self.keys_path(), segment(id));
        match self.call(reqwest::Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn update_client(
        &self,
        id: &str,
        req: &KeyRequest,
    ) -> Result<KeyInfo, ExternalError> {
        let path = format!("{}/{}", self.keys_path(), segment(id));
        let (_, text) = self
            .call(reqwest::Method::PUT, &path, Some(&Self::request_body(req)))
            .await?;
        Ok(Self::parse_key(&path, &text)?.info())
    }

    /// Whether the server answers `/api/v2` keys at all (Headscale main does,
    /// v0.29 does not).
    pub async fn probe(&self) -> Result<bool, ExternalError> {
        let path = self.keys_path();
        match self.call(reqwest::Method::GET, &path, None).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.status, Some(404 | 405 | 501)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The `message` of a JSON error body (Tailscale `{message}`, Headscale
/// `{code,message}`, RFC 7807 `{detail}`), else the text, shortened.
pub(crate) fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        for key in ["message", "detail", "error_description", "error", "title"] {
            if let Some(m) = v
                .get(key)
                .and_then(|m| m.as_str())
                .filter(|m| !m.is_empty())
            {
                return m.to_string();
            }
        }
    }
    body.chars().take(300).collect()
}

fn fingerprint(secret: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    secret.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let auth = KeyRequest {
            key_type: KeyType::Auth,
            tags: vec!["tag:a".into()],
            reusable: true,
            expiry_seconds: 3600,
            ..Default::default()
        };
        let b = Client::request_body(&auth);
        assert_eq!(
            b["capabilities"]["devices"]["create"]["reusable"],
            json!(true)
        );
        assert_eq!(b["expirySeconds"], json!(3600));
        assert!(b.get("keyType").is_none() && b.get("description").is_none());
        let client = KeyRequest {
            key_type: KeyType::Client,
            scopes: vec!["auth_keys".into()],
            description: "op".into(),
            ..Default::default()
        };
        let b = Client::request_body(&client);
        assert_eq!(b["keyType"], json!("client"));
        assert!(b.get("capabilities").is_none());
    }

    #[test]
    fn messages_and_segments() {
        assert_eq!(
            error_message(r#"{"message":"requested tags [tag:x] are invalid or not permitted"}"#),
            "requested tags [tag:x] are invalid or not permitted"
        );
        assert_eq!(error_message(r#"{"code":3,"message":"bad"}"#), "bad");
        assert_eq!(error_message("plain"), "plain");
        assert_eq!(segment("alice@example.com"), "alice%40example.com");
        assert_eq!(segment("-"), "-");
        assert!(!format!("{:?}", Auth::ApiKey("tskey-api-secret".into())).contains("secret"));
    }
}
