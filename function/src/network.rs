//! CIDR planning: checks the claim's ranges and carves the VPC/VNet into
//! subnets. Every failure names the field, the value and the rule.

use ipnet::Ipv4Net;

use crate::spoke::{Cloud, DEFAULT_POD_CIDR, Network};
use crate::validate::Invalid;

/// Private address space a spoke may use (RFC 1918).
const RFC1918: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
/// Shared address space (RFC 6598), allowed for Azure pod overlays.
const RFC6598: &str = "100.64.0.0/10";
/// Ranges AKS rejects for VNet, pod and service CIDRs.
const AKS_RESERVED: [&str; 4] = [
    "169.254.0.0/16",
    "172.30.0.0/16",
    "172.31.0.0/16",
    "192.0.2.0/24",
];

/// AWS: the smallest subnet AWS accepts.
const AWS_MIN_SUBNET_PREFIX: u8 = 28;

/// The addressing of a spoke, all checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPlan {
    pub vpc: Ipv4Net,
    pub pods: Option<Ipv4Net>,
    pub services: Ipv4Net,
    /// One entry per zone, in zone order.
    pub zones: Vec<ZonePlan>,
    /// Azure: the node subnet (the first half of the VNet).
    pub node_subnet: Option<Ipv4Net>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ZonePlan {
    /// Zone name: `eu-west-1a` on AWS, `1` on Azure.
    pub zone: String,
    /// Short suffix used in composition resource names: `a`, `b`, `c`.
    pub suffix: char,
    /// AWS only: subnets in this zone.
    pub private_subnet: Option<Ipv4Net>,
    pub public_subnet: Option<Ipv4Net>,
}

