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
use super::{Composition, Stage, names, usage};
use ipnet::Ipv4Net;

use crate::network::ZonePlan;
use crate::spoke::{AmiType, NatMode, NodePool, TaintEffect};

const VPC: Api = Api::v1beta1("ec2.aws", "VPC");
const SUBNET: Api = Api::v1beta1("ec2.aws", "Subnet");
const INTERNET_GATEWAY: Api = Api::v1beta1("ec2.aws", "InternetGateway");
const EIP: Api = Api::v1beta1("ec2.aws", "EIP");
const NAT_GATEWAY: Api = Api::v1beta1("ec2.aws", "NATGateway");
const ROUTE_TABLE: Api = Api::v1beta1("ec2.aws", "RouteTable");
/// The cluster-scoped Route's storage version is v1beta2 (same shape).
const ROUTE: Api = Api::upjet("ec2.aws", "Route", "v1beta1", "v1beta2");
const ROUTE_TABLE_ASSOCIATION: Api = Api::v1beta1("ec2.aws", "RouteTableAssociation");
const ROLE: Api = Api::v1beta1("iam.aws", "Role");
const ROLE_POLICY_ATTACHMENT: Api = Api::v1beta1("iam.aws", "RolePolicyAttachment");
pub(super) const CLUSTER: Api = Api::upjet("eks.aws", "Cluster", "v1beta1", "v1beta2");
pub(super) const CLUSTER_AUTH: Api = Api::v1beta1("eks.aws", "ClusterAuth");
const NODE_GROUP: Api = Api::upjet("eks.aws", "NodeGroup", "v1beta1", "v1beta2");
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

/// Composes the EKS half, part by part, in the order the spoke comes up.
pub fn compose(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let Some(aws) = spoke.spec.aws.as_ref() else {
        return;
    };
    network(c);
    cluster(c);
    node_pools(c, aws.ami_type);
    addons(c);
    access(c, &aws.admin_principal_arn);
}

/// The VPC, its internet gateway and public route, then each zone's subnets.
fn network(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let region = spoke.spec.region.as_str();
    let tags = &spoke.tags;
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
    route_table(c, PUBLIC_ROUTE_TABLE);
    route(
        c,
        "route-public-internet",
        PUBLIC_ROUTE_TABLE,
        Egress::Internet,
    );
    for zone in &spoke.network.zones {
        zone_network(c, zone);
    }
}

const PUBLIC_ROUTE_TABLE: &str = "route-table-public";

/// One zone: a public subnet (NAT gateways and load balancers only) and a
/// private one (nodes), which egresses through a NAT gateway as
/// `spec.network.natMode` says.
fn zone_network(c: &mut Composition<'_>, zone: &ZonePlan) {
    let (Some(private_cidr), Some(public_cidr)) = (zone.private_subnet, zone.public_subnet) else {
        return;
    };
    let z = zone.suffix;
    let public_subnet = format!("subnet-public-{z}");
    subnet(c, &public_subnet, zone, public_cidr, Tier::Public);
    associate(
        c,
        &format!("route-table-association-public-{z}"),
        PUBLIC_ROUTE_TABLE,
        &public_subnet,
    );

    let private_subnet = format!("subnet-private-{z}");
    subnet(c, &private_subnet, zone, private_cidr, Tier::Private);
    let nat_zone = nat_zone(c, z);
    if nat_zone == Some(z) {
        nat_gateway(c, z, &public_subnet);
    }
    let private_route_table = format!("route-table-private-{z}");
    route_table(c, &private_route_table);
    if let Some(nat_zone) = nat_zone {
        route(
            c,
            &format!("route-private-{z}-nat"),
            &private_route_table,
            Egress::Nat(nat_zone),
        );
    }
    associate(
        c,
        &format!("route-table-association-private-{z}"),
        &private_route_table,
        &private_subnet,
    );
}

/// Which zone's NAT gateway a zone's private subnets egress through: their
/// own (`PerZone`), the first zone's (`Single`), or none (`None`).
fn nat_zone(c: &Composition<'_>, zone: char) -> Option<char> {
    let spoke = c.spoke;
    match spoke.spec.network.nat_mode {
        NatMode::PerZone => Some(zone),
        NatMode::Single => spoke.network.zones.first().map(|first| first.suffix),
        NatMode::None => None,
    }
}

/// Public subnets hold load balancers facing the internet, private ones
/// the internal ones: each tier carries the tag the load balancer
/// controller looks for.
enum Tier {
    Public,
    Private,
}

