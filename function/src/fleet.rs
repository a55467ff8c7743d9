//! The fleet-wide address plan: allocates VPC/VNet blocks from the Input's
//! pools and keeps every spoke's routed ranges apart from the others', the
//! hub's and the legacy routes.
//!
//! The other spokes come from Crossplane as required resources. The protocol
//! (docs/architecture.md, "Address plan"):
//! 1. no block in status: take the lowest free block of the matching pool,
//!    write it to `status.network.allocated` (unsettled), compose nothing
//!    network-related;
//! 2. the block is in status: if a spoke that precedes this one holds an
//!    overlapping range, drop it and go back to 1; otherwise mark it settled
//!    and compose;
//! 3. settled: the block is kept for good, whatever the pools or the fleet
//!    say later.
//!
//! Precedence: the platform's ranges, then settled blocks, then explicit
//! ranges, then unsettled blocks; within a class the earlier
//! `metadata.creationTimestamp`, then the smaller `metadata.uid`.

use function_sdk_rust::proto::v1::resource_selector::Match;
use function_sdk_rust::proto::v1::{MatchLabels, ResourceSelector};
use ipnet::Ipv4Net;
use serde_json::Value;

use crate::input::{AddressPlan, Input};
use crate::spoke::{
    AllocatedNetwork, Cloud, DEFAULT_POD_CIDR, GROUP, KIND, Network, SpokeSpec, SpokeStatus,
    VERSION,
};
use crate::validate::Invalid;

/// The key of the fleet in `requirements.resources` and `required_resources`.
pub const REQUIREMENT: &str = "hybrid-spokes";

/// The default service range: cluster-internal, the same on every spoke,
/// never routed, so not part of the plan.
pub const DEFAULT_SERVICE_CIDR: &str = "172.20.0.0/16";

/// Every XHybridSpoke. An empty label selector matches all objects of the
/// kind; without a namespace it spans all namespaces (v2, namespaced XRs)
/// or the cluster (legacy, cluster-scoped XRs).
pub fn selector() -> ResourceSelector {
    ResourceSelector {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.to_string(),
        r#match: Some(Match::MatchLabels(MatchLabels::default())),
        namespace: None,
    }
}

/// A range of another spoke (or of the platform) a spoke must not overlap.
#[derive(Clone, Debug, PartialEq)]
pub struct Holder {
    /// `namespace/name` of the spoke, or `the hub` / `a legacy route`.
    pub owner: String,
    /// The field the range is in, e.g. `vpcCidr`.
    pub field: String,
    pub range: Ipv4Net,
    pub rank: Rank,
}

/// Who keeps a contested block: smaller first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    /// [`PLATFORM`], [`SETTLED`], [`EXPLICIT`] or [`UNSETTLED`].
    pub class: u8,
    pub created: String,
    pub uid: String,
}

/// Rank classes, strongest first. A settled block outranks a claim's
/// explicit range, so whoever edits a claim onto a settled block is the one
/// refused; an unsettled block yields to everything.
pub const PLATFORM: u8 = 0;
pub const SETTLED: u8 = 1;
pub const EXPLICIT: u8 = 2;
pub const UNSETTLED: u8 = 3;

impl Rank {
    fn of(class: u8, created: &str, uid: &str) -> Self {
        Rank {
            class,
            created: created.to_string(),
            uid: uid.to_string(),
        }
    }

    fn platform() -> Self {
        Rank {
            class: PLATFORM,
            created: String::new(),
            uid: String::new(),
        }
    }
}

/// The spoke being composed, as the plan sees it.
pub struct Me<'a> {
    pub id: String,
    pub uid: &'a str,
    pub created: &'a str,
    pub spec: &'a SpokeSpec,
    pub status: &'a SpokeStatus,
    /// It already has composed resources (it was built before).
    pub built: bool,
}

/// What the plan says about the spoke's VPC/VNet.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// No address plan in the Input: the claim's own `vpcCidr`, unchecked
    /// against the fleet.
    Unplanned,
    /// The fleet has not been supplied yet: compose nothing, ask for it.
    WaitForFleet,
    /// A block was just taken and must be seen in status before use.
    Allocated(AllocatedNetwork),
    /// Compose with this VPC/VNet range; `allocated` is recorded in status.
    Use {
        vpc_cidr: String,
        allocated: Option<AllocatedNetwork>,
    },
}

