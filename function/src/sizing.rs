//! Does the network hold what the node pools may grow to? Refused with the
//! arithmetic when it cannot; a warning above 80% at `maxSize`.
//!
//! EKS (VPC CNI): every node takes its own address and one per pod from its
//! zone's private subnet, and nodes spread evenly over the zones. AKS (Azure
//! CNI overlay, what `compose/azure.rs` sets): nodes take addresses from the
//! node subnet, pods from the overlay range, one /24 per node. AWS and Azure
//! both keep 5 addresses of every subnet.

use ipnet::Ipv4Net;

use crate::network::NetworkPlan;
use crate::spoke::{Cloud, NodePool};
use crate::validate::Invalid;

/// Addresses AWS and Azure keep in every subnet (network, router, DNS,
/// future use, broadcast).
pub const RESERVED_PER_SUBNET: u64 = 5;
/// Above this share of a range at `maxSize`, the spoke gets a warning.
pub const WARN_PERCENT: u64 = 80;
/// The overlay range AKS gives each node.
const AKS_NODE_POD_PREFIX: u8 = 24;

/// What a network holds against what the pools need.
#[derive(Debug, Default, PartialEq)]
pub struct Sizing {
    pub errors: Vec<Invalid>,
    pub warnings: Vec<String>,
}

pub fn check(
    cloud: Cloud,
    plan: &NetworkPlan,
    pools: &[NodePool],
    max_pods_per_node: u32,
) -> Sizing {
    let mut out = Sizing::default();
    let nodes: u64 = pools.iter().map(|p| u64::from(p.max_size)).sum();
    match cloud {
        Cloud::Aws => {
            let zones = plan.zones.len().max(1) as u64;
            let Some(subnet) = plan.zones.first().and_then(|z| z.private_subnet) else {
                return out;
            };
            let per_zone = nodes.div_ceil(zones);
            let per_node = 1 + u64::from(max_pods_per_node);
            let need = per_zone * per_node;
            let have = usable(subnet);
            let arithmetic = format!(
                "each of the {zones} private subnets (/{p}, {total} addresses - {RESERVED_PER_SUBNET} reserved = {have}) must hold {per_zone} nodes (maxSize {nodes} over {zones} zones, rounded up) x (1 node address + {max_pods_per_node} pod addresses) = {need}",
                p = subnet.prefix_len(),
                total = have + RESERVED_PER_SUBNET,
            );
            judge(
                &mut out,
                "spec.network.vpcCidr",
                plan.vpc,
                need,
                have,
                &arithmetic,
            );
        }
        Cloud::Azure => {
            if let Some(subnet) = plan.node_subnet {
                let have = usable(subnet);
                let arithmetic = format!(
                    "the node subnet (/{p}, {total} addresses - {RESERVED_PER_SUBNET} reserved = {have}) must hold maxSize {nodes} nodes",
                    p = subnet.prefix_len(),
                    total = have + RESERVED_PER_SUBNET,
                );
                judge(
                    &mut out,
                    "spec.network.vpcCidr",
                    plan.vpc,
                    nodes,
                    have,
                    &arithmetic,
                );
            }
            if let Some(pods) = plan.pods {
                let have = 1u64 << AKS_NODE_POD_PREFIX.saturating_sub(pods.prefix_len());
                let arithmetic = format!(
                    "the overlay range gives each node a /{AKS_NODE_POD_PREFIX}: {have} of them for maxSize {nodes} nodes"
                );
                judge(
                    &mut out,
                    "spec.network.podCidr",
                    pods,
                    nodes,
                    have,
                    &arithmetic,
                );
            }
        }
    }
    out
}

fn usable(subnet: Ipv4Net) -> u64 {
    (1u64 << (32 - u32::from(subnet.prefix_len()))).saturating_sub(RESERVED_PER_SUBNET)
}

fn judge(out: &mut Sizing, field: &str, range: Ipv4Net, need: u64, have: u64, arithmetic: &str) {
    if need > have {
        out.errors.push(Invalid::new(
            field,
            range,
            format!("is too small for the node pools at maxSize: {arithmetic}; use a larger range or smaller pools"),
        ));
    } else if need * 100 > have * WARN_PERCENT {
        out.warnings.push(format!(
            "{field} {range} will be {}% used at maxSize ({need} of {have}), above {WARN_PERCENT}%: {arithmetic}",
            need * 100 / have.max(1)
        ));
    }
}
