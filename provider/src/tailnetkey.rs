//! TailnetKey: an auth key or an OAuth client of a tailnet, on the generic
//! managed reconciler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::apis::tailnet::{
    Backend, HeadscaleApi, KeyType, Rotation, TailnetKeyObservation, TailnetKeyParameters, cluster,
    namespaced, pc_cluster, pc_namespaced,
};
use crate::managed::decide::{Replacement, parse_go_duration};
use crate::managed::reasons;
use crate::managed::{
    ConnectionDetails, Connector, Creation, ExternalClient, ExternalError, Managed, Observation,
    Readiness, Updated,
};
use crate::providerconfig;
use crate::tailscale::{self, KeyInfo, KeyRequest, TailnetApi, headscale, v2};
use crate::watched::Watched;

/// Connection Secret keys.
pub const KEY_AUTHKEY: &str = "authkey";
pub const KEY_CLIENT_ID: &str = "client_id";
pub const KEY_CLIENT_SECRET: &str = "client_secret";

/// Both TailnetKey flavours.
pub trait TailnetKeyResource: Managed {
    fn params(&self) -> &TailnetKeyParameters;
    fn rotation(&self) -> Option<&Rotation>;
}

crate::managed::impl_managed_namespaced!(
    namespaced::TailnetKey,
    pc_namespaced::ProviderConfigUsage,
    pc_namespaced::ProviderConfigUsageFields
);

impl TailnetKeyResource for namespaced::TailnetKey {
    fn params(&self) -> &TailnetKeyParameters {
        &self.spec.for_provider
    }
    fn rotation(&self) -> Option<&Rotation> {
        self.spec.rotation.as_ref()
    }
}

crate::managed::impl_managed_cluster!(
    cluster::TailnetKey,
    pc_cluster::ProviderConfigUsage,
    pc_cluster::ProviderConfigUsageFields
);

impl TailnetKeyResource for cluster::TailnetKey {
    fn params(&self) -> &TailnetKeyParameters {
        &self.spec.for_provider
    }
    fn rotation(&self) -> Option<&Rotation> {
        self.spec.rotation.as_ref()
    }
}

/// Connects TailnetKeys to their ProviderConfig's control server.
#[derive(Clone)]
pub struct TailnetConnector {
    http: reqwest::Client,
    tokens: v2::TokenCache,
    /// Whether a Headscale base URL has `/api/v2`, once probed.
    probes: Arc<Mutex<HashMap<String, bool>>>,
    /// ProviderConfigs and credential Secrets, watched (no GET per poll).
    watched: Watched,
}

impl TailnetConnector {
    pub fn new(timeout: Duration) -> Self {
        Self {
            http: tailscale::http_client(timeout),
            tokens: Arc::default(),
            probes: Arc::default(),
            watched: Watched::default(),
        }
    }

    /// The watches this connector resolves ProviderConfigs and Secrets from
    /// (AclFragments of the same tailnets share them).
    pub fn watched(&self) -> &Watched {
        &self.watched
    }

