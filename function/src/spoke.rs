//! The `XHybridSpoke` API: the one place its shape is defined. The XRDs under
//! `package/configuration/` are generated from these types (`xrd.rs`).
//!
//! Every optional field carries `#[serde(default)]` with the same default the
//! schema publishes, so a claim means the same thing whether or not the API
//! server applied the schema defaults (e.g. under `crossplane render`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "platform.hybridspoke.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "XHybridSpoke";
pub const PLURAL: &str = "xhybridspokes";
pub const CLAIM_KIND: &str = "HybridSpoke";
pub const CLAIM_PLURAL: &str = "hybridspokes";

/// The desired state of a spoke cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.cloud != 'aws' || has(self.aws)", "message": "spec.aws is required when spec.cloud is aws"},
    {"rule": "self.cloud != 'azure' || has(self.azure)", "message": "spec.azure is required when spec.cloud is azure"},
    {"rule": "self.cloud == 'aws' || !has(self.aws)", "message": "spec.aws is only allowed when spec.cloud is aws"},
    {"rule": "self.cloud == 'azure' || !has(self.azure)", "message": "spec.azure is only allowed when spec.cloud is azure"},
    {"rule": "self.cloud != 'aws' || !has(self.network.podCidr)", "message": "spec.network.podCidr applies to azure only: on aws, pods take addresses from the private subnets (VPC CNI)"},
    {"rule": "self.nodePools.all(a, self.nodePools.exists_one(b, b.name == a.name))", "message": "spec.nodePools names must be unique"},
    {"rule": "self.cloud != 'azure' || self.nodePools.all(p, p.name.matches('^[a-z][a-z0-9]{0,11}$'))", "message": "on azure a node pool name is 1-12 lowercase letters and digits, starting with a letter"},
    // Only size(): a regular expression over map keys would not pass the
    // API server's CEL cost limit. The function checks the characters.
    {"rule": "self.cloud != 'aws' || !has(self.tags) || self.tags.all(k, size(k) <= 128)", "message": "on aws a tag key is at most 128 characters"},
]))]
pub struct SpokeSpec {
    /// The cloud the spoke runs in.
    pub cloud: Cloud,
    /// Region (AWS, e.g. `eu-west-1`) or location (Azure, e.g. `westeurope`).
    /// It must be one of the regions the platform allows for the cloud
    /// (function input `regions`).
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Environment the spoke serves; it becomes a label and a cloud tag.
    pub environment: Environment,
    /// Kubernetes minor version, e.g. `"1.34"`. Must be one the platform
    /// allows for the cloud (function input `kubernetesVersions`); empty means
    /// the platform's default for the cloud.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^(1\.[0-9]{2})?$"))]
    pub kubernetes_version: String,
    /// Worker node pools. On Azure the first pool is the AKS system pool.
    #[schemars(length(min = 1, max = 16))]
    pub node_pools: Vec<NodePool>,
    /// Addressing and API endpoint exposure.
    pub network: Network,
    /// FinOps labels put on every composed object and, as tags, on every
    /// cloud resource.
    pub finops: FinOps,
    /// Extra cloud tags for every cloud resource. Default: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 32,
        "additionalProperties" = {"type": "string", "maxLength": 256},
        "x-kubernetes-validations" = [
            {"rule": "self.all(k, size(k) >= 1 && size(k) <= 512)", "message": "a tag key is 1-512 characters (AWS: 128)"},
        ],
    ))]
    pub tags: BTreeMap<String, String>,
    /// Name of the upjet (cluster) ProviderConfig used for every cloud
    /// resource. Default: `default`.
    #[serde(default = "default_provider_config")]
    #[schemars(default = "default_provider_config", length(min = 1, max = 253))]
    pub provider_config_name: String,
    /// How the spoke joins the platform's tailnet. Default: a subnet router
    /// for the spoke's network, no API-server proxy, no legacy routes.
    #[serde(default)]
    #[schemars(default = "TailnetSpec::default")]
    pub tailnet: TailnetSpec,
    /// Public hostnames served through the spoke's own Cloudflare tunnel.
    /// Default: none (no tunnel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeSpec>,
    /// Registration in the hub's Argo CD. Default: registered, no extra
    /// labels.
    #[serde(default)]
    #[schemars(default = "ArgoCdSpec::default")]
    pub argocd: ArgoCdSpec,
    /// AWS-only settings; required when `cloud` is `aws`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSpec>,
    /// Azure-only settings; required when `cloud` is `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureSpec>,
}

