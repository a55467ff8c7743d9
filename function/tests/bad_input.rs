//! An invalid claim never crashes the function and never yields a
//! half-composed spoke: it gets one FATAL result that names the field, the
//! value and the rule, and no composed resources.

use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::json_to_struct;
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const AZURE_XR: &str = include_str!("../../examples/azure/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

fn request(xr: &Value, input: Option<&Value>) -> RunFunctionRequest {
    RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.and_then(Value::as_object).map(json_to_struct),
        ..Default::default()
    }
}

/// Runs the function on the example XR changed by `edit`, and returns the
/// FATAL message (failing if there is none, or if anything was composed).
fn fatal(example: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut xr = yaml(example);
    edit(&mut xr);
    let rsp = run(&request(&xr, Some(&yaml(INPUT))));
    let fatals: Vec<&str> = rsp
        .results
        .iter()
        .filter(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(
        fatals.len(),
        1,
        "expected exactly one FATAL result, got {:?}",
        rsp.results
    );
    let composed = rsp.desired.map(|d| d.resources.len()).unwrap_or_default();
    assert_eq!(composed, 0, "an invalid claim must compose nothing");
    fatals[0].to_string()
}

/// Sets (or adds) the field at `pointer`.
fn set(xr: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer has a slash");
    match xr.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_string(), value);
        }
        Some(Value::Array(items)) => items[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("example has no {parent}"),
    }
}

#[test]
fn the_examples_are_valid() {
    for example in [AWS_XR, AZURE_XR] {
        let rsp = run(&request(&yaml(example), Some(&yaml(INPUT))));
        assert!(
            rsp.results
                .iter()
                .all(|r| r.severity != Severity::Fatal as i32),
            "{:?}",
            rsp.results
        );
    }
}

