//! Every composition-resource name that more than one part of the spoke
//! knows, in one place: a later part reads what an earlier one composed by
//! these names (observed resources, selectors, Usages). Names that only one
//! module uses (per-zone subnets, per-pool node groups) are built there.

use crate::spoke::Cloud;

// The cloud half.
pub const CLUSTER: &str = "cluster";
/// EKS: the ClusterAuth that publishes the kubeconfig.
pub const CLUSTER_AUTH: &str = "cluster-auth";

// The spoke as a target (`target.rs`).
pub const SPOKE_KUBERNETES_CONFIG: &str = "spoke-kubernetes-config";
pub const SPOKE_HELM_CONFIG: &str = "spoke-helm-config";

// The tailnet part (`tailscale.rs`).
/// The operator's OAuth client (Tailscale backend).
pub const TAILNET_OAUTH_CLIENT: &str = "tailnet-oauth-client";
/// The router's pre-auth key (Headscale backend).
pub const TAILNET_ROUTER_KEY: &str = "tailnet-router-key";
pub const TAILNET_POLICY: &str = "tailnet-policy";
pub const TAILNET_NAMESPACE: &str = "tailnet-namespace";
pub const TAILSCALE_OPERATOR: &str = "tailscale-operator";
pub const TAILNET_PROXY_CLASS: &str = "tailnet-proxy-class";
pub const TAILNET_CONNECTOR: &str = "tailnet-connector";
pub const TAILNET_API_SERVER_PROXY: &str = "tailnet-api-server-proxy";
/// Headscale backend: the router's auth-key Secret and Deployment.
pub const TAILNET_ROUTER_SECRET: &str = "tailnet-router-secret";
pub const TAILNET_ROUTER: &str = "tailnet-router";
/// ExternalSecrets mode: hub → store, store → spoke.
pub const TAILNET_OAUTH_PUSH: &str = "tailnet-oauth-push";
pub const TAILNET_OAUTH_PULL: &str = "tailnet-oauth-pull";

// The edge part (`cloudflare.rs`).
pub const TUNNEL: &str = "edge-tunnel";
pub const EDGE_NAMESPACE: &str = "edge-namespace";
pub const EDGE_TOKEN: &str = "edge-token";
pub const EDGE_TOKEN_PUSH: &str = "edge-token-push";
pub const CLOUDFLARED: &str = "edge-cloudflared";
pub const CLOUDFLARED_BUDGET: &str = "edge-cloudflared-budget";

// The Argo CD registration (`argocd.rs`).
pub const ARGOCD_ROLE: &str = "argocd-role";
pub const ARGOCD_ACCESS_ENTRY: &str = "argocd-access-entry";
pub const ARGOCD_ACCESS_POLICY: &str = "argocd-access-policy";
pub const ARGOCD_CLUSTER: &str = "argocd-cluster";

/// The composed resource that publishes the spoke's kubeconfig: EKS's
/// ClusterAuth, AKS's KubernetesCluster itself.
pub fn kubeconfig_publisher(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws => CLUSTER_AUTH,
        Cloud::Azure => CLUSTER,
    }
}
