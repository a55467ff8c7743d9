//! Guardrails from the tailnet ProviderConfig: a fragment breaking one is
//! refused before anything reaches the API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policy::PolicyFragment;

/// Limits on what AclFragments using this ProviderConfig may write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclGuardrails {
    /// Allow `*` (alone or as `*:port`) in `src`/`dst` of acls, grants and ssh.
    #[serde(default)]
    pub allow_wildcard: bool,
    /// When set, a fragment may own only tags starting with one of these
    /// (e.g. `tag:team-a-`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_prefixes: Vec<String>,
    /// Allow `autogroup:` entries in `src`.
    #[serde(default)]
    pub allow_autogroup_sources: bool,
}

/// Every guardrail the fragment breaks (empty: it may be written).
pub fn check(p: &PolicyFragment, g: &AclGuardrails) -> Vec<String> {
    let mut out = Vec::new();
    let rules = p
        .acls
        .iter()
        .map(|r| ("acls", &r.src, &r.dst))
        .chain(p.grants.iter().map(|r| ("grants", &r.src, &r.dst)))
        .chain(p.ssh.iter().map(|r| ("ssh", &r.src, &r.dst)));
    for (section, src, dst) in rules {
        if !g.allow_wildcard {
            for s in src.iter().chain(dst.iter()) {
                if s == "*" || s.starts_with("*:") {
                    out.push(format!(
                        "{section}: {s:?} is not allowed (the ProviderConfig sets no allowWildcard)"
                    ));
                }
            }
        }
        if !g.allow_autogroup_sources {
            for s in src.iter().filter(|s| s.starts_with("autogroup:")) {
                out.push(format!(
                    "{section}: source {s:?} is not allowed (autogroup: sources are forbidden)"
                ));
            }
        }
    }
    if !g.tag_prefixes.is_empty() {
        for tag in p.tag_owners.keys() {
            if !g
                .tag_prefixes
                .iter()
                .any(|pre| tag.starts_with(pre.as_str()))
            {
                out.push(format!(
                    "tagOwners: {tag:?} does not start with one of {:?}",
                    g.tag_prefixes
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::policy::AclRule;

    fn rule(src: &str, dst: &str) -> AclRule {
        AclRule {
            action: "accept".into(),
            src: vec![src.into()],
            dst: vec![dst.into()],
            proto: None,
            src_posture: vec![],
        }
    }

    #[test]
    fn wildcards_autogroups_and_foreign_tags_are_refused() {
        let p = PolicyFragment {
            acls: vec![
                rule("*", "tag:web:443"),
                rule("autogroup:member", "tag:web:*"),
            ],
            tag_owners: [("tag:other".to_string(), vec![])].into(),
            ..Default::default()
        };
        let g = AclGuardrails {
            tag_prefixes: vec!["tag:team-".into()],
            ..Default::default()
        };
        let errs = check(&p, &g);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("\"*\"")));
        assert!(errs.iter().any(|e| e.contains("autogroup:member")));
        assert!(errs.iter().any(|e| e.contains("tag:other")));

        let open = AclGuardrails {
            allow_wildcard: true,
            allow_autogroup_sources: true,
            tag_prefixes: vec!["tag:o".into()],
        };
        assert!(check(&p, &open).is_empty());
    }
}
