use serde_json::json;

use super::*;
use crate::acl::policy::{AclRule, AutoApprovers, PolicyFragment};

fn frag(id: &str, p: PolicyFragment) -> Fragment {
    Fragment {
        id: id.into(),
        entries: p.entries(),
    }
}

fn team(tag: &str, owner: &str, members: &[&str]) -> PolicyFragment {
    PolicyFragment {
        tag_owners: [(tag.to_string(), vec![owner.to_string()])].into(),
        groups: [(
            owner.to_string(),
            members.iter().map(|m| m.to_string()).collect(),
        )]
        .into(),
        acls: vec![AclRule {
            action: "accept".into(),
            src: vec![owner.into()],
            dst: vec![format!("{tag}:443")],
            proto: None,
            src_posture: vec![],
        }],
        ..Default::default()
    }
}

const HAND_WRITTEN: &str = r#"// Policy of example.com. Edited by hand and by hybrid-spoke.
{
  // Who may tag what.
  "tagOwners": {
    "tag:ci": ["group:admins"], // CI runners
  },

  /* Humans */
  "groups": {
    "group:admins": ["alice@example.com"],
  },

  "acls": [
    // Admins reach everything.
    {"action": "accept", "src": ["group:admins"], "dst": ["*:*"]},
  ],
  "ssh": [], // none yet
}
"#;

fn value(text: &str) -> Value {
    hujson::parse(text).unwrap().to_value()
}

#[test]
fn comments_and_formatting_survive_a_merge_and_a_removal() {
    let added = merge(
        HAND_WRITTEN,
        &[frag(
            "ns/web",
            team("tag:web", "group:web", &["bob@example.com"]),
        )],
        &[],
    )
    .unwrap();
    assert!(added.changed);
    for comment in [
        "// Policy of example.com",
        "// Who may tag what.",
        "// CI runners",
        "/* Humans */",
        "// Admins reach everything.",
        "// none yet",
    ] {
        assert!(
            added.text.contains(comment),
            "lost {comment:?} in\n{}",
            added.text
        );
    }
    assert!(
        added
            .text
            .contains("    // hybrid-spoke: ns/web\n    \"tag:web\": [\"group:web\"],"),
        "{}",
        added.text
    );
    let v = value(&added.text);
    assert_eq!(
        v["tagOwners"],
        json!({"tag:ci": ["group:admins"], "tag:web": ["group:web"]})
    );
    assert_eq!(v["groups"]["group:web"], json!(["bob@example.com"]));
    assert_eq!(v["acls"].as_array().unwrap().len(), 2);

    let removed = merge(&added.text, &[], &["ns/web".to_string()]).unwrap();
    assert_eq!(
        removed.text, HAND_WRITTEN,
        "removing the fragment restores the document byte for byte"
    );
}

#[test]
fn the_policy_is_the_union_of_live_fragments_and_foreign_entries() {
    let a = frag("ns/a", team("tag:a", "group:a", &["a@example.com"]));
    let b = frag("ns/b", team("tag:b", "group:b", &["b@example.com"]));
    let m = merge(HAND_WRITTEN, &[a.clone(), b.clone()], &[]).unwrap();
    let v = value(&m.text);
    assert_eq!(
        v["tagOwners"],
        json!({"tag:ci": ["group:admins"], "tag:a": ["group:a"], "tag:b": ["group:b"]})
    );
    assert_eq!(v["groups"].as_object().unwrap().len(), 3);
    assert_eq!(v["acls"].as_array().unwrap().len(), 3);
    assert_eq!(v["ssh"], json!([]));
    assert!(m.conflicts.is_empty());

    // Merging again changes nothing.
    let again = merge(&m.text, &[a.clone(), b.clone()], &[]).unwrap();
    assert!(!again.changed);

    // Updating b touches only b's entry.
    let b2 = frag(
        "ns/b",
        team("tag:b", "group:b", &["b@example.com", "c@example.com"]),
    );
    let upd = merge(&m.text, &[a.clone(), b2.clone()], &[]).unwrap();
    let v = value(&upd.text);
    assert_eq!(
        v["groups"]["group:b"],
        json!(["b@example.com", "c@example.com"])
    );
    assert!(up_to_date(&upd.text, "ns/a", &a.entries).unwrap());
    assert!(up_to_date(&upd.text, "ns/b", &b2.entries).unwrap());
    assert!(!up_to_date(&upd.text, "ns/b", &b.entries).unwrap());

    // Deleting a removes exactly a's entries.
    let del = merge(&upd.text, std::slice::from_ref(&b2), &["ns/a".into()]).unwrap();
    let v = value(&del.text);
    assert_eq!(
        v["tagOwners"],
        json!({"tag:ci": ["group:admins"], "tag:b": ["group:b"]})
    );
    assert!(owned_by(&del.text, "ns/a").unwrap().is_empty());
    assert_eq!(owned_by(&del.text, "ns/b").unwrap().len(), 3);
}

