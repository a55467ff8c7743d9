//! The fleet-wide address plan: spokes without `spec.network.vpcCidr` get
//! the lowest free block of their pool, keep it, and never share a range
//! with another spoke, the hub or the legacy routes. Each reconcile runs the
//! function as `crossplane render --required-resources` would (the
//! requirements loop included), and writes the XR status back the way
//! Crossplane applies it.

#[path = "support/rng.rs"]
mod rng;

use function_hybrid_spoke::render::render_with_required;
use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, State};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use rng::Rng;
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const AZURE_XR: &str = include_str!("../../examples/azure/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

/// The example Input with a plan: AWS prod spokes get /16s of 10.64.0.0/14
/// (four blocks), AWS dev /20s of 10.80.0.0/16, Azure prod /16s of
/// 10.96.0.0/12; the hub is 10.0.0.0/16 and 10.65.0.0/24 is a legacy route.
fn input() -> Value {
    let mut input = yaml(INPUT);
    input["addressPlan"] = json!({
        "hubCidrs": ["10.0.0.0/16"],
        "legacyRoutes": ["10.65.0.0/24"],
        "pools": [
            {"name": "aws-prod", "cloud": "aws", "environment": "prod", "cidrs": ["10.64.0.0/14"], "blockPrefix": 16},
            {"name": "aws-dev", "cloud": "aws", "environment": "dev", "cidrs": ["10.80.0.0/16"], "blockPrefix": 20},
            {"name": "azure-prod", "cloud": "azure", "environment": "prod", "cidrs": ["10.96.0.0/12"], "blockPrefix": 16},
        ],
    });
    input
}

/// An example spoke without a VPC range, created at `created` (seconds).
fn spoke(example: &str, namespace: &str, name: &str, created: u32) -> Value {
    let mut xr = yaml(example);
    xr["metadata"] = json!({
        "name": name,
        "namespace": namespace,
        "uid": format!("00000000-0000-0000-0000-{:012}", created),
        "creationTimestamp": format!("2026-12-01T00:{:02}:{:02}Z", created / 60 % 60, created % 60),
    });
    xr["spec"]["network"]
        .as_object_mut()
        .expect("network")
        .remove("vpcCidr");
    xr["spec"]["tailnet"]["legacyRoutes"] = json!([]);
    xr
}

/// One reconcile of `xr` seeing `fleet`: the rendered documents.
fn reconcile(xr: &Value, fleet: &[Value], input: &Value) -> Result<Vec<Value>, String> {
    render_with_required(xr, &[], input, fleet).map_err(|e| e.to_string())
}

/// What Crossplane applies: the function's desired XR status.
fn apply_status(xr: &mut Value, rendered: &[Value]) {
    if let Some(network) = rendered[0].pointer("/status/network") {
        xr["status"]["network"] = network.clone();
    }
}

fn allocated(xr: &Value) -> Option<(String, bool)> {
    let a = xr.pointer("/status/network/allocated")?;
    Some((
        a["vpcCidr"].as_str()?.to_string(),
        a["settled"].as_bool().unwrap_or(false),
    ))
}

fn kinds(rendered: &[Value]) -> Vec<String> {
    rendered[1..]
        .iter()
        .filter(|d| d["kind"] != "Result")
        .map(|d| d["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Reconciles the spokes one after another, three rounds; a spoke whose
/// reconcile fails (a full pool) is left as it is.
fn settle_in_turn(fleet: &mut [Value], input: &Value) {
    for _ in 0..3 {
        for i in 0..fleet.len() {
            let snapshot = fleet.to_vec();
            if let Ok(rendered) = reconcile(&fleet[i], &snapshot, input) {
                apply_status(&mut fleet[i], &rendered);
            }
        }
    }
}

#[test]
fn a_new_spoke_takes_the_lowest_free_block_and_composes_nothing_until_it_settles() {
    let input = input();
    let mut a = spoke(AWS_XR, "team-a", "a", 1);

    let first = reconcile(&a, &[a.clone()], &input).expect("renders");
    assert_eq!(kinds(&first), Vec::<String>::new(), "nothing composed yet");
    // 10.64.0.0/16 is free (the hub is 10.0.0.0/16): the lowest block.
    apply_status(&mut a, &first);
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), false)));
    let condition = first[0]["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "NetworkAddressed"))
        .expect("a NetworkAddressed condition");
    assert_eq!(condition["status"], "False");
    assert_eq!(condition["reason"], "BlockAllocated");

    let second = reconcile(&a, &[a.clone()], &input).expect("renders");
    apply_status(&mut a, &second);
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), true)));
    let vpc = second
        .iter()
        .find(|d| d["kind"] == "VPC")
        .expect("the VPC is composed once settled");
    assert_eq!(vpc["spec"]["forProvider"]["cidrBlock"], "10.64.0.0/16");
    assert_eq!(second[0]["status"]["network"]["vpcCidr"], "10.64.0.0/16");
    assert_eq!(
        second[0]["status"]["network"]["privateSubnetCidrs"][0],
        "10.64.0.0/18"
    );
}

