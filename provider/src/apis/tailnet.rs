//! `TailnetKey` (an auth key or an OAuth client of a tailnet), and the
//! tailnet `ProviderConfig`, `ClusterProviderConfig`, `ProviderConfigUsage`,
//! in both API flavours.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;

// ---------------------------------------------------------------------------
// TailnetKey: what is shared by both flavours
// ---------------------------------------------------------------------------

/// What kind of key.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A pre-authentication key for `tailscale up --auth-key`.
    #[default]
    Auth,
    /// An OAuth client (trust credential), as the Tailscale Kubernetes
    /// operator needs: `client_id` and `client_secret`.
    Client,
}

/// The desired key. An auth key cannot change once created (the API has no
/// update for it): change it by creating a new TailnetKey. An OAuth client's
/// description, scopes and tags are updated in place.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.keyType == oldSelf.keyType").message("keyType is immutable"))]
#[x_kube(validation = Rule::new("self.keyType == 'client' || (self.reusable == oldSelf.reusable && self.ephemeral == oldSelf.ephemeral && self.preauthorized == oldSelf.preauthorized && self.tags == oldSelf.tags && self.expirySeconds == oldSelf.expirySeconds && self.description == oldSelf.description)").message("an auth key is immutable: reusable, ephemeral, preauthorized, tags, expirySeconds and description cannot change; create a new TailnetKey"))]
#[x_kube(validation = Rule::new("self.keyType == 'auth' || size(self.scopes) > 0").message("a client key needs at least one scope"))]
#[x_kube(validation = Rule::new("self.keyType == 'client' || size(self.scopes) == 0").message("scopes apply to keyType client only"))]
#[x_kube(validation = Rule::new("self.keyType == 'auth' || (!self.reusable && !self.ephemeral && !self.preauthorized)").message("reusable, ephemeral and preauthorized apply to keyType auth only"))]
pub struct TailnetKeyParameters {
    /// `auth` (default) or `client`.
    #[serde(default)]
    pub key_type: KeyType,
    /// Description shown in the admin console (at most 50 letters, digits,
    /// spaces and hyphens).
    #[serde(default)]
    #[schemars(length(max = 50), pattern(r"^[A-Za-z0-9 -]*$"))]
    pub description: String,
    /// Tags: devices joining with an auth key get them; an OAuth client may
    /// only mint keys with them (mandatory with scopes `devices:core` or
    /// `auth_keys`).
    #[serde(default)]
    #[schemars(
        length(max = 64),
        inner(pattern(r"^tag:[a-zA-Z][a-zA-Z0-9-]*$"), length(max = 128))
    )]
    pub tags: Vec<String>,
    /// Auth keys: the key can join more than one device.
    #[serde(default)]
    pub reusable: bool,
    /// Auth keys: devices joining with it are removed when they go offline.
    #[serde(default)]
    pub ephemeral: bool,
    /// Auth keys: devices joining with it skip device approval.
    #[serde(default)]
    pub preauthorized: bool,
    /// Auth keys: lifetime in seconds (default 90 days).
    #[serde(default = "default_expiry_seconds")]
    #[schemars(range(min = 1))]
    pub expiry_seconds: i64,
    /// Client keys: the scopes of the OAuth client, e.g. `devices:core`,
    /// `auth_keys`, `services`.
    #[serde(default)]
    #[schemars(length(max = 64), inner(length(max = 128)))]
    pub scopes: Vec<String>,
}

pub fn default_expiry_seconds() -> i64 {
    90 * 24 * 3600
}

/// When to replace an auth key with a fresh one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// Create the next key this long before the current one expires (a Go
    /// duration such as `24h` or `90m`). The new key is published to the
    /// connection Secret before the old one is revoked.
    #[schemars(pattern(r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$"), length(max = 32))]
    pub renew_before: String,
}

/// The last time the key was replaced, and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TailnetKeyObservation {
    /// The key's ID (also in `crossplane.io/external-name`); for a client,
    /// the OAuth client ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reusable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The key was revoked or has expired.
    #[serde(default)]
    pub invalid: bool,
    /// Which API answered: `tailscale`, `headscale/v1`, `headscale/v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

/// The observed state of a TailnetKey.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TailnetKeyStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_provider: Option<TailnetKeyObservation>,
}

// ---------------------------------------------------------------------------
// TailnetKey, namespaced (tailnet.m.hybridspoke.io)
// ---------------------------------------------------------------------------

pub mod namespaced {
    use super::*;

    /// A key of a tailnet (Tailscale or Headscale): an auth key or an OAuth
    /// client. The secret is written to `writeConnectionSecretToRef` when the
    /// key is created (the API shows it only then).
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "tailnet.m.hybridspoke.io",
        version = "v1alpha1",
        kind = "TailnetKey",
        namespaced,
        status = "TailnetKeyStatus",
        category = "crossplane",
        category = "managed",
        category = "tailnet",
        printcolumn(
            name = "SYNCED",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Synced')].status"
        ),
        printcolumn(
            name = "READY",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Ready')].status"
        ),
        printcolumn(
            name = "EXTERNAL-NAME",
            type_ = "string",
            json_path = ".metadata.annotations.crossplane\\.io/external-name"
        ),
        printcolumn(
            name = "AGE",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
        doc = "A TailnetKey is an auth key or an OAuth client of a tailnet (Tailscale API v2 or Headscale)."
    )]
    #[serde(rename_all = "camelCase")]
    #[x_kube(validation = Rule::new("!has(self.rotation) || self.forProvider.keyType == 'auth'").message("rotation applies to keyType auth only"))]
    pub struct TailnetKeySpec {
        pub for_provider: TailnetKeyParameters,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rotation: Option<Rotation>,
        /// Where the key's secret is written (a Secret in this namespace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_connection_secret_to_ref: Option<LocalSecretReference>,
        /// The ProviderConfig (this namespace) or ClusterProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: TypedProviderConfigReference,
        /// Which actions the provider may take on the external key.
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
    }
}

