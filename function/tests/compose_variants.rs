//! Table tests for the choices a claim makes that the examples do not show:
//! NAT modes, endpoint exposure, zone counts, node-pool details. Each runs
//! the function on an example XR with one field changed and checks what a
//! platform engineer would look for in the composed resources.

use std::collections::BTreeMap;

use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const AZURE_XR: &str = include_str!("../../examples/azure/xr.yaml");
const AZURE_LEGACY_XR: &str = include_str!("../../examples/azure/legacy-xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

/// Composes the example XR changed by `edit`; composed resources by name.
fn compose(example: &str, edit: impl FnOnce(&mut Value)) -> BTreeMap<String, Value> {
    let mut xr = yaml(example);
    edit(&mut xr);
    let req = RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: yaml(INPUT).as_object().map(json_to_struct),
        ..Default::default()
    };
    let rsp = run(&req);
    let fatal: Vec<&str> = rsp
        .results
        .iter()
        .filter(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message.as_str())
        .collect();
    assert!(fatal.is_empty(), "unexpected FATAL: {fatal:?}");
    rsp.desired
        .map(|d| {
            d.resources
                .into_iter()
                .filter_map(|(name, r)| Some((name, struct_to_json(r.resource.as_ref()?))))
                .collect()
        })
        .unwrap_or_default()
}

