//! The EKS half of a spoke: a VPC with public and private subnets in every
//! zone, egress through NAT, the IAM roles EKS needs, the cluster with its
//! kubeconfig, managed node groups and add-ons, and an admin access entry.
//!
//! Nodes and the control plane's network interfaces live in the private
//! subnets; the public subnets hold only NAT gateways and internet-facing
//! load balancers. Every reference between these objects is a controller
//! selector on the composition resource name (see [`Selector`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::managed::{Api, ManagedResource, Selector};
use super::{Composition, Stage, usage};
use crate::spoke::{AmiType, NatMode, TaintEffect};

const VPC: Api = Api::v1beta1("ec2.aws", "VPC");
const SUBNET: Api = Api::v1beta1("ec2.aws", "Subnet");
const INTERNET_GATEWAY: Api = Api::v1beta1("ec2.aws", "InternetGateway");
const EIP: Api = Api::v1beta1("ec2.aws", "EIP");
const NAT_GATEWAY: Api = Api::v1beta1("ec2.aws", "NATGateway");
const ROUTE_TABLE: Api = Api::v1beta1("ec2.aws", "RouteTable");
/// The cluster-scoped Route's storage version is v1beta2 (same shape).
const ROUTE: Api = Api {
    service: "ec2.aws",
    kind: "Route",
    namespaced_version: "v1beta1",
    cluster_version: "v1beta2",
};
const ROUTE_TABLE_ASSOCIATION: Api = Api::v1beta1("ec2.aws", "RouteTableAssociation");
const ROLE: Api = Api::v1beta1("iam.aws", "Role");
const ROLE_POLICY_ATTACHMENT: Api = Api::v1beta1("iam.aws", "RolePolicyAttachment");
const CLUSTER: Api = Api {
    service: "eks.aws",
    kind: "Cluster",
    namespaced_version: "v1beta1",
    cluster_version: "v1beta2",
};
const CLUSTER_AUTH: Api = Api::v1beta1("eks.aws", "ClusterAuth");
const NODE_GROUP: Api = Api {
    service: "eks.aws",
    kind: "NodeGroup",
    namespaced_version: "v1beta1",
    cluster_version: "v1beta2",
};
const ADDON: Api = Api::v1beta1("eks.aws", "Addon");
const ACCESS_ENTRY: Api = Api::v1beta1("eks.aws", "AccessEntry");
const ACCESS_POLICY_ASSOCIATION: Api = Api::v1beta1("eks.aws", "AccessPolicyAssociation");

/// Selection roles: the sets of subnets the cluster and node groups use.
const PRIVATE_SUBNETS: &str = "private-subnets";
const PUBLIC_SUBNETS: &str = "public-subnets";

/// Subnet tags the AWS load balancer controller and the in-tree cloud
/// provider look for when placing load balancers.
const ELB_TAG: &str = "kubernetes.io/role/elb";
const INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";

/// ClusterAuth's token is a presigned STS URL valid for ~15 minutes; the
/// provider documents 10m as the longest safe refresh period.
const KUBECONFIG_REFRESH: &str = "10m";