/// Checks the claim's network and plans subnets, or says what is wrong.
///
/// `zone_names` are the zones the platform knows in `region` (the Input's
/// `zones`, or the cloud's usual names).
pub fn plan(
    cloud: Cloud,
    region: &str,
    network: &Network,
    zone_names: &[String],
) -> Result<NetworkPlan, Vec<Invalid>> {
    let mut errors = Vec::new();
    let vpc = match network.vpc_cidr.as_deref() {
        Some(vpc) => parse_private("spec.network.vpcCidr", vpc, cloud, false, &mut errors),
        None => {
            errors.push(Invalid::new(
                "spec.network.vpcCidr",
                "",
                "must be set, or allocated from the function input's addressPlan",
            ));
            None
        }
    };
    let services = parse_private(
        "spec.network.serviceCidr",
        &network.service_cidr,
        cloud,
        false,
        &mut errors,
    );
    let pods = match (cloud, &network.pod_cidr) {
        (Cloud::Aws, Some(value)) => {
            errors.push(Invalid::new(
                "spec.network.podCidr",
                value,
                "applies to azure only: on aws, pods take addresses from the private subnets (VPC CNI)",
            ));
            None
        }
        (Cloud::Aws, None) => None,
        (Cloud::Azure, value) => {
            let value = value.as_deref().unwrap_or(DEFAULT_POD_CIDR);
            parse_private("spec.network.podCidr", value, cloud, true, &mut errors)
        }
    };
    for (i, cidr) in network.api_endpoint.allowed_cidrs.iter().enumerate() {
        if cidr
            .parse::<Ipv4Net>()
            .map(|n| n.trunc() != n)
            .unwrap_or(true)
        {
            errors.push(Invalid::new(
                format!("spec.network.apiEndpoint.allowedCidrs[{i}]"),
                cidr,
                "must be an IPv4 network address in CIDR notation, e.g. 203.0.113.0/24",
            ));
        }
    }

    if let Some(services) = services {
        let (min, max) = match cloud {
            Cloud::Aws => (12, 24),
            Cloud::Azure => (13, 24),
        };
        if services.prefix_len() < min || services.prefix_len() > max {
            errors.push(Invalid::new(
                "spec.network.serviceCidr",
                services,
                format!("must be between /{min} and /{max} on {}", cloud.as_str()),
            ));
        }
    }

    let named = [
        ("spec.network.vpcCidr", vpc),
        ("spec.network.podCidr", pods),
        ("spec.network.serviceCidr", services),
    ];
    for (i, (field_a, a)) in named.iter().enumerate() {
        for (field_b, b) in &named[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && (a.contains(&b.network()) || b.contains(&a.network()))
            {
                errors.push(Invalid::new(*field_b, b, format!("overlaps {field_a} {a}")));
            }
        }
    }

    let zones_wanted = usize::from(network.availability_zones);
    if let Some(error) = zone_count(cloud, region, zones_wanted, zone_names) {
        errors.push(error);
    }

    let mut zones = Vec::new();
    let mut node_subnet = None;
    if let Some(vpc) = vpc.filter(|_| errors.is_empty()) {
        match cloud {
            Cloud::Aws => match aws_subnets(vpc, zones_wanted) {
                Ok(subnets) => {
                    zones = subnets
                        .into_iter()
                        .zip(zone_names)
                        .zip(['a', 'b', 'c'])
                        .map(|(((private, public), zone), suffix)| ZonePlan {
                            zone: zone.clone(),
                            suffix,
                            private_subnet: Some(private),
                            public_subnet: Some(public),
                        })
                        .collect();
                }
                Err(rule) => errors.push(Invalid::new("spec.network.vpcCidr", vpc, rule)),
            },
            Cloud::Azure => {
                if vpc.prefix_len() < 8 || vpc.prefix_len() > 24 {
                    errors.push(Invalid::new(
                        "spec.network.vpcCidr",
                        vpc,
                        "must be between /8 and /24 on azure",
                    ));
                } else {
                    node_subnet = vpc
                        .subnets(vpc.prefix_len() + 1)
                        .ok()
                        .and_then(|mut s| s.next());
                    zones = zone_names
                        .iter()
                        .take(zones_wanted)
                        .zip(['a', 'b', 'c'])
                        .map(|(zone, suffix)| ZonePlan {
                            zone: zone.clone(),
                            suffix,
                            private_subnet: None,
                            public_subnet: None,
                        })
                        .collect();
                }
            }
        }
    }

    match (vpc, services) {
        (Some(vpc), Some(services)) if errors.is_empty() => Ok(NetworkPlan {
            vpc,
            pods,
            services,
            zones,
            node_subnet,
        }),
        _ => Err(errors),
    }
}

/// The zone count must be one the platform spreads over and the region
/// offers. Says which region, how many were asked for, and which setting
/// (the claim's count or the Input's zone list) would fix it.
fn zone_count(cloud: Cloud, region: &str, wanted: usize, known: &[String]) -> Option<Invalid> {
    let field = "spec.network.availabilityZones";
    let c = cloud.as_str();
    let offered = match known.len() {
        0 => "none".to_string(),
        n => format!("{n} ({})", known.join(", ")),
    };
    if !(2..=3).contains(&wanted) {
        return Some(Invalid::new(
            field,
            wanted,
            format!(
                "must be 2 or 3: EKS needs subnets in at least two zones, and the platform spreads over at most three \
                 (asked for {wanted} in region {region}, where the platform knows {offered}): set {field} to 2 or 3"
            ),
        ));
    }
    if known.len() < wanted {
        let fewer = if known.len() >= 2 {
            format!("set {field} to {}, or ", known.len())
        } else {
            String::new()
        };
        return Some(Invalid::new(
            field,
            wanted,
            format!(
                "asks for {wanted} zones in region {region}, where the platform knows only {offered}: \
                 {fewer}list {wanted} zones for {region} in the Input's input.{c}.zones[{region}]"
            ),
        ));
    }
    None
}