#[test]
fn blocks_are_taken_in_order_around_the_hub_legacy_routes_and_other_spokes_until_the_pool_is_full()
{
    let input = input();
    let mut fleet: Vec<Value> = (1..=3)
        .map(|i| spoke(AWS_XR, "team", &format!("s{i}"), i))
        .collect();
    // A spoke with an explicit range inside the pool takes that block too.
    let mut explicit = spoke(AWS_XR, "team", "explicit", 0);
    explicit["spec"]["network"]["vpcCidr"] = json!("10.66.0.0/16");
    fleet.insert(0, explicit);
    settle_in_turn(&mut fleet, &input);
    let blocks: Vec<Option<(String, bool)>> = fleet[1..].iter().map(allocated).collect();
    // 10.65.0.0/16 holds the legacy route 10.65.0.0/24, 10.66 is explicit.
    assert_eq!(
        blocks,
        [
            Some(("10.64.0.0/16".into(), true)),
            Some(("10.67.0.0/16".into(), true)),
            None,
        ]
    );
    let full = reconcile(&fleet[3], &fleet, &input).expect_err("the pool is full");
    assert!(
        full.contains(
            "spec.network.vpcCidr is not set and pool aws-prod (10.64.0.0/14) is full: all 4 /16 blocks are taken"
        ),
        "{full}"
    );

    // Dev spokes draw /20s from their own pool.
    let mut dev = spoke(AWS_XR, "team", "dev", 9);
    dev["spec"]["environment"] = json!("dev");
    let rendered = reconcile(&dev, &fleet, &input).expect("renders");
    apply_status(&mut dev, &rendered);
    assert_eq!(allocated(&dev), Some(("10.80.0.0/20".into(), false)));
}

#[test]
fn a_claim_with_no_pool_for_its_cloud_and_environment_is_told_so() {
    let input = input();
    let mut xr = spoke(AZURE_XR, "team", "az", 1);
    xr["spec"]["environment"] = json!("staging");
    let err = reconcile(&xr, &[], &input).expect_err("no pool");
    assert!(
        err.contains("spec.network.vpcCidr is not set and input.addressPlan.pools has no pool for cloud azure, environment staging"),
        "{err}"
    );
}

#[test]
fn a_settled_block_is_kept_when_the_pool_changes_and_when_the_fleet_is_not_supplied() {
    let mut a = spoke(AWS_XR, "team-a", "a", 1);
    settle_in_turn(std::slice::from_mut(&mut a), &input());
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), true)));

    let mut moved = input();
    moved["addressPlan"]["pools"][0]["cidrs"] = json!(["10.128.0.0/14"]);
    let rendered = reconcile(&a, &[a.clone()], &moved).expect("renders");
    apply_status(&mut a, &rendered);
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), true)));

    // Without the required resources (the first call of Crossplane's
    // requirements loop) a settled spoke still composes its VPC...
    let rsp = run(&request(&a, &moved));
    let composed: Vec<Value> = rsp
        .desired
        .unwrap_or_default()
        .resources
        .values()
        .filter_map(|r| r.resource.as_ref().map(struct_to_json))
        .collect();
    assert!(
        composed
            .iter()
            .any(|r| r["kind"] == "VPC" && r["spec"]["forProvider"]["cidrBlock"] == "10.64.0.0/16")
    );
    // ...and a new one waits, asking for the fleet, guessing nothing.
    let b = spoke(AWS_XR, "team-b", "b", 2);
    let rsp = run(&request(&b, &moved));
    assert!(rsp.results.is_empty(), "{:?}", rsp.results);
    assert!(rsp.desired.unwrap_or_default().resources.is_empty());
    let wanted = rsp.requirements.expect("requirements").resources;
    let selector = wanted.get("hybrid-spokes").expect("the fleet is required");
    assert_eq!(selector.api_version, "platform.hybridspoke.io/v1alpha1");
    assert_eq!(selector.kind, "XHybridSpoke");
    assert_eq!(selector.namespace, None, "across all namespaces");
    assert!(
        rsp.conditions
            .iter()
            .any(|c| c.r#type == "NetworkAddressed" && c.reason == "WaitingForFleet")
    );
}

