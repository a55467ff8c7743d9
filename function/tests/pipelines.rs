//! In a pipeline, a desired resource an earlier step composed under a name
//! this function also composes is never silently replaced: the same kind
//! gets a Warning naming it, a different kind a FATAL.

use function_hybrid_spoke::{REASON_REPLACED_EARLIER_STEP, run};
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

fn resource(value: &Value) -> Resource {
    Resource {
        resource: value.as_object().map(json_to_struct),
        ..Default::default()
    }
}

/// The example XR, with `earlier` as what an earlier step desired.
fn request(earlier: &[(&str, Value)]) -> RunFunctionRequest {
    RunFunctionRequest {
        observed: Some(State {
            composite: Some(resource(&yaml(AWS_XR))),
            ..Default::default()
        }),
        desired: Some(State {
            composite: None,
            resources: earlier
                .iter()
                .map(|(name, r)| (name.to_string(), resource(r)))
                .collect(),
        }),
        input: yaml(INPUT).as_object().map(json_to_struct),
        ..Default::default()
    }
}

/// The kind of one of our composed resources, from a clean run.
fn our(name: &str) -> Value {
    let rsp = run(&request(&[]));
    let desired = rsp.desired.expect("desired");
    struct_to_json(
        desired.resources[name]
            .resource
            .as_ref()
            .expect("a resource"),
    )
}

#[test]
fn an_earlier_step_of_the_same_kind_is_replaced_with_a_warning() {
    let mut theirs = our("cluster");
    theirs["spec"] = json!({"forProvider": {"region": "somewhere-else"}});
    let rsp = run(&request(&[
        ("cluster", theirs),
        (
            "their-own",
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
        ),
    ]));
    let warnings: Vec<_> = rsp
        .results
        .iter()
        .filter(|r| r.severity == Severity::Warning as i32)
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", rsp.results);
    assert!(
        warnings[0].message.contains("desired resource \"cluster\""),
        "{}",
        warnings[0].message
    );
    assert!(warnings[0].message.contains("earlier pipeline step"));
    assert_eq!(
        warnings[0].reason.as_deref(),
        Some(REASON_REPLACED_EARLIER_STEP)
    );
    let desired = rsp.desired.expect("desired");
    // Ours replaced theirs, and the earlier step's other resources remain.
    let cluster = struct_to_json(
        desired.resources["cluster"]
            .resource
            .as_ref()
            .expect("cluster"),
    );
    assert_eq!(cluster, our("cluster"));
    assert!(desired.resources.contains_key("their-own"));
}

#[test]
fn an_earlier_step_of_another_kind_is_fatal() {
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let rsp = run(&request(&[("cluster", theirs)]));
    let fatal = rsp
        .results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
        .unwrap_or_else(|| panic!("no FATAL: {:?}", rsp.results));
    let kind = our("cluster");
    let ours = format!(
        "{}/{}",
        kind["apiVersion"].as_str().expect("apiVersion"),
        kind["kind"].as_str().expect("kind")
    );
    for expected in [
        "\"cluster\" is a v1/ConfigMap from an earlier pipeline step".to_string(),
        format!("and a {ours} here"),
    ] {
        assert!(
            fatal.message.contains(&expected),
            "{expected:?} in {:?}",
            fatal.message
        );
    }
}

#[test]
fn no_earlier_step_no_warning() {
    let rsp = run(&request(&[]));
    assert!(
        rsp.results
            .iter()
            .all(|r| r.severity != Severity::Warning as i32 && r.severity != Severity::Fatal as i32),
        "{:?}",
        rsp.results
    );
}
