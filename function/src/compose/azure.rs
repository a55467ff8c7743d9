//! The AKS half of a spoke: a resource group, a VNet with one node subnet,
//! the cluster (system pool = the first node pool, Azure CNI overlay with the
//! claim's pod and service ranges, OIDC issuer and workload identity on,
//! kubeconfig to the connection Secret) and a node pool for every other pool.
//!
//! Pods take addresses from the overlay range, not the VNet, so one subnet
//! (the first half of the VNet) holds every node; the second half stays free
//! for private endpoints and later additions.

use std::collections::BTreeMap;

use serde::Serialize;

use super::managed::{Api, ManagedResource, Selector};
use super::{Composition, Stage, names, usage};
use crate::naming;
use crate::spoke::{NodePool, SkuTier, TaintEffect};

const RESOURCE_GROUP: Api = Api::v1beta1("azure", "ResourceGroup");
const VIRTUAL_NETWORK: Api = Api::upjet("network.azure", "VirtualNetwork", "v1beta1", "v1beta2");
const SUBNET: Api = Api::upjet("network.azure", "Subnet", "v1beta1", "v1beta2");
pub(super) const KUBERNETES_CLUSTER: Api = Api::upjet(
    "containerservice.azure",
    "KubernetesCluster",
    "v1beta1",
    "v1beta2",
);
const NODE_POOL: Api = Api::upjet(
    "containerservice.azure",
    "KubernetesClusterNodePool",
    "v1beta1",
    "v1beta2",
);

/// AKS's limit on `dnsPrefix`.
const DNS_PREFIX_MAX: usize = 54;
/// Surge during upgrades: a third of a pool at most, so large pools upgrade
/// in a few rounds while small ones keep most nodes serving.
const MAX_SURGE: &str = "33%";

