//! `hybrid-spoke plan` and `hybrid-spoke render --required-resources` on the
//! example fleet (examples/fleet): what a platform engineer runs to see the
//! address map and the block a new spoke would get.

use std::process::{Command, Output};

fn hybrid_spoke(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("hybrid-spoke runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn plan_prints_every_range_of_the_fleet_in_address_order() {
    let out = hybrid_spoke(&[
        "plan",
        "examples/fleet/spokes",
        "--input",
        "examples/fleet/input.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<String>> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let vpcs: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r[3] == "vpcCidr" || r[2] == "the")
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        vpcs,
        [
            ("10.0.0.0/16", "input", "the"),
            ("10.20.0.0/16", "explicit", "team-payments/eu-payments"),
            ("10.64.0.0/16", "settled", "team-orders/eu-orders"),
            ("10.65.0.0/16", "settled", "team-search/eu-search"),
            ("10.96.0.0/16", "settled", "team-analytics/westeu-analytics"),
            ("172.16.0.0/16", "input", "the"),
        ]
    );
}

#[test]
fn plan_shows_the_next_block_of_a_new_spoke_and_fails_on_an_overlap() {
    let dir = std::env::temp_dir().join(format!("hybrid-spoke-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in std::fs::read_dir(root.join("examples/fleet/spokes")).expect("fleet") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, dir.join(f.file_name().expect("name"))).expect("copy");
    }
    std::fs::copy(
        root.join("examples/fleet/new-spoke.yaml"),
        dir.join("new-spoke.yaml"),
    )
    .expect("copy");
    let input = root.join("examples/fleet/input.yaml");
    let args = |dir: &std::path::Path| {
        vec![
            "plan".to_string(),
            dir.display().to_string(),
            "--input".to_string(),
            input.display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"))
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(args(&dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["10.66.0.0/16", "next", "team-ledger/eu-ledger", "vpcCidr"]),
        "{}",
        stdout(&out)
    );

    // A claim that takes eu-orders' block explicitly is a problem.
    let text = std::fs::read_to_string(dir.join("new-spoke.yaml")).expect("read");
    let clash = text.replace("  network:\n", "  network:\n    vpcCidr: 10.64.0.0/16\n");
    assert_ne!(clash, text);
    std::fs::write(dir.join("new-spoke.yaml"), clash).expect("write");
    let out = run(args(&dir));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("team-ledger/eu-ledger's vpcCidr 10.64.0.0/16 overlaps team-orders/eu-orders's vpcCidr 10.64.0.0/16")
            || stderr.contains("team-orders/eu-orders's vpcCidr 10.64.0.0/16 overlaps team-ledger/eu-ledger's vpcCidr 10.64.0.0/16"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn render_with_the_fleet_as_required_resources_allocates_the_next_free_block() {
    let out = hybrid_spoke(&[
        "render",
        "examples/fleet/new-spoke.yaml",
        "--input",
        "examples/fleet/input.yaml",
        "--required-resources",
        "examples/fleet/spokes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let xr: serde_json::Value = serde_yaml::Deserializer::from_str(&text)
        .next()
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .expect("the XR");
    assert_eq!(
        xr.pointer("/status/network/allocated"),
        Some(&serde_json::json!({"vpcCidr": "10.66.0.0/16", "pool": "aws-prod", "settled": false}))
    );
    // Nothing composed yet: only the XR.
    assert_eq!(serde_yaml::Deserializer::from_str(&text).count(), 1);

    // Without the fleet the same spoke would take the first block.
    let out = hybrid_spoke(&[
        "render",
        "examples/fleet/new-spoke.yaml",
        "--input",
        "examples/fleet/input.yaml",
    ]);
    assert!(stdout(&out).contains("vpcCidr: 10.64.0.0/16"));
}
