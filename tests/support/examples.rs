#![allow(dead_code)] // each test binary uses a different part of this module
//! The examples and their stages: one place that knows which XRs exist and
//! which observed-resource sets show their later stages.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One rendering: an example XR at one stage.
#[derive(Clone, Debug)]
pub struct Case {
    /// e.g. `aws-namespaced-cluster-ready`.
    pub name: String,
    pub xr: PathBuf,
    /// `None` for the first stage, when nothing exists yet.
    pub observed: Option<PathBuf>,
    /// The platform Input; `None` is the embedded `examples/input.yaml`.
    pub input: Option<PathBuf>,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example XR at every stage its observed sets show, discovered from
/// the tree: `examples/<cloud>/xr.yaml` (namespaced) and `legacy-xr.yaml`
/// (legacy), each first with nothing observed (`initial`), then once per
/// directory under `observed/` (resp. `observed-legacy/`), named after it; and
/// again on a Headscale tailnet (`examples/input-headscale.yaml`) where an
/// `observed*-headscale/` directory shows its stages.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dir in subdirectories(&root().join("examples")) {
        let cloud = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for (flavour, xr, observed) in [
            ("namespaced", "xr.yaml", "observed"),
            ("legacy", "legacy-xr.yaml", "observed-legacy"),
        ] {
            let xr = dir.join(xr);
            if !xr.is_file() {
                continue;
            }
            let headscale = dir.join(format!("{observed}-headscale"));
            let mut backends = vec![("", dir.join(observed), None)];
            if headscale.is_dir() {
                backends.push((
                    "-headscale",
                    headscale,
                    Some(root().join("examples/input-headscale.yaml")),
                ));
            }
            for (suffix, observed_dir, input) in backends {
                cases.push(Case {
                    name: format!("{cloud}-{flavour}{suffix}-initial"),
                    xr: xr.clone(),
                    observed: None,
                    input: input.clone(),
                });
                for stage in subdirectories(&observed_dir) {
                    let stage_name = stage
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    cases.push(Case {
                        name: format!("{cloud}-{flavour}{suffix}-{stage_name}"),
                        xr: xr.clone(),
                        observed: Some(stage.clone()),
                        input: input.clone(),
                    });
                }
            }
        }
    }
    cases
}

/// The directories directly under `dir`, sorted; none if it does not exist.
fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Runs `hybrid-spoke render` for a case and returns its stdout.
pub fn hybrid_spoke_render(case: &Case) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"));
    command.arg("render").arg(&case.xr);
    if let Some(observed) = &case.observed {
        command.arg("--observed").arg(observed);
    }
    if let Some(input) = &case.input {
        command.arg("--input").arg(input);
    }
    let output = command.output().expect("hybrid-spoke runs");
    assert!(
        output.status.success(),
        "hybrid-spoke render {} failed: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("render prints UTF-8")
}

/// Parses a YAML stream into its documents.
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("render prints YAML"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

pub fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One case rendered, taken apart the way the tests read it.
pub struct Render {
    pub case: Case,
    /// `hybrid-spoke render`'s output.
    pub text: String,
    /// The rendered XR (status and conditions).
    pub xr: serde_json::Value,
    /// The example XR's spec, as the user wrote it.
    pub spec: serde_json::Value,
    /// Composed resources by composition resource name.
    pub composed: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Every case, rendered.
pub fn renders() -> Vec<Render> {
    cases()
        .into_iter()
        .map(|case| {
            let text = hybrid_spoke_render(&case);
            let docs = documents(&text);
            let composed = docs
                .iter()
                .skip(1)
                .filter(|d| d["kind"] != "Result")
                .filter_map(|d| {
                    let name = d
                        .pointer("/metadata/annotations/crossplane.io~1composition-resource-name")?
                        .as_str()?;
                    Some((name.to_string(), d.clone()))
                })
                .collect();
            let example: serde_json::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&case.xr).expect("read the XR"))
                    .expect("the XR is YAML");
            Render {
                case,
                spec: example["spec"].clone(),
                xr: docs[0].clone(),
                text,
                composed,
            }
        })
        .collect()
}

/// The observed composed resources of a case (every YAML document of every
/// file in its observed directory, files in name order); none initially.
pub fn observed(case: &Case) -> Vec<serde_json::Value> {
    let Some(dir) = &case.observed else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the observed dir")
        .map(|e| e.expect("a dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| documents(&std::fs::read_to_string(f).expect("read observed YAML")))
        .collect()
}

/// The flavour of a case's XR: `legacy` (legacy-xr.yaml) or `namespaced`.
pub fn flavour(case: &Case) -> &'static str {
    if case.xr.ends_with("legacy-xr.yaml") {
        "legacy"
    } else {
        "namespaced"
    }
}

/// The generated Composition of a case's flavour, with the case's Input in
/// its step when the case has its own (a copy in the temporary directory).
pub fn composition(case: &Case) -> PathBuf {
    let packaged = root().join(format!(
        "package/configuration/{}/composition.yaml",
        flavour(case)
    ));
    let Some(input) = &case.input else {
        return packaged;
    };
    let mut composition: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&packaged).expect("read the Composition"))
            .expect("the Composition is YAML");
    composition["spec"]["pipeline"][0]["input"] =
        serde_yaml::from_str(&std::fs::read_to_string(input).expect("read the Input"))
            .expect("the Input is YAML");
    let path = std::env::temp_dir().join(format!(
        "hybrid-spoke-composition-{}-{}.yaml",
        std::process::id(),
        case.name
    ));
    std::fs::write(&path, serde_yaml::to_string(&composition).expect("YAML"))
        .expect("write the Composition");
    path
}

/// The generated XRD of a case's flavour.
pub fn definition(case: &Case) -> PathBuf {
    root().join(format!(
        "package/configuration/{}/definition.yaml",
        flavour(case)
    ))
}
