//! Guardrails from the tailnet ProviderConfig: a fragment breaking one is
//! refused before anything reaches the API.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policy::PolicyFragment;

/// Limits on what AclFragments using this ProviderConfig may write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclGuardrails {
    /// Allow "any source" / "any destination" in `src`/`dst` of acls,
    /// grants and ssh, however spelled: `*`, `*:port`, `0.0.0.0/0`, `::/0`
    /// (with or without a port), a host alias of one, `autogroup:internet`.
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

/// Which rule field an address is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Src,
    /// `host:port` (acls).
    DstWithPort,
    /// A host, no port (grants: ports are in `ip`; ssh).
    Dst,
}

/// A CIDR of prefix length 0 (`0.0.0.0/0`, `::/0`, …): every address.
fn every_address(s: &str) -> bool {
    s.rsplit_once('/').is_some_and(|(addr, len)| {
        len.parse::<u8>() == Ok(0) && addr.parse::<std::net::IpAddr>().is_ok()
    })
}

/// `*`, `443`, `80,443`, `1000-2000`.
fn is_ports(p: &str) -> bool {
    p == "*"
        || p.split(',').all(|r| {
            r.split('-')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Whether `entry` in `field` means "any source" / "any destination" (on
/// any or some port): `*`, a /0 CIDR of either family, a host alias of the
/// fragment naming one, and in a destination `autogroup:internet` (the
/// grammar allows it only there).
fn is_wildcard(entry: &str, field: Field, hosts: &BTreeMap<String, String>) -> bool {
    let any = |host: &str| {
        let host = hosts.get(host).map(String::as_str).unwrap_or(host);
        host == "*" || every_address(host) || (field != Field::Src && host == "autogroup:internet")
    };
    if any(entry) {
        return true;
    }
    match (field, entry.rsplit_once(':')) {
        (Field::DstWithPort, Some((host, port))) => is_ports(port) && any(host),
        _ => false,
    }
}

/// Every guardrail the fragment breaks (empty: it may be written), each
/// naming the entry (`acls[0].dst[1]`), its value and the rule.
pub fn check(p: &PolicyFragment, g: &AclGuardrails) -> Vec<String> {
    let mut out = Vec::new();
    let rules = p
        .acls
        .iter()
        .map(|r| ("acls", &r.src, &r.dst, Field::DstWithPort))
        .enumerate()
        .chain(
            p.grants
                .iter()
                .map(|r| ("grants", &r.src, &r.dst, Field::Dst))
                .enumerate(),
        )
        .chain(
            p.ssh
                .iter()
                .map(|r| ("ssh", &r.src, &r.dst, Field::Dst))
                .enumerate(),
        );
    for (i, (section, src, dst, dst_field)) in rules {
        let entries = src
            .iter()
            .enumerate()
            .map(|(j, s)| ("src", j, s, Field::Src))
            .chain(
                dst.iter()
                    .enumerate()
                    .map(|(j, s)| ("dst", j, s, dst_field)),
            );
        for (name, j, s, field) in entries {
            if !g.allow_wildcard && is_wildcard(s, field, &p.hosts) {
                let means = if field == Field::Src {
                    "any source"
                } else {
                    "any destination"
                };
                out.push(format!(
                    "{section}[{i}].{name}[{j}]: {s:?} means {means}, and the ProviderConfig does not set aclGuardrails.allowWildcard"
                ));
            } else if field == Field::Src
                && !g.allow_autogroup_sources
                && s.starts_with("autogroup:")
            {
                out.push(format!(
                    "{section}[{i}].{name}[{j}]: {s:?} is an autogroup source, and the ProviderConfig does not set aclGuardrails.allowAutogroupSources"
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
                    "tagOwners[{tag:?}]: the tag does not start with one of aclGuardrails.tagPrefixes {:?}",
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
        assert_eq!(
            check(&p, &g),
            vec![
                r#"acls[0].src[0]: "*" means any source, and the ProviderConfig does not set aclGuardrails.allowWildcard"#,
                r#"acls[1].src[0]: "autogroup:member" is an autogroup source, and the ProviderConfig does not set aclGuardrails.allowAutogroupSources"#,
                r#"tagOwners["tag:other"]: the tag does not start with one of aclGuardrails.tagPrefixes ["tag:team-"]"#,
            ]
        );

        let open = AclGuardrails {
            allow_wildcard: true,
            allow_autogroup_sources: true,
            tag_prefixes: vec!["tag:o".into()],
        };
        assert!(check(&p, &open).is_empty());
    }

    /// One fragment per (section, field, spelling): refused without
    /// allowWildcard, accepted with it.
    #[test]
    fn every_spelling_of_any_is_a_wildcard() {
        use crate::acl::policy::{Grant, SshRule};
        let hosts: BTreeMap<String, String> =
            [("internet".to_string(), "0.0.0.0/0".to_string())].into();
        let acl = |src: &str, dst: &str| PolicyFragment {
            acls: vec![rule(src, dst)],
            hosts: hosts.clone(),
            ..Default::default()
        };
        let grant = |src: &str, dst: &str| PolicyFragment {
            grants: vec![Grant {
                src: vec![src.into()],
                dst: vec![dst.into()],
                ip: vec!["*".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ssh = |src: &str, dst: &str| PolicyFragment {
            ssh: vec![SshRule {
                action: "accept".into(),
                src: vec![src.into()],
                dst: vec![dst.into()],
                users: vec!["root".into()],
                check_period: None,
                accept_env: vec![],
            }],
            ..Default::default()
        };
        let wild = [
            (acl("*", "tag:web:443"), "acls[0].src[0]", "*", "any source"),
            (
                acl("0.0.0.0/0", "tag:web:443"),
                "acls[0].src[0]",
                "0.0.0.0/0",
                "any source",
            ),
            (
                acl("::/0", "tag:web:443"),
                "acls[0].src[0]",
                "::/0",
                "any source",
            ),
            (
                acl("internet", "tag:web:443"),
                "acls[0].src[0]",
                "internet",
                "any source",
            ),
            (
                acl("group:a", "*:*"),
                "acls[0].dst[0]",
                "*:*",
                "any destination",
            ),
            (
                acl("group:a", "*:443"),
                "acls[0].dst[0]",
                "*:443",
                "any destination",
            ),
            (
                acl("group:a", "0.0.0.0/0:*"),
                "acls[0].dst[0]",
                "0.0.0.0/0:*",
                "any destination",
            ),
            (
                acl("group:a", "::/0:*"),
                "acls[0].dst[0]",
                "::/0:*",
                "any destination",
            ),
            (
                acl("group:a", "0.0.0.0/0:80,443"),
                "acls[0].dst[0]",
                "0.0.0.0/0:80,443",
                "any destination",
            ),
            (
                acl("group:a", "internet:*"),
                "acls[0].dst[0]",
                "internet:*",
                "any destination",
            ),
            (
                acl("group:a", "autogroup:internet:*"),
                "acls[0].dst[0]",
                "autogroup:internet:*",
                "any destination",
            ),
            (grant("*", "tag:web"), "grants[0].src[0]", "*", "any source"),
            (
                grant("0.0.0.0/0", "tag:web"),
                "grants[0].src[0]",
                "0.0.0.0/0",
                "any source",
            ),
            (
                grant("::/0", "tag:web"),
                "grants[0].src[0]",
                "::/0",
                "any source",
            ),
            (
                grant("group:a", "*"),
                "grants[0].dst[0]",
                "*",
                "any destination",
            ),
            (
                grant("group:a", "0.0.0.0/0"),
                "grants[0].dst[0]",
                "0.0.0.0/0",
                "any destination",
            ),
            (
                grant("group:a", "::/0"),
                "grants[0].dst[0]",
                "::/0",
                "any destination",
            ),
            (
                grant("group:a", "autogroup:internet"),
                "grants[0].dst[0]",
                "autogroup:internet",
                "any destination",
            ),
            (ssh("*", "tag:web"), "ssh[0].src[0]", "*", "any source"),
            (
                ssh("0.0.0.0/0", "tag:web"),
                "ssh[0].src[0]",
                "0.0.0.0/0",
                "any source",
            ),
            (
                ssh("::/0", "tag:web"),
                "ssh[0].src[0]",
                "::/0",
                "any source",
            ),
            (ssh("group:a", "*"), "ssh[0].dst[0]", "*", "any destination"),
            (
                ssh("group:a", "0.0.0.0/0"),
                "ssh[0].dst[0]",
                "0.0.0.0/0",
                "any destination",
            ),
            (
                ssh("group:a", "::/0"),
                "ssh[0].dst[0]",
                "::/0",
                "any destination",
            ),
        ];
        let closed = AclGuardrails::default();
        let open = AclGuardrails {
            allow_wildcard: true,
            ..Default::default()
        };
        for (fragment, at, value, means) in &wild {
            assert_eq!(
                check(fragment, &closed),
                vec![format!(
                    "{at}: {value:?} means {means}, and the ProviderConfig does not set aclGuardrails.allowWildcard"
                )],
                "{at} = {value}"
            );
            assert!(
                check(fragment, &open).is_empty(),
                "{at} = {value} with allowWildcard"
            );
        }
        // not wildcards: narrower CIDRs, tags, hosts, IPv6 addresses
        for fragment in [
            acl("10.0.0.0/8", "tag:web:443"),
            acl("group:a", "192.168.0.0/16:*"),
            acl("group:a", "fd7a:115c:a1e0::/48:*"),
            acl("group:a", "tag:web:*"),
            grant("group:a", "10.0.0.1/32"),
            grant("group:a", "2001:db8::1"),
            ssh("group:a", "autogroup:self"),
        ] {
            assert!(check(&fragment, &closed).is_empty(), "{fragment:?}");
        }
    }
}
