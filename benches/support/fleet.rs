#![allow(dead_code)] // each bench uses a different part of this module
//! A fleet of settled spokes as required resources, and a new spoke beside
//! it: the request of the address plan (benches/fleet.rs, side_by_side.rs).

use function_sdk_rust::proto::v1::{Resource, Resources, RunFunctionRequest, State};
use function_sdk_rust::resource::json_to_struct;
use serde_json::{Value, json};

pub const XR: &str = include_str!("../../examples/aws/xr.yaml");
pub const INPUT: &str = include_str!("../../examples/input.yaml");

/// The example Input with one pool of /22 blocks out of 10.0.0.0/8.
pub fn input() -> Value {
    let mut input = yaml(INPUT);
    input["addressPlan"] = json!({"pools": [
        {"name": "aws-prod", "cloud": "aws", "environment": "prod", "cidrs": ["10.0.0.0/8"], "blockPrefix": 22}
    ]});
    input
}

pub fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

pub fn spoke(i: usize) -> Value {
    let mut xr = yaml(XR);
    xr["metadata"] = json!({
        "name": format!("spoke-{i}"),
        "namespace": format!("team-{}", i % 50),
        "uid": format!("00000000-0000-0000-0000-{i:012}"),
        "creationTimestamp": "2026-11-01T00:00:00Z",
    });
    xr["spec"]["network"]
        .as_object_mut()
        .expect("network")
        .remove("vpcCidr");
    xr["spec"]["tailnet"]["legacyRoutes"] = json!([]);
    xr
}

pub fn request(n: usize, input: &Value) -> RunFunctionRequest {
    let items = (0..n)
        .map(|i| {
            let mut xr = spoke(i);
            // Settled /22 blocks of 10.0.0.0/8, in order.
            let base = (10u32 << 24) + (i as u32) * 1024;
            xr["status"] = json!({"network": {"allocated": {
                "vpcCidr": format!("{}/22", std::net::Ipv4Addr::from(base)),
                "pool": "aws-prod", "settled": true}}});
            Resource {
                resource: xr.as_object().map(json_to_struct),
                ..Default::default()
            }
        })
        .collect();
    let me = spoke(n);
    RunFunctionRequest {
        observed: Some(State {
            composite: Some(Resource {
                resource: me.as_object().map(json_to_struct),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        required_resources: [("hybrid-spokes".to_string(), Resources { items })].into(),
        ..Default::default()
    }
}