    /// Builds the API client a ProviderConfig describes.
    pub async fn api_for(
        &self,
        kube: &kube::Client,
        resolved: &providerconfig::Resolved,
    ) -> Result<TailnetApi, ExternalError> {
        let spec = &resolved.spec;
        let creds = &spec.credentials;
        let auth = match (&creds.api_key_secret_ref, &creds.oauth) {
            (Some(sel), None) => v2::Auth::ApiKey(
                providerconfig::read_secret(kube, &self.watched, resolved, sel).await?,
            ),
            (None, Some(o)) => v2::Auth::OAuth {
                client_id: providerconfig::read_secret(
                    kube,
                    &self.watched,
                    resolved,
                    &o.client_id_secret_ref,
                )
                .await?,
                client_secret: providerconfig::read_secret(
                    kube,
                    &self.watched,
                    resolved,
                    &o.client_secret_secret_ref,
                )
                .await?,
                scopes: o.scopes.clone(),
                cache: self.tokens.clone(),
            },
            _ => {
                return Err(ExternalError::new(format!(
                    "{}: set exactly one of credentials.apiKeySecretRef and credentials.oauth",
                    resolved.what
                )));
            }
        };
        match spec.backend {
            Backend::Tailscale => {
                let base = spec
                    .base_url
                    .clone()
                    .unwrap_or_else(|| "https://api.tailscale.com".into());
                Ok(TailnetApi::V2(v2::Client::new(
                    self.http.clone(),
                    &base,
                    &spec.tailnet,
                    auth,
                    false,
                )))
            }
            Backend::Headscale => {
                let Some(base) = spec.base_url.clone() else {
                    return Err(ExternalError::new(format!(
                        "{}: a Headscale backend needs baseURL",
                        resolved.what
                    )));
                };
                let v2client = v2::Client::new(self.http.clone(), &base, "-", auth.clone(), true);
                let use_v2 = match spec.headscale_api {
                    HeadscaleApi::V1 => false,
                    HeadscaleApi::V2 => true,
                    HeadscaleApi::Auto => {
                        let known = self
                            .probes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&base)
                            .copied();
                        match known {
                            Some(v) => v,
                            None => {
                                let has = v2client.probe().await?;
                                self.probes
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .insert(base.clone(), has);
                                has
                            }
                        }
                    }
                };
                if use_v2 {
                    return Ok(TailnetApi::V2(v2client));
                }
                let v2::Auth::ApiKey(key) = auth else {
                    return Err(ExternalError::new(format!(
                        "{}: Headscale /api/v1 takes an API key, not OAuth credentials",
                        resolved.what
                    )));
                };
                Ok(TailnetApi::HeadscaleV1(headscale::Client::new(
                    self.http.clone(),
                    &base,
                    key,
                    spec.headscale_user.clone(),
                )))
            }
        }
    }
}

impl<K: TailnetKeyResource> Connector<K> for TailnetConnector {
    type Client = TailnetKeyClient;

    async fn connect(
        &self,
        kube: &kube::Client,
        mr: &K,
    ) -> Result<TailnetKeyClient, ExternalError> {
        let (kind, name) = mr.provider_config_ref();
        let resolved = providerconfig::resolve(
            kube,
            &self.watched,
            mr.meta().namespace.as_deref(),
            &kind,
            &name,
        )
        .await?;
        Ok(TailnetKeyClient {
            api: self.api_for(kube, &resolved).await?,
        })
    }
}

/// The external client of one TailnetKey.
pub struct TailnetKeyClient {
    pub api: TailnetApi,
}