// ---------------------------------------------------------------------------
// TailnetKey, legacy cluster-scoped (tailnet.hybridspoke.io)
// ---------------------------------------------------------------------------

pub mod cluster {
    use super::*;

    /// A key of a tailnet (legacy cluster-scoped flavour).
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "tailnet.hybridspoke.io",
        version = "v1alpha1",
        kind = "TailnetKey",
        status = "TailnetKeyStatus",
        category = "crossplane",
        category = "managed",
        category = "tailnet",
        printcolumn(
            name = "SYNCED",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Synced')].status"
        ),
        printcolumn(
            name = "READY",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Ready')].status"
        ),
        printcolumn(
            name = "EXTERNAL-NAME",
            type_ = "string",
            json_path = ".metadata.annotations.crossplane\\.io/external-name"
        ),
        printcolumn(
            name = "AGE",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
        doc = "A TailnetKey is an auth key or an OAuth client of a tailnet (legacy cluster-scoped flavour)."
    )]
    #[serde(rename_all = "camelCase")]
    #[x_kube(validation = Rule::new("!has(self.rotation) || self.forProvider.keyType == 'auth'").message("rotation applies to keyType auth only"))]
    pub struct TailnetKeySpec {
        pub for_provider: TailnetKeyParameters,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rotation: Option<Rotation>,
        /// Where the key's secret is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_connection_secret_to_ref: Option<SecretReference>,
        /// The ProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: ProviderConfigReference,
        /// Which actions the provider may take on the external key.
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
        /// What happens to the external key when this resource is deleted.
        #[serde(default)]
        pub deletion_policy: DeletionPolicy,
    }
}

// ---------------------------------------------------------------------------
// ProviderConfig
// ---------------------------------------------------------------------------

/// Which control server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum Backend {
    /// Tailscale API v2 (`https://api.tailscale.com` unless `baseURL`).
    #[default]
    Tailscale,
    /// Headscale (`baseURL` required).
    Headscale,
}

/// Which Headscale API.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum HeadscaleApi {
    /// `/api/v2` (Tailscale-compatible) where the server has it, else `/api/v1`.
    #[default]
    Auto,
    /// `/api/v1` (Headscale v0.29 and earlier: pre-auth keys only).
    V1,
    /// The Tailscale-compatible `/api/v2` (Headscale main).
    V2,
}

/// OAuth client credentials, exchanged for 1-hour access tokens.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthCredentials {
    pub client_id_secret_ref: SecretKeySelector,
    pub client_secret_secret_ref: SecretKeySelector,
    /// Narrow the access token to these scopes (default: the client's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// Where the credentials are. Only Secrets: never values in the spec.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.apiKeySecretRef) != has(self.oauth)").message("set exactly one of apiKeySecretRef and oauth"))]
pub struct ProviderCredentials {
    /// An API access token (Tailscale `tskey-api-…`, Headscale `hskey-api-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeySelector>,
    /// An OAuth client (Tailscale, or Headscale's `/api/v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthCredentials>,
}

/// How to reach a tailnet's control server.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.backend != 'Headscale' || has(self.baseURL)").message("a Headscale backend needs baseURL"))]
pub struct ProviderConfigSpec {
    #[serde(default)]
    pub backend: Backend,
    /// The server: default `https://api.tailscale.com` for Tailscale.
    #[serde(default, rename = "baseURL", skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The tailnet (`-`: the credential's own).
    #[serde(default = "default_tailnet")]
    pub tailnet: String,
    /// Headscale only: which API to use.
    #[serde(default)]
    pub headscale_api: HeadscaleApi,
    /// Headscale `/api/v1` only: the ID of the user owning untagged
    /// pre-auth keys (tagged keys belong to their tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headscale_user: Option<String>,
    pub credentials: ProviderCredentials,
    /// Limits on what AclFragments using this config may write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_guardrails: Option<crate::acl::guardrails::AclGuardrails>,
}

fn default_tailnet() -> String {
    "-".into()
}

// ProviderConfigStatus and TypedReference are shared by every group (common.rs).
pub use super::common::{ProviderConfigStatus, TypedReference};

provider_config_kinds! {
    namespaced_group: "tailnet.m.hybridspoke.io",
    legacy_group: "tailnet.hybridspoke.io",
    category: "tailnet",
    column: ("BACKEND", ".spec.backend"),
    namespaced_doc: "How TailnetKeys of this namespace reach a tailnet's control server.",
    cluster_doc: "How TailnetKeys of any namespace reach a tailnet's control server.",
    legacy_doc: "How legacy TailnetKeys reach a tailnet's control server.",
}
