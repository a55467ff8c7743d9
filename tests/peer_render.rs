//! The real Crossplane CLI against the running function binary: every
//! example at every stage is rendered by `crossplane render` (crank, pinned
//! in tests/tools/crank/go.mod) through `function-hybrid-spoke --insecure`
//! (runtime `Development`) and must pass `crossplane beta validate` against
//! ../shared/vendor-crds plus our XRDs with no error and no missing schema.
//! Render parity (crank, the real engine and `hybrid-spoke render`) is
//! tests/engine_parity.rs.
//!
//! Needs `bash tests/tools/peers.sh && . target/peers/env.sh`.

#[path = "support/examples.rs"]
mod examples;

use std::path::Path;
use std::process::Command;

use hybrid_spoke_test_peers::{self as peers, FunctionServer, TempDir};
use serde_json::Value;

/// The Crossplane whose CRDs ../shared/vendor-crds holds (SOURCE.md):
/// `crossplane beta validate` takes built-in schemas from this image.
const CROSSPLANE_IMAGE: &str = "xpkg.crossplane.io/crossplane/crossplane:v2.3.4";

/// The function name the Compositions' pipeline step references.
fn function_ref(composition: &Path) -> String {
    let text = std::fs::read_to_string(composition).expect("read the Composition");
    let value: Value = serde_yaml::from_str(&text).expect("the Composition is YAML");
    let steps = value["spec"]["pipeline"].as_array().expect("a pipeline");
    assert_eq!(steps.len(), 1, "one pipeline step");
    steps[0]["functionRef"]["name"]
        .as_str()
        .expect("functionRef.name")
        .to_string()
}

/// `crossplane render <xr> <composition> <functions> [-o observed] <flags>`.
///
/// crank v2.2 cannot pass observed connection details ("We don't support
/// passing in observed connection details", `cmd/crank/render/render.go`):
/// it gets the composed resources of a stage without their connection
/// Secrets, and is compared with `hybrid-spoke render` of the same.
fn crank_render(case: &examples::Case, functions: &Path, flags: &[&str]) -> String {
    let mut command = Command::new(peers::crank());
    command
        .arg("render")
        .arg(&case.xr)
        .arg(examples::composition(case))
        .arg(functions)
        .args(flags)
        .arg("--timeout=60s");
    if let Some(observed) = &case.observed {
        command
            .arg("--observed-resources")
            .arg(observed.join("resources.yaml"));
    }
    peers::run(&format!("crossplane render ({})", case.name), &mut command)
}

/// Parses `crossplane beta validate` output: (successes, failures, missing
/// schemas, resources) from its `Total …` line, plus every `[x]`/`[!]` line.
fn validate_summary(output: &str) -> ((usize, usize, usize, usize), Vec<String>) {
    let total = output
        .lines()
        .find(|l| l.starts_with("Total "))
        .unwrap_or_else(|| panic!("no Total line in validate output:\n{output}"));
    // Total N resources: M missing schemas, S success cases, F failure cases
    let numbers: Vec<usize> = total
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect();
    assert_eq!(numbers.len(), 4, "unexpected Total line: {total}");
    let problems = output
        .lines()
        .filter(|l| l.starts_with("[x]") || l.starts_with("[!]"))
        .map(str::to_string)
        .collect();
    ((numbers[2], numbers[3], numbers[1], numbers[0]), problems)
}

#[test]
fn every_rendered_example_passes_crossplane_beta_validate() {
    let function = FunctionServer::start_insecure();
    let scratch = TempDir::new("crank-validate");
    let cases = examples::cases();
    let name = function_ref(&examples::composition(&cases[0]));
    let functions = scratch.path().join("functions.yaml");
    std::fs::write(&functions, function.render_functions_yaml(&name))
        .expect("write functions.yaml");

    // One directory of rendered resources per XRD flavour (both XRDs define
    // xhybridspokes.platform.hybridspoke.io, so they are validated apart).
    let mut expected = std::collections::BTreeMap::<&str, usize>::new();
    for case in &cases {
        let flavour = examples::flavour(case);
        let dir = scratch.path().join(flavour);
        std::fs::create_dir_all(&dir).expect("create the rendered dir");
        // --include-full-xr: validate the XR's spec and metadata too.
        let rendered = crank_render(case, &functions, &["--include-full-xr"]);
        let count = examples::documents(&rendered).len();
        *expected.entry(flavour).or_default() += count;
        std::fs::write(dir.join(format!("{}.yaml", case.name)), rendered).expect("write rendered");
    }

    // Crossplane's built-in schemas (Usage, ClusterUsage, …) come from the
    // Crossplane image in validate's cache: seed that cache entry with the
    // vendored crossplane/crossplane CRDs instead of downloading the image.
    // Every other vendored CRD and our XRD/Input CRD are extensions.
    let shared = peers::shared_dir();
    let root = examples::root();
    let cache = scratch.path().join("cache");
    let builtins = cache.join(CROSSPLANE_IMAGE.replace(':', "@"));
    std::fs::create_dir_all(&builtins).expect("create the validate cache");
    let mut vendored = Vec::new();
    for entry in std::fs::read_dir(shared.join("vendor-crds")).expect("read vendor-crds") {
        let path = entry.expect("an entry").path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_string();
        if !file.ends_with(".yaml") {
            continue;
        }
        if file.starts_with("apiextensions.crossplane.io_")
            || file.starts_with("protection.crossplane.io_")
        {
            std::fs::copy(&path, builtins.join(&file)).expect("seed the validate cache");
        } else {
            vendored.push(path);
        }
    }
    vendored.sort();
    assert!(vendored.len() > 50, "the vendored provider CRDs are there");
    for (flavour, resources) in expected {
        let mut extensions = vendored.clone();
        extensions.push(root.join(format!("package/configuration/{flavour}/definition.yaml")));
        extensions.push(root.join("package/function/input"));
        // This project's provider: the TailnetKey and AclFragment composed.
        extensions.push(root.join("package/provider/crds"));
        let extensions = extensions
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let output = Command::new(peers::crank())
            .args(["beta", "validate", "--error-on-missing-schemas"])
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--crossplane-image={CROSSPLANE_IMAGE}"))
            .arg(&extensions)
            .arg(scratch.path().join(flavour))
            .output()
            .expect("run crossplane beta validate");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let ((success, failure, missing, total), problems) = validate_summary(&stdout);
        assert!(
            !stdout.contains("downloading"),
            "validate must not download anything:\n{stdout}"
        );
        assert!(
            output.status.success() && failure == 0 && missing == 0 && problems.is_empty(),
            "crossplane beta validate ({flavour}): {failure} failures, {missing} missing schemas ({}):\n{}\n{stderr}",
            output.status,
            problems.join("\n")
        );
        assert_eq!(
            total, resources,
            "{flavour}: every rendered resource was validated"
        );
        assert_eq!(
            success, resources,
            "{flavour}: every rendered resource is valid"
        );
        // The XRs were checked against our XRD, not skipped.
        assert!(
            stdout.contains("platform.hybridspoke.io/v1alpha1, Kind=XHybridSpoke"),
            "{flavour}: the XRs were validated:\n{stdout}"
        );
    }
}