pub fn compose(c: &mut Composition<'_>) {
    let Some(azure) = c.spoke.spec.azure.clone() else {
        return;
    };
    let spoke = c.spoke;
    let location = spoke.spec.region.as_str();
    let tags = &azure_tags(&spoke.tags);
    let cluster_name = spoke.cluster_name();
    let zones: Vec<String> = spoke.network.zones.iter().map(|z| z.zone.clone()).collect();

    // --- Network ---------------------------------------------------------
    let resource_group_name = if azure.resource_group_name.is_empty() {
        fit(naming::RESOURCE_GROUP, format!("{cluster_name}-rg"))
    } else {
        azure.resource_group_name.clone()
    };
    c.add(
        Stage::Network,
        "resource-group",
        &ManagedResource::new(
            spoke,
            RESOURCE_GROUP,
            "resource-group",
            ResourceGroup { location, tags },
        )
        .external_name(resource_group_name),
    );
    c.add(
        Stage::Network,
        "virtual-network",
        &ManagedResource::new(
            spoke,
            VIRTUAL_NETWORK,
            "virtual-network",
            VirtualNetwork {
                location,
                resource_group_name_selector: Selector::resource("resource-group"),
                address_space: vec![spoke.network.vpc.to_string()],
                tags,
            },
        )
        .external_name(fit(naming::VNET, format!("{cluster_name}-vnet"))),
    );
    let node_subnet = spoke.network.node_subnet.unwrap_or(spoke.network.vpc);
    c.add(
        Stage::Network,
        "subnet-nodes",
        &ManagedResource::new(
            spoke,
            SUBNET,
            "subnet-nodes",
            Subnet {
                resource_group_name_selector: Selector::resource("resource-group"),
                virtual_network_name_selector: Selector::resource("virtual-network"),
                address_prefixes: vec![node_subnet.to_string()],
            },
        )
        .external_name("nodes"),
    );

    // --- Cluster ---------------------------------------------------------
    // The claim's admin groups, and Argo CD's identity when spokes are
    // registered in the hub's Argo CD (argocd.rs).
    let mut admin_groups = azure.admin_group_object_ids.clone();
    if let Some(argocd) = &spoke.input.argocd
        && !argocd.admin_group_object_id.is_empty()
        && !admin_groups.contains(&argocd.admin_group_object_id)
    {
        admin_groups.push(argocd.admin_group_object_id.clone());
    }
    let api_endpoint = &spoke.spec.network.api_endpoint;
    // The first pool is the system pool: it lives inside the cluster resource.
    let Some(system_pool) = spoke.spec.node_pools.first() else {
        return;
    };
    let system_vm_size = spoke.instance_types.first().cloned().unwrap_or_default();
    c.add(
        Stage::Cluster,
        names::CLUSTER,
        &ManagedResource::new(
            spoke,
            KUBERNETES_CLUSTER,
            names::CLUSTER,
            KubernetesCluster {
                location,
                resource_group_name_selector: Selector::resource("resource-group"),
                dns_prefix: dns_prefix(&cluster_name),
                kubernetes_version: spoke.kubernetes_version.clone(),
                sku_tier: azure.sku_tier,
                identity: Identity {
                    r#type: "SystemAssigned",
                },
                oidc_issuer_enabled: true,
                workload_identity_enabled: true,
                // Crossplane's kubeconfig uses the local admin account.
                local_account_disabled: false,
                private_cluster_enabled: api_endpoint.private && !api_endpoint.public,
                api_server_access_profile: (api_endpoint.public
                    && !api_endpoint.allowed_cidrs.is_empty())
                .then(|| ApiServerAccessProfile {
                    authorized_ip_ranges: api_endpoint.allowed_cidrs.clone(),
                }),
                azure_active_directory_role_based_access_control: (!admin_groups.is_empty()).then(
                    || EntraRbac {
                        admin_group_object_ids: admin_groups.clone(),
                        azure_rbac_enabled: true,
                    },
                ),
                network_profile: NetworkProfile {
                    network_plugin: "azure",
                    network_plugin_mode: "overlay",
                    network_data_plane: "cilium",
                    network_policy: "cilium",
                    load_balancer_sku: "standard",
                    outbound_type: "loadBalancer",
                    pod_cidr: spoke
                        .network
                        .pods
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    service_cidr: spoke.network.services.to_string(),
                    // The conventional `.10` of the service range.
                    dns_service_ip: std::net::Ipv4Addr::from(
                        u32::from(spoke.network.services.network()) + 10,
                    )
                    .to_string(),
                },
                default_node_pool: DefaultNodePool {
                    name: system_pool.name.clone(),
                    vm_size: system_vm_size,
                    pool: Pool::of(system_pool, &spoke.kubernetes_version, &zones),
                    // Lets AKS rotate the system pool when its VM size changes.
                    temporary_name_for_rotation: format!("{}tmp", truncate(&system_pool.name, 9)),
                },
                tags,
            },
        )
        .init_provider(ClusterInit {
            default_node_pool: NodeCount {
                node_count: system_pool.initial_size(),
            },
        })
        .external_name(cluster_name)
        .connection_secret(spoke, spoke.kubeconfig_secret_name()),
    );
    let endpoint = c
        .observed_str(names::CLUSTER, "/status/atProvider/fqdn")
        .or_else(|| c.observed_str(names::CLUSTER, "/status/atProvider/privateFqdn"))
        .map(|fqdn| format!("https://{fqdn}:443"));
    c.report_cluster(endpoint);

    // --- Node pools ------------------------------------------------------
    for (pool, vm_size) in spoke
        .spec
        .node_pools
        .iter()
        .zip(&spoke.instance_types)
        .skip(1)
    {
        let name = format!("nodepool-{}", pool.name);
        c.add(
            Stage::NodePools,
            &name,
            &ManagedResource::new(
                spoke,
                NODE_POOL,
                &name,
                NodePoolSpec {
                    kubernetes_cluster_id_selector: Selector::resource(names::CLUSTER),
                    mode: "User",
                    vm_size: vm_size.clone(),
                    pool: Pool::of(pool, &spoke.kubernetes_version, &zones),
                    node_taints: pool
                        .taints
                        .iter()
                        .map(|t| format!("{}={}:{}", t.key, t.value, taint_effect(t.effect)))
                        .collect(),
                    tags,
                },
            )
            .init_provider(NodeCount {
                node_count: pool.initial_size(),
            })
            // AKS names pools itself from this: lowercase, at most 12.
            .external_name(&pool.name),
        );
        // Deleting the cluster first would leave the pool's deletion failing.
        usage::add(
            c,
            Stage::NodePools,
            (&NODE_POOL, &name),
            (&KUBERNETES_CLUSTER, names::CLUSTER),
        );
    }
}

/// Azure tag names cannot hold `<>%&\?/`; label keys such as
/// `appgear.io/tenant-id` become `appgear.io_tenant-id`, values unchanged.
/// A name derived from the (already valid) cluster name, shortened if the
/// suffix makes it too long.
fn fit(rule: naming::Rule, name: String) -> String {
    rule.fit(&name).unwrap_or(name)
}

fn azure_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(key, value)| {
            (
                key.replace(['<', '>', '%', '&', '\\', '?', '/'], "_"),
                value.clone(),
            )
        })
        .collect()
}