/// The request a TailnetKey's spec asks for.
pub fn request(p: &TailnetKeyParameters) -> KeyRequest {
    KeyRequest {
        key_type: p.key_type,
        description: p.description.clone(),
        tags: p.tags.clone(),
        reusable: p.reusable,
        ephemeral: p.ephemeral,
        preauthorized: p.preauthorized,
        expiry_seconds: p.expiry_seconds,
        scopes: p.scopes.clone(),
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// What differs between the spec and an OAuth client (None: nothing).
pub fn client_drift(p: &TailnetKeyParameters, info: &KeyInfo) -> Option<String> {
    let mut diffs = Vec::new();
    if sorted(&p.scopes) != sorted(&info.scopes) {
        diffs.push(format!("scopes {:?} -> {:?}", info.scopes, p.scopes));
    }
    if sorted(&p.tags) != sorted(&info.tags) {
        diffs.push(format!("tags {:?} -> {:?}", info.tags, p.tags));
    }
    if p.description != info.description {
        diffs.push(format!(
            "description {:?} -> {:?}",
            info.description, p.description
        ));
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

/// Whether (and why) an existing key must be replaced at `now`.
pub fn replacement(
    p: &TailnetKeyParameters,
    rotation: Option<&Rotation>,
    info: &KeyInfo,
    now: Timestamp,
) -> Option<Replacement> {
    if let Some(revoked) = info.revoked {
        return Some(Replacement {
            reason: reasons::REVOKED_EXTERNALLY.into(),
            message: format!(
                "key {} was revoked outside the provider at {revoked}; created a new one",
                info.id
            ),
        });
    }
    if let Some(expires) = info.expires {
        if expires <= now {
            return Some(Replacement {
                reason: reasons::EXPIRED.into(),
                message: format!(
                    "key {} expired or was revoked at {expires}; created a new one",
                    info.id
                ),
            });
        }
        if p.key_type == KeyType::Auth
            && let Some(before) = rotation.and_then(|r| parse_go_duration(&r.renew_before))
            && let Ok(before) = SignedDuration::try_from(before)
            && expires
                .checked_sub(before)
                .is_ok_and(|renew_at| renew_at <= now)
        {
            return Some(Replacement {
                reason: reasons::EXPIRES_SOON.into(),
                message: format!(
                    "key {} expires at {expires}, within rotation.renewBefore {}; rotated it",
                    info.id,
                    rotation
                        .map(|r| r.renew_before.as_str())
                        .unwrap_or_default()
                ),
            });
        }
    }
    if info.invalid && (info.reusable != Some(false) || p.key_type == KeyType::Client) {
        return Some(Replacement {
            reason: reasons::INVALID.into(),
            message: format!("key {} is no longer valid; created a new one", info.id),
        });
    }
    None
}

fn observation(info: &KeyInfo, api: &str) -> TailnetKeyObservation {
    TailnetKeyObservation {
        id: Some(info.id.clone()),
        key_type: (!info.key_type.is_empty()).then(|| info.key_type.clone()),
        description: (!info.description.is_empty()).then(|| info.description.clone()),
        tags: info.tags.clone(),
        scopes: info.scopes.clone(),
        reusable: info.reusable,
        ephemeral: info.ephemeral,
        created: info.created.map(|t| t.to_string()),
        expires: info.expires.map(|t| t.to_string()),
        invalid: info.invalid,
        api: Some(api.to_string()),
    }
}

impl<K: TailnetKeyResource> ExternalClient<K> for TailnetKeyClient {
    async fn observe(
        &self,
        mr: &K,
        external_name: Option<&str>,
    ) -> Result<Observation, ExternalError> {
        let Some(id) = external_name else {
            return Ok(Observation::default());
        };
        let Some(info) = self.api.get_key(id).await? else {
            return Ok(Observation::default());
        };
        if info.invalid && mr.meta().deletion_timestamp.is_some() {
            // revoked (by us or anyone) or expired: nothing left to delete
            return Ok(Observation::default());
        }
        let p = mr.params();
        if let Some(r) = mr.rotation() {
            // (CEL's duration() is too costly for the API server's budget)
            let before = parse_go_duration(&r.renew_before);
            if before.is_none_or(|b| b.as_secs_f64() >= p.expiry_seconds as f64) {
                return Err(ExternalError::new(format!(
                    "rotation.renewBefore {:?} must be a duration shorter than forProvider.expirySeconds {}",
                    r.renew_before, p.expiry_seconds
                )));
            }
        }
        let replace = replacement(p, mr.rotation(), &info, Timestamp::now());
        let drift = match p.key_type {
            KeyType::Client => client_drift(p, &info),
            KeyType::Auth => None,
        };
        let ready = if info.invalid || replace.is_some() {
            Readiness::Unavailable(Some(format!("key {} is not valid", info.id)))
        } else {
            Readiness::Available
        };
        Ok(Observation {
            exists: true,
            up_to_date: drift.is_none(),
            ready,
            replace,
            connection_details: ConnectionDetails::new(),
            at_provider: serde_json::to_value(observation(&info, self.api.name())).ok(),
            diff: drift,
        })
    }

    async fn create(&self, mr: &K) -> Result<Creation, ExternalError> {
        let p = mr.params();
        let created = self.api.create_key(&request(p)).await?;
        let mut details = ConnectionDetails::new();
        match p.key_type {
            KeyType::Auth => {
                details.insert(KEY_AUTHKEY.into(), created.secret.clone().into_bytes());
            }
            KeyType::Client => {
                details.insert(KEY_CLIENT_ID.into(), created.info.id.clone().into_bytes());
                details.insert(
                    KEY_CLIENT_SECRET.into(),
                    created.secret.clone().into_bytes(),
                );
            }
        }
        Ok(Creation {
            external_name: created.info.id.clone(),
            connection_details: details,
            at_provider: serde_json::to_value(observation(&created.info, self.api.name())).ok(),
        })
    }

    async fn update(&self, mr: &K, external_name: &str) -> Result<Updated, ExternalError> {
        let p = mr.params();
        if p.key_type == KeyType::Client {
            self.api.update_client(external_name, &request(p)).await?;
        }
        Ok(Updated::default())
    }

    async fn delete(&self, _mr: &K, external_name: &str) -> Result<(), ExternalError> {
        self.api.delete_key(external_name).await
    }

    /// A key's secret is shown once: a Secret that lost it is repaired by a
    /// new key (the default `reread_connection_details` says it cannot).
    fn connection_keys(&self, mr: &K) -> Vec<&'static str> {
        match mr.params().key_type {
            KeyType::Auth => vec![KEY_AUTHKEY],
            KeyType::Client => vec![KEY_CLIENT_ID, KEY_CLIENT_SECRET],
        }
    }

    /// Finds keys made since `pending` that match this spec and no resource
    /// recorded, and revokes them: their secret was lost with the crash.
    async fn recover_incomplete_create(
        &self,
        mr: &K,
        pending: Timestamp,
    ) -> Result<Option<crate::managed::Recovery>, ExternalError> {
        let since = pending
            .checked_sub(SignedDuration::from_secs(5))
            .unwrap_or(pending);
        let known: Vec<String> = [
            mr.annotations()
                .get(crate::managed::decide::ANN_EXTERNAL_NAME),
            mr.annotations().get(crate::managed::decide::ANN_SUPERSEDED),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let orphans: Vec<KeyInfo> = self
            .api
            .list_keys()
            .await?
            .into_iter()
            .filter(|k| {
                !known.contains(&k.id)
                    && matches_spec(mr.params(), k)
                    && k.created.is_some_and(|c| c >= since)
            })
            .collect();
        if orphans.is_empty() {
            return Ok(Some(crate::managed::Recovery::NothingCreated));
        }
        let mut ids = Vec::new();
        for k in orphans {
            self.api.delete_key(&k.id).await?;
            ids.push(k.id);
        }
        Ok(Some(crate::managed::Recovery::Discarded(ids)))
    }
}

/// Whether a listed key is what this spec would create.
pub fn matches_spec(p: &TailnetKeyParameters, k: &KeyInfo) -> bool {
    let type_ok = match p.key_type {
        KeyType::Auth => k.key_type.is_empty() || k.key_type == "auth",
        KeyType::Client => k.key_type == "client",
    };
    let same = |want: bool, got: Option<bool>| got.is_none_or(|g| g == want);
    type_ok
        && !k.invalid
        && sorted(&p.tags) == sorted(&k.tags)
        && (k.description.is_empty() || k.description == p.description)
        && (p.key_type == KeyType::Client
            || (same(p.reusable, k.reusable) && same(p.ephemeral, k.ephemeral)))
        && (p.key_type == KeyType::Auth || sorted(&p.scopes) == sorted(&k.scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> TailnetKeyParameters {
        TailnetKeyParameters {
            key_type: KeyType::Auth,
            expiry_seconds: 3600,
            ..Default::default()
        }
    }

    fn key(expires: &str) -> KeyInfo {
        KeyInfo {
            id: "k1".into(),
            expires: Some(expires.parse().unwrap()),
            reusable: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn rotation_window() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let rot = Rotation {
            renew_before: "1h".into(),
        };
        assert_eq!(
            replacement(&auth(), Some(&rot), &key("2026-01-01T14:00:00Z"), now),
            None
        );
        let r = replacement(&auth(), Some(&rot), &key("2026-01-01T12:59:00Z"), now).unwrap();
        assert_eq!(r.reason, "ExpiresSoon");
        assert_eq!(
            replacement(&auth(), None, &key("2026-01-01T12:59:00Z"), now),
            None
        );
        assert_eq!(
            replacement(&auth(), None, &key("2026-01-01T11:00:00Z"), now)
                .unwrap()
                .reason,
            "Expired"
        );
    }

    #[test]
    fn revoked_and_invalid() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let mut k = key("2026-02-01T00:00:00Z");
        k.revoked = Some("2026-01-01T11:00:00Z".parse().unwrap());
        k.invalid = true;
        assert_eq!(
            replacement(&auth(), None, &k, now).unwrap().reason,
            "RevokedExternally"
        );
        // a used single-use key is invalid but not replaced over and over
        let mut used = key("2026-02-01T00:00:00Z");
        used.reusable = Some(false);
        used.invalid = true;
        assert_eq!(replacement(&auth(), None, &used, now), None);
    }

    #[test]
    fn client_drift_ignores_order() {
        let p = TailnetKeyParameters {
            key_type: KeyType::Client,
            scopes: vec!["b".into(), "a".into()],
            tags: vec!["tag:x".into()],
            ..Default::default()
        };
        let mut info = KeyInfo {
            scopes: vec!["a".into(), "b".into()],
            tags: vec!["tag:x".into()],
            ..Default::default()
        };
        assert_eq!(client_drift(&p, &info), None);
        info.scopes = vec!["a".into()];
        assert!(client_drift(&p, &info).unwrap().contains("scopes"));
    }
}
