//! `Tunnel` (a remotely-managed Cloudflare Tunnel with its ingress rules and
//! DNS routes), and the Cloudflare `ProviderConfig`, `ClusterProviderConfig`,
//! `ProviderConfigUsage`, in both API flavours.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;

// ---------------------------------------------------------------------------
// Tunnel: what is shared by both flavours
// ---------------------------------------------------------------------------

/// Cloudflare Access checks on a rule (`originRequest.access`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OriginAccess {
    /// Access application audience tags allowed to reach the hostname.
    #[schemars(length(max = 32), inner(length(max = 128)))]
    pub aud_tag: Vec<String>,
    /// The Zero Trust team name (required with audTag).
    #[schemars(length(min = 1, max = 128))]
    pub team_name: String,
    /// Deny requests that did not pass Access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// How cloudflared talks to the origin (Cloudflare's `originRequest`;
/// durations in seconds). Unset fields keep Cloudflare's defaults.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OriginRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<OriginAccess>,
    /// Path of a CA bundle for the origin's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_chunked_encoding: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_origin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_host_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_happy_eyeballs: Option<bool>,
    #[serde(
        rename = "noTLSVerify",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub no_tls_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_server_name: Option<String>,
    /// `""` or `socks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_type: Option<String>,
    #[serde(
        rename = "tcpKeepAlive",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_keep_alive: Option<i64>,
    #[serde(
        rename = "tlsTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_timeout: Option<i64>,
}

/// One public hostname of the tunnel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// The public hostname (inside `zone`; at most one leading `*.`). A
    /// proxied CNAME to the tunnel is made for it.
    #[schemars(
        length(min = 1, max = 253),
        pattern(r"^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$")
    )]
    pub hostname: String,
    /// A regular expression the request path must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub path: Option<String>,
    /// Where requests go: `http://…`, `https://…`, `tcp://…`, `ssh://…`,
    /// `unix:…`, or `http_status:<code>`.
    #[schemars(length(min = 1, max = 1024))]
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_request: Option<OriginRequest>,
}

/// The desired tunnel. Its name is derived from the resource's UID (so an
/// interrupted create is found again, never duplicated).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelParameters {
    /// The DNS zone (its name, e.g. `example.com`) every hostname is in.
    #[schemars(length(min = 1, max = 253))]
    pub zone: String,
    /// Ingress rules in order; a catch-all rule is appended.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub ingress: Vec<IngressRule>,
    /// The service of the catch-all rule (default `http_status:404`).
    #[serde(default = "default_catch_all")]
    #[schemars(length(min = 1, max = 1024))]
    pub catch_all: String,
    /// Origin settings for every rule (a rule's own override them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_request: Option<OriginRequest>,
}

pub fn default_catch_all() -> String {
    "http_status:404".into()
}

/// When the tunnel gets a new secret, and so a new connector token.
///
/// The provider sets a new random tunnel secret (Cloudflare `PATCH
/// cfd_tunnel/{id}` with `tunnel_secret`) and writes the new token to the
/// connection Secret (key `token`). Connections cloudflared already made
/// are not cut, but a cloudflared holding the old token can make no new
/// one: it must be restarted with the new token (roll its Deployment when
/// the Secret changes) to pick it up.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelRotation {
    /// Give the tunnel a new secret once the current one is this old (a Go
    /// duration such as `720h`; at least `1m`).
    #[schemars(pattern(r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$"), length(max = 32))]
    pub every: String,
}

/// A DNS record the tunnel owns.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordStatus {
    pub hostname: String,
    pub id: String,
}

/// What Cloudflare says about the tunnel (never its token).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelObservation {
    /// The tunnel's UUID (also in `crossplane.io/external-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The CNAME target of every hostname: `<id>.cfargotunnel.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// The proxied CNAME records this tunnel owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<DnsRecordStatus>,
    /// Edge connections of all connectors (at the last connections check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_connections: Option<i64>,
    /// `inactive`, `degraded`, `healthy` or `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the provider last set the tunnel's secret (RFC 3339; the
    /// creation time until the first rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_rotated_at: Option<String>,
}

/// The observed state of a Tunnel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_provider: Option<TunnelObservation>,
}

// ---------------------------------------------------------------------------
// Tunnel, namespaced (cloudflare.m.hybridspoke.io)
// ---------------------------------------------------------------------------

