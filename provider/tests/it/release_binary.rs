//! The crash fail points are compiled only for tests: the `fail-points`
//! feature, which this crate's dev-dependency on itself turns on for tests
//! (so the binary `tests/binary.rs` runs has them), is off in the build
//! that ships (a plain or `--release` build resolves no dev-dependency).

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The features `cargo` resolves for this crate in a build of `edges`.
fn features(edges: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(ROOT)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "provider-hybrid-spoke",
            "--depth",
            "0",
            "-e",
            edges,
            "-f",
            "{p} features=[{f}]",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_shipped_build_has_no_fail_points() {
    let shipped = features("normal,build");
    let line = shipped
        .lines()
        .find(|l| l.starts_with("provider-hybrid-spoke "))
        .unwrap_or_default();
    assert!(
        line.contains("features=[]"),
        "a build without tests must resolve no feature of the provider, got {shipped}"
    );
    // the same question with dev-dependencies (a test build) says it is on,
    // so the check above would see it
    let tests = features("normal,build,dev");
    assert!(tests.contains("fail-points"), "{tests}");
}

#[test]
fn tests_are_built_with_fail_points() {
    const {
        assert!(
            cfg!(feature = "fail-points"),
            "the dev-dependency on this crate turns the fail points on for tests"
        )
    };
}

#[test]
fn the_fail_point_code_is_behind_the_feature() {
    // every fail point in the reconciler is behind `cfg(feature = "fail-points")`
    let src = std::fs::read_to_string(format!("{ROOT}/src/managed/reconciler.rs"))
        .expect("read reconciler.rs");
    let lines: Vec<&str> = src.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let defines = t.starts_with("pub enum FailPoint")
            || t.starts_with("pub fn inject")
            || t.starts_with("fn hit(")
            || t.starts_with("fail_point:")
            || t.starts_with("if self.hit(");
        if defines {
            let gated = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let l = l.trim_start();
                    l.starts_with("#[") || l.starts_with("///")
                })
                .any(|l| l.contains("cfg(feature = \"fail-points\")"));
            assert!(
                gated,
                "reconciler.rs:{}: `{t}` is not behind the feature",
                i + 1
            );
        }
    }
}
