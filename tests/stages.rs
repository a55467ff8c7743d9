//! What a platform engineer checks on a spoke as it comes up: readiness per
//! composed resource, the XR's stage conditions and status, FinOps labels
//! and tags everywhere, and references by selector rather than by name.

#[path = "support/examples.rs"]
mod examples;

use serde_json::Value;

fn render(name: &str) -> Vec<Value> {
    let case = examples::cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no example stage {name}"));
    examples::documents(&examples::hybrid_spoke_render(&case))
}

fn condition<'a>(xr: &'a Value, typ: &str) -> &'a Value {
    xr["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == typ))
        .unwrap_or_else(|| panic!("XR has no {typ} condition: {}", xr["status"]))
}

fn composed(documents: &[Value]) -> impl Iterator<Item = &Value> {
    documents.iter().skip(1).filter(|d| d["kind"] != "Result")
}

#[test]
fn a_new_spoke_is_creating_and_reports_its_addressing() {
    for cloud in ["aws", "azure"] {
        let docs = render(&format!("{cloud}-namespaced-initial"));
        let xr = &docs[0];
        assert_eq!(condition(xr, "Ready")["status"], "False", "{cloud}");
        assert_eq!(condition(xr, "NetworkReady")["status"], "False", "{cloud}");
        assert_eq!(condition(xr, "ClusterReady")["status"], "False", "{cloud}");
        assert!(
            xr["status"]["network"]["vpcCidr"].is_string(),
            "{cloud}: {}",
            xr["status"]
        );
        assert!(
            xr["status"]["cluster"]["name"].is_string(),
            "{cloud}: {}",
            xr["status"]
        );
        assert!(
            xr["status"]["cluster"].get("endpoint").is_none(),
            "{cloud}: no endpoint before the cluster exists"
        );
    }
}

#[test]
fn once_the_cluster_is_ready_its_stage_is_true_and_the_endpoint_is_reported() {
    for name in [
        "aws-namespaced-cluster-ready",
        "aws-legacy-cluster-ready",
        "azure-namespaced-cluster-ready",
        "azure-legacy-cluster-ready",
    ] {
        let docs = render(name);
        let xr = &docs[0];
        assert_eq!(condition(xr, "NetworkReady")["status"], "True", "{name}");
        assert_eq!(condition(xr, "ClusterReady")["status"], "True", "{name}");
        assert_eq!(condition(xr, "NodePoolsReady")["status"], "False", "{name}");
        assert_eq!(condition(xr, "Ready")["status"], "False", "{name}");
        let endpoint = xr["status"]["cluster"]["endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no endpoint"));
        assert!(endpoint.starts_with("https://"), "{name}: {endpoint}");
    }
}

#[test]
fn when_everything_is_ready_the_xr_is_ready() {
    for name in [
        "aws-namespaced-all-ready",
        "aws-legacy-all-ready",
        "azure-namespaced-all-ready",
        "azure-legacy-all-ready",
    ] {
        let docs = render(name);
        let xr = &docs[0];
        for typ in ["Ready", "NetworkReady", "ClusterReady", "NodePoolsReady"] {
            assert_eq!(condition(xr, typ)["status"], "True", "{name} {typ}");
        }
    }
}

