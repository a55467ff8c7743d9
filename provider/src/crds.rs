//! Every CRD of the provider package, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::apis::acl;
use crate::apis::cloudflare;
use crate::apis::tailnet::{cluster, namespaced, pc_cluster, pc_namespaced};

/// The CRDs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        namespaced::TailnetKey::crd(),
        pc_namespaced::ProviderConfig::crd(),
        pc_namespaced::ClusterProviderConfig::crd(),
        pc_namespaced::ProviderConfigUsage::crd(),
        cluster::TailnetKey::crd(),
        pc_cluster::ProviderConfig::crd(),
        pc_cluster::ProviderConfigUsage::crd(),
        cloudflare::namespaced::Tunnel::crd(),
        cloudflare::pc_namespaced::ProviderConfig::crd(),
        cloudflare::pc_namespaced::ClusterProviderConfig::crd(),
        cloudflare::pc_namespaced::ProviderConfigUsage::crd(),
        cloudflare::cluster::Tunnel::crd(),
        cloudflare::pc_cluster::ProviderConfig::crd(),
        cloudflare::pc_cluster::ProviderConfigUsage::crd(),
        acl::namespaced::AclFragment::crd(),
        acl::cluster::AclFragment::crd(),
    ]
}

/// The file name `crossplane xpkg build` users expect: `<group>_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}