fn default_provider_config() -> String {
    "default".to_string()
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    #[default]
    Aws,
    Azure,
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Staging,
    #[default]
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Staging => "staging",
            Environment::Prod => "prod",
        }
    }
}

/// A group of identical worker nodes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.minSize <= self.maxSize", "message": "minSize must not exceed maxSize"},
    {"rule": "!has(self.desiredSize) || (self.minSize <= self.desiredSize && self.desiredSize <= self.maxSize)", "message": "desiredSize must lie between minSize and maxSize"},
]))]
pub struct NodePool {
    /// Pool name: lowercase letters, digits and dashes (on Azure at most 12
    /// letters and digits).
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z][a-z0-9-]*$"))]
    pub name: String,
    /// EC2 instance type or Azure VM size. Empty means the platform's
    /// default for the cloud (function input `defaultInstanceType`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 64))]
    pub instance_type: String,
    #[schemars(range(min = 0, max = 1000))]
    pub min_size: u32,
    #[schemars(range(min = 1, max = 1000))]
    pub max_size: u32,
    /// Initial node count; the autoscaler owns it afterwards. Default: `minSize`
    /// (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub desired_size: Option<u32>,
    /// Kubernetes labels for the nodes. Default: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 16,
        "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE_OR_EMPTY_PATTERN},
    ))]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints for the nodes. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub taints: Vec<Taint>,
}

impl NodePool {
    pub fn initial_size(&self) -> u32 {
        self.desired_size.unwrap_or(self.min_size.max(1))
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    #[schemars(length(min = 1, max = 316))]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 63))]
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum TaintEffect {
    #[default]
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

/// Addressing of the spoke. All ranges are IPv4 CIDRs in private space.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// VPC (AWS) or VNet (Azure) range, /16 to /24. Default: a block the
    /// function allocates from the platform's pools (function input
    /// `addressPlan`), recorded in `status.network.allocated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = CIDR_PATTERN))]
    pub vpc_cidr: Option<String>,
    /// Pod range for Azure CNI overlay. Default on azure: `10.244.0.0/16`.
    /// Not used on aws, where pods take VPC addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = CIDR_PATTERN))]
    pub pod_cidr: Option<String>,
    /// Kubernetes service range, /12 to /24. Default: `172.20.0.0/16`.
    #[serde(default = "default_service_cidr")]
    #[schemars(default = "default_service_cidr", regex(pattern = CIDR_PATTERN))]
    pub service_cidr: String,
    /// How many availability zones the spoke spans. Default: 3.
    #[serde(default = "default_zones")]
    #[schemars(default = "default_zones", range(min = 2, max = 3))]
    pub availability_zones: u8,
    /// Outbound NAT for private subnets (AWS): one NAT gateway per zone, a
    /// single shared one, or none. Default: `PerZone`.
    #[serde(default)]
    #[schemars(default = "NatMode::default")]
    pub nat_mode: NatMode,
    /// Exposure of the Kubernetes API endpoint. Default: public and private,
    /// public reachable from anywhere.
    #[serde(default)]
    #[schemars(default = "ApiEndpoint::default")]
    pub api_endpoint: ApiEndpoint,
}

/// IPv4 CIDR syntax; semantics (private space, overlaps, sizes) are checked
/// by the function, which names the rule broken.
pub const CIDR_PATTERN: &str = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$";

pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";

fn default_service_cidr() -> String {
    "172.20.0.0/16".to_string()
}

fn default_zones() -> u8 {
    3
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum NatMode {
    #[default]
    PerZone,
    Single,
    None,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.public || self.private", "message": "the API endpoint must be public, private or both"},
    {"rule": "self.public || !has(self.allowedCidrs) || size(self.allowedCidrs) == 0", "message": "allowedCidrs only applies to a public endpoint"},
]))]
pub struct ApiEndpoint {
    /// Reachable from the internet (restricted to `allowedCidrs`). Default: true.
    #[serde(default = "yes")]
    #[schemars(default = "yes")]
    pub public: bool,
    /// Reachable from inside the VPC/VNet. Default: true.
    #[serde(default = "yes")]
    #[schemars(default = "yes")]
    pub private: bool,
    /// CIDRs allowed to reach the public endpoint. Default: none, which means
    /// anywhere (`0.0.0.0/0`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 40), inner(regex(pattern = CIDR_PATTERN)))]
    pub allowed_cidrs: Vec<String>,
}

