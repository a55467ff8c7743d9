//! The function's Input: platform-wide defaults, set once per Composition.
//! Nothing a platform team may want to differ between installations is a
//! constant in code; it lives here and in the Composition that sets it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spoke::{Cloud, Environment};

pub const INPUT_GROUP: &str = "hybridspoke.fn.crossplane.io";
pub const INPUT_VERSION: &str = "v1alpha1";
pub const INPUT_KIND: &str = "Input";

/// Platform defaults for every spoke composed by one Composition.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub metadata: Option<serde_json::Value>,
    /// The label keys FinOps values are written under.
    pub label_keys: LabelKeys,
    /// Value of the `labelKeys.module` label on everything this function
    /// composes. Default: `hybrid-spoke`.
    #[serde(default = "default_module")]
    pub module: String,
    pub aws: CloudDefaults,
    pub azure: CloudDefaults,
    /// Namespace for connection Secrets of cluster-scoped (legacy) managed
    /// resources. Default: `crossplane-system`.
    #[serde(default = "default_connection_secret_namespace")]
    pub connection_secret_namespace: String,
    /// How often Crossplane re-runs the function, in seconds. Default: 60.
    #[serde(default = "default_ttl_seconds")]
    pub ttl_seconds: u32,
    /// The ProviderConfigs of the platform's own providers. Default: each
    /// named `default`.
    #[serde(default)]
    pub provider_configs: ProviderConfigs,
    /// How spokes join the tailnet. Default: Tailscale SaaS with the
    /// tailscale-operator, see [`TailnetSettings`].
    #[serde(default)]
    pub tailnet: TailnetSettings,
    /// The spokes' Cloudflare tunnels and cloudflared. Default: see
    /// [`EdgeSettings`]; a claim without `spec.edge` gets no edge part.
    #[serde(default)]
    pub edge: EdgeSettings,
    /// Registration of every spoke in the hub's Argo CD. Default: none
    /// (spokes are not registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdSettings>,
    /// How secrets the hub's providers publish (OAuth client, pre-auth key,
    /// tunnel token) reach the spokes. Default: `ConnectionSecrets`.
    #[serde(default)]
    pub secrets: SecretsSettings,
    /// The fleet-wide address plan: pools spokes without
    /// `spec.network.vpcCidr` get a block from, and ranges no spoke may
    /// overlap. Default: none (every claim must set `vpcCidr`, and overlaps
    /// between spokes are not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_plan: Option<AddressPlan>,
}

/// Address pools and the ranges every spoke must stay clear of.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressPlan {
    /// The hub's own ranges (its VPC/VNet, pods, services). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hub_cidrs: Vec<String>,
    /// Ranges routed on the tailnet outside the spokes (on-premises,
    /// legacy networks). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legacy_routes: Vec<String>,
    /// Pools, searched in order: the first whose cloud and environment match
    /// the claim's serves it.
    #[serde(default)]
    pub pools: Vec<AddressPool>,
}

/// Blocks of one size for the spokes of one cloud and environment.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressPool {
    /// Named in status and in messages, e.g. `aws-prod`.
    pub name: String,
    pub cloud: Cloud,
    pub environment: Environment,
    /// The ranges blocks are carved from, lowest block first.
    pub cidrs: Vec<String>,
    /// Prefix length of each spoke's block, e.g. 16 for prod, 20 for dev.
    pub block_prefix: u8,
}

/// Where FinOps values go: label keys, also used as cloud tag keys.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelKeys {
    pub tenant: String,
    pub cost_center: String,
    pub module: String,
    pub tier: String,
    pub environment: String,
    /// Key for the spoke's name on everything it owns.
    pub spoke: String,
}

/// What the platform allows and defaults to on one cloud.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudDefaults {
    /// Regions (AWS) or locations (Azure) spokes may be created in.
    pub regions: Vec<String>,
    /// Kubernetes minor versions spokes may run; the first is the default.
    pub kubernetes_versions: Vec<String>,
    /// Node size for pools that name none.
    pub default_instance_type: String,
    /// AWS: managed add-ons installed on every cluster. Ignored on Azure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addons: Vec<String>,
    /// Zone names per region where they are not `<region>a/b/c` (AWS) or
    /// `1/2/3` (Azure).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zones: BTreeMap<String, Vec<String>>,
    /// The most pods a node runs. On AWS (VPC CNI) each takes an address of
    /// its zone's private subnet, which the sizing check counts. Default: 110.
    #[serde(default = "default_max_pods_per_node")]
    pub max_pods_per_node: u32,
}

fn default_max_pods_per_node() -> u32 {
    110
}

fn default_module() -> String {
    "hybrid-spoke".to_string()
}

fn default_connection_secret_namespace() -> String {
    "crossplane-system".to_string()
}