fn subnet(c: &mut Composition<'_>, name: &str, zone: &ZonePlan, cidr: Ipv4Net, tier: Tier) {
    let spoke = c.spoke;
    let (elb_tag, selection) = match tier {
        Tier::Public => (ELB_TAG, PUBLIC_SUBNETS),
        Tier::Private => (INTERNAL_ELB_TAG, PRIVATE_SUBNETS),
    };
    c.add(
        Stage::Network,
        name,
        &ManagedResource::new(
            spoke,
            SUBNET,
            name,
            Subnet {
                region: &spoke.spec.region,
                vpc_id_selector: Selector::resource("vpc"),
                cidr_block: cidr.to_string(),
                availability_zone: zone.zone.clone(),
                // Only NAT gateways and load balancers live in public
                // subnets: no instance gets a public address by accident.
                map_public_ip_on_launch: false,
                tags: &with(&spoke.tags, elb_tag, "1"),
            },
        )
        .role(selection),
    );
}

/// A zone's NAT gateway, in its public subnet, with its Elastic IP.
fn nat_gateway(c: &mut Composition<'_>, z: char, public_subnet: &str) {
    let spoke = c.spoke;
    let region = spoke.spec.region.as_str();
    let tags = &spoke.tags;
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
                subnet_id_selector: Selector::resource(public_subnet),
                tags,
            },
        ),
    );
}

fn route_table(c: &mut Composition<'_>, name: &str) {
    let spoke = c.spoke;
    c.add(
        Stage::Network,
        name,
        &ManagedResource::new(
            spoke,
            ROUTE_TABLE,
            name,
            InVpc {
                region: &spoke.spec.region,
                vpc_id_selector: Selector::resource("vpc"),
                tags: &spoke.tags,
            },
        ),
    );
}

/// Where a default route leads.
enum Egress {
    Internet,
    /// The NAT gateway of this zone.
    Nat(char),
}

/// The default route (`0.0.0.0/0`) of a route table.
fn route(c: &mut Composition<'_>, name: &str, route_table: &str, egress: Egress) {
    let (gateway_id_selector, nat_gateway_id_selector) = match egress {
        Egress::Internet => (Some(Selector::resource("internet-gateway")), None),
        Egress::Nat(zone) => (
            None,
            Some(Selector::resource(&format!("nat-gateway-{zone}"))),
        ),
    };
    let spoke = c.spoke;
    c.add(
        Stage::Network,
        name,
        &ManagedResource::new(
            spoke,
            ROUTE,
            name,
            Route {
                region: &spoke.spec.region,
                route_table_id_selector: Selector::resource(route_table),
                destination_cidr_block: "0.0.0.0/0",
                gateway_id_selector,
                nat_gateway_id_selector,
            },
        ),
    );
}

/// The control plane: its IAM role, the EKS cluster in the private subnets,
/// and the ClusterAuth that publishes its kubeconfig.
fn cluster(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let region = spoke.spec.region.as_str();
    role(c, Stage::Cluster, "cluster-role", "eks.amazonaws.com");
    attach(
        c,
        Stage::Cluster,
        "cluster-role-policy",
        "cluster-role",
        &managed_policy(partition(region), "AmazonEKSClusterPolicy"),
    );
    let api_endpoint = &spoke.spec.network.api_endpoint;
    c.add(
        Stage::Cluster,
        names::CLUSTER,
        &ManagedResource::new(
            spoke,
            CLUSTER,
            names::CLUSTER,
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
                tags: &spoke.tags,
            },
        )
        .external_name(spoke.cluster_name()),
    );
    c.add(
        Stage::Cluster,
        names::CLUSTER_AUTH,
        &ManagedResource::new(
            spoke,
            CLUSTER_AUTH,
            names::CLUSTER_AUTH,
            ClusterAuth {
                region,
                cluster_name_selector: Selector::resource(names::CLUSTER),
                refresh_period: KUBECONFIG_REFRESH,
            },
        )
        .connection_secret(spoke, spoke.kubeconfig_secret_name()),
    );
    let endpoint = c
        .observed_str(names::CLUSTER, "/status/atProvider/endpoint")
        .map(String::from);
    c.report_cluster(endpoint);
}

/// The nodes' IAM role with the policies EKS nodes need, then one managed
/// node group per pool.
fn node_pools(c: &mut Composition<'_>, ami_type: AmiType) {
    let spoke = c.spoke;
    let partition = partition(&spoke.spec.region);
    role(c, Stage::NodePools, "node-role", "ec2.amazonaws.com");
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
        node_group(c, pool, instance_type, ami_type);
    }
}