#[test]
fn every_composed_object_carries_the_finops_labels_and_every_cloud_resource_the_tags() {
    let input: Value =
        serde_yaml::from_str(include_str!("../examples/input.yaml")).expect("input is YAML");
    let keys = &input["labelKeys"];
    for case in examples::cases() {
        let docs = examples::documents(&examples::hybrid_spoke_render(&case));
        let xr: Value = serde_yaml::from_str(&std::fs::read_to_string(&case.xr).expect("xr"))
            .expect("xr is YAML");
        let expected = [
            (
                keys["tenant"].as_str().unwrap_or(""),
                &xr["spec"]["finops"]["tenant"],
            ),
            (
                keys["costCenter"].as_str().unwrap_or(""),
                &xr["spec"]["finops"]["costCenter"],
            ),
            (keys["module"].as_str().unwrap_or(""), &input["module"]),
            (
                keys["environment"].as_str().unwrap_or(""),
                &xr["spec"]["environment"],
            ),
        ];
        for object in composed(&docs) {
            let labels = &object["metadata"]["labels"];
            // The platform pays for the tailnet part (Input tailnet.finopsTenant).
            let name = object
                .pointer("/metadata/annotations/crossplane.io~1composition-resource-name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let platform_paid = name.starts_with("tailnet-") || name.starts_with("tailscale-");
            let global = Value::from("global");
            for (key, value) in &expected {
                let value = if platform_paid && *key == keys["tenant"].as_str().unwrap_or("") {
                    &global
                } else {
                    *value
                };
                assert_eq!(
                    &labels[*key], value,
                    "{} {}: label {key}",
                    case.name, object["kind"]
                );
            }
            // Cloud tags (a map); a TailnetKey's `tags` are tailnet tags (a list).
            let Some(tags) = object
                .pointer("/spec/forProvider/tags")
                .filter(|t| t.is_object())
            else {
                continue;
            };
            // Azure tag names cannot hold '/', so the key is sanitized; the value is the same.
            let tag = |key: &str| {
                tags.get(key)
                    .or_else(|| tags.get(key.replace('/', "_").as_str()))
                    .cloned()
            };
            for (key, value) in &expected {
                assert_eq!(
                    tag(key).as_ref(),
                    Some(*value),
                    "{} {}: tag {key} in {tags}",
                    case.name,
                    object["kind"]
                );
            }
            assert_eq!(
                tags["Owner"], xr["spec"]["tags"]["Owner"],
                "{} {}: spec.tags",
                case.name, object["kind"]
            );
        }
    }
}

/// References between composed resources use selectors on the XR's own
/// resources, never names Crossplane has not generated yet.
#[test]
fn references_between_composed_resources_are_controller_selectors() {
    fn visit(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{path}.{k}");
                    if k == "manifest" {
                        // An object in the spoke: Kubernetes' own selectors.
                        continue;
                    }
                    if k.ends_with("Selector") {
                        if v["matchControllerRef"] != true {
                            out.push(format!("{here} lacks matchControllerRef: {v}"));
                        }
                    } else if k == "secretKeyRef" {
                        // A connection Secret: its name is the function's
                        // own choice (writeConnectionSecretToRef), not generated.
                        continue;
                    } else if k.ends_with("Ref") || k.ends_with("Refs") {
                        out.push(format!("{here} names another resource: {v}"));
                    } else {
                        visit(v, &here, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| visit(v, path, out)),
            _ => {}
        }
    }
    for case in examples::cases() {
        let docs = examples::documents(&examples::hybrid_spoke_render(&case));
        let mut problems = Vec::new();
        let mut selectors = 0;
        for object in composed(&docs) {
            let for_provider = &object["spec"]["forProvider"];
            selectors += for_provider.to_string().matches("Selector").count();
            visit(for_provider, "spec.forProvider", &mut problems);
        }
        assert!(problems.is_empty(), "{}: {problems:#?}", case.name);
        assert!(
            selectors > 5,
            "{}: composed resources should reference each other ({selectors} selectors)",
            case.name
        );
    }
}

/// Crossplane deletes an XR's resources all at once; the cloud refuses to
/// delete a cluster that still has node pools, so each pool's Usage holds
/// the cluster back until the pool is gone.
#[test]
fn every_node_pool_holds_its_cluster_back_from_deletion() {
    for case in examples::cases() {
        let docs = examples::documents(&examples::hybrid_spoke_render(&case));
        let objects: Vec<&Value> = composed(&docs).collect();
        let pools = objects
            .iter()
            .filter(|o| o["kind"] == "NodeGroup" || o["kind"] == "KubernetesClusterNodePool");
        let mut count = 0;
        for pool in pools {
            count += 1;
            let pool_name = &pool["metadata"]["labels"]["hybridspoke.io/resource"];
            let usage = objects
                .iter()
                .find(|o| o["kind"].as_str().is_some_and(|k| k.ends_with("Usage")) && o["spec"]["by"]["resourceSelector"]["matchLabels"]["hybridspoke.io/resource"] == *pool_name)
                .unwrap_or_else(|| panic!("{}: no Usage for {pool_name}", case.name));
            assert_eq!(usage["spec"]["by"]["kind"], pool["kind"], "{}", case.name);
            assert_eq!(
                usage["spec"]["by"]["apiVersion"], pool["apiVersion"],
                "{}",
                case.name
            );
            assert_eq!(
                usage["spec"]["of"]["resourceSelector"]["matchLabels"]["hybridspoke.io/resource"],
                "cluster",
                "{}",
                case.name
            );
            assert_eq!(
                usage["spec"]["of"]["resourceSelector"]["matchControllerRef"], true,
                "{}",
                case.name
            );
            let cluster = objects
                .iter()
                .find(|o| o["metadata"]["labels"]["hybridspoke.io/resource"] == "cluster")
                .expect("a cluster");
            assert_eq!(
                usage["spec"]["of"]["kind"], cluster["kind"],
                "{}",
                case.name
            );
            assert_eq!(
                usage["spec"]["of"]["apiVersion"], cluster["apiVersion"],
                "{}",
                case.name
            );
            assert_eq!(usage["spec"]["replayDeletion"], true, "{}", case.name);
        }
        assert!(count >= 1, "{}: no node pools", case.name);
    }
}