fn default_ttl_seconds() -> u32 {
    60
}

impl Input {
    pub fn cloud(&self, cloud: Cloud) -> &CloudDefaults {
        match cloud {
            Cloud::Aws => &self.aws,
            Cloud::Azure => &self.azure,
        }
    }
}

/// A ProviderConfig of a platform provider. Namespaced resources (v2 XRs)
/// reference it as `kind`/`name`; cluster-scoped ones (legacy XRs) by name.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfigName {
    /// `ClusterProviderConfig` (platform-wide) or `ProviderConfig` (in the
    /// XR's namespace). Ignored for legacy XRs. Default: `ClusterProviderConfig`.
    #[serde(default = "default_provider_config_kind")]
    pub kind: ProviderConfigKind,
    /// Default: `default`.
    #[serde(default = "default_name")]
    pub name: String,
}

impl Default for ProviderConfigName {
    fn default() -> Self {
        ProviderConfigName {
            kind: default_provider_config_kind(),
            name: default_name(),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ProviderConfigKind {
    ClusterProviderConfig,
    ProviderConfig,
}

impl ProviderConfigKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderConfigKind::ClusterProviderConfig => "ClusterProviderConfig",
            ProviderConfigKind::ProviderConfig => "ProviderConfig",
        }
    }
}

fn default_provider_config_kind() -> ProviderConfigKind {
    ProviderConfigKind::ClusterProviderConfig
}

fn default_name() -> String {
    "default".to_string()
}

/// The platform providers' ProviderConfigs. The cloud one is per claim
/// (`spec.providerConfigName`); the spoke's own Kubernetes and Helm configs
/// are composed per spoke.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfigs {
    /// Of this project's provider, tailnet group (`tailnet(.m).hybridspoke.io`):
    /// which tailnet and credentials mint the spokes' keys and hold their
    /// policy. Default: `ClusterProviderConfig` `default`.
    #[serde(default)]
    pub tailnet: ProviderConfigName,
    /// Of this project's provider, Cloudflare group
    /// (`cloudflare(.m).hybridspoke.io`): the account and token of the
    /// spokes' tunnels. Default: `ClusterProviderConfig` `default`.
    #[serde(default)]
    pub cloudflare: ProviderConfigName,
    /// provider-kubernetes' config for the hub itself (where Argo CD runs),
    /// e.g. `credentials.source: InjectedIdentity`. Default:
    /// `ClusterProviderConfig` `default`.
    #[serde(default)]
    pub hub: ProviderConfigName,
}

/// How spokes join the tailnet. One tailnet serves the whole platform; each
/// spoke gets its own identity (tags), policy fragment and subnet router.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TailnetSettings {
    /// The control server behind the tailnet ProviderConfig. `Tailscale`
    /// (SaaS) runs the tailscale-operator in each spoke (OAuth client,
    /// Connector, optional API-server ProxyGroup); `Headscale` (v0.29 has no
    /// OAuth clients, so no operator) runs a plain subnet-router Deployment
    /// joined with a pre-auth key. Default: `Tailscale`.
    #[serde(default)]
    pub backend: TailnetBackend,
    /// URL of the control server, for Headscale (required there) or a
    /// self-hosted Tailscale-compatible server. Default: none (Tailscale SaaS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_server: Option<String>,
    /// The spoke's tags. `{spoke}` stands for the spoke's cluster name. The
    /// operator tag is the OAuth client's and the operator's own; the proxy
    /// tag, owned by the operator tag, goes on the spoke's routers and
    /// proxies. Defaults: `tag:{spoke}-operator`, `tag:{spoke}`.
    #[serde(default)]
    pub tags: TagScheme,
    /// Who owns the spoke's operator tag in the policy (users, groups,
    /// `autogroup:admin`). Default: `[autogroup:admin]`.
    #[serde(default = "default_tag_admins")]
    pub admins: Vec<String>,
    /// Who may reach the routes each spoke advertises: one grant per entry,
    /// `dst` being the spoke's routes. Default: none (routes are advertised
    /// and approved, but nobody may use them until a grant says so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_grants: Vec<RouteGrant>,
    /// Who may use a spoke's API-server proxy in `auth` mode, and as which
    /// Kubernetes groups they are impersonated. Default: nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_access: Option<ApiServerAccess>,
    /// Which of the spoke's ranges its router advertises: `Vpc` (the
    /// VPC/VNet; on EKS it holds the pods too), `Pods` (Azure overlay pod
    /// range), `Services`. Pod and service ranges are the same on every spoke
    /// unless the claims set them apart, and the tailnet picks one router per
    /// prefix, so only the VPC is advertised by default. Default: `[Vpc]`.
    #[serde(default = "default_advertise")]
    pub advertise: Vec<AdvertisedRange>,
    /// The tailscale-operator Helm chart and its pod. Tailscale backend only.
    #[serde(default)]
    pub operator: OperatorSettings,
    /// Resources of the proxy pods (Connector, ProxyGroup) through the
    /// ProxyClass, and their count. Default: 2 replicas, requests
    /// 100m/128Mi, limits 500m/512Mi.
    #[serde(default)]
    pub proxy: ProxySettings,
    /// The subnet-router Deployment of the Headscale backend.
    #[serde(default)]
    pub router: RouterSettings,
    /// Namespace in the spoke for everything the tailnet part puts there.
    /// Default: `connectivity`.
    #[serde(default = "default_connectivity_namespace")]
    pub namespace: String,
    /// Who pays for the tailnet part: `Global` (the platform; the tenant label
    /// is `global`) or `Spoke` (the spoke's tenant). Default: `Global`.
    #[serde(default)]
    pub finops_tenant: FinOpsTenant,
}

