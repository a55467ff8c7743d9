//! Files generated from the Rust types must match what is committed, so the
//! XRDs, Compositions and the Input CRD can never drift from the code.

#[path = "support/examples.rs"]
mod examples;

#[test]
fn generated_package_files_are_up_to_date() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"))
        .args(["generate", "--check", "--root"])
        .arg(examples::root())
        .output()
        .expect("hybrid-spoke runs");
    assert!(
        output.status.success(),
        "{}\nregenerate with `cargo run -- generate` and review the diff",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn both_xrds_carry_the_same_schema_and_only_the_legacy_one_a_claim() {
    let read = |path: &str| -> serde_json::Value {
        let text =
            std::fs::read_to_string(examples::root().join(path)).expect("generated file exists");
        serde_yaml::from_str(&text).expect("generated file is YAML")
    };
    let v2 = read("package/configuration/namespaced/definition.yaml");
    let v1 = read("package/configuration/legacy/definition.yaml");
    assert_eq!(v2["apiVersion"], "apiextensions.crossplane.io/v2");
    assert_eq!(v2["spec"]["scope"], "Namespaced");
    assert!(v2["spec"].get("claimNames").is_none());
    assert_eq!(v1["apiVersion"], "apiextensions.crossplane.io/v1");
    assert_eq!(v1["spec"]["scope"], "LegacyCluster");
    assert_eq!(v1["spec"]["claimNames"]["kind"], "HybridSpoke");
    assert_eq!(
        v2["spec"]["versions"][0]["schema"],
        v1["spec"]["versions"][0]["schema"]
    );
    let spec = &v2["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["properties"]["cloud"]["enum"],
        serde_json::json!(["aws", "azure"])
    );
    assert_eq!(
        spec["properties"]["network"]["properties"]["serviceCidr"]["default"],
        "172.20.0.0/16"
    );
}