fn request(xr: &Value, input: &Value) -> RunFunctionRequest {
    RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    }
}

#[test]
fn of_two_spokes_that_took_the_same_block_in_one_snapshot_exactly_one_keeps_it() {
    let input = input();
    for (a_created, b_created, winner) in [(1, 2, "a"), (2, 1, "b")] {
        let mut a = spoke(AWS_XR, "team-a", "a", a_created);
        let mut b = spoke(AWS_XR, "team-b", "b", b_created);
        let snapshot = [a.clone(), b.clone()];
        let ra = reconcile(&a, &snapshot, &input).expect("renders");
        let rb = reconcile(&b, &snapshot, &input).expect("renders");
        apply_status(&mut a, &ra);
        apply_status(&mut b, &rb);
        assert_eq!(allocated(&a), allocated(&b), "both took 10.64.0.0/16");

        // Both see each other's claim in the same snapshot.
        let snapshot = [a.clone(), b.clone()];
        let ra = reconcile(&a, &snapshot, &input).expect("renders");
        let rb = reconcile(&b, &snapshot, &input).expect("renders");
        apply_status(&mut a, &ra);
        apply_status(&mut b, &rb);
        let (keeper, loser, keeper_docs, loser_docs) = if winner == "a" {
            (&a, &b, &ra, &rb)
        } else {
            (&b, &a, &rb, &ra)
        };
        assert_eq!(allocated(keeper), Some(("10.64.0.0/16".into(), true)));
        assert!(kinds(keeper_docs).contains(&"VPC".to_string()));
        // The loser composes nothing and takes the next free block.
        assert_eq!(allocated(loser), Some(("10.66.0.0/16".into(), false)));
        assert!(kinds(loser_docs).is_empty());
    }

    // Same creation time: the smaller uid wins.
    let mut a = spoke(AWS_XR, "team-a", "a", 5);
    let mut b = spoke(AWS_XR, "team-b", "b", 5);
    b["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000004");
    for _ in 0..2 {
        let snapshot = [a.clone(), b.clone()];
        let ra = reconcile(&a, &snapshot, &input).expect("renders");
        let rb = reconcile(&b, &snapshot, &input).expect("renders");
        apply_status(&mut a, &ra);
        apply_status(&mut b, &rb);
    }
    assert_eq!(allocated(&b), Some(("10.64.0.0/16".into(), true)));
    assert_eq!(allocated(&a), Some(("10.66.0.0/16".into(), false)));
}

