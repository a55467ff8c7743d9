//! Every composed resource of every example, at every stage, validates against
//! the upstream CRD of its kind in ../shared/vendor-crds (types, required
//! fields, enums, patterns, unknown fields, CEL rules). The examples' XRs and
//! claims validate against the CRDs Crossplane derives from our XRDs, and the
//! package files against Crossplane's own CRDs.

#[path = "support/crd_schema.rs"]
mod crd_schema;
#[path = "support/examples.rs"]
mod examples;

use serde_json::{Value, json};

fn read_yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(examples::root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

#[test]
fn every_composed_resource_of_every_example_matches_its_upstream_crd() {
    let crds = crd_schema::composed_crds();
    let mut checked = 0;
    let mut embedded = 0;
    let mut failures = Vec::new();
    for case in examples::cases() {
        let rendered = examples::documents(&examples::hybrid_spoke_render(&case));
        for composed in rendered.iter().skip(1).filter(|d| d["kind"] != "Result") {
            checked += 1;
            if let Some(manifest) = composed.pointer("/spec/forProvider/manifest") {
                embedded += 1;
                if let Err(problem) = validate_embedded(crds, manifest) {
                    failures.push(format!("{} embedded {problem}", case.name));
                }
            }
            if let Err(violations) = crds.validate(composed) {
                let name = composed
                    .pointer("/metadata/annotations/crossplane.io~1composition-resource-name");
                failures.push(format!(
                    "{} {} {}:\n{}",
                    case.name,
                    composed["kind"],
                    name.unwrap_or(&json!("?")),
                    crd_schema::report(&violations)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} composed resources are invalid:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked > 50,
        "only {checked} composed resources were checked: the examples compose too little"
    );
    assert!(
        embedded > 20,
        "only {embedded} embedded objects were checked: the examples compose too few Objects"
    );
}

/// Kubernetes' own kinds, which have no CRD: checked for identity only.
const CORE_KINDS: [(&str, &str); 4] = [
    ("v1", "Namespace"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("policy/v1", "PodDisruptionBudget"),
];

/// An object a provider-kubernetes Object manages in the spoke: valid
/// against its CRD (the tailscale-operator's, External Secrets'), or one of
/// Kubernetes' own kinds with a name.
fn validate_embedded(crds: &crd_schema::SchemaSet, manifest: &Value) -> Result<(), String> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or("");
    let kind = manifest["kind"].as_str().unwrap_or("");
    let name = manifest.pointer("/metadata/name").and_then(Value::as_str);
    if CORE_KINDS.contains(&(api_version, kind)) {
        return match name {
            Some(n) if !n.is_empty() => Ok(()),
            _ => Err(format!("{api_version} {kind} has no metadata.name")),
        };
    }
    if !crds.contains(api_version, kind) {
        return Err(format!("{api_version} {kind}: no vendored CRD"));
    }
    crds.validate(manifest)
        .map_err(|v| format!("{kind} {name:?}:\n{}", crd_schema::report(&v)))
}

#[test]
fn every_composed_kind_exists_in_the_vendored_crds_in_both_flavours() {
    let crds = crd_schema::composed_crds();
    for case in examples::cases() {
        for composed in examples::documents(&examples::hybrid_spoke_render(&case))
            .iter()
            .skip(1)
        {
            let (api_version, kind) = (
                composed["apiVersion"].as_str().unwrap_or(""),
                composed["kind"].as_str().unwrap_or(""),
            );
            assert!(
                crds.contains(api_version, kind),
                "{}: no vendored CRD for {api_version} {kind}",
                case.name
            );
            let namespaced = case.name.contains("-namespaced-");
            if api_version.starts_with("protection.crossplane.io/") {
                // Deletion-order Usages: namespaced beside a v2 XR, cluster-scoped beside a legacy one.
                let expected = if namespaced { "Usage" } else { "ClusterUsage" };
                assert_eq!(
                    kind, expected,
                    "{}: {api_version} {kind} is the wrong flavour",
                    case.name
                );
                continue;
            }
            if api_version.starts_with("external-secrets.io/") {
                // Not a managed resource: one API group for both flavours.
                continue;
            }
            let namespaced_group = api_version.contains(".m.");
            assert_eq!(
                namespaced_group, namespaced,
                "{}: {api_version} {kind} is the wrong flavour",
                case.name
            );
        }
    }
}

/// The CRD Crossplane derives from one of our XRDs: our schema plus the
/// machinery fields Crossplane adds (kept open here; `crossplane beta
/// validate` in the peer tests checks them with Crossplane's own derivation).
fn derived_crd(xrd: &Value, claim: bool) -> String {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let mut schema = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let legacy = xrd["spec"]["scope"] == "LegacyCluster";
    let machinery: &[&str] = match (legacy, claim) {
        (false, _) => &["crossplane"],
        (true, false) => &[
            "claimRef",
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "compositionRevisionSelector",
            "compositionUpdatePolicy",
            "resourceRefs",
            "writeConnectionSecretToRef",
        ],
        (true, true) => &[
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "compositionRevisionSelector",
            "compositionUpdatePolicy",
            "resourceRef",
            "writeConnectionSecretToRef",
        ],
    };
    for field in machinery {
        schema["properties"]["spec"]["properties"][*field] = open.clone();
    }
    schema["properties"]["status"]["properties"]["conditions"] =
        json!({"type": "array", "items": open});
    let names = if claim {
        &xrd["spec"]["claimNames"]
    } else {
        &xrd["spec"]["names"]
    };
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", names["plural"].as_str().unwrap_or(""), xrd["spec"]["group"].as_str().unwrap_or(""))},
        "spec": {
            "group": xrd["spec"]["group"],
            "names": names,
            "scope": if legacy && !claim { "Cluster" } else { "Namespaced" },
            "versions": [{"name": xrd["spec"]["versions"][0]["name"], "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}],
        },
    });
    serde_yaml::to_string(&crd).expect("CRD serializes")
}

#[test]
fn the_examples_are_valid_xrs_and_claims_of_our_xrds() {
    let mut v2 = crd_schema::SchemaSet::new();
    v2.add_yaml(
        &derived_crd(
            &read_yaml("package/configuration/namespaced/definition.yaml"),
            false,
        ),
        "v2 XRD",
    )
    .expect("v2 XRD loads");
    let legacy_xrd = read_yaml("package/configuration/legacy/definition.yaml");
    let mut legacy = crd_schema::SchemaSet::new();
    legacy
        .add_yaml(&derived_crd(&legacy_xrd, false), "legacy XRD")
        .expect("legacy XRD loads");
    legacy
        .add_yaml(&derived_crd(&legacy_xrd, true), "claim")
        .expect("claim CRD loads");

    for cloud in ["aws", "azure"] {
        v2.assert_valid(&read_yaml(&format!("examples/{cloud}/xr.yaml")));
        legacy.assert_valid(&read_yaml(&format!("examples/{cloud}/legacy-xr.yaml")));
        legacy.assert_valid(&read_yaml(&format!("examples/{cloud}/claim.yaml")));
    }
}

#[test]
fn the_xrd_schema_rejects_what_it_can_express() {
    let mut v2 = crd_schema::SchemaSet::new();
    v2.add_yaml(
        &derived_crd(
            &read_yaml("package/configuration/namespaced/definition.yaml"),
            false,
        ),
        "v2 XRD",
    )
    .expect("v2 XRD loads");
    let xr = read_yaml("examples/aws/xr.yaml");
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut xr = xr.clone();
        edit(&mut xr);
        crd_schema::report(&v2.validate(&xr).expect_err("the schema rejects it"))
    };
    assert!(broken(&|xr| xr["spec"]["cloud"] = json!("gcp")).contains("spec.cloud"));
    assert!(
        broken(&|xr| xr["spec"]["nodePools"][0]["minSize"] = json!(9))
            .contains("minSize must not exceed maxSize")
    );
    assert!(
        broken(&|xr| {
            xr["spec"].as_object_mut().map(|s| s.remove("aws"));
        })
        .contains("spec.aws is required when spec.cloud is aws")
    );
    assert!(
        broken(&|xr| xr["spec"]["network"]["podCidr"] = json!("100.64.0.0/16"))
            .contains("podCidr applies to azure only")
    );
    assert!(
        broken(&|xr| xr["spec"]["nodePools"][1]["name"] = json!("general"))
            .contains("names must be unique")
    );
    assert!(
        broken(&|xr| xr["spec"]["network"]["vpcCidr"] = json!("10.0.0.0"))
            .contains("spec.network.vpcCidr")
    );
    assert!(broken(&|xr| xr["spec"]["unknownField"] = json!(1)).contains("unknownField"));
}

#[test]
fn package_files_match_crossplanes_crds_and_the_input_matches_its_own_crd() {
    let crds = crd_schema::composed_crds();
    for path in [
        "package/configuration/namespaced/definition.yaml",
        "package/configuration/namespaced/composition.yaml",
        "package/configuration/legacy/definition.yaml",
        "package/configuration/legacy/composition.yaml",
    ] {
        crds.assert_valid(&read_yaml(path));
    }
    let mut input_crd = crd_schema::SchemaSet::new();
    input_crd
        .add_file(
            examples::root()
                .join("package/function/input/hybridspoke.fn.crossplane.io_inputs.yaml"),
        )
        .expect("Input CRD loads");
    input_crd.assert_valid(&read_yaml("examples/input.yaml"));
}

/// The observed sets stand for what the providers report: each object,
/// status included, must be one the provider's CRD accepts.
#[test]
fn every_observed_example_resource_matches_its_upstream_crd() {
    let crds = crd_schema::composed_crds();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in examples::cases() {
        let Some(dir) = &case.observed else { continue };
        for entry in
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        {
            let path = entry.expect("directory entry").path();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            for observed in examples::documents(&text) {
                // Connection Secrets are what the providers write, not
                // composed resources.
                if observed["apiVersion"] == "v1" && observed["kind"] == "Secret" {
                    continue;
                }
                if let Some(manifest) = observed.pointer("/status/atProvider/manifest")
                    && let Err(problem) = validate_embedded(crds, manifest)
                {
                    failures.push(format!("{} observed {problem}", examples::relative(&path)));
                }
                checked += 1;
                if let Err(violations) = crds.validate(&observed) {
                    failures.push(format!(
                        "{} {} {}:\n{}",
                        examples::relative(&path),
                        observed["kind"],
                        observed["metadata"]["name"],
                        crd_schema::report(&violations)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} observed resources are invalid:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked > 100,
        "only {checked} observed resources were checked"
    );
}