fn node_group(c: &mut Composition<'_>, pool: &NodePool, instance_type: &str, ami_type: AmiType) {
    let spoke = c.spoke;
    let name = format!("nodegroup-{}", pool.name);
    c.add(
        Stage::NodePools,
        &name,
        &ManagedResource::new(
            spoke,
            NODE_GROUP,
            &name,
            NodeGroup {
                region: &spoke.spec.region,
                cluster_name_selector: Selector::resource(names::CLUSTER),
                node_role_arn_selector: Selector::resource("node-role"),
                subnet_id_selector: Selector::role(PRIVATE_SUBNETS),
                version: spoke.kubernetes_version.clone(),
                ami_type,
                capacity_type: "ON_DEMAND",
                instance_types: vec![instance_type.to_string()],
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
                tags: &spoke.tags,
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
        (&CLUSTER, names::CLUSTER),
    );
}

/// The Input's managed add-ons, on every cluster.
fn addons(c: &mut Composition<'_>) {
    let spoke = c.spoke;
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
                    region: &spoke.spec.region,
                    cluster_name_selector: Selector::resource(names::CLUSTER),
                    addon_name: addon.clone(),
                    // EKS installs self-managed copies of the core add-ons at
                    // creation; the managed add-on takes them over.
                    resolve_conflicts_on_create: "OVERWRITE",
                    resolve_conflicts_on_update: "PRESERVE",
                    tags: &spoke.tags,
                },
            ),
        );
    }
}

/// The claim's admin principal gets cluster-admin through an access entry.
fn access(c: &mut Composition<'_>, admin_principal_arn: &str) {
    grant_cluster_access(
        c,
        Stage::Access,
        ("access-entry-admin", "access-policy-admin"),
        Principal::Arn(admin_principal_arn.to_string()),
        "AmazonEKSClusterAdminPolicy",
    );
}

/// Who an access entry is for: an ARN, or a composed IAM role (selected, so
/// the entry waits for it).
pub(super) enum Principal<'a> {
    Arn(String),
    Role(&'a str),
}

/// An EKS access entry for `principal` and the association of the EKS
/// access policy `policy` with it, cluster-wide; `names` are the entry's and
/// the association's composition resource names.
pub(super) fn grant_cluster_access(
    c: &mut Composition<'_>,
    stage: Stage,
    names: (&str, &str),
    principal: Principal<'_>,
    policy: &str,
) {
    let spoke = c.spoke;
    let region = spoke.spec.region.as_str();
    let (principal_arn, principal_arn_from_role_selector) = match principal {
        Principal::Arn(arn) => (Some(arn), None),
        Principal::Role(role) => (None, Some(Selector::resource(role))),
    };
    c.add(
        stage,
        names.0,
        &ManagedResource::new(
            spoke,
            ACCESS_ENTRY,
            names.0,
            AccessEntry {
                region,
                cluster_name_selector: Selector::resource(names::CLUSTER),
                principal_arn,
                principal_arn_from_role_selector,
                r#type: "STANDARD",
                tags: &spoke.tags,
            },
        ),
    );
    c.add(
        stage,
        names.1,
        &ManagedResource::new(
            spoke,
            ACCESS_POLICY_ASSOCIATION,
            names.1,
            AccessPolicyAssociation {
                region,
                cluster_name_selector: Selector::resource(names::CLUSTER),
                // Selecting the entry orders the association after it.
                principal_arn_selector: Selector::resource(names.0),
                policy_arn: format!(
                    "arn:{}:eks::aws:cluster-access-policy/{policy}",
                    partition(region)
                ),
                access_scope: AccessScope { r#type: "cluster" },
            },
        ),
    );
}

/// The AWS partition a region belongs to, for the ARNs of AWS-managed policies.
pub(super) fn partition(region: &str) -> &'static str {
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

fn associate(c: &mut Composition<'_>, name: &str, route_table: &str, subnet: &str) {
    let spoke = c.spoke;
    let association = ManagedResource::new(
        spoke,
        ROUTE_TABLE_ASSOCIATION,
        name,
        RouteTableAssociation {
            region: &spoke.spec.region,
            route_table_id_selector: Selector::resource(route_table),
            subnet_id_selector: Selector::resource(subnet),
        },
    );
    c.add(Stage::Network, name, &association);
}

/// An IAM role the given AWS service may assume.
fn role(c: &mut Composition<'_>, stage: Stage, name: &str, service: &str) {
    let spoke = c.spoke;
    trusting_role(
        c,
        stage,
        name,
        TrustedPrincipal::Service(service.to_string()),
        &spoke.tags,
    );
}

/// Who may assume a role.
#[derive(Serialize)]
pub(super) enum TrustedPrincipal {
    /// An AWS service, e.g. `eks.amazonaws.com`.
    Service(String),
    /// An IAM principal (role or account) ARN.
    #[serde(rename = "AWS")]
    Aws(String),
}

/// An IAM role `principal` may assume, with no permissions of its own
/// unless attached.
pub(super) fn trusting_role(
    c: &mut Composition<'_>,
    stage: Stage,
    name: &str,
    principal: TrustedPrincipal,
    tags: &BTreeMap<String, String>,
) {
    let trust = TrustPolicy {
        version: "2012-10-17",
        statement: vec![TrustStatement {
            effect: "Allow",
            principal,
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
    principal: TrustedPrincipal,
    action: &'static str,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_arn_from_role_selector: Option<Selector>,
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
