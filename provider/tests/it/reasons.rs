//! docs/provider.md's table of reasons is the code's: every reason in
//! `managed::reasons::ALL` is in the table, used where the table says, and
//! the table names no other; and no source file spells a reason instead of
//! using its constant.

use std::collections::BTreeSet;
use std::path::Path;

use provider_hybrid_spoke::managed::reasons::ALL;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_docs_table_of_reasons_is_the_code_s() {
    let docs = std::fs::read_to_string(Path::new(ROOT).join("../docs/provider.md")).unwrap();
    let section = docs
        .split("\n## Conditions and events\n")
        .nth(1)
        .expect("docs/provider.md has a \"Conditions and events\" section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let mut documented = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let reason = cells[1].trim_matches('`');
        for used in cells[2].split(',').map(str::trim) {
            documented.insert((reason.to_string(), used.to_string()));
        }
    }
    let code: BTreeSet<(String, String)> = ALL
        .iter()
        .map(|(r, u)| (r.to_string(), u.name().to_string()))
        .collect();
    let missing: Vec<_> = code.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the docs: {missing:?}; only in the docs: {extra:?}"
    );
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn reasons_are_spelled_only_in_reasons_rs() {
    let mut files = Vec::new();
    sources(&Path::new(ROOT).join("src"), &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("managed/reasons.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        // test modules may spell them (they check what the user sees)
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (reason, _) in ALL {
            if code.contains(&format!("\"{reason}\"")) {
                found.push(format!("{}: \"{reason}\"", file.display()));
            }
        }
    }
    found.sort();
    found.dedup();
    assert!(found.is_empty(), "use the constants: {found:#?}");
}
