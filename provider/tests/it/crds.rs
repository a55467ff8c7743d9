//! The CRDs in package/provider/crds/ are exactly what the Rust types
//! generate. Regenerate with
//! `UPDATE_CRDS=1 cargo test -p provider-hybrid-spoke --test crds`.

use std::path::PathBuf;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../package/provider/crds")
}

#[test]
fn crds_are_not_stale() {
    let dir = crd_dir();
    let update = std::env::var_os("UPDATE_CRDS").is_some();
    let mut expected = Vec::new();
    for crd in provider_hybrid_spoke::crds::all() {
        let name = provider_hybrid_spoke::crds::file_name(&crd);
        let text = format!("---\n{}", serde_yaml::to_string(&crd).expect("CRD to YAML"));
        expected.push(name.clone());
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).expect("create package/provider/crds");
            std::fs::write(&path, &text).expect("write a CRD");
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "{} is stale or missing: run `UPDATE_CRDS=1 cargo test -p provider-hybrid-spoke --test crds`",
            path.display()
        );
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .expect("package/provider/crds exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    present.sort();
    expected.sort();
    assert_eq!(
        present, expected,
        "package/provider/crds holds a CRD the code no longer generates"
    );
}

#[test]
fn crds_are_structural_and_shaped_like_crossplanes() {
    for crd in provider_hybrid_spoke::crds::all() {
        let v = serde_json::to_value(&crd).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let text = schema.to_string();
        for bad in [
            "\"$ref\"",
            "\"allOf\"",
            "\"oneOf\"",
            "\"anyOf\"",
            "\"nullable\":false",
        ] {
            assert!(!text.contains(bad), "{name}: schema has {bad}");
        }
        if crd.spec.names.kind == "TailnetKey" {
            let spec = &schema["properties"]["spec"]["properties"];
            assert!(
                spec["managementPolicies"]["default"] == serde_json::json!(["*"]),
                "{name}"
            );
            let immutable = schema["properties"]["spec"]["properties"]["forProvider"]["x-kubernetes-validations"].to_string();
            assert!(
                immutable.contains("oldSelf.keyType"),
                "{name}: keyType immutable"
            );
        }
    }
}
