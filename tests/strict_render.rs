//! `hybrid-spoke render` on a claim with fields its XRD does not define:
//! a warning per field (the API server would silently drop them), as
//! `kubectl --validate=strict` reports them; `--strict` makes them an error.

use std::path::PathBuf;
use std::process::{Command, Output};

fn hybrid_spoke(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("hybrid-spoke runs")
}

/// The AWS example with a misspelled spec field and an unknown top-level one.
fn misspelled_claim() -> PathBuf {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/aws/xr.yaml"),
    )
    .expect("example XR");
    let mut xr: serde_json::Value = serde_yaml::from_str(&text).expect("YAML");
    xr["spec"]["tailnet"]["apiServr"] = "auth".into();
    xr["spec"]["network"]["natMod"] = "Single".into();
    xr["sepc"] = serde_json::json!({});
    let path = std::env::temp_dir().join(format!("strict-render-{}.yaml", std::process::id()));
    std::fs::write(&path, serde_yaml::to_string(&xr).expect("YAML")).expect("write XR");
    path
}

#[test]
fn unknown_claim_fields_are_warnings_by_default() {
    let xr = misspelled_claim();
    let out = hybrid_spoke(&["render", xr.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        r#"hybrid-spoke: warning: spec.tailnet.apiServr: unknown field; did you mean "apiServer"?"#,
        r#"hybrid-spoke: warning: spec.network.natMod: unknown field; did you mean "natMode"?"#,
        r#"hybrid-spoke: warning: sepc: unknown field; did you mean "spec"?"#,
    ] {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    // Rendered as the API server would store it: without those fields.
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: XHybridSpoke"));
}

#[test]
fn strict_makes_unknown_claim_fields_an_error() {
    let xr = misspelled_claim();
    let out = hybrid_spoke(&["render", "--strict", xr.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#"hybrid-spoke: error: spec.tailnet.apiServr: unknown field; did you mean "apiServer"?"#),
        "{stderr}"
    );
    assert!(stderr.contains("the XR has 3 unknown field(s)"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing rendered under --strict");
}

#[test]
fn the_examples_render_without_warnings_even_strict() {
    // Claims and legacy XRs carry Crossplane's own spec fields
    // (compositionRef, claimRef, writeConnectionSecretToRef): not unknown.
    for example in [
        "examples/aws/xr.yaml",
        "examples/aws/claim.yaml",
        "examples/aws/legacy-xr.yaml",
        "examples/azure/xr.yaml",
        "examples/azure/claim.yaml",
        "examples/azure/legacy-xr.yaml",
    ] {
        let out = hybrid_spoke(&["render", "--strict", example]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{example}: {stderr}");
        assert!(!stderr.contains("warning"), "{example}: {stderr}");
    }
}