fn names_with_prefix(resources: &BTreeMap<String, Value>, prefix: &str) -> Vec<String> {
    resources
        .keys()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

fn selected(resource: &Value, pointer: &str) -> String {
    resource
        .pointer(&format!("{pointer}/matchLabels/hybridspoke.io~1resource"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no resource selector at {pointer} in {resource}"))
        .to_string()
}

#[test]
fn nat_modes_give_private_subnets_the_egress_they_ask_for() {
    // (mode, NAT gateways, where each private route table's default route goes)
    let cases = [
        (
            "PerZone",
            vec!["nat-gateway-a", "nat-gateway-b", "nat-gateway-c"],
            vec![
                Some("nat-gateway-a"),
                Some("nat-gateway-b"),
                Some("nat-gateway-c"),
            ],
        ),
        (
            "Single",
            vec!["nat-gateway-a"],
            vec![
                Some("nat-gateway-a"),
                Some("nat-gateway-a"),
                Some("nat-gateway-a"),
            ],
        ),
        ("None", vec![], vec![None, None, None]),
    ];
    for (mode, gateways, routes) in cases {
        let composed = compose(AWS_XR, |xr| xr["spec"]["network"]["natMode"] = json!(mode));
        assert_eq!(
            names_with_prefix(&composed, "nat-gateway-"),
            gateways,
            "{mode}"
        );
        assert_eq!(
            names_with_prefix(&composed, "eip-").len(),
            gateways.len(),
            "{mode}: one EIP per NAT gateway"
        );
        for gateway in &gateways {
            let zone = gateway.trim_start_matches("nat-gateway-");
            assert_eq!(
                selected(&composed[*gateway], "/spec/forProvider/subnetIdSelector"),
                format!("subnet-public-{zone}"),
                "{mode}: NAT in the public subnet"
            );
            assert_eq!(
                selected(
                    &composed[*gateway],
                    "/spec/forProvider/allocationIdSelector"
                ),
                format!("eip-{zone}"),
                "{mode}"
            );
        }
        for (zone, want) in ["a", "b", "c"].iter().zip(routes) {
            let route = composed.get(&format!("route-private-{zone}-nat"));
            let got = route.map(|r| selected(r, "/spec/forProvider/natGatewayIdSelector"));
            assert_eq!(got.as_deref(), want, "{mode}: zone {zone}");
            // Every private subnet is still associated with its own route table.
            let association = &composed[&format!("route-table-association-private-{zone}")];
            assert_eq!(
                selected(association, "/spec/forProvider/routeTableIdSelector"),
                format!("route-table-private-{zone}"),
                "{mode}"
            );
        }
    }
}

#[test]
fn two_zones_compose_two_of_everything_zonal() {
    let composed = compose(AWS_XR, |xr| {
        xr["spec"]["network"]["availabilityZones"] = json!(2)
    });
    assert_eq!(
        names_with_prefix(&composed, "subnet-private-"),
        ["subnet-private-a", "subnet-private-b"]
    );
    assert_eq!(
        names_with_prefix(&composed, "subnet-public-"),
        ["subnet-public-a", "subnet-public-b"]
    );
    assert_eq!(names_with_prefix(&composed, "nat-gateway-").len(), 2);
    let zones: Vec<&str> = ["subnet-private-a", "subnet-private-b"]
        .iter()
        .map(|n| {
            composed[*n]["spec"]["forProvider"]["availabilityZone"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(zones, ["eu-west-1a", "eu-west-1b"]);
}

#[test]
fn eks_endpoint_exposure_follows_the_claim() {
    // (public, private, allowed CIDRs) -> what the EKS vpcConfig says
    let cases = [
        (
            true,
            true,
            json!(["203.0.113.0/24"]),
            json!({"endpointPublicAccess": true, "endpointPrivateAccess": true, "publicAccessCidrs": ["203.0.113.0/24"]}),
        ),
        (
            true,
            false,
            json!([]),
            json!({"endpointPublicAccess": true, "endpointPrivateAccess": false}),
        ),
        (
            false,
            true,
            json!([]),
            json!({"endpointPublicAccess": false, "endpointPrivateAccess": true}),
        ),
    ];
    for (public, private, allowed, want) in cases {
        let composed = compose(AWS_XR, |xr| {
            xr["spec"]["network"]["apiEndpoint"] =
                json!({"public": public, "private": private, "allowedCidrs": allowed});
        });
        let vpc_config = &composed["cluster"]["spec"]["forProvider"]["vpcConfig"];
        for (key, value) in want.as_object().into_iter().flatten() {
            assert_eq!(
                &vpc_config[key], value,
                "public={public} private={private}: {key}"
            );
        }
        if want.get("publicAccessCidrs").is_none() {
            assert!(
                vpc_config.get("publicAccessCidrs").is_none(),
                "no CIDR list means EKS's default: {vpc_config}"
            );
        }
    }
}

#[test]
fn aks_endpoint_exposure_follows_the_claim() {
    let private_only = compose(AZURE_XR, |xr| {
        xr["spec"]["network"]["apiEndpoint"] = json!({"public": false, "private": true})
    });
    assert_eq!(
        private_only["cluster"]["spec"]["forProvider"]["privateClusterEnabled"],
        true
    );
    assert!(
        private_only["cluster"]["spec"]["forProvider"]
            .get("apiServerAccessProfile")
            .is_none()
    );

    let restricted = compose(AZURE_XR, |_| {});
    assert_eq!(
        restricted["cluster"]["spec"]["forProvider"]["privateClusterEnabled"],
        false
    );
    assert_eq!(
        restricted["cluster"]["spec"]["forProvider"]["apiServerAccessProfile"]["authorizedIpRanges"],
        json!(["198.51.100.0/24"])
    );

    let open = compose(AZURE_XR, |xr| {
        xr["spec"]["network"]["apiEndpoint"] = json!({"public": true, "private": false})
    });
    assert!(
        open["cluster"]["spec"]["forProvider"]
            .get("apiServerAccessProfile")
            .is_none(),
        "no ranges means anywhere"
    );
}

#[test]
fn node_pools_keep_their_sizes_labels_and_taints() {
    let aws = compose(AWS_XR, |_| {});
    let batch = &aws["nodegroup-batch"]["spec"];
    assert_eq!(
        batch["forProvider"]["scalingConfig"],
        json!({"minSize": 0, "maxSize": 10})
    );
    // A pool of minimum 0 still starts with one node; the autoscaler owns the size after that.
    assert_eq!(batch["initProvider"]["scalingConfig"]["desiredSize"], 1);
    assert_eq!(
        batch["forProvider"]["taint"],
        json!([{"key": "workload", "value": "batch", "effect": "NO_SCHEDULE"}])
    );
    assert_eq!(batch["forProvider"]["labels"], json!({"workload": "batch"}));
    assert_eq!(
        aws["nodegroup-general"]["spec"]["initProvider"]["scalingConfig"]["desiredSize"],
        3
    );
    assert_eq!(
        aws["nodegroup-general"]["metadata"]["annotations"]["crossplane.io/external-name"],
        "general"
    );

    let azure = compose(AZURE_XR, |_| {});
    let system = &azure["cluster"]["spec"];
    assert_eq!(system["forProvider"]["defaultNodePool"]["name"], "system");
    assert_eq!(system["forProvider"]["defaultNodePool"]["minCount"], 2);
    assert_eq!(system["initProvider"]["defaultNodePool"]["nodeCount"], 2);
    let spark = &azure["nodepool-spark"]["spec"];
    assert_eq!(
        spark["forProvider"]["nodeTaints"],
        json!(["workload=spark:NoSchedule"])
    );
    assert_eq!(spark["forProvider"]["mode"], "User");
    assert_eq!(spark["initProvider"]["nodeCount"], 1);
    assert!(
        !azure.contains_key("nodepool-system"),
        "the first pool is the cluster's system pool"
    );
}

#[test]
fn a_pool_without_an_instance_type_gets_the_platform_default() {
    let composed = compose(AWS_XR, |xr| {
        xr["spec"]["nodePools"][0]
            .as_object_mut()
            .map(|p| p.remove("instanceType"));
    });
    assert_eq!(
        composed["nodegroup-general"]["spec"]["forProvider"]["instanceTypes"],
        json!(["m6i.large"])
    );
}

#[test]
fn the_cloud_cluster_name_is_the_same_for_a_v2_xr_and_a_claim() {
    let v2 = compose(AZURE_XR, |_| {});
    let legacy = compose(AZURE_LEGACY_XR, |_| {});
    let name = |r: &BTreeMap<String, Value>| {
        r["cluster"]["metadata"]["annotations"]["crossplane.io/external-name"].clone()
    };
    assert_eq!(name(&v2), json!("team-analytics-we-analytics"));
    assert_eq!(name(&v2), name(&legacy));
    assert_eq!(
        v2["resource-group"]["metadata"]["annotations"]["crossplane.io/external-name"],
        "team-analytics-we-analytics-rg"
    );
    let unclaimed = compose(AZURE_LEGACY_XR, |xr| {
        xr["metadata"].as_object_mut().map(|m| m.remove("labels"));
    });
    assert_eq!(name(&unclaimed), json!("we-analytics-q4m9t"));
}

#[test]
fn a_chosen_resource_group_name_is_used_as_is() {
    let composed = compose(AZURE_XR, |xr| {
        xr["spec"]["azure"]["resourceGroupName"] = json!("rg-analytics-prod")
    });
    assert_eq!(
        composed["resource-group"]["metadata"]["annotations"]["crossplane.io/external-name"],
        "rg-analytics-prod"
    );
}