/// A DNS prefix AKS accepts: letters, digits and dashes, starting and ending
/// with a letter or digit, at most 54 characters.
fn dns_prefix(cluster_name: &str) -> String {
    let cleaned: String = cluster_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    truncate(&cleaned, DNS_PREFIX_MAX)
        .trim_matches('-')
        .to_string()
}

fn truncate(s: &str, max: usize) -> &str {
    &s[..s.len().min(max)]
}

fn taint_effect(effect: TaintEffect) -> &'static str {
    match effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

// The `forProvider` shapes, as in the provider-upjet-azure v2 CRDs.

type Tags = BTreeMap<String, String>;

#[derive(Serialize)]
struct ResourceGroup<'a> {
    location: &'a str,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VirtualNetwork<'a> {
    location: &'a str,
    resource_group_name_selector: Selector,
    address_space: Vec<String>,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Subnet {
    resource_group_name_selector: Selector,
    virtual_network_name_selector: Selector,
    address_prefixes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubernetesCluster<'a> {
    location: &'a str,
    resource_group_name_selector: Selector,
    dns_prefix: String,
    kubernetes_version: String,
    sku_tier: SkuTier,
    identity: Identity,
    oidc_issuer_enabled: bool,
    workload_identity_enabled: bool,
    local_account_disabled: bool,
    private_cluster_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_server_access_profile: Option<ApiServerAccessProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azure_active_directory_role_based_access_control: Option<EntraRbac>,
    network_profile: NetworkProfile,
    default_node_pool: DefaultNodePool,
    tags: &'a Tags,
}

#[derive(Serialize)]
struct Identity {
    r#type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiServerAccessProfile {
    authorized_ip_ranges: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntraRbac {
    admin_group_object_ids: Vec<String>,
    azure_rbac_enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NetworkProfile {
    network_plugin: &'static str,
    network_plugin_mode: &'static str,
    network_data_plane: &'static str,
    network_policy: &'static str,
    load_balancer_sku: &'static str,
    outbound_type: &'static str,
    pod_cidr: String,
    service_cidr: String,
    dns_service_ip: String,
}

/// What the system pool and every other pool share.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pool {
    orchestrator_version: String,
    auto_scaling_enabled: bool,
    min_count: u32,
    max_count: u32,
    zones: Vec<String>,
    vnet_subnet_id_selector: Selector,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    node_labels: BTreeMap<String, String>,
    upgrade_settings: UpgradeSettings,
}

impl Pool {
    fn of(pool: &NodePool, version: &str, zones: &[String]) -> Pool {
        Pool {
            orchestrator_version: version.to_string(),
            auto_scaling_enabled: true,
            min_count: pool.min_size,
            max_count: pool.max_size,
            zones: zones.to_vec(),
            vnet_subnet_id_selector: Selector::resource("subnet-nodes"),
            node_labels: pool.labels.clone(),
            upgrade_settings: UpgradeSettings {
                max_surge: MAX_SURGE,
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpgradeSettings {
    max_surge: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultNodePool {
    name: String,
    vm_size: String,
    #[serde(flatten)]
    pool: Pool,
    temporary_name_for_rotation: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodePoolSpec<'a> {
    kubernetes_cluster_id_selector: Selector,
    mode: &'static str,
    vm_size: String,
    #[serde(flatten)]
    pool: Pool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    node_taints: Vec<String>,
    tags: &'a Tags,
}

/// The autoscaler owns node counts once a pool exists.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeCount {
    node_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterInit {
    default_node_pool: NodeCount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_lose_the_characters_azure_rejects_and_keep_their_values() {
        let tags = BTreeMap::from([
            ("appgear.io/tenant-id".to_string(), "payments".to_string()),
            ("Owner".to_string(), "a/b".to_string()),
        ]);
        let azure = azure_tags(&tags);
        assert_eq!(azure["appgear.io_tenant-id"], "payments");
        assert_eq!(azure["Owner"], "a/b");
    }

    #[test]
    fn dns_prefixes_are_short_and_start_and_end_with_alphanumerics() {
        assert_eq!(
            dns_prefix("team-analytics-we-analytics"),
            "team-analytics-we-analytics"
        );
        assert_eq!(dns_prefix("team.a-b.c"), "team-a-b-c");
        let long = format!("{}-{}", "a".repeat(53), "b".repeat(9));
        assert_eq!(dns_prefix(&long), "a".repeat(53));
    }
}