pub fn compose(c: &mut Composition<'_>) {
    let Some(aws) = c.spoke.spec.aws.clone() else {
        return;
    };
    let spoke = c.spoke;
    let region = spoke.spec.region.as_str();
    let partition = partition(region);
    let tags = &spoke.tags;

    // --- Network ---------------------------------------------------------
    c.add(
        Stage::Network,
        "vpc",
        &ManagedResource::new(
            spoke,
            VPC,
            "vpc",
            Vpc {
                region,
                cidr_block: spoke.network.vpc.to_string(),
                // EKS requires both for private endpoint and node registration.
                enable_dns_hostnames: true,
                enable_dns_support: true,
                tags,
            },
        ),
    );
    c.add(
        Stage::Network,
        "internet-gateway",
        &ManagedResource::new(
            spoke,
            INTERNET_GATEWAY,
            "internet-gateway",
            InVpc {
                region,
                vpc_id_selector: Selector::resource("vpc"),
                tags,
            },
        ),
    );

    let public_route_table = "route-table-public";
    c.add(
        Stage::Network,
        public_route_table,
        &ManagedResource::new(
            spoke,
            ROUTE_TABLE,
            public_route_table,
            InVpc {
                region,
                vpc_id_selector: Selector::resource("vpc"),
                tags,
            },
        ),
    );
    c.add(
        Stage::Network,
        "route-public-internet",
        &ManagedResource::new(
            spoke,
            ROUTE,
            "route-public-internet",
            Route {
                region,
                route_table_id_selector: Selector::resource(public_route_table),
                destination_cidr_block: "0.0.0.0/0",
                gateway_id_selector: Some(Selector::resource("internet-gateway")),
                nat_gateway_id_selector: None,
            },
        ),
    );

    for zone in &spoke.network.zones {
        let z = zone.suffix;
        let (Some(private_cidr), Some(public_cidr)) = (zone.private_subnet, zone.public_subnet)
        else {
            continue;
        };

        let public_subnet = format!("subnet-public-{z}");
        c.add(
            Stage::Network,
            &public_subnet,
            &ManagedResource::new(
                spoke,
                SUBNET,
                &public_subnet,
                Subnet {
                    region,
                    vpc_id_selector: Selector::resource("vpc"),
                    cidr_block: public_cidr.to_string(),
                    availability_zone: zone.zone.clone(),
                    // Only NAT gateways and load balancers live here: no
                    // instance should get a public address by accident.
                    map_public_ip_on_launch: false,
                    tags: &with(tags, ELB_TAG, "1"),
                },
            )
            .role(PUBLIC_SUBNETS),
        );
        associate(
            c,
            region,
            &format!("route-table-association-public-{z}"),
            public_route_table,
            &public_subnet,
        );

        let private_subnet = format!("subnet-private-{z}");
        c.add(
            Stage::Network,
            &private_subnet,
            &ManagedResource::new(
                spoke,
                SUBNET,
                &private_subnet,
                Subnet {
                    region,
                    vpc_id_selector: Selector::resource("vpc"),
                    cidr_block: private_cidr.to_string(),
                    availability_zone: zone.zone.clone(),
                    map_public_ip_on_launch: false,
                    tags: &with(tags, INTERNAL_ELB_TAG, "1"),
                },
            )
            .role(PRIVATE_SUBNETS),
        );

        // Private subnets egress through their zone's NAT gateway (PerZone),
        // the first zone's (Single), or not at all (None).
        let nat_zone = match spoke.spec.network.nat_mode {
            NatMode::PerZone => Some(z),
            NatMode::Single => spoke.network.zones.first().map(|first| first.suffix),
            NatMode::None => None,
        };
        if nat_zone == Some(z) {
            let eip = format!("eip-{z}");
            c.add(
                Stage::Network,
                &eip,
                &ManagedResource::new(
                    spoke,
                    EIP,
                    &eip,
                    Eip {
                        region,
                        domain: "vpc",
                        tags,
                    },
                ),
            );
            let nat_gateway = format!("nat-gateway-{z}");
            c.add(
                Stage::Network,
                &nat_gateway,
                &ManagedResource::new(
                    spoke,
                    NAT_GATEWAY,
                    &nat_gateway,
                    NatGateway {
                        region,
                        connectivity_type: "public",
                        allocation_id_selector: Selector::resource(&eip),
                        subnet_id_selector: Selector::resource(&public_subnet),
                        tags,
                    },
                ),
            );
        }

        let private_route_table = format!("route-table-private-{z}");
        c.add(
            Stage::Network,
            &private_route_table,
            &ManagedResource::new(
                spoke,
                ROUTE_TABLE,
                &private_route_table,
                InVpc {
                    region,
                    vpc_id_selector: Selector::resource("vpc"),
                    tags,
                },
            ),
        );
        if let Some(nat_zone) = nat_zone {
            let route = format!("route-private-{z}-nat");
            c.add(
                Stage::Network,
                &route,
                &ManagedResource::new(
                    spoke,
                    ROUTE,
                    &route,
                    Route {
                        region,
                        route_table_id_selector: Selector::resource(&private_route_table),
                        destination_cidr_block: "0.0.0.0/0",
                        gateway_id_selector: None,
                        nat_gateway_id_selector: Some(Selector::resource(&format!(
                            "nat-gateway-{nat_zone}"
                        ))),
                    },
                ),
            );
        }
        associate(
            c,
            region,
            &format!("route-table-association-private-{z}"),
            &private_route_table,
            &private_subnet,
        );
    }

    // --- Cluster ---------------------------------------------------------
    role(c, Stage::Cluster, "cluster-role", "eks.amazonaws.com", tags);
    attach(
        c,
        Stage::Cluster,
        "cluster-role-policy",
        "cluster-role",
        &managed_policy(partition, "AmazonEKSClusterPolicy"),
    );

    let api_endpoint = &spoke.spec.network.api_endpoint;
    let cluster_name = spoke.cluster_name();
    c.add(
        Stage::Cluster,
        "cluster",
        &ManagedResource::new(
            spoke,
            CLUSTER,
            "cluster",
            Cluster {
                region,
                version: spoke.kubernetes_version.clone(),
                role_arn_selector: Selector::resource("cluster-role"),
                vpc_config: VpcConfig {
                    subnet_id_selector: Selector::role(PRIVATE_SUBNETS),
                    endpoint_public_access: api_endpoint.public,
                    endpoint_private_access: api_endpoint.private,
                    public_access_cidrs: if api_endpoint.public {
                        api_endpoint.allowed_cidrs.clone()
                    } else {
                        Vec::new()
                    },
                },
                access_config: AccessConfig {
                    // Access entries (the admin below) need the API mode.
                    authentication_mode: "API_AND_CONFIG_MAP",
                    // The provider's own principal needs access for ClusterAuth.
                    bootstrap_cluster_creator_admin_permissions: true,
                },
                kubernetes_network_config: KubernetesNetworkConfig {
                    ip_family: "ipv4",
                    service_ipv4_cidr: spoke.network.services.to_string(),
                },
                tags,
            },
        )
        .external_name(cluster_name),
    );
    c.add(
        Stage::Cluster,
        "cluster-auth",
        &ManagedResource::new(
            spoke,
            CLUSTER_AUTH,
            "cluster-auth",
            ClusterAuth {
                region,
                cluster_name_selector: Selector::resource("cluster"),
                refresh_period: KUBECONFIG_REFRESH,
            },
        )
        .connection_secret(spoke, spoke.kubeconfig_secret_name()),
    );
    let endpoint = c
        .observed_str("cluster", "/status/atProvider/endpoint")
        .map(String::from);
    c.report_cluster(endpoint);

    // --- Node pools ------------------------------------------------------
    role(c, Stage::NodePools, "node-role", "ec2.amazonaws.com", tags);
    for (name, policy) in [
        ("node-role-worker-policy", "AmazonEKSWorkerNodePolicy"),
        ("node-role-cni-policy", "AmazonEKS_CNI_Policy"),
        ("node-role-ecr-policy", "AmazonEC2ContainerRegistryReadOnly"),
    ] {
        attach(
            c,
            Stage::NodePools,
            name,
            "node-role",
            &managed_policy(partition, policy),
        );
    }
    for (pool, instance_type) in spoke.spec.node_pools.iter().zip(&spoke.instance_types) {
        let name = format!("nodegroup-{}", pool.name);
        c.add(
            Stage::NodePools,
            &name,
            &ManagedResource::new(
                spoke,
                NODE_GROUP,
                &name,
                NodeGroup {
                    region,
                    cluster_name_selector: Selector::resource("cluster"),
                    node_role_arn_selector: Selector::resource("node-role"),
                    subnet_id_selector: Selector::role(PRIVATE_SUBNETS),
                    version: spoke.kubernetes_version.clone(),
                    ami_type: aws.ami_type,
                    capacity_type: "ON_DEMAND",
                    instance_types: vec![instance_type.clone()],
                    scaling_config: Scaling {
                        min_size: pool.min_size,
                        max_size: pool.max_size,
                    },
                    update_config: UpdateConfig {
                        max_unavailable_percentage: 33,
                    },
                    labels: pool.labels.clone(),
                    taint: pool
                        .taints
                        .iter()
                        .map(|t| NodeTaint {
                            key: t.key.clone(),
                            value: t.value.clone(),
                            effect: eks_taint_effect(t.effect),
                        })
                        .collect(),
                    tags,
                },
            )
            // The cluster autoscaler owns the size once the group exists.
            .init_provider(NodeGroupInit {
                scaling_config: DesiredSize {
                    desired_size: pool.initial_size(),
                },
            })
            .external_name(&pool.name),
        );
        // EKS refuses to delete a cluster that still has node groups.
        usage::add(
            c,
            Stage::NodePools,
            (&NODE_GROUP, &name),
            (&CLUSTER, "cluster"),
        );
    }
    for addon in &spoke.input.aws.addons {
        let name = format!("addon-{addon}");
        c.add(
            Stage::NodePools,
            &name,
            &ManagedResource::new(
                spoke,
                ADDON,
                &name,
                Addon {
                    region,
                    cluster_name_selector: Selector::resource("cluster"),
                    addon_name: addon.clone(),
                    // EKS installs self-managed copies of the core add-ons at
                    // creation; the managed add-on takes them over.
                    resolve_conflicts_on_create: "OVERWRITE",
                    resolve_conflicts_on_update: "PRESERVE",
                    tags,
                },
            ),
        );
    }

    // --- Access ----------------------------------------------------------
    c.add(
        Stage::Access,
        "access-entry-admin",
        &ManagedResource::new(
            spoke,
            ACCESS_ENTRY,
            "access-entry-admin",
            AccessEntry {
                region,
                cluster_name_selector: Selector::resource("cluster"),
                principal_arn: aws.admin_principal_arn.clone(),
                r#type: "STANDARD",
                tags,
            },
        ),
    );
    c.add(
        Stage::Access,
        "access-policy-admin",
        &ManagedResource::new(
            spoke,
            ACCESS_POLICY_ASSOCIATION,
            "access-policy-admin",
            AccessPolicyAssociation {
                region,
                cluster_name_selector: Selector::resource("cluster"),
                // Selecting the entry orders the association after it.
                principal_arn_selector: Selector::resource("access-entry-admin"),
                policy_arn: format!(
                    "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                ),
                access_scope: AccessScope { r#type: "cluster" },
            },
        ),
    );
}

/// The AWS partition a region belongs to, for the ARNs of AWS-managed policies.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn managed_policy(partition: &str, name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{name}")
}

fn with(tags: &BTreeMap<String, String>, key: &str, value: &str) -> BTreeMap<String, String> {
    let mut tags = tags.clone();
    tags.insert(key.to_string(), value.to_string());
    tags
}

fn eks_taint_effect(effect: TaintEffect) -> &'static str {
    match effect {
        TaintEffect::NoSchedule => "NO_SCHEDULE",
        TaintEffect::PreferNoSchedule => "PREFER_NO_SCHEDULE",
        TaintEffect::NoExecute => "NO_EXECUTE",
    }
}