#[test]
fn explicit_ranges_overlapping_another_spoke_the_hub_or_a_legacy_route_are_refused_by_name() {
    let input = input();
    let mut a = spoke(AWS_XR, "team-a", "a", 1);
    settle_in_turn(std::slice::from_mut(&mut a), &input);
    let mut azure = spoke(AZURE_XR, "team-z", "z", 2);
    azure["spec"]["network"]["podCidr"] = json!("100.64.0.0/16");
    azure["spec"]["network"]["vpcCidr"] = json!("10.30.0.0/16");
    let fleet = [a.clone(), azure.clone()];

    let cases = [
        (
            "vpcCidr",
            "10.64.128.0/17",
            "spec.network.vpcCidr 10.64.128.0/17 overlaps team-a/a's vpcCidr 10.64.0.0/16",
        ),
        (
            "vpcCidr",
            "10.0.0.0/16",
            "spec.network.vpcCidr 10.0.0.0/16 overlaps the hub's hubCidrs[0] 10.0.0.0/16",
        ),
        (
            "vpcCidr",
            "10.65.0.0/16",
            "spec.network.vpcCidr 10.65.0.0/16 overlaps the platform's legacyRoutes[0] 10.65.0.0/24",
        ),
        (
            "vpcCidr",
            "10.30.0.0/20",
            "spec.network.vpcCidr 10.30.0.0/20 overlaps team-z/z's vpcCidr 10.30.0.0/16",
        ),
        (
            "podCidr",
            "100.64.0.0/14",
            "spec.network.podCidr 100.64.0.0/14 overlaps team-z/z's podCidr 100.64.0.0/16",
        ),
    ];
    for (field, value, message) in cases {
        let mut b = spoke(AZURE_XR, "team-b", "b", 3);
        b["spec"]["network"]["vpcCidr"] = json!("10.40.0.0/16");
        b["spec"]["network"][field] = json!(value);
        let err = reconcile(&b, &fleet, &input).expect_err(message);
        assert!(err.contains(message), "{field} {value}: {err}");
    }

    // The spoke that was there first is not blamed for the newcomer.
    let mut late = spoke(AWS_XR, "team-c", "c", 9);
    late["spec"]["network"]["vpcCidr"] = json!("10.30.0.0/16");
    let with_late = [a.clone(), azure.clone(), late];
    assert!(reconcile(&azure, &with_late, &input).is_ok());

    // An explicit service range overlapping another spoke's VPC.
    let mut s = spoke(AWS_XR, "team-s", "s", 10);
    s["spec"]["network"]["vpcCidr"] = json!("10.50.0.0/16");
    s["spec"]["network"]["serviceCidr"] = json!("10.30.0.0/20");
    let err = reconcile(&s, &fleet, &input).expect_err("overlap");
    assert!(
        err.contains(
            "spec.network.serviceCidr 10.30.0.0/20 overlaps team-z/z's vpcCidr 10.30.0.0/16"
        ),
        "{err}"
    );
}

/// Random fleets reconciled in random concurrent batches (each batch sees one
/// snapshot): settled blocks never overlap one another, the hub or the
/// legacy route, and a block never changes once settled.
#[test]
fn random_fleets_never_overlap_and_settled_blocks_never_move() {
    let input = input();
    let hub: Vec<ipnet::Ipv4Net> = ["10.0.0.0/16", "10.65.0.0/24"]
        .iter()
        .map(|s| s.parse().expect("cidr"))
        .collect();
    let mut rng = Rng(0x5eed_f1ee7);
    for _ in 0..12 {
        let n = 2 + rng.below(8);
        let mut fleet: Vec<Value> = (0..n)
            .map(|i| {
                let mut xr = spoke(AWS_XR, "t", &format!("s{i}"), rng.below(4) as u32);
                xr["metadata"]["uid"] = json!(format!("uid-{i}"));
                xr["spec"]["environment"] = json!(if rng.below(2) == 0 { "dev" } else { "prod" });
                xr
            })
            .collect();
        let mut settled: Vec<Option<String>> = vec![None; n];
        for _ in 0..30 {
            let batch: Vec<usize> = (0..n).filter(|_| rng.below(2) == 0).collect();
            let snapshot = fleet.clone();
            let results: Vec<(usize, Result<Vec<Value>, String>)> = batch
                .iter()
                .map(|&i| (i, reconcile(&fleet[i], &snapshot, &input)))
                .collect();
            for (i, result) in results {
                match result {
                    Ok(docs) => apply_status(&mut fleet[i], &docs),
                    // A full pool is a FATAL; nothing changes.
                    Err(e) => assert!(e.contains("is full"), "{e}"),
                }
            }
            for (i, xr) in fleet.iter().enumerate() {
                if let Some((block, true)) = allocated(xr) {
                    if let Some(before) = &settled[i] {
                        assert_eq!(before, &block, "a settled block moved");
                    }
                    settled[i] = Some(block);
                }
            }
        }
        let blocks: Vec<ipnet::Ipv4Net> = settled
            .iter()
            .flatten()
            .map(|b| b.parse().expect("cidr"))
            .collect();
        for (i, a) in blocks.iter().enumerate() {
            for b in blocks[i + 1..].iter().chain(&hub) {
                assert!(
                    !(a.contains(&b.network()) || b.contains(&a.network())),
                    "{a} overlaps {b}"
                );
            }
        }
        assert!(
            !blocks.is_empty(),
            "some spoke settles in 30 rounds of a fleet of {n}"
        );
    }
}

