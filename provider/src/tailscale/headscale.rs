//! Headscale v0.29 `/api/v1` pre-auth keys (grpc-gateway, protojson;
//! shared/reference/tailscale.md §6.2, §6.6). No OAuth clients, no
//! description, no preauthorized: those need `/api/v2` (Headscale main).

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::v2::error_message;
use super::{KeyInfo, KeyRequest, NewKey, http_error, retry_after, transport_error};
use crate::apis::tailnet::KeyType;
use crate::managed::ExternalError;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: String,
    /// Owner of untagged keys (a user ID).
    user: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadscaleV1")
            .field("base", &self.base)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreAuthKey {
    id: Value,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    reusable: bool,
    #[serde(default)]
    ephemeral: bool,
    #[serde(default)]
    used: bool,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    acl_tags: Vec<String>,
}

fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl PreAuthKey {
    fn info(&self) -> KeyInfo {
        let expires = self
            .expiration
            .as_deref()
            .and_then(|s| s.parse::<Timestamp>().ok());
        let expired = expires.is_some_and(|e| e <= Timestamp::now());
        KeyInfo {
            id: id_string(&self.id),
            key_type: "auth".into(),
            description: String::new(),
            tags: self.acl_tags.clone(),
            scopes: Vec::new(),
            reusable: Some(self.reusable),
            ephemeral: Some(self.ephemeral),
            created: self.created_at.as_deref().and_then(|s| s.parse().ok()),
            expires,
            revoked: None,
            invalid: expired || (self.used && !self.reusable),
        }
    }
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str, api_key: String, user: Option<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key,
            user,
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, ExternalError> {
        super::check_pause("Headscale", &self.base, method.as_str(), path)?;
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
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
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            super::pause(&self.base, retry.unwrap_or(super::DEFAULT_RETRY_AFTER));
        }
        if !status.is_success() {
            return Err(http_error(
                "Headscale",
                method.as_str(),
                path,
                status,
                &error_message(&text),
                retry,
            ));
        }
        Ok(text)
    }

    pub async fn create_key(&self, req: &KeyRequest) -> Result<NewKey, ExternalError> {
        if req.key_type == KeyType::Client {
            return Err(ExternalError::new(
                "Headscale /api/v1 has no OAuth clients (keyType client): use Headscale's /api/v2 or Tailscale",
            ));
        }
        let path = "/api/v1/preauthkey";
        let expiration = Timestamp::now()
            .checked_add(SignedDuration::from_secs(req.expiry_seconds.max(1)))
            .map_err(|e| {
                ExternalError::new(format!("expirySeconds {}: {e}", req.expiry_seconds))
            })?;
        let mut body = json!({
            "reusable": req.reusable,
            "ephemeral": req.ephemeral,
            "expiration": expiration.to_string(),
            "aclTags": req.tags,
        });
        if let Some(user) = &self.user {
            body["user"] = json!(user);
        }
        let text = self.call(reqwest::Method::POST, path, Some(&body)).await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            pre_auth_key: PreAuthKey,
        }
        let created: Created = serde_json::from_str(&text)
            .map_err(|e| ExternalError::new(format!("POST {path}: unexpected response: {e}")))?;
        let Some(secret) = created.pre_auth_key.key.clone().filter(|k| !k.is_empty()) else {
            return Err(ExternalError::new(format!(
                "POST {path}: the response has no key"
            )));
        };
        Ok(NewKey {
            info: created.pre_auth_key.info(),
            secret,
        })
    }

    async fn list(&self) -> Result<Vec<PreAuthKey>, ExternalError> {
        let path = "/api/v1/preauthkey";
        let text = self.call(reqwest::Method::GET, path, None).await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Listed {
            #[serde(default)]
            pre_auth_keys: Vec<PreAuthKey>,
        }
        let listed: Listed = serde_json::from_str(&text)
            .map_err(|e| ExternalError::new(format!("GET {path}: unexpected response: {e}")))?;
        Ok(listed.pre_auth_keys)
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ExternalError> {
        Ok(self.list().await?.into_iter().map(|k| k.info()).collect())
    }

    pub async fn get_key(&self, id: &str) -> Result<Option<KeyInfo>, ExternalError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .find(|k| id_string(&k.id) == id)
            .map(|k| k.info()))
    }

    /// Expires (revokes) the key, then removes it.
    pub async fn delete_key(&self, id: &str) -> Result<(), ExternalError> {
        if self.get_key(id).await?.is_none() {
            return Ok(());
        }
        let ignore_gone = |r: Result<String, ExternalError>| match r {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.status, Some(404)) => Ok(()),
            Err(e) => Err(e),
        };
        ignore_gone(
            self.call(
                reqwest::Method::POST,
                "/api/v1/preauthkey/expire",
                Some(&json!({ "id": id })),
            )
            .await,
        )?;
        let path = format!("/api/v1/preauthkey?id={}", super::v2::segment(id));
        match self.call(reqwest::Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            // an older server without DELETE: expired is revoked enough
            Err(e) if matches!(e.status, Some(404 | 405 | 501)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