fn associate(c: &mut Composition<'_>, region: &str, name: &str, route_table: &str, subnet: &str) {
    let association = ManagedResource::new(
        c.spoke,
        ROUTE_TABLE_ASSOCIATION,
        name,
        RouteTableAssociation {
            region,
            route_table_id_selector: Selector::resource(route_table),
            subnet_id_selector: Selector::resource(subnet),
        },
    );
    c.add(Stage::Network, name, &association);
}

/// An IAM role the given AWS service may assume.
fn role(
    c: &mut Composition<'_>,
    stage: Stage,
    name: &str,
    service: &str,
    tags: &BTreeMap<String, String>,
) {
    let trust = TrustPolicy {
        version: "2012-10-17",
        statement: vec![TrustStatement {
            effect: "Allow",
            principal: ServicePrincipal {
                service: service.to_string(),
            },
            action: "sts:AssumeRole",
        }],
    };
    let role = ManagedResource::new(
        c.spoke,
        ROLE,
        name,
        Role {
            // A policy document of our own fixed shape always serializes.
            assume_role_policy: serde_json::to_string(&trust).unwrap_or_default(),
            description: format!(
                "{} of spoke {}",
                name.replace('-', " "),
                c.spoke.cluster_name()
            ),
            tags,
        },
    );
    c.add(stage, name, &role);
}