pub mod namespaced {
    use super::*;

    /// A remotely-managed Cloudflare Tunnel, its ingress rules and the
    /// proxied CNAMEs of its hostnames. The connector token is written to
    /// `writeConnectionSecretToRef` (key `token`).
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "cloudflare.m.hybridspoke.io",
        version = "v1alpha1",
        kind = "Tunnel",
        namespaced,
        status = "TunnelStatus",
        category = "crossplane",
        category = "managed",
        category = "cloudflare",
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
        doc = "A Tunnel is a remotely-managed Cloudflare Tunnel with its ingress rules and DNS routes."
    )]
    #[serde(rename_all = "camelCase")]
    #[x_kube(validation = Rule::new("self.forProvider.zone == oldSelf.forProvider.zone").message("zone is immutable"))]
    pub struct TunnelSpec {
        pub for_provider: TunnelParameters,
        /// Rotate the tunnel secret (and token) periodically.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rotation: Option<TunnelRotation>,
        /// Where the tunnel token is written (a Secret in this namespace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_connection_secret_to_ref: Option<LocalSecretReference>,
        /// The ProviderConfig (this namespace) or ClusterProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: TypedProviderConfigReference,
        /// Which actions the provider may take on the external tunnel.
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
    }
}

// ---------------------------------------------------------------------------
// Tunnel, legacy cluster-scoped (cloudflare.hybridspoke.io)
// ---------------------------------------------------------------------------

pub mod cluster {
    use super::*;

    /// A remotely-managed Cloudflare Tunnel (legacy cluster-scoped flavour).
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "cloudflare.hybridspoke.io",
        version = "v1alpha1",
        kind = "Tunnel",
        status = "TunnelStatus",
        category = "crossplane",
        category = "managed",
        category = "cloudflare",
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
        doc = "A Tunnel is a remotely-managed Cloudflare Tunnel (legacy cluster-scoped flavour)."
    )]
    #[serde(rename_all = "camelCase")]
    #[x_kube(validation = Rule::new("self.forProvider.zone == oldSelf.forProvider.zone").message("zone is immutable"))]
    pub struct TunnelSpec {
        pub for_provider: TunnelParameters,
        /// Rotate the tunnel secret (and token) periodically.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rotation: Option<TunnelRotation>,
        /// Where the tunnel token is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_connection_secret_to_ref: Option<SecretReference>,
        /// The ProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: ProviderConfigReference,
        /// Which actions the provider may take on the external tunnel.
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
        /// What happens to the external tunnel when this resource is deleted.
        #[serde(default)]
        pub deletion_policy: DeletionPolicy,
    }
}

// ---------------------------------------------------------------------------
// ProviderConfig
// ---------------------------------------------------------------------------

/// Where the API token is. Only a Secret: never a value in the spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudflareCredentials {
    /// An API token with `Cloudflare Tunnel Edit`, `DNS Edit` and `Zone Read`.
    pub api_token_secret_ref: SecretKeySelector,
}

/// The client-side request budget, shared by every resource using the same
/// API token (Cloudflare's global limit: 1,200 requests per 5 minutes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    #[schemars(range(min = 1))]
    pub requests: u32,
    #[schemars(range(min = 1))]
    pub window_seconds: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests: 1200,
            window_seconds: 300,
        }
    }
}

/// How to reach a Cloudflare account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigSpec {
    /// The account the tunnels belong to.
    #[serde(rename = "accountID")]
    #[schemars(length(min = 1, max = 64))]
    pub account_id: String,
    /// The API (default `https://api.cloudflare.com/client/v4`).
    #[serde(default, rename = "baseURL", skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub credentials: CloudflareCredentials,
    /// Default: 1,200 requests per 300 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

provider_config_kinds! {
    namespaced_group: "cloudflare.m.hybridspoke.io",
    legacy_group: "cloudflare.hybridspoke.io",
    category: "cloudflare",
    column: ("ACCOUNT", ".spec.accountID"),
    namespaced_doc: "How Tunnels of this namespace reach a Cloudflare account.",
    cluster_doc: "How Tunnels of any namespace reach a Cloudflare account.",
    legacy_doc: "How legacy Tunnels reach a Cloudflare account.",
}