#[test]
fn entries_of_ids_not_managed_here_are_never_touched() {
    // Another provider (or this one before a restart) wrote ns/other.
    let other = merge(
        HAND_WRITTEN,
        &[frag(
            "ns/other",
            team("tag:o", "group:o", &["o@example.com"]),
        )],
        &[],
    )
    .unwrap();
    let m = merge(
        &other.text,
        &[frag("ns/a", team("tag:a", "group:a", &["a@example.com"]))],
        &[],
    )
    .unwrap();
    assert_eq!(owned_by(&m.text, "ns/other").unwrap().len(), 3);
    let back = merge(&m.text, &[], &["ns/a".into()]).unwrap();
    assert_eq!(back.text, other.text);
}

#[test]
fn disagreeing_fragments_are_both_held_and_nothing_is_written() {
    let a = frag("ns/a", team("tag:shared", "group:a", &["a@example.com"]));
    let b = frag("ns/b", team("tag:shared", "group:b", &["b@example.com"]));
    let m = merge(HAND_WRITTEN, &[a, b], &[]).unwrap();
    assert!(!m.changed, "{}", m.text);
    assert_eq!(m.text, HAND_WRITTEN);
    assert!(
        m.conflicts["ns/a"][0].contains("\"ns/b\""),
        "{:?}",
        m.conflicts
    );
    assert!(
        m.conflicts["ns/b"][0].contains("\"ns/a\""),
        "{:?}",
        m.conflicts
    );
    assert!(m.conflicts["ns/a"][0].contains("tagOwners[\"tag:shared\"]"));
}

#[test]
fn a_fragment_disagreeing_with_a_hand_written_entry_is_held() {
    let a = frag("ns/a", team("tag:ci", "group:a", &["a@example.com"]));
    let ok = frag("ns/ok", team("tag:ok", "group:ok", &["ok@example.com"]));
    let m = merge(HAND_WRITTEN, &[a, ok.clone()], &[]).unwrap();
    assert!(
        m.conflicts["ns/a"][0].contains("another writer"),
        "{:?}",
        m.conflicts
    );
    assert!(!m.conflicts.contains_key("ns/ok"));
    assert!(owned_by(&m.text, "ns/a").unwrap().is_empty());
    assert!(up_to_date(&m.text, "ns/ok", &ok.entries).unwrap());
}

#[test]
fn identical_entries_are_shared_and_outlive_one_owner() {
    let a = frag("ns/a", team("tag:x", "group:x", &["x@example.com"]));
    let b = frag("ns/b", team("tag:x", "group:x", &["x@example.com"]));
    let m = merge("{}", &[a.clone(), b.clone()], &[]).unwrap();
    assert!(m.conflicts.is_empty());
    assert!(m.text.contains("// hybrid-spoke: ns/a, ns/b"), "{}", m.text);
    let del = merge(&m.text, std::slice::from_ref(&b), &["ns/a".into()]).unwrap();
    assert!(up_to_date(&del.text, "ns/b", &b.entries).unwrap());
    assert_eq!(value(&del.text)["tagOwners"], json!({"tag:x": ["group:x"]}));
}

#[test]
fn missing_sections_are_created_and_tabs_and_missing_commas_handled() {
    let doc = "{\n\t\"acls\": [\n\t\t{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}\n\t]\n}\n";
    let p = PolicyFragment {
        auto_approvers: Some(AutoApprovers {
            routes: [("10.0.0.0/8".to_string(), vec!["tag:router".to_string()])].into(),
            exit_node: vec!["tag:exit".into()],
        }),
        ..team("tag:router", "group:net", &["n@example.com"])
    };
    let m = merge(doc, &[frag("net", p.clone())], &[]).unwrap();
    let v = value(&m.text);
    assert_eq!(
        v["autoApprovers"],
        json!({"routes": {"10.0.0.0/8": ["tag:router"]}, "exitNode": ["tag:exit"]})
    );
    assert_eq!(v["acls"].as_array().unwrap().len(), 2);
    assert!(
        m.text.contains("\n\t\t// hybrid-spoke: net\n"),
        "{}",
        m.text
    );
    assert!(up_to_date(&m.text, "net", &frag("net", p).entries).unwrap());

    // The sections it created go with the last entry; the rest stays.
    let gone = merge(&m.text, &[], &["net".into()]).unwrap();
    assert!(!gone.text.contains("hybrid-spoke"), "{}", gone.text);
    assert_eq!(value(&gone.text), value(doc));
}