/// Splits a VPC into one private subnet per zone (a quarter each) and one
/// public subnet per zone (a sixteenth each, carved from the last quarter).
fn aws_subnets(vpc: Ipv4Net, zones: usize) -> Result<Vec<(Ipv4Net, Ipv4Net)>, String> {
    let private_prefix = vpc.prefix_len() + 2;
    let public_prefix = vpc.prefix_len() + 4;
    if vpc.prefix_len() < 16 {
        return Err("must be between /16 and /24 on aws (AWS allows no larger VPC)".to_string());
    }
    if public_prefix > AWS_MIN_SUBNET_PREFIX {
        return Err(format!(
            "is too small: {zones} zones need private subnets of /{private_prefix} and public subnets of /{public_prefix}, \
             and AWS subnets must be /{AWS_MIN_SUBNET_PREFIX} or larger (use /24 or larger)"
        ));
    }
    let quarters: Vec<Ipv4Net> = vpc
        .subnets(private_prefix)
        .map_err(|e| e.to_string())?
        .collect();
    let publics: Vec<Ipv4Net> = quarters[3]
        .subnets(public_prefix)
        .map_err(|e| e.to_string())?
        .collect();
    Ok(quarters.into_iter().zip(publics).take(zones).collect())
}

fn parse_private(
    field: &str,
    value: &str,
    cloud: Cloud,
    allow_shared: bool,
    errors: &mut Vec<Invalid>,
) -> Option<Ipv4Net> {
    let Ok(net) = value.parse::<Ipv4Net>() else {
        errors.push(Invalid::new(
            field,
            value,
            "must be an IPv4 CIDR, e.g. 10.20.0.0/16",
        ));
        return None;
    };
    if net.trunc() != net {
        errors.push(Invalid::new(
            field,
            value,
            format!("must be a network address: did you mean {}?", net.trunc()),
        ));
        return None;
    }
    let within = |ranges: &[&str]| {
        ranges
            .iter()
            .filter_map(|r| r.parse::<Ipv4Net>().ok())
            .any(|r| r.contains(&net))
    };
    let private = within(&RFC1918) || (allow_shared && within(&[RFC6598]));
    if !private {
        let space = if allow_shared {
            "private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)"
        } else {
            "private address space (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)"
        };
        errors.push(Invalid::new(field, value, format!("must lie in {space}")));
        return None;
    }
    if cloud == Cloud::Azure {
        for reserved in AKS_RESERVED
            .iter()
            .filter_map(|r| r.parse::<Ipv4Net>().ok())
        {
            if reserved.contains(&net.network()) || net.contains(&reserved.network()) {
                errors.push(Invalid::new(
                    field,
                    value,
                    format!("overlaps {reserved}, which AKS reserves"),
                ));
                return None;
            }
        }
    }
    Some(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spoke::{ApiEndpoint, NatMode};

    fn network(vpc: &str) -> Network {
        Network {
            vpc_cidr: Some(vpc.to_string()),
            pod_cidr: None,
            service_cidr: "172.20.0.0/16".to_string(),
            availability_zones: 3,
            nat_mode: NatMode::PerZone,
            api_endpoint: ApiEndpoint::default(),
        }
    }

    fn zones() -> Vec<String> {
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
            .map(String::from)
            .to_vec()
    }

    fn messages(errors: Vec<Invalid>) -> Vec<String> {
        errors.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_16_is_split_into_three_private_quarters_and_three_public_sixteenths() {
        let plan =
            plan(Cloud::Aws, "eu-west-1", &network("10.20.0.0/16"), &zones()).expect("valid");
        let private: Vec<String> = plan
            .zones
            .iter()
            .map(|z| z.private_subnet.unwrap().to_string())
            .collect();
        let public: Vec<String> = plan
            .zones
            .iter()
            .map(|z| z.public_subnet.unwrap().to_string())
            .collect();
        assert_eq!(private, ["10.20.0.0/18", "10.20.64.0/18", "10.20.128.0/18"]);
        assert_eq!(
            public,
            ["10.20.192.0/20", "10.20.208.0/20", "10.20.224.0/20"]
        );
        assert_eq!(plan.zones[2].zone, "eu-west-1c");
    }

    #[test]
    fn a_24_still_fits_and_a_25_is_too_small() {
        assert!(plan(Cloud::Aws, "eu-west-1", &network("10.20.0.0/24"), &zones()).is_ok());
        let errors = messages(
            plan(Cloud::Aws, "eu-west-1", &network("10.20.0.0/25"), &zones()).unwrap_err(),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("spec.network.vpcCidr 10.20.0.0/25 is too small"),
            "{errors:?}"
        );
    }

    #[test]
    fn public_and_malformed_ranges_are_named() {
        let errors =
            messages(plan(Cloud::Aws, "eu-west-1", &network("8.8.0.0/16"), &zones()).unwrap_err());
        assert!(
            errors[0]
                .starts_with("spec.network.vpcCidr 8.8.0.0/16 must lie in private address space"),
            "{errors:?}"
        );
        let errors =
            messages(plan(Cloud::Aws, "eu-west-1", &network("10.0.0.0/33"), &zones()).unwrap_err());
        assert_eq!(
            errors[0],
            "spec.network.vpcCidr 10.0.0.0/33 must be an IPv4 CIDR, e.g. 10.20.0.0/16"
        );
        let errors =
            messages(plan(Cloud::Aws, "eu-west-1", &network("10.0.0.1/16"), &zones()).unwrap_err());
        assert_eq!(
            errors[0],
            "spec.network.vpcCidr 10.0.0.1/16 must be a network address: did you mean 10.0.0.0/16?"
        );
    }

    #[test]
    fn overlapping_ranges_name_both_fields() {
        let mut net = network("10.0.0.0/16");
        net.pod_cidr = Some("10.0.0.0/16".to_string());
        let errors = messages(
            plan(
                Cloud::Azure,
                "westeurope",
                &net,
                &["1".into(), "2".into(), "3".into()],
            )
            .unwrap_err(),
        );
        assert_eq!(
            errors,
            ["spec.network.podCidr 10.0.0.0/16 overlaps spec.network.vpcCidr 10.0.0.0/16"]
        );

        let mut net = network("172.20.0.0/16");
        net.service_cidr = "172.20.128.0/20".to_string();
        let errors = messages(plan(Cloud::Aws, "eu-west-1", &net, &zones()).unwrap_err());
        assert_eq!(
            errors,
            [
                "spec.network.serviceCidr 172.20.128.0/20 overlaps spec.network.vpcCidr 172.20.0.0/16"
            ]
        );
    }

    #[test]
    fn azure_uses_the_first_half_of_the_vnet_for_nodes_and_the_default_pod_range() {
        let plan = plan(
            Cloud::Azure,
            "westeurope",
            &network("10.30.0.0/16"),
            &["1".into(), "2".into(), "3".into()],
        )
        .expect("valid");
        assert_eq!(plan.node_subnet.unwrap().to_string(), "10.30.0.0/17");
        assert_eq!(plan.pods.unwrap().to_string(), DEFAULT_POD_CIDR);
        assert_eq!(
            plan.zones
                .iter()
                .map(|z| z.zone.as_str())
                .collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
    }

    #[test]
    fn azure_rejects_its_reserved_ranges() {
        let mut net = network("10.30.0.0/16");
        net.service_cidr = "172.31.0.0/16".to_string();
        let errors = messages(
            plan(
                Cloud::Azure,
                "westeurope",
                &net,
                &["1".into(), "2".into(), "3".into()],
            )
            .unwrap_err(),
        );
        assert_eq!(
            errors,
            ["spec.network.serviceCidr 172.31.0.0/16 overlaps 172.31.0.0/16, which AKS reserves"]
        );
    }
}
