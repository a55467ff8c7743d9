//! The Cloudflare ProviderConfigs: how a Tunnel finds its account and API
//! token, and the usage accounting of the generic ProviderConfig controller.

use kube::ResourceExt;
use kube::api::Api;

use crate::apis::ProviderConfigStatus;
use crate::apis::cloudflare::{ProviderConfigSpec, pc_cluster, pc_namespaced};
use crate::providerconfig::{self, ConfigFamily, ProviderConfigKind, count, count_cluster_users, selector};

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

impl ProviderConfigKind for pc_namespaced::ProviderConfig {
    fn status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api(client: &kube::Client, namespace: Option<&str>) -> Api<Self> {
        Api::namespaced(client.clone(), namespace.unwrap_or("default"))
    }
    async fn count_users(client: &kube::Client, pc: &Self) -> Result<i64, kube::Error> {
        let ns = pc.namespace().unwrap_or_default();
        let api = Api::<pc_namespaced::ProviderConfigUsage>::namespaced(client.clone(), &ns);
        count(api, selector("ProviderConfig", &pc.name_any())).await
    }
}

impl ProviderConfigKind for pc_namespaced::ClusterProviderConfig {
    fn status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api(client: &kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client.clone())
    }
    async fn count_users(client: &kube::Client, pc: &Self) -> Result<i64, kube::Error> {
        count_cluster_users::<pc_namespaced::ProviderConfigUsage>(client, &pc.name_any()).await
    }
}

impl ProviderConfigKind for pc_cluster::ProviderConfig {
    fn status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api(client: &kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client.clone())
    }
    async fn count_users(client: &kube::Client, pc: &Self) -> Result<i64, kube::Error> {
        let api = Api::<pc_cluster::ProviderConfigUsage>::all(client.clone());
        count(api, selector("ProviderConfig", &pc.name_any())).await
    }
}