#[test]
fn every_broken_rule_names_field_value_and_rule() {
    let cases: Vec<(&str, &str, Box<dyn FnOnce(&mut Value)>, &str)> = vec![
        (
            "malformed CIDR",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/network/vpcCidr", json!("10.20.0.0/33"))),
            "spec.network.vpcCidr 10.20.0.0/33 must be an IPv4 CIDR",
        ),
        (
            "non-private CIDR",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/network/vpcCidr", json!("52.20.0.0/16"))),
            "spec.network.vpcCidr 52.20.0.0/16 must lie in private address space",
        ),
        (
            "pod range overlaps the VNet",
            AZURE_XR,
            Box::new(|xr| set(xr, "/spec/network/podCidr", json!("10.30.0.0/16"))),
            "spec.network.podCidr 10.30.0.0/16 overlaps spec.network.vpcCidr 10.30.0.0/16",
        ),
        (
            "service range inside the VPC",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/network/serviceCidr", json!("10.20.128.0/20"))),
            "spec.network.serviceCidr 10.20.128.0/20 overlaps spec.network.vpcCidr 10.20.0.0/16",
        ),
        (
            "VPC too small for the subnets",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/network/vpcCidr", json!("10.20.0.0/26"))),
            "spec.network.vpcCidr 10.20.0.0/26 is too small",
        ),
        (
            "unknown region for the cloud",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/region", json!("westeurope"))),
            "spec.region westeurope is not a region the platform allows for aws",
        ),
        (
            "unsupported Kubernetes version",
            AZURE_XR,
            Box::new(|xr| set(xr, "/spec/kubernetesVersion", json!("1.29"))),
            "spec.kubernetesVersion 1.29 is not a Kubernetes version the platform supports on azure",
        ),
        (
            "min above max",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/0/minSize", json!(7))),
            "spec.nodePools[0].minSize 7 exceeds spec.nodePools[0].maxSize 6",
        ),
        (
            "AKS system pool that can scale to zero",
            AZURE_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/0/minSize", json!(0))),
            "spec.nodePools[0].minSize 0 must be at least 1 on azure: the first pool is the AKS system pool",
        ),
        (
            "AKS system pool with a taint",
            AZURE_XR,
            Box::new(|xr| {
                set(
                    xr,
                    "/spec/nodePools/0/taints",
                    json!([{"key": "a", "value": "b", "effect": "NoSchedule"}]),
                )
            }),
            "spec.nodePools[0].taints 1 taint(s) must be empty on azure",
        ),
        // A name too long or with dots is shortened, not refused
        // (tests/names.rs); what no cloud takes is refused.
        (
            "a reserved AWS tag key",
            AWS_XR,
            Box::new(|xr| xr["spec"]["tags"]["aws:owner"] = json!("me")),
            "spec.tags[aws:owner] key \"aws:owner\" must be an AWS tag key",
        ),
        (
            "an AWS tag value with a character AWS refuses",
            AWS_XR,
            Box::new(|xr| xr["spec"]["tags"]["owner"] = json!("me;you")),
            "spec.tags[owner] \"me;you\" must be an AWS tag value: at most 256 letters, digits, spaces and '_.:/=+-@'",
        ),
        (
            "an Azure tag key with a slash",
            AZURE_XR,
            Box::new(|xr| xr["spec"]["tags"]["team/owner"] = json!("me")),
            "spec.tags[team/owner] key \"team/owner\" must be an Azure tag key",
        ),
        (
            "a node label key Kubernetes refuses",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/0/labels", json!({"bad key": "x"}))),
            "spec.nodePools[0].labels[bad key] key \"bad key\" must be a Kubernetes label key",
        ),
        (
            "duplicate pool names",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/1/name", json!("general"))),
            "spec.nodePools[1].name general is used by an earlier node pool",
        ),
        (
            "AKS pool name rule",
            AZURE_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/1/name", json!("spark-workers"))),
            "spec.nodePools[1].name spark-workers must be 1-12 lowercase letters and digits",
        ),
        (
            "missing aws section",
            AWS_XR,
            Box::new(|xr| {
                xr["spec"].as_object_mut().map(|s| s.remove("aws"));
            }),
            "spec.aws is required when spec.cloud is aws",
        ),
        (
            "missing azure section",
            AZURE_XR,
            Box::new(|xr| {
                xr["spec"].as_object_mut().map(|s| s.remove("azure"));
            }),
            "spec.azure is required when spec.cloud is azure",
        ),
        (
            "pod range on aws",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/network/podCidr", json!("100.64.0.0/16"))),
            "spec.network.podCidr 100.64.0.0/16 applies to azure only",
        ),
        (
            "wrong type",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/nodePools/0/maxSize", json!("six"))),
            "spec.nodePools[0].maxSize: expected a whole number between 1 and 1000, got \"six\"",
        ),
        (
            "unknown cloud",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/cloud", json!("gcp"))),
            "spec.cloud: expected one of \"aws\", \"azure\", got \"gcp\"",
        ),
        (
            "bad admin ARN",
            AWS_XR,
            Box::new(|xr| set(xr, "/spec/aws/adminPrincipalArn", json!("platform-admin"))),
            "spec.aws.adminPrincipalArn platform-admin must be an IAM role or user ARN",
        ),
    ];
    for (case, example, edit, expected) in cases {
        let message = fatal(example, edit);
        assert!(
            message.starts_with("invalid XHybridSpoke: "),
            "{case}: {message}"
        );
        assert!(
            message.contains(expected),
            "{case}: expected {expected:?} in {message:?}"
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let message = fatal(AWS_XR, |xr| {
        set(xr, "/spec/region", json!("mars-1"));
        set(xr, "/spec/nodePools/0/minSize", json!(9));
    });
    assert!(message.contains("spec.region mars-1"), "{message}");
    assert!(message.contains("spec.nodePools[0].minSize 9"), "{message}");
}

#[test]
fn a_missing_input_is_the_platforms_error() {
    let rsp = run(&request(&yaml(AWS_XR), None));
    assert_eq!(rsp.results.len(), 1);
    assert!(
        rsp.results[0].message.contains("input is missing"),
        "{}",
        rsp.results[0].message
    );
}

#[test]
fn an_input_missing_a_cloud_names_it() {
    let mut input = yaml(INPUT);
    input.as_object_mut().map(|i| i.remove("azure"));
    let rsp = run(&request(&yaml(AWS_XR), Some(&input)));
    assert!(
        rsp.results[0].message.contains("input.azure is required"),
        "{}",
        rsp.results[0].message
    );
}

// The property test below needs repeatable randomness, not a dependency.
#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Arbitrary JSON: scalars, CIDR-like and odd strings, arrays, and objects
/// with the claim's keys.
impl Rng {
    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 2 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.next() % 2 == 0),
            2 => json!(self.next() as i64 % 100_000 - 50_000),
            3 => json!((self.next() % 1_000_000) as f64 / 7.0),
            4 => json!(
                [
                    "",
                    "10.0.0.0/8",
                    "1.2.3.4/40",
                    "aws",
                    "azure",
                    "ÿ\u{0}",
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "1.35",
                    "-"
                ][self.below(9)]
            ),
            5 => json!(format!("{}", self.next())),
            6 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "name", "cloud", "spec", "minSize", "vpcCidr", "podCidr", "aws", "azure", "x",
                ];
                Value::Object(
                    (0..self.below(4))
                        .map(|_| {
                            (
                                keys[self.below(keys.len())].to_string(),
                                self.value(depth + 1),
                            )
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Every leaf and object of a document, as JSON pointers.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| pointers(v, format!("{prefix}/{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{prefix}/{i}"), out)),
        _ => {}
    }
    out.push(prefix);
}

#[test]
fn arbitrary_claims_and_inputs_never_panic() {
    let examples = [yaml(AWS_XR), yaml(AZURE_XR)];
    let input = yaml(INPUT);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let mut xr = examples[round % 2].clone();
        let mut inp = input.clone();
        // Mutate one to four places of the claim or the input.
        for _ in 0..=rng.below(4) {
            let target = if rng.below(5) == 0 { &mut inp } else { &mut xr };
            let mut places = Vec::new();
            pointers(target, String::new(), &mut places);
            let place = places[rng.below(places.len())].clone();
            let replacement = rng.value(0);
            if let Some(slot) = target.pointer_mut(&place) {
                *slot = replacement;
            }
        }
        let outcome = std::panic::catch_unwind(|| run(&request(&xr, Some(&inp))));
        assert!(
            outcome.is_ok(),
            "round {round} panicked on\nxr: {xr}\ninput: {inp}"
        );
    }
    // And requests that are not claims at all.
    for _ in 0..500 {
        let xr = rng.value(0);
        let inp = rng.value(0);
        let outcome = std::panic::catch_unwind(|| run(&request(&xr, Some(&inp))));
        assert!(outcome.is_ok(), "panicked on xr {xr} input {inp}");
    }
}
