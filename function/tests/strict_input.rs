//! The Composition's Input is never checked by the API server: a misspelled
//! or mistyped field is a FATAL that names the field, the nearest valid one
//! and what was expected, in the user's terms (no Rust types).

use function_hybrid_spoke::run;
use function_hybrid_spoke::strict::{edit_distance, nearest};
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::json_to_struct;
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

/// The single FATAL message for the example XR and an Input changed by `edit`.
fn fatal_for_input(edit: impl FnOnce(&mut Value)) -> String {
    let mut input = yaml(INPUT);
    edit(&mut input);
    fatal(&yaml(AWS_XR), &input)
}

fn fatal(xr: &Value, input: &Value) -> String {
    let rsp = run(&RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    });
    let fatals: Vec<&str> = rsp
        .results
        .iter()
        .filter(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(fatals.len(), 1, "one FATAL expected: {:?}", rsp.results);
    let composed = rsp.desired.map(|d| d.resources.len()).unwrap_or_default();
    assert_eq!(composed, 0, "an invalid Input composes nothing");
    fatals[0].to_string()
}

/// No serde or Rust vocabulary reaches a user.
fn assert_user_terms(message: &str) {
    for rust in [
        "u32", "u8", "u64", "i64", "String", "struct ", "enum ", "variant", "`", "::",
    ] {
        assert!(!message.contains(rust), "{rust:?} in {message:?}");
    }
}

#[test]
fn a_misspelled_field_is_named_with_the_nearest_valid_one() {
    let message = fatal_for_input(|input| {
        input["tailnet"] = json!({"backnd": "Headscale"});
    });
    assert!(
        message.contains(r#"input.tailnet.backnd: unknown field; did you mean "backend"?"#),
        "{message}"
    );
    assert_user_terms(&message);
}

#[test]
fn a_misspelled_top_level_field_is_named() {
    let message = fatal_for_input(|input| {
        let ttl = input["ttlSeconds"].take();
        input.as_object_mut().map(|i| i.remove("ttlSeconds"));
        input["ttlSecond"] = ttl;
    });
    assert!(
        message.contains(r#"input.ttlSecond: unknown field; did you mean "ttlSeconds"?"#),
        "{message}"
    );
}

#[test]
fn a_field_far_from_any_lists_the_valid_ones() {
    let message = fatal_for_input(|input| {
        input["edge"] = json!({"zzzzzzzzzzzz": 1});
    });
    assert!(
        message.contains(
            "input.edge.zzzzzzzzzzzz: unknown field; the fields here are zone, namespace"
        ),
        "{message}"
    );
}

#[test]
fn every_problem_of_the_input_is_reported_at_once() {
    let message = fatal_for_input(|input| {
        input["ttlSeconds"] = json!(-5);
        input["aws"]["maxPodsPerNode"] = json!("many");
        input["tailnet"] = json!({"backend": "Wireguard", "admns": []});
    });
    for expected in [
        "input.ttlSeconds: expected a whole number ≥ 0, got -5",
        r#"input.aws.maxPodsPerNode: expected a whole number ≥ 0, got "many""#,
        r#"input.tailnet.backend: expected one of "Tailscale", "Headscale", got "Wireguard""#,
        r#"input.tailnet.admns: unknown field; did you mean "admins"?"#,
    ] {
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert_user_terms(&message);
}

#[test]
fn a_missing_required_section_is_named() {
    let message = fatal_for_input(|input| {
        input.as_object_mut().map(|i| i.remove("azure"));
    });
    assert!(message.contains("input.azure is required"), "{message}");
    assert_user_terms(&message);
}

#[test]
fn wrong_types_speak_the_users_terms() {
    let message = fatal_for_input(|input| {
        input["aws"]["regions"] = json!("eu-west-1");
        input["edge"] = json!({"replicas": 1.5});
        input["secrets"] = json!(true);
    });
    for expected in [
        r#"input.aws.regions: expected a list, got "eu-west-1""#,
        "input.edge.replicas: expected a whole number ≥ 0, got 1.5",
        "input.secrets: expected an object of fields, got true",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert_user_terms(&message);
}

#[test]
fn a_claims_wrong_value_is_named_in_user_terms() {
    let mut xr = yaml(AWS_XR);
    xr["spec"]["nodePools"][0]["maxSize"] = json!(-1);
    let message = fatal(&xr, &yaml(INPUT));
    assert!(
        message.contains(
            "spec.nodePools[0].maxSize: expected a whole number between 1 and 1000, got -1"
        ),
        "{message}"
    );
    assert_user_terms(&message);
}

#[test]
fn nearest_field_by_edit_distance() {
    assert_eq!(edit_distance("backnd", "backend"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    let known = ["backend", "loginServer", "tags", "admins"];
    assert_eq!(nearest("backnd", &known), Some("backend"));
    assert_eq!(nearest("LoginServer", &known), Some("loginServer"));
    assert_eq!(nearest("tag", &known), Some("tags"));
    assert_eq!(nearest("completelyelse", &known), None);
}