impl Default for ApiEndpoint {
    fn default() -> Self {
        ApiEndpoint {
            public: true,
            private: true,
            allowed_cidrs: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Cost attribution. The label keys come from the platform (function input
/// `labelKeys`), the values from here.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FinOps {
    /// Tenant that owns and pays for the spoke.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE_PATTERN))]
    pub tenant: String,
    /// Cost centre the spend is booked to.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE_PATTERN))]
    pub cost_center: String,
    /// Service tier. Default: `standard`.
    #[serde(default = "default_tier")]
    #[schemars(default = "default_tier", length(min = 1, max = 63), regex(pattern = LABEL_VALUE_PATTERN))]
    pub tier: String,
    /// Any further labels (and tags) to put on everything. Default: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 16,
        "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE_OR_EMPTY_PATTERN},
    ))]
    pub labels: BTreeMap<String, String>,
}

/// A Kubernetes label value, or empty (a label map's values).
pub const LABEL_VALUE_OR_EMPTY_PATTERN: &str = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$";

/// A Kubernetes label value.
pub const LABEL_VALUE_PATTERN: &str = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";

fn default_tier() -> String {
    "standard".to_string()
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSpec {
    /// IAM principal (role or user ARN) granted cluster-admin through an EKS
    /// access entry.
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$"))]
    pub admin_principal_arn: String,
    /// EKS-optimized AMI family of every node pool. Default:
    /// `AL2023_x86_64_STANDARD`.
    #[serde(default = "default_ami_type")]
    #[schemars(default = "default_ami_type")]
    pub ami_type: AmiType,
}

fn default_ami_type() -> AmiType {
    AmiType::Al2023X8664Standard
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum AmiType {
    #[default]
    #[serde(rename = "AL2023_x86_64_STANDARD")]
    Al2023X8664Standard,
    #[serde(rename = "AL2023_ARM_64_STANDARD")]
    Al2023Arm64Standard,
    #[serde(rename = "BOTTLEROCKET_x86_64")]
    BottlerocketX8664,
    #[serde(rename = "BOTTLEROCKET_ARM_64")]
    BottlerocketArm64,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzureSpec {
    /// Resource group to create for the spoke. Default: `<cluster name>-rg`,
    /// where the cluster name is `<namespace>-<name>` for a namespaced XR and
    /// the XR's name for a legacy one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 63), regex(pattern = r"^([-\w._()]*[-\w_()])?$"))]
    pub resource_group_name: String,
    /// AKS pricing tier. Default: `Standard` (uptime SLA).
    #[serde(default)]
    #[schemars(default = "SkuTier::default")]
    pub sku_tier: SkuTier,
    /// Microsoft Entra group object ids that become cluster admins. Default:
    /// none (local accounts only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(regex(pattern = r"^[0-9a-fA-F-]{36}$")))]
    pub admin_group_object_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum SkuTier {
    Free,
    #[default]
    Standard,
    Premium,
}

/// The spoke on the tailnet. Its router always advertises the spoke's
/// network; the platform's Input decides who may reach it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TailnetSpec {
    /// Expose the spoke's Kubernetes API on the tailnet through a
    /// tailscale-operator `kube-apiserver` ProxyGroup: `auth` (callers are
    /// impersonated as their tailnet identity's groups), `noauth` (the proxy
    /// only forwards; Kubernetes authenticates) or `none`. Tailscale backend
    /// only. Default: `none`.
    #[serde(default)]
    #[schemars(default = "ApiServerProxy::default")]
    pub api_server: ApiServerProxy,
    /// Further IPv4 or IPv6 routes the spoke's router advertises, e.g. an
    /// on-premises range reachable from the spoke's network. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 9, max = 43)))]
    pub legacy_routes: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ApiServerProxy {
    Auth,
    Noauth,
    #[default]
    // Not `off`: YAML 1.1 readers (kubectl, Argo CD) take an unquoted `off`
    // for the boolean false, which the API server then refuses.
    None,
}

impl ApiServerProxy {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiServerProxy::Auth => "auth",
            ApiServerProxy::Noauth => "noauth",
            ApiServerProxy::None => "none",
        }
    }
}

/// The spoke's public hostnames, each routed to a service in the spoke.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeSpec {
    /// Routes, in order; a request for a hostname no route names gets 404.
    #[schemars(length(min = 1, max = 50))]
    pub routes: Vec<EdgeRoute>,
}

/// One public hostname: either `hostname` (inside the platform's zone) or
/// `subdomain` (of it).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.hostname) != has(self.subdomain)", "message": "set exactly one of hostname and subdomain"},
]))]
pub struct EdgeRoute {
    /// A full hostname, e.g. `payments.example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub hostname: Option<String>,
    /// A name under the platform's zone, e.g. `payments` for
    /// `payments.<zone>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub subdomain: Option<String>,
    /// The in-cluster URL requests go to, e.g.
    /// `http://web.payments.svc.cluster.local:8080`.
    #[schemars(length(min = 1, max = 512))]
    pub service: String,
}

