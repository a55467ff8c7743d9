#![allow(dead_code)] // each test binary uses a different part of this module
//! YAML streams and `crossplane beta validate`, for the tests of the
//! packages, the GitOps example and the Backstage template.

use std::path::{Path, PathBuf};
use std::process::Command;

use hybrid_spoke_test_peers::{self as peers, TempDir};
use serde_json::Value;

/// Every non-empty document of a YAML stream.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The documents of a file.
pub fn read_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    documents(&text)
}

/// `.yaml` files under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A vendored upstream CRD (../shared/vendor-crds).
pub fn vendor_crd(file: &str) -> PathBuf {
    peers::shared_dir().join("vendor-crds").join(file)
}

/// The Crossplane whose CRDs ../shared/vendor-crds holds; its cache entry
/// is created empty so crank takes its built-in schemas from there and
/// downloads nothing (as tests/peer_render.rs does).
const CROSSPLANE_IMAGE: &str = "xpkg.crossplane.io/crossplane/crossplane:v2.3.4";

/// `crossplane beta validate --error-on-missing-schemas EXTENSIONS RESOURCES`
/// (crank, pinned in tests/tools/crank): panics with crank's output unless
/// every one of `resources` validates against the CRDs/XRDs in `extensions`.
pub fn beta_validate(what: &str, extensions: &[&Path], resources: &[Value]) {
    let scratch = TempDir::new("validate");
    let ext = scratch.path().join("extensions");
    std::fs::create_dir_all(&ext).expect("mkdir");
    for (i, e) in extensions.iter().enumerate() {
        std::fs::copy(e, ext.join(format!("{i}.yaml")))
            .unwrap_or_else(|err| panic!("copy {}: {err}", e.display()));
    }
    let res = scratch.path().join("resources.yaml");
    let stream: String = resources
        .iter()
        .map(|r| format!("---\n{}", serde_yaml::to_string(r).expect("YAML")))
        .collect();
    std::fs::write(&res, stream).expect("write resources");
    let cache = scratch.path().join("cache");
    std::fs::create_dir_all(cache.join(CROSSPLANE_IMAGE.replace(':', "@"))).expect("mkdir");
    let output = Command::new(peers::crank())
        .args(["beta", "validate", "--error-on-missing-schemas"])
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--crossplane-image={CROSSPLANE_IMAGE}"))
        .arg(&ext)
        .arg(&res)
        .output()
        .expect("crank runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what}: crossplane beta validate failed:\n{text}"
    );
    assert!(
        !text.contains("downloading"),
        "{what}: validate must not download anything:\n{text}"
    );
    // Total N resources: M missing schemas, S success cases, F failure cases
    // (a Composition's pipeline inputs count as resources of their own).
    let total = text
        .lines()
        .find(|l| l.starts_with("Total "))
        .unwrap_or_else(|| panic!("{what}: no Total line from crank:\n{text}"));
    let n: Vec<usize> = total
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect();
    assert!(
        n.len() == 4 && n[1] == 0 && n[3] == 0 && n[2] == n[0] && n[0] >= resources.len(),
        "{what}: not every one of the {} resources validated:\n{text}",
        resources.len()
    );
    println!("{what}: {}", text.lines().last().unwrap_or_default());
}
