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
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example XR at every stage its observed sets show.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for cloud in ["aws", "azure"] {
        for (flavour, xr, observed) in [
            ("namespaced", "xr.yaml", "observed"),
            ("legacy", "legacy-xr.yaml", "observed-legacy"),
        ] {
            let dir = root().join("examples").join(cloud);
            cases.push(Case {
                name: format!("{cloud}-{flavour}-initial"),
                xr: dir.join(xr),
                observed: None,
            });
            for stage in ["cluster-ready", "all-ready"] {
                let observed = dir.join(observed).join(stage);
                if observed.is_dir() {
                    cases.push(Case {
                        name: format!("{cloud}-{flavour}-{stage}"),
                        xr: dir.join(xr),
                        observed: Some(observed),
                    });
                }
            }
        }
    }
    cases
}

/// Runs `hybrid-spoke render` for a case and returns its stdout.
pub fn hybrid_spoke_render(case: &Case) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"));
    command.arg("render").arg(&case.xr);
    if let Some(observed) = &case.observed {
        command.arg("--observed").arg(observed);
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