/// The XR's results when composed with `input`: (severity, message).
fn results(xr: &Value, input: &Value) -> Vec<(i32, String)> {
    run(&request(xr, input))
        .results
        .into_iter()
        .map(|r| (r.severity, r.message))
        .collect()
}

#[test]
fn networks_too_small_for_the_pools_at_max_size_are_refused_with_the_arithmetic() {
    use function_sdk_rust::proto::v1::Severity;
    let input = yaml(INPUT);
    let fatal = Severity::Fatal as i32;
    let warning = Severity::Warning as i32;

    // EKS: 16 nodes at maxSize over 3 zones = 6 per zone, each taking 111
    // addresses of its zone's private subnet.
    let mut xr = yaml(AWS_XR);
    xr["spec"]["network"]["vpcCidr"] = json!("10.20.0.0/22");
    let out = results(&xr, &input);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, fatal);
    assert!(out[0].1.contains(
        "spec.network.vpcCidr 10.20.0.0/22 is too small for the node pools at maxSize: each of the 3 private subnets (/24, 256 addresses - 5 reserved = 251) must hold 6 nodes (maxSize 16 over 3 zones, rounded up) x (1 node address + 110 pod addresses) = 666"
    ), "{out:?}");

    // A /20 holds it (666 of 1019, 65%): no result at all.
    xr["spec"]["network"]["vpcCidr"] = json!("10.20.0.0/20");
    assert_eq!(results(&xr, &input), vec![]);
    // At 140 pods per node it is 6 x 141 = 846 of 1019: 83%, a warning.
    let mut busy = yaml(INPUT);
    busy["aws"]["maxPodsPerNode"] = json!(140);
    let out = results(&xr, &busy);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, warning);
    assert!(
        out[0].1.starts_with(
            "spec.network.vpcCidr 10.20.0.0/20 will be 83% used at maxSize (846 of 1019), above 80%"
        ),
        "{out:?}"
    );

    // AKS overlay: nodes from the node subnet (the VNet's first half), one
    // /24 of the pod range per node.
    let mut xr = yaml(AZURE_XR);
    xr["spec"]["nodePools"][0]["maxSize"] = json!(130);
    xr["spec"]["network"]["vpcCidr"] = json!("10.30.0.0/24");
    xr["spec"]["network"]["podCidr"] = json!("10.244.0.0/18");
    let out = results(&xr, &input);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, fatal);
    let nodes = 130
        + xr["spec"]["nodePools"]
            .as_array()
            .expect("pools")
            .iter()
            .skip(1)
            .map(|p| p["maxSize"].as_u64().expect("maxSize"))
            .sum::<u64>();
    assert!(out[0].1.contains(&format!(
        "spec.network.vpcCidr 10.30.0.0/24 is too small for the node pools at maxSize: the node subnet (/25, 128 addresses - 5 reserved = 123) must hold maxSize {nodes} nodes"
    )), "{out:?}");
    assert!(out[0].1.contains(&format!(
        "spec.network.podCidr 10.244.0.0/18 is too small for the node pools at maxSize: the overlay range gives each node a /24: 64 of them for maxSize {nodes} nodes"
    )), "{out:?}");
}

#[test]
fn a_single_zone_is_refused_because_eks_needs_two() {
    let mut xr = yaml(AWS_XR);
    xr["spec"]["network"]["availabilityZones"] = json!(1);
    let out = results(&xr, &yaml(INPUT));
    assert!(
        out[0].1.contains("spec.network.availabilityZones 1 must be 2 or 3: EKS needs subnets in at least two zones"),
        "{out:?}"
    );
}