/// Decides the spoke's VPC/VNet. `fleet` is `None` until Crossplane has
/// supplied the required resources (then it may be empty).
pub fn decide(
    me: &Me<'_>,
    input: &Input,
    fleet: Option<&[Value]>,
) -> Result<Decision, Vec<Invalid>> {
    let network = &me.spec.network;
    let allocated = me.status.network.as_ref().and_then(|n| n.allocated.clone());
    let Some(plan) = &input.address_plan else {
        return match (&network.vpc_cidr, allocated) {
            (Some(_), _) => Ok(Decision::Unplanned),
            // Sticky even if the platform removed the plan.
            (None, Some(a)) if a.settled => Ok(Decision::Use {
                vpc_cidr: a.vpc_cidr.clone(),
                allocated: Some(a),
            }),
            (None, _) => Err(vec![Invalid::new(
                "spec.network.vpcCidr",
                "",
                "must be set: the function input has no addressPlan to allocate a block from",
            )]),
        };
    };
    let mut errors = Vec::new();
    let platform = platform_ranges(plan, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    // Settled blocks are kept without looking at the fleet: nothing to guess.
    if network.vpc_cidr.is_none()
        && let Some(a) = allocated.as_ref().filter(|a| a.settled)
    {
        if let Some(fleet) = fleet {
            let vpc = parse_status(&a.vpc_cidr)?;
            let mine = Rank::of(SETTLED, me.created, me.uid);
            let holders = holders(me, fleet);
            // Two settled blocks overlap only after a lost race (see docs):
            // a person must move one of them; the function never does.
            if let Some(h) = holders
                .iter()
                .find(|h| h.rank < mine && overlaps(h.range, vpc))
            {
                return Err(vec![Invalid::new(
                    "status.network.allocated.vpcCidr",
                    vpc,
                    format!(
                        "overlaps {}'s {} {}, which precedes it: both VPCs exist; move one spoke off its block (README, \"Moving a spoke off its allocation\")",
                        h.owner, h.field, h.range
                    ),
                )]);
            }
        }
        return Ok(Decision::Use {
            vpc_cidr: a.vpc_cidr.clone(),
            allocated: Some(a.clone()),
        });
    }

    let Some(fleet) = fleet else {
        // An explicit spoke built before keeps what it has; anything else
        // waits for the fleet rather than guess.
        return match &network.vpc_cidr {
            Some(vpc) if me.built => Ok(Decision::Use {
                vpc_cidr: vpc.clone(),
                allocated: None,
            }),
            _ => Ok(Decision::WaitForFleet),
        };
    };

    let mut holders = holders(me, fleet);
    holders.extend(platform);

    if let Some(vpc) = &network.vpc_cidr {
        let mine = Rank::of(EXPLICIT, me.created, me.uid);
        let errors = explicit_overlaps(network, me.spec.cloud, &mine, &holders);
        return if errors.is_empty() {
            Ok(Decision::Use {
                vpc_cidr: vpc.clone(),
                allocated: None,
            })
        } else {
            Err(errors)
        };
    }

    // Explicit pod and service ranges are checked as for explicit spokes.
    let explicit = Rank::of(EXPLICIT, me.created, me.uid);
    let mut errors = explicit_overlaps(network, me.spec.cloud, &explicit, &holders);
    if !errors.is_empty() {
        return Err(std::mem::take(&mut errors));
    }

    if let Some(a) = allocated {
        let vpc = parse_status(&a.vpc_cidr)?;
        let mine = Rank::of(UNSETTLED, me.created, me.uid);
        let lost = holders
            .iter()
            .any(|h| h.rank < mine && overlaps(h.range, vpc));
        if !lost {
            return Ok(Decision::Use {
                vpc_cidr: a.vpc_cidr.clone(),
                allocated: Some(AllocatedNetwork { settled: true, ..a }),
            });
        }
        // Lost the block to an earlier spoke: take another one.
    }

    let own = own_ranges(network, me.spec.cloud);
    let taken: Vec<Ipv4Net> = holders.iter().map(|h| h.range).chain(own).collect();
    allocate(plan, me.spec, &taken).map(Decision::Allocated)
}

/// The lowest block of the claim's pool that overlaps none of `taken`.
pub fn allocate(
    plan: &AddressPlan,
    spec: &SpokeSpec,
    taken: &[Ipv4Net],
) -> Result<AllocatedNetwork, Vec<Invalid>> {
    let c = spec.cloud.as_str();
    let e = spec.environment.as_str();
    let Some((i, pool)) = plan
        .pools
        .iter()
        .enumerate()
        .find(|(_, p)| p.cloud == spec.cloud && p.environment == spec.environment)
    else {
        return Err(vec![Invalid::new(
            "spec.network.vpcCidr",
            "",
            format!(
                "is not set and input.addressPlan.pools has no pool for cloud {c}, environment {e}: set vpcCidr or add a pool"
            ),
        )]);
    };
    let taken = Intervals::new(taken);
    let mut errors = Vec::new();
    let mut blocks = 0u64;
    for (j, cidr) in pool.cidrs.iter().enumerate() {
        let field = format!("input.addressPlan.pools[{i}].cidrs[{j}]");
        let Some(range) = parse_net(&field, cidr, &mut errors) else {
            continue;
        };
        let Ok(subnets) = range.subnets(pool.block_prefix) else {
            errors.push(Invalid::new(
                format!("input.addressPlan.pools[{i}].blockPrefix"),
                pool.block_prefix,
                format!("must be at least the prefix of {field} {range} and at most 32"),
            ));
            continue;
        };
        for block in subnets {
            blocks += 1;
            if !taken.overlaps(block) {
                return Ok(AllocatedNetwork {
                    vpc_cidr: block.to_string(),
                    pool: pool.name.clone(),
                    settled: false,
                });
            }
        }
    }
    if errors.is_empty() {
        errors.push(Invalid::new(
            "spec.network.vpcCidr",
            "",
            format!(
                "is not set and pool {} ({}) is full: all {blocks} /{} blocks are taken by other spokes, the hub or legacy routes; add a range to input.addressPlan.pools[{i}].cidrs",
                pool.name,
                pool.cidrs.join(", "),
                pool.block_prefix
            ),
        ));
    }
    Err(errors)
}

/// Taken ranges as sorted, merged address intervals: a block is checked in
/// O(log n), so allocating beside 10,000 spokes stays linear.
struct Intervals(Vec<(u32, u32)>);

impl Intervals {
    fn new(ranges: &[Ipv4Net]) -> Self {
        let mut spans: Vec<(u32, u32)> = ranges
            .iter()
            .map(|r| (u32::from(r.network()), u32::from(r.broadcast())))
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Intervals(merged)
    }

    fn overlaps(&self, block: Ipv4Net) -> bool {
        let (start, end) = (u32::from(block.network()), u32::from(block.broadcast()));
        let i = self.0.partition_point(|&(_, e)| e < start);
        self.0.get(i).is_some_and(|&(s, _)| s <= end)
    }
}

/// The explicit (claim-set) ranges that overlap a range of someone who
/// precedes `mine`, each named with the other side.
fn explicit_overlaps(
    network: &Network,
    cloud: Cloud,
    mine: &Rank,
    holders: &[Holder],
) -> Vec<Invalid> {
    let mut errors = Vec::new();
    for (field, value) in routed(network, cloud) {
        let Ok(range) = value.parse::<Ipv4Net>() else {
            continue; // network::plan names a malformed range.
        };
        if let Some(h) = holders
            .iter()
            .find(|h| h.rank < *mine && overlaps(h.range, range))
        {
            errors.push(Invalid::new(
                format!("spec.network.{field}"),
                range,
                format!("overlaps {}'s {} {}", h.owner, h.field, h.range),
            ));
        }
    }
    errors
}

/// The ranges of a spoke that are routed beyond it: the VPC/VNet, and pod
/// and service ranges the claim sets apart from the defaults every spoke
/// shares (those stay inside the cluster).
fn routed(network: &Network, cloud: Cloud) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(vpc) = &network.vpc_cidr {
        out.push(("vpcCidr", vpc.clone()));
    }
    if let Some(pods) = network
        .pod_cidr
        .as_ref()
        .filter(|p| cloud == Cloud::Azure && p.as_str() != DEFAULT_POD_CIDR)
    {
        out.push(("podCidr", pods.clone()));
    }
    if network.service_cidr != DEFAULT_SERVICE_CIDR {
        out.push(("serviceCidr", network.service_cidr.clone()));
    }
    out
}