#[test]
fn created_sections_are_removed_when_empty_but_not_if_someone_uses_them() {
    let p = PolicyFragment {
        hosts: [("web-lb".to_string(), "100.64.0.10".to_string())].into(),
        auto_approvers: Some(AutoApprovers {
            routes: [("10.0.0.0/8".to_string(), vec!["tag:ci".to_string()])].into(),
            exit_node: vec![],
        }),
        ..Default::default()
    };
    let added = merge(HAND_WRITTEN, &[frag("ns/lb", p.clone())], &[]).unwrap();
    assert!(added.text.contains(SECTION_MARKER), "{}", added.text);
    let removed = merge(&added.text, &[], &["ns/lb".into()]).unwrap();
    assert_eq!(
        removed.text, HAND_WRITTEN,
        "created sections removed again, byte for byte"
    );

    // A host added by hand to the created section keeps it.
    let by_hand = added.text.replacen(
        "\"hosts\": {",
        "\"hosts\": {\n    \"manual\": \"100.64.0.99\",",
        1,
    );
    let kept = merge(&by_hand, &[], &["ns/lb".into()]).unwrap();
    assert_eq!(value(&kept.text)["hosts"], json!({"manual": "100.64.0.99"}));
    assert!(
        value(&kept.text).get("autoApprovers").is_none(),
        "{}",
        kept.text
    );
}

#[test]
fn a_broken_document_is_an_error_not_a_panic() {
    assert!(matches!(
        merge("{\"acls\": [", &[], &[]),
        Err(MergeError::Syntax(_))
    ));
    assert!(matches!(merge("[]", &[], &[]), Err(MergeError::NotObject)));
    let f = frag("a", team("tag:a", "group:a", &[]));
    assert!(matches!(
        merge("{\"tagOwners\": []}", &[f], &[]),
        Err(MergeError::WrongType(..))
    ));
}

/// A small deterministic generator (no dependency needed for this).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[test]
fn random_sequences_keep_the_union_and_restore_the_original() {
    for seed in 0..40 {
        let mut rng = Lcg(seed);
        let mut doc = HAND_WRITTEN.to_string();
        let mut live: std::collections::BTreeMap<String, Fragment> = Default::default();
        for _ in 0..30 {
            let n = rng.next(8);
            let id = format!("ns/f{n}");
            if rng.next(4) == 0 {
                live.remove(&id);
                doc = merge(&doc, &live.values().cloned().collect::<Vec<_>>(), &[id])
                    .unwrap()
                    .text;
            } else {
                let member = format!("m{}@example.com", rng.next(3));
                live.insert(
                    id.clone(),
                    frag(
                        &id,
                        team(&format!("tag:t{n}"), &format!("group:t{n}"), &[&member]),
                    ),
                );
                let m = merge(&doc, &live.values().cloned().collect::<Vec<_>>(), &[]).unwrap();
                assert!(m.conflicts.is_empty(), "seed {seed}: {:?}", m.conflicts);
                doc = m.text;
            }
            // Every live fragment is exactly in the document; the foreign
            // entries are all still there.
            for f in live.values() {
                assert!(
                    up_to_date(&doc, &f.id, &f.entries).unwrap(),
                    "seed {seed}: {} not in\n{doc}",
                    f.id
                );
            }
            let v = value(&doc);
            assert_eq!(v["tagOwners"]["tag:ci"], json!(["group:admins"]));
            assert_eq!(v["groups"]["group:admins"], json!(["alice@example.com"]));
            assert_eq!(
                v["tagOwners"].as_object().unwrap().len(),
                1 + live.len(),
                "seed {seed}"
            );
            assert_eq!(
                v["acls"].as_array().unwrap().len(),
                1 + live.len(),
                "seed {seed}"
            );
        }
        let ids: Vec<String> = live.keys().cloned().collect();
        let end = merge(&doc, &[], &ids).unwrap();
        assert_eq!(end.text, HAND_WRITTEN, "seed {seed}");
    }
}