impl Default for TailnetSettings {
    fn default() -> Self {
        TailnetSettings {
            backend: TailnetBackend::default(),
            login_server: None,
            tags: TagScheme::default(),
            admins: default_tag_admins(),
            route_grants: Vec::new(),
            api_server_access: None,
            advertise: default_advertise(),
            operator: OperatorSettings::default(),
            proxy: ProxySettings::default(),
            router: RouterSettings::default(),
            namespace: default_connectivity_namespace(),
            finops_tenant: FinOpsTenant::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum TailnetBackend {
    #[default]
    Tailscale,
    Headscale,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagScheme {
    #[serde(default = "default_operator_tag")]
    pub operator: String,
    #[serde(default = "default_proxy_tag")]
    pub proxy: String,
}

impl Default for TagScheme {
    fn default() -> Self {
        TagScheme {
            operator: default_operator_tag(),
            proxy: default_proxy_tag(),
        }
    }
}

/// The placeholder for the spoke's cluster name in [`TagScheme`].
pub const SPOKE_PLACEHOLDER: &str = "{spoke}";

fn default_operator_tag() -> String {
    "tag:{spoke}-operator".to_string()
}

fn default_proxy_tag() -> String {
    "tag:{spoke}".to_string()
}

fn default_tag_admins() -> Vec<String> {
    vec!["autogroup:admin".to_string()]
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteGrant {
    /// Users, groups, tags or hosts allowed in.
    pub src: Vec<String>,
    /// Protocols and ports, e.g. `tcp:443`. Default: `["*"]`.
    #[serde(default = "default_grant_ip")]
    pub ip: Vec<String>,
}

fn default_grant_ip() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServerAccess {
    /// Users, groups or tags allowed to reach the API-server proxy.
    pub src: Vec<String>,
    /// Kubernetes groups they are impersonated as (auth mode).
    pub groups: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum AdvertisedRange {
    Vpc,
    Pods,
    Services,
}

fn default_advertise() -> Vec<AdvertisedRange> {
    vec![AdvertisedRange::Vpc]
}

/// A Helm chart by repository, name and pinned version.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chart {
    pub repository: String,
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorSettings {
    /// Default: `tailscale-operator` 1.104.7 from
    /// `https://pkgs.tailscale.com/helmcharts`.
    #[serde(default = "default_operator_chart")]
    pub chart: Chart,
    /// The operator pod's resources. Default: requests 100m/256Mi, limits
    /// 500m/512Mi.
    #[serde(default = "default_operator_resources")]
    pub resources: Resources,
}

impl Default for OperatorSettings {
    fn default() -> Self {
        OperatorSettings {
            chart: default_operator_chart(),
            resources: default_operator_resources(),
        }
    }
}

/// The tailscale release whose chart and images the defaults pin.
pub const TAILSCALE_VERSION: &str = "1.104.7";

fn default_operator_chart() -> Chart {
    Chart {
        repository: "https://pkgs.tailscale.com/helmcharts".to_string(),
        name: "tailscale-operator".to_string(),
        version: TAILSCALE_VERSION.to_string(),
    }
}

fn default_operator_resources() -> Resources {
    Resources::new(("100m", "256Mi"), ("500m", "512Mi"))
}

/// Container resources, as Kubernetes quantities.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

impl Resources {
    fn new(requests: (&str, &str), limits: (&str, &str)) -> Self {
        Resources {
            requests: Quantities {
                cpu: requests.0.to_string(),
                memory: requests.1.to_string(),
            },
            limits: Quantities {
                cpu: limits.0.to_string(),
                memory: limits.1.to_string(),
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxySettings {
    /// Routers per spoke, for failover. Default: 2.
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    #[serde(default = "default_proxy_resources")]
    pub resources: Resources,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            replicas: default_replicas(),
            resources: default_proxy_resources(),
        }
    }
}

fn default_replicas() -> u32 {
    2
}

fn default_proxy_resources() -> Resources {
    Resources::new(("100m", "128Mi"), ("500m", "512Mi"))
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouterSettings {
    /// Image of the subnet router. Default: `tailscale/tailscale:v1.104.7`.
    #[serde(default = "default_router_image")]
    pub image: String,
    /// Lifetime of the router's pre-auth key, in seconds; it is renewed a
    /// day before it expires. Default: 90 days.
    #[serde(default = "default_router_key_expiry")]
    pub key_expiry_seconds: u64,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            image: default_router_image(),
            key_expiry_seconds: default_router_key_expiry(),
        }
    }
}

fn default_router_image() -> String {
    format!("tailscale/tailscale:v{TAILSCALE_VERSION}")
}

fn default_router_key_expiry() -> u64 {
    90 * 24 * 3600
}

fn default_connectivity_namespace() -> String {
    "connectivity".to_string()
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum FinOpsTenant {
    #[default]
    Global,
    Spoke,
}

/// The tenant label value of platform-paid objects.
pub const GLOBAL_TENANT: &str = "global";

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsSettings {
    /// `ConnectionSecrets`: the hub's connection Secrets are read directly
    /// (Helm `valueFrom`, Object references). `ExternalSecrets`: they are
    /// pushed to a secret store (`PushSecret`) and pulled into the spoke
    /// (`ExternalSecret`) through `clusterSecretStore`. Default:
    /// `ConnectionSecrets`.
    #[serde(default)]
    pub mode: SecretsMode,
    /// The External Secrets `ClusterSecretStore` in hub and spoke (required
    /// with `ExternalSecrets`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_secret_store: String,
    /// Prefix of the remote keys, followed by `/<spoke>/<secret>`. Default:
    /// `hybrid-spoke`.
    #[serde(default = "default_remote_key_prefix")]
    pub remote_key_prefix: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum SecretsMode {
    #[default]
    ConnectionSecrets,
    ExternalSecrets,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        SecretsSettings {
            mode: SecretsMode::default(),
            cluster_secret_store: String::new(),
            remote_key_prefix: default_remote_key_prefix(),
        }
    }
}

fn default_remote_key_prefix() -> String {
    "hybrid-spoke".to_string()
}

/// The edge part: a Cloudflare tunnel per spoke and cloudflared in it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EdgeSettings {
    /// The Cloudflare zone spokes publish under; `spec.edge.routes[].subdomain`
    /// is relative to it and every hostname must lie in it. Default: none
    /// (then a claim with `spec.edge` is refused).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub zone: String,
    /// Namespace of cloudflared in the spoke. Default: `edge`.
    #[serde(default = "default_edge_namespace")]
    pub namespace: String,
    /// The cloudflared image, pinned. Default:
    /// `cloudflare/cloudflared:2026.1.2`.
    #[serde(default = "default_cloudflared_image")]
    pub image: String,
    /// cloudflared replicas (high availability, not load balancing).
    /// Default: 2.
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// cloudflared's resources. Default: requests 50m/64Mi, limits 500m/256Mi.
    #[serde(default = "default_cloudflared_resources")]
    pub resources: Resources,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            zone: String::new(),
            namespace: default_edge_namespace(),
            image: default_cloudflared_image(),
            replicas: default_replicas(),
            resources: default_cloudflared_resources(),
        }
    }
}

fn default_edge_namespace() -> String {
    "edge".to_string()
}

fn default_cloudflared_image() -> String {
    "cloudflare/cloudflared:2026.1.2".to_string()
}

fn default_cloudflared_resources() -> Resources {
    Resources::new(("50m", "64Mi"), ("500m", "256Mi"))
}

/// How spokes are registered in the hub's Argo CD.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdSettings {
    /// Argo CD's namespace in the hub. Default: `argocd`.
    #[serde(default = "default_argocd_namespace")]
    pub namespace: String,
    /// EKS: the IAM role Argo CD's controllers run as (IRSA or Pod
    /// Identity); each spoke gets a role it may assume.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub management_role_arn: String,
    /// EKS: the access policy of the spoke role, cluster-wide. Default:
    /// `AmazonEKSClusterAdminPolicy`.
    #[serde(default = "default_access_policy")]
    pub access_policy: String,
    /// AKS: the Microsoft Entra group of Argo CD's workload identity; it
    /// becomes a cluster admin group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub admin_group_object_id: String,
}

fn default_argocd_namespace() -> String {
    "argocd".to_string()
}

fn default_access_policy() -> String {
    "AmazonEKSClusterAdminPolicy".to_string()
}