/// How the spoke appears in the hub's Argo CD.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdSpec {
    /// Extra labels on the spoke's Argo CD cluster Secret, for
    /// ApplicationSet cluster generators. Default: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 16,
        "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE_OR_EMPTY_PATTERN},
    ))]
    pub labels: BTreeMap<String, String>,
}

/// What the function reports on the XR. Written by the function, read by
/// people (`kubectl get`) and by later reconciles (sticky values).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpokeStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailnet: Option<TailnetStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdStatus>,
}

/// The spoke's tunnel and the hostnames it serves.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeStatus {
    pub hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_id: Option<String>,
}

/// The spoke in the hub's Argo CD.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdStatus {
    /// The cluster's name in Argo CD (ApplicationSet `{{.name}}`).
    pub cluster_name: String,
    /// The API server Argo CD reaches it at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// The spoke on the tailnet, as its router and the operator report it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TailnetStatus {
    /// The tailscale-operator is deployed and ready (Tailscale backend).
    #[serde(default)]
    pub operator_ready: bool,
    /// Hostname prefix of the spoke's routers on the tailnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router_hostname: String,
    /// The routers as the tailnet knows them, once they joined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<TailnetDevice>,
    /// Routes the spoke's router advertises.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advertised_routes: Vec<String>,
    /// Routes the tailnet approved and serves through the router.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_routes: Vec<String>,
    /// The spoke's Kubernetes API on the tailnet (API-server proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TailnetDevice {
    pub hostname: String,
    #[serde(default, rename = "tailnetIPs", skip_serializing_if = "Vec::is_empty")]
    pub tailnet_ips: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStatus {
    /// The spoke's VPC/VNet block from the platform's pools, when the claim
    /// sets no `spec.network.vpcCidr`. Sticky: never re-allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<AllocatedNetwork>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vpc_cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_cidr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnet_cidrs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_subnet_cidrs: Vec<String>,
}

/// A block allocated to the spoke from a pool of the function input.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AllocatedNetwork {
    pub vpc_cidr: String,
    /// The pool it came from (`input.addressPlan.pools[].name`).
    pub pool: String,
    /// The allocation was seen in status with no earlier spoke holding an
    /// overlapping range: the VPC/VNet may be composed. Until then the spoke
    /// may still lose the block to a spoke created earlier.
    #[serde(default)]
    pub settled: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Where the kubeconfig is published: a Secret in this namespace (v2) or
    /// the platform's connection-secret namespace (legacy).
    pub kubeconfig_secret: SecretLocation,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretLocation {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub key: String,
}
