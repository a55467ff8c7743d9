//! The Cloudflare ProviderConfigs: how a Tunnel finds its account and API
//! token, and the usage accounting of the generic ProviderConfig controller.

use crate::apis::cloudflare::{ProviderConfigSpec, pc_cluster, pc_namespaced};
use crate::providerconfig::{self, ConfigFamily};

/// The cloudflare group's ProviderConfigs.
pub struct Cloudflare;

impl ConfigFamily for Cloudflare {
    type Spec = ProviderConfigSpec;
    type Namespaced = pc_namespaced::ProviderConfig;
    type Cluster = pc_namespaced::ClusterProviderConfig;
    type Legacy = pc_cluster::ProviderConfig;
    fn namespaced_spec(pc: Self::Namespaced) -> Self::Spec {
        pc.spec.0
    }
    fn cluster_spec(pc: Self::Cluster) -> Self::Spec {
        pc.spec.0
    }
    fn legacy_spec(pc: Self::Legacy) -> Self::Spec {
        pc.spec.0
    }
}

pub type Resolved = providerconfig::Resolved<ProviderConfigSpec>;

crate::providerconfig::impl_provider_config_kinds!(pc_namespaced, pc_cluster);
