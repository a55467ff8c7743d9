//! A zone error names the region, the count asked for, and the setting that
//! would fix it: the claim's `availabilityZones` or the Input's zone list.

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
    rsp.results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message.clone())
        .unwrap_or_else(|| panic!("no FATAL: {:?}", rsp.results))
}

#[test]
fn too_few_zones_in_the_input_names_region_count_and_input_setting() {
    let mut xr = yaml(AWS_XR);
    xr["spec"]["region"] = json!("us-east-1");
    let mut input = yaml(INPUT);
    input["aws"]["zones"]["us-east-1"] = json!(["us-east-1a", "us-east-1b"]);
    let message = fatal(&xr, &input);
    for expected in [
        "spec.network.availabilityZones 3 asks for 3 zones in region us-east-1",
        "the platform knows only 2 (us-east-1a, us-east-1b)",
        "set spec.network.availabilityZones to 2",
        "input.aws.zones[us-east-1]",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
}

#[test]
fn a_region_the_input_lists_without_zones_says_so() {
    let mut xr = yaml(AZURE_XR);
    xr["spec"]["network"]["availabilityZones"] = json!(2);
    let region = xr["spec"]["region"].as_str().expect("region").to_string();
    let mut input = yaml(INPUT);
    input["azure"]["zones"] = json!({ region.clone(): [] });
    let message = fatal(&xr, &input);
    for expected in [
        format!("asks for 2 zones in region {region}, where the platform knows only none"),
        format!("list 2 zones for {region} in the Input's input.azure.zones[{region}]"),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message:?}");
    }
    assert!(
        !message.contains("set spec.network.availabilityZones to"),
        "{message}"
    );
}

#[test]
fn a_count_outside_two_to_three_names_region_and_offer() {
    let mut xr = yaml(AWS_XR);
    xr["spec"]["network"]["availabilityZones"] = json!(1);
    let region = xr["spec"]["region"].as_str().expect("region").to_string();
    let message = fatal(&xr, &yaml(INPUT));
    for expected in [
        "spec.network.availabilityZones 1 must be 2 or 3".to_string(),
        format!("asked for 1 in region {region}, where the platform knows 3"),
        "set spec.network.availabilityZones to 2 or 3".to_string(),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message:?}");
    }
}