#[test]
fn an_older_claim_edited_onto_a_settled_block_is_the_one_refused() {
    let input = input();
    let mut a = spoke(AWS_XR, "team-a", "a", 5);
    settle_in_turn(std::slice::from_mut(&mut a), &input);
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), true)));
    // Created before a, but only now pointed at a's block.
    let mut old = spoke(AWS_XR, "team-o", "old", 1);
    old["spec"]["network"]["vpcCidr"] = json!("10.64.0.0/16");
    let fleet = [old.clone(), a.clone()];
    let err = reconcile(&old, &fleet, &input).expect_err("refused");
    assert!(
        err.contains("spec.network.vpcCidr 10.64.0.0/16 overlaps team-a/a's vpcCidr 10.64.0.0/16"),
        "{err}"
    );
    let kept = reconcile(&a, &fleet, &input).expect("a keeps composing");
    assert!(kinds(&kept).contains(&"VPC".to_string()));
}

#[test]
fn two_settled_blocks_that_overlap_after_a_lost_race_stop_the_later_spoke_without_moving_it() {
    let input = input();
    // Each settled without ever seeing the other (stale snapshots).
    let mut a = spoke(AWS_XR, "team-a", "a", 1);
    let mut b = spoke(AWS_XR, "team-b", "b", 2);
    settle_in_turn(std::slice::from_mut(&mut a), &input);
    settle_in_turn(std::slice::from_mut(&mut b), &input);
    assert_eq!(allocated(&a), allocated(&b));
    let fleet = [a.clone(), b.clone()];
    let err = reconcile(&b, &fleet, &input).expect_err("b is stopped");
    assert!(
        err.contains("status.network.allocated.vpcCidr 10.64.0.0/16 overlaps team-a/a's vpcCidr 10.64.0.0/16, which precedes it"),
        "{err}"
    );
    let kept = reconcile(&a, &fleet, &input).expect("a composes");
    assert!(kinds(&kept).contains(&"VPC".to_string()));
}

#[test]
fn moving_a_spoke_off_its_block_with_an_explicit_range_frees_the_block() {
    let input = input();
    let mut a = spoke(AWS_XR, "team-a", "a", 1);
    settle_in_turn(std::slice::from_mut(&mut a), &input);
    assert_eq!(allocated(&a), Some(("10.64.0.0/16".into(), true)));
    a["spec"]["network"]["vpcCidr"] = json!("10.70.0.0/16");
    let rendered = reconcile(&a, &[a.clone()], &input).expect("renders");
    let vpc = rendered.iter().find(|d| d["kind"] == "VPC").expect("a VPC");
    assert_eq!(vpc["spec"]["forProvider"]["cidrBlock"], "10.70.0.0/16");
    assert_eq!(rendered[0].pointer("/status/network/allocated"), None);
    apply_status(&mut a, &rendered);

    let b = spoke(AWS_XR, "team-b", "b", 2);
    let mut b2 = b.clone();
    apply_status(
        &mut b2,
        &reconcile(&b, &[a.clone(), b.clone()], &input).expect("renders"),
    );
    assert_eq!(allocated(&b2), Some(("10.64.0.0/16".into(), false)));
}

#[test]
fn a_malformed_address_plan_is_the_platforms_error_and_named() {
    let mut input = input();
    input["addressPlan"]["pools"][1]["name"] = json!("aws-prod");
    input["addressPlan"]["pools"][2]["cidrs"] = json!(["10.96.0.1/12"]);
    input["addressPlan"]["pools"][0]["blockPrefix"] = json!(8);
    let err = reconcile(&spoke(AWS_XR, "t", "s", 1), &[], &input).expect_err("refused");
    for message in [
        "input.addressPlan.pools[0].blockPrefix 8 must lie between the prefix of input.addressPlan.pools[0].cidrs[0] 10.64.0.0/14 and 28",
        "input.addressPlan.pools[1].name \"aws-prod\" must be non-empty and unique",
        "input.addressPlan.pools[2].cidrs[0] 10.96.0.1/12 must be an IPv4 network address",
    ] {
        assert!(err.contains(message), "{message}\n{err}");
    }
}
