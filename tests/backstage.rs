//! examples/backstage: the scaffolder template that creates a spoke. It is
//! generated from the XRD's Rust types (`hybrid-spoke generate`;
//! tests/generated.rs fails while it is stale); here it is checked against
//! Backstage's Template v1beta3 JSON schema and run, for sample answers, the
//! way Backstage's scaffolder renders it (tests/tools/backstage/scaffold.mjs
//! on the pinned npm packages): the claim its skeleton writes must render
//! through the function and validate against the XRD.

use std::path::{Path, PathBuf};
use std::process::Command;

use function_hybrid_spoke::render;
use hybrid_spoke_test_peers::TempDir;
use serde_json::{Value, json};

#[path = "support/yaml_docs.rs"]
mod yaml_docs;
use yaml_docs::{beta_validate, read_documents};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> Value {
    read_documents(&root().join("examples/backstage/template.yaml")).remove(0)
}

fn xrd_spec_schema() -> Value {
    let xrd =
        read_documents(&root().join("package/configuration/namespaced/definition.yaml")).remove(0);
    xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

fn input() -> Value {
    read_documents(&root().join("examples/input.yaml")).remove(0)
}

/// Every property schema the wizard offers for a `spec` field, by name:
/// page properties and the per-cloud branches of the first page.
fn wizard_fields(template: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for page in template["spec"]["parameters"].as_array().expect("pages") {
        for (k, v) in page["properties"].as_object().into_iter().flatten() {
            out.push((k.clone(), v.clone()));
        }
        for branch in page["dependencies"]["cloud"]["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for (k, v) in branch["properties"].as_object().into_iter().flatten() {
                if k != "cloud" {
                    out.push((k.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// Every `enum` and `default` under a schema, by JSON path.
fn enums_and_defaults(schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    if let Some(map) = schema.as_object() {
        for key in ["enum", "default"] {
            if let Some(v) = map.get(key) {
                out.push((format!("{path}/{key}"), v.clone()));
            }
        }
        for (k, v) in map {
            if k == "properties" || k == "items" {
                match v {
                    Value::Object(props) if k == "properties" => {
                        for (name, p) in props {
                            enums_and_defaults(p, &format!("{path}/{name}"), out);
                        }
                    }
                    _ => enums_and_defaults(v, &format!("{path}/[]"), out),
                }
            }
        }
    }
}

#[test]
fn the_wizard_offers_every_spec_field_with_the_xrds_enums_and_defaults() {
    let template = template();
    let spec = xrd_spec_schema();
    let fields = wizard_fields(&template);
    let input = input();
    for (name, xrd_field) in spec["properties"].as_object().expect("spec properties") {
        let offered: Vec<&Value> = fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect();
        assert!(!offered.is_empty(), "spec.{name} is on no wizard page");
        for field in offered {
            let mut want = Vec::new();
            let mut got = Vec::new();
            enums_and_defaults(xrd_field, name, &mut want);
            enums_and_defaults(field, name, &mut got);
            if name == "region" || name == "kubernetesVersion" {
                // Per cloud: the values the platform Input allows, the first
                // the default.
                let allowed: Vec<Value> = ["aws", "azure"]
                    .iter()
                    .map(|c| {
                        input[c][if name == "region" {
                            "regions"
                        } else {
                            "kubernetesVersions"
                        }]
                        .clone()
                    })
                    .collect();
                assert!(allowed.contains(&field["enum"]), "spec.{name}: {field}");
                assert_eq!(field["default"], field["enum"][0]);
                continue;
            }
            assert_eq!(
                got, want,
                "spec.{name}: the wizard's enums and defaults are the XRD's"
            );
        }
    }
    let cloud = &fields.iter().find(|(n, _)| n == "cloud").expect("cloud").1;
    assert_eq!(cloud["enum"], spec["properties"]["cloud"]["enum"]);
}

/// The pinned npm packages (tests/tools/backstage/package.json), installed
/// by tests/tools/peers.sh and exported in target/peers/env.sh.
fn backstage_tools() -> PathBuf {
    let var = "HYBRID_SPOKE_BACKSTAGE_TOOLS";
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run `bash tests/tools/peers.sh && . target/peers/env.sh` first (tests/run.sh does both)")
    });
    assert!(
        dir.join("node_modules/@backstage/plugin-scaffolder-common")
            .is_dir(),
        "{var}={} holds no node_modules: run `bash tests/tools/peers.sh`",
        dir.display()
    );
    dir
}

/// Runs the template for `answers` (scaffold.mjs) and returns its report
/// and the directory it wrote into.
fn scaffold(answers: &Value) -> (Value, TempDir) {
    let tools = backstage_tools();
    let scratch = TempDir::new("backstage");
    let template_json = scratch.path().join("template.json");
    std::fs::write(&template_json, template().to_string()).expect("write");
    let answers_json = scratch.path().join("answers.json");
    std::fs::write(&answers_json, answers.to_string()).expect("write");
    let out = scratch.path().join("workspace");
    let output = Command::new("node")
        .arg(root().join("tests/tools/backstage/scaffold.mjs"))
        .arg(&tools)
        .arg(&template_json)
        .arg(&answers_json)
        .arg(root().join("examples/backstage/skeleton"))
        .arg(&out)
        .output()
        .expect("node runs (tests/tools/peers.sh checks it is installed)");
    assert!(
        output.status.success(),
        "scaffold.mjs failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    (report, scratch)
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {report}"))
}

fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| is_subset(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| is_subset(x, y))
        }
        _ => expected == actual,
    }
}

fn check_claim(answers: &Value, report: &Value, workspace: &Path) -> Value {
    let (name, region) = (
        answers["name"].as_str().expect("name"),
        answers["region"].as_str().expect("region"),
    );
    let claim_path = format!("claims/{region}/{name}.yaml");
    let files: Vec<&str> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&claim_path.as_str()), "{files:?}");
    assert!(
        files.contains(&format!("catalog/spokes/{name}.yaml").as_str()),
        "{files:?}"
    );

    let publish = step(report, "publishPullRequest");
    assert_eq!(publish["action"], "publish:github:pull-request");
    assert_eq!(publish["input"]["repoUrl"], answers["repoUrl"]);
    assert_eq!(
        publish["input"]["branchName"],
        format!("spoke/{region}/{name}")
    );
    for required in ["title", "description"] {
        assert!(
            publish["input"][required]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    assert_eq!(
        report["output"]["links"][0]["url"],
        "https://github.com/example-org/platform-gitops/pull/42"
    );

    let claim = read_documents(&workspace.join(&claim_path)).remove(0);
    assert_eq!(claim["kind"], "XHybridSpoke");
    assert_eq!(claim["metadata"]["name"], name);
    // Each answer is in the claim, typed as given; the wizard filled in
    // the XRD defaults of what was left out.
    for (key, value) in answers.as_object().expect("answers") {
        if xrd_spec_schema()["properties"].get(key).is_some() {
            assert!(
                is_subset(value, &claim["spec"][key]),
                "spec.{key}: the answer {value} is not in the claim's {}",
                claim["spec"][key]
            );
        }
    }
    // As the claims Application syncs it: into namespace `spokes`.
    let mut xr = claim.clone();
    xr["metadata"]["namespace"] = json!("spokes");
    let documents =
        render::render(&xr, &[], &input()).unwrap_or_else(|e| panic!("{claim_path}: {e}"));
    assert!(
        documents.len() > 5,
        "{claim_path}: {} documents rendered",
        documents.len()
    );
    let catalog = read_documents(&workspace.join(format!("catalog/spokes/{name}.yaml"))).remove(0);
    assert_eq!(catalog["spec"]["owner"], answers["owner"]);
    xr
}

#[test]
fn template_validates_and_the_claim_it_proposes_renders_and_validates_against_the_xrd() {
    let aws = json!({
        "name": "eu-payments-dev",
        "owner": "group:default/team-payments",
        "cloud": "aws",
        "region": "eu-central-1",
        "kubernetesVersion": "1.34",
        "environment": "dev",
        "aws": {"adminPrincipalArn": "arn:aws:iam::123456789012:role/platform-admin"},
        "finops": {"tenant": "payments", "costCenter": "cc-4711"},
        "network": {"vpcCidr": "10.50.0.0/16", "availabilityZones": 2, "natMode": "Single",
                    "apiEndpoint": {"public": true, "private": false, "allowedCidrs": ["203.0.113.0/24"]}},
        "nodePools": [{"name": "general", "minSize": 1, "maxSize": 3}],
        "repoUrl": "github.com?owner=example-org&repo=platform-gitops",
        "registerInCatalog": true,
    });
    let azure = json!({
        "name": "we-ml",
        "owner": "group:default/team-ml",
        "cloud": "azure",
        "region": "swedencentral",
        "kubernetesVersion": "1.36",
        "environment": "prod",
        "azure": {"skuTier": "Standard"},
        "finops": {"tenant": "ml", "costCenter": "cc-9000", "tier": "gold"},
        "network": {"vpcCidr": "10.60.0.0/16", "podCidr": "100.64.0.0/16"},
        "nodePools": [{"name": "system", "minSize": 2, "maxSize": 4},
                      {"name": "gpu", "instanceType": "Standard_NC6s_v3", "minSize": 0, "maxSize": 2,
                       "taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}],
        "tags": {"Owner": "team-ml@example.com"},
        "repoUrl": "github.com?owner=example-org&repo=platform-gitops",
        "registerInCatalog": false,
    });
    let mut claims = Vec::new();
    for answers in [&aws, &azure] {
        let (report, scratch) = scaffold(answers);
        claims.push(check_claim(
            answers,
            &report,
            &scratch.path().join("workspace"),
        ));
        let register = step(&report, "registerSpoke");
        assert_eq!(
            register["skipped"],
            !answers["registerInCatalog"].as_bool().expect("bool")
        );
        if register["skipped"] == false {
            assert_eq!(register["input"]["optional"], true);
            assert_eq!(
                register["input"]["catalogInfoUrl"],
                format!(
                    "https://github.com/example-org/platform-gitops/blob/main/catalog/spokes/{}.yaml",
                    answers["name"].as_str().expect("name")
                )
            );
        }
    }
    let xrd = root().join("package/configuration/namespaced/definition.yaml");
    beta_validate("claims written by the Backstage template", &[&xrd], &claims);
}

#[test]
fn answers_outside_the_xrds_enums_are_refused_by_the_wizard() {
    let template = template().to_string();
    let tools = backstage_tools();
    let scratch = TempDir::new("backstage-bad");
    let template_json = scratch.path().join("template.json");
    std::fs::write(&template_json, &template).expect("write");
    let answers = scratch.path().join("answers.json");
    std::fs::write(
        &answers,
        json!({"name": "x", "owner": "group:default/a", "cloud": "gcp", "environment": "dev"})
            .to_string(),
    )
    .expect("write");
    let output = Command::new("node")
        .arg(root().join("tests/tools/backstage/scaffold.mjs"))
        .arg(&tools)
        .arg(&template_json)
        .arg(&answers)
        .arg(root().join("examples/backstage/skeleton"))
        .arg(scratch.path().join("out"))
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "cloud gcp must be refused");
    assert!(
        stderr.contains("page 1") && stderr.contains("allowed values"),
        "{stderr}"
    );
}