fn attach(c: &mut Composition<'_>, stage: Stage, name: &str, role: &str, policy_arn: &str) {
    let attachment = ManagedResource::new(
        c.spoke,
        ROLE_POLICY_ATTACHMENT,
        name,
        RolePolicyAttachment {
            policy_arn: policy_arn.to_string(),
            role_selector: Selector::resource(role),
        },
    );
    c.add(stage, name, &attachment);
}

// The `forProvider` shapes, as in the provider-upjet-aws v2 CRDs.

type Tags = BTreeMap<String, String>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Vpc<'a> {
    region: &'a str,
    cidr_block: String,
    enable_dns_hostnames: bool,
    enable_dns_support: bool,
    tags: &'a Tags,
}

/// Internet gateways and route tables: a VPC and tags.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InVpc<'a> {
    region: &'a str,
    vpc_id_selector: Selector,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Subnet<'a> {
    region: &'a str,
    vpc_id_selector: Selector,
    cidr_block: String,
    availability_zone: String,
    map_public_ip_on_launch: bool,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Eip<'a> {
    region: &'a str,
    domain: &'static str,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NatGateway<'a> {
    region: &'a str,
    connectivity_type: &'static str,
    allocation_id_selector: Selector,
    subnet_id_selector: Selector,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Route<'a> {
    region: &'a str,
    route_table_id_selector: Selector,
    destination_cidr_block: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_id_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nat_gateway_id_selector: Option<Selector>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteTableAssociation<'a> {
    region: &'a str,
    route_table_id_selector: Selector,
    subnet_id_selector: Selector,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Role<'a> {
    assume_role_policy: String,
    description: String,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TrustPolicy {
    version: &'static str,
    statement: Vec<TrustStatement>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TrustStatement {
    effect: &'static str,
    principal: ServicePrincipal,
    action: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServicePrincipal {
    service: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RolePolicyAttachment {
    policy_arn: String,
    role_selector: Selector,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Cluster<'a> {
    region: &'a str,
    version: String,
    role_arn_selector: Selector,
    vpc_config: VpcConfig,
    access_config: AccessConfig,
    kubernetes_network_config: KubernetesNetworkConfig,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VpcConfig {
    subnet_id_selector: Selector,
    endpoint_public_access: bool,
    endpoint_private_access: bool,
    /// Empty means EKS's default, anywhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    public_access_cidrs: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessConfig {
    authentication_mode: &'static str,
    bootstrap_cluster_creator_admin_permissions: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubernetesNetworkConfig {
    ip_family: &'static str,
    service_ipv4_cidr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterAuth<'a> {
    region: &'a str,
    cluster_name_selector: Selector,
    refresh_period: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeGroup<'a> {
    region: &'a str,
    cluster_name_selector: Selector,
    node_role_arn_selector: Selector,
    subnet_id_selector: Selector,
    version: String,
    ami_type: AmiType,
    capacity_type: &'static str,
    instance_types: Vec<String>,
    scaling_config: Scaling,
    update_config: UpdateConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    taint: Vec<NodeTaint>,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Scaling {
    min_size: u32,
    max_size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeGroupInit {
    scaling_config: DesiredSize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DesiredSize {
    desired_size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConfig {
    max_unavailable_percentage: u32,
}

#[derive(Serialize)]
struct NodeTaint {
    key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
    effect: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Addon<'a> {
    region: &'a str,
    cluster_name_selector: Selector,
    addon_name: String,
    resolve_conflicts_on_create: &'static str,
    resolve_conflicts_on_update: &'static str,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntry<'a> {
    region: &'a str,
    cluster_name_selector: Selector,
    principal_arn: String,
    r#type: &'static str,
    tags: &'a Tags,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessPolicyAssociation<'a> {
    region: &'a str,
    cluster_name_selector: Selector,
    principal_arn_selector: Selector,
    policy_arn: String,
    access_scope: AccessScope,
}

#[derive(Serialize)]
struct AccessScope {
    r#type: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_policies_follow_the_regions_partition() {
        assert_eq!(
            managed_policy(partition("eu-west-1"), "X"),
            "arn:aws:iam::aws:policy/X"
        );
        assert_eq!(
            managed_policy(partition("cn-north-1"), "X"),
            "arn:aws-cn:iam::aws:policy/X"
        );
        assert_eq!(
            managed_policy(partition("us-gov-west-1"), "X"),
            "arn:aws-us-gov:iam::aws:policy/X"
        );
    }
}