/// The spoke's own pod and service ranges, which its VPC must not overlap.
fn own_ranges(network: &Network, cloud: Cloud) -> Vec<Ipv4Net> {
    let pods = match cloud {
        Cloud::Azure => Some(network.pod_cidr.as_deref().unwrap_or(DEFAULT_POD_CIDR)),
        Cloud::Aws => None,
    };
    pods.into_iter()
        .chain([network.service_cidr.as_str()])
        .filter_map(|r| r.parse().ok())
        .collect()
}

/// The other spokes' ranges, from the required resources. Unreadable
/// objects are skipped: their own reconcile reports them.
pub fn holders(me: &Me<'_>, fleet: &[Value]) -> Vec<Holder> {
    let mut out = Vec::new();
    for item in fleet {
        let member = Member::read(item);
        if member.is_me(me) {
            continue;
        }
        out.extend(member.holders());
    }
    out
}

/// One XHybridSpoke of the fleet.
pub struct Member {
    pub id: String,
    pub uid: String,
    pub created: String,
    pub spec: Option<SpokeSpec>,
    pub status: SpokeStatus,
}

impl Member {
    pub fn read(item: &Value) -> Self {
        let text = |p: &str| {
            item.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let name = text("/metadata/name");
        let namespace = text("/metadata/namespace");
        Member {
            id: if namespace.is_empty() {
                name
            } else {
                format!("{namespace}/{name}")
            },
            uid: text("/metadata/uid"),
            created: text("/metadata/creationTimestamp"),
            spec: item
                .get("spec")
                .and_then(|s| serde_json::from_value(s.clone()).ok()),
            status: item
                .get("status")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default(),
        }
    }

    fn is_me(&self, me: &Me<'_>) -> bool {
        if !self.uid.is_empty() && !me.uid.is_empty() {
            self.uid == me.uid
        } else {
            self.id == me.id
        }
    }

    /// Its routed ranges: the allocated block (in status) or the explicit
    /// `vpcCidr`, and explicit pod and service ranges.
    pub fn holders(&self) -> Vec<Holder> {
        let mut out = Vec::new();
        let allocated = self
            .status
            .network
            .as_ref()
            .and_then(|n| n.allocated.as_ref());
        let rank = |class: u8| Rank::of(class, &self.created, &self.uid);
        let Some(spec) = &self.spec else {
            return out;
        };
        if spec.network.vpc_cidr.is_none()
            && let Some(a) = allocated
            && let Ok(range) = a.vpc_cidr.parse()
        {
            out.push(Holder {
                owner: self.id.clone(),
                field: "vpcCidr".to_string(),
                range,
                rank: rank(if a.settled { SETTLED } else { UNSETTLED }),
            });
        }
        // Routes the spoke's router advertises for others (IPv6 ones
        // cannot meet an IPv4 plan).
        for (i, route) in spec.tailnet.legacy_routes.iter().enumerate() {
            if let Ok(range) = route.parse() {
                out.push(Holder {
                    owner: self.id.clone(),
                    field: format!("tailnet.legacyRoutes[{i}]"),
                    range,
                    rank: rank(EXPLICIT),
                });
            }
        }
        for (field, value) in routed(&spec.network, spec.cloud) {
            if let Ok(range) = value.parse() {
                out.push(Holder {
                    owner: self.id.clone(),
                    field: field.to_string(),
                    range,
                    rank: rank(EXPLICIT),
                });
            }
        }
        out
    }
}

fn platform_ranges(plan: &AddressPlan, errors: &mut Vec<Invalid>) -> Vec<Holder> {
    let mut out = Vec::new();
    for (list, field, owner) in [
        (&plan.hub_cidrs, "hubCidrs", "the hub"),
        (&plan.legacy_routes, "legacyRoutes", "the platform"),
    ] {
        for (i, value) in list.iter().enumerate() {
            let name = format!("input.addressPlan.{field}[{i}]");
            if let Some(range) = parse_net(&name, value, errors) {
                out.push(Holder {
                    owner: owner.to_string(),
                    field: format!("{field}[{i}]"),
                    range,
                    rank: Rank::platform(),
                });
            }
        }
    }
    out
}

fn parse_net(field: &str, value: &str, errors: &mut Vec<Invalid>) -> Option<Ipv4Net> {
    match value.parse::<Ipv4Net>() {
        Ok(net) if net.trunc() == net => Some(net),
        _ => {
            errors.push(Invalid::new(
                field,
                value,
                "must be an IPv4 network address in CIDR notation, e.g. 10.0.0.0/16",
            ));
            None
        }
    }
}

fn parse_status(value: &str) -> Result<Ipv4Net, Vec<Invalid>> {
    value.parse().map_err(|_| {
        vec![Invalid::new(
            "status.network.allocated.vpcCidr",
            value,
            "must be an IPv4 CIDR: the status was edited; set spec.network.vpcCidr or remove status.network.allocated",
        )]
    })
}

pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// One line of the fleet's address map (`hybrid-spoke plan`).
#[derive(Clone, Debug, PartialEq)]
pub struct MapRow {
    pub range: Ipv4Net,
    /// `namespace/name`, `the hub` or `the platform`.
    pub owner: String,
    pub field: String,
    /// `explicit`, `settled`, `unsettled`, `input` or `next` (the block an
    /// unallocated spoke would get, in precedence order).
    pub state: &'static str,
}

/// The fleet's address map: every range held, the blocks spokes without one
/// would get, and every overlap or allocation failure.
pub fn address_map(fleet: &[Value], input: &Input) -> (Vec<MapRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    if let Some(plan) = &input.address_plan {
        let mut errors = Vec::new();
        for h in platform_ranges(plan, &mut errors) {
            rows.push(MapRow {
                range: h.range,
                owner: h.owner,
                field: h.field,
                state: "input",
            });
        }
        problems.extend(errors.iter().map(ToString::to_string));
    }
    let mut members: Vec<Member> = fleet.iter().map(Member::read).collect();
    members.sort_by(|a, b| (&a.created, &a.uid).cmp(&(&b.created, &b.uid)));
    let mut waiting = Vec::new();
    for m in &members {
        let Some(spec) = &m.spec else {
            problems.push(format!("{}: spec is not a valid XHybridSpoke spec", m.id));
            continue;
        };
        let allocated = m.status.network.as_ref().and_then(|n| n.allocated.as_ref());
        let holders = m.holders();
        if spec.network.vpc_cidr.is_none() && allocated.is_none() {
            waiting.push(m);
        }
        for h in holders {
            let state = match (h.field.as_str(), &spec.network.vpc_cidr, allocated) {
                ("vpcCidr", None, Some(a)) if a.settled => "settled",
                ("vpcCidr", None, Some(_)) => "unsettled",
                _ => "explicit",
            };
            rows.push(MapRow {
                range: h.range,
                owner: h.owner,
                field: h.field,
                state,
            });
        }
    }
    for m in waiting {
        let (Some(plan), Some(spec)) = (&input.address_plan, &m.spec) else {
            problems.push(format!(
                "{}: spec.network.vpcCidr is not set and the input has no addressPlan",
                m.id
            ));
            continue;
        };
        let taken: Vec<Ipv4Net> = rows
            .iter()
            .map(|r| r.range)
            .chain(own_ranges(&spec.network, spec.cloud))
            .collect();
        match allocate(plan, spec, &taken) {
            Ok(a) => {
                if let Ok(range) = a.vpc_cidr.parse() {
                    rows.push(MapRow {
                        range,
                        owner: m.id.clone(),
                        field: "vpcCidr".to_string(),
                        state: "next",
                    });
                }
            }
            Err(errors) => problems.extend(errors.iter().map(|e| format!("{}: {e}", m.id))),
        }
    }
    rows.sort_by(|a, b| (a.range, &a.owner).cmp(&(b.range, &b.owner)));
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            if a.owner != b.owner && overlaps(a.range, b.range) {
                problems.push(format!(
                    "{}'s {} {} overlaps {}'s {} {}",
                    a.owner, a.field, a.range, b.owner, b.field, b.range
                ));
            }
        }
    }
    (rows, problems)
}
