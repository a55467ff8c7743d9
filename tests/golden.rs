//! Golden tests: every example rendered at every stage equals its reviewed
//! file under tests/golden/. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test it golden::` and review `git diff tests/golden`
//! before committing: the diff is the change a user will see.

#[path = "support/examples.rs"]
mod examples;

#[test]
fn every_example_renders_as_reviewed() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for case in examples::cases() {
        let rendered = examples::hybrid_spoke_render(&case);
        let golden = examples::root()
            .join("tests/golden")
            .join(format!("{}.yaml", case.name));
        if update {
            std::fs::write(&golden, &rendered).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != rendered {
            stale.push(format!(
                "{} (diff {} against `hybrid-spoke render`)",
                case.name,
                examples::relative(&golden)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "renders differ from the reviewed golden files: {stale:#?}\nrun UPDATE_GOLDEN=1 cargo test --test it golden:: and review git diff"
    );
}

#[test]
fn there_is_a_golden_file_for_the_initial_and_later_stages_of_each_cloud() {
    let names: Vec<String> = examples::cases().into_iter().map(|c| c.name).collect();
    for cloud in ["aws", "azure"] {
        for flavour in ["namespaced", "legacy"] {
            for stage in ["initial", "cluster-ready", "all-ready"] {
                let name = format!("{cloud}-{flavour}-{stage}");
                assert!(
                    names.contains(&name),
                    "missing example stage {name}: add examples/{cloud}/observed*/{stage}/"
                );
            }
        }
    }
}
