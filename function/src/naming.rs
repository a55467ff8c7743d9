//! Every name the function derives from the claim, and the rule of the
//! target it must satisfy. A Kubernetes object name may be 253 characters
//! with dots, a namespace 63: the names built from them (cloud cluster,
//! VNet, label values, Secrets, tailnet hostnames) have tighter rules. A
//! derived name that breaks its rule is made to fit here, in one way: a
//! readable prefix and a short hash of the whole name, so two spokes never
//! share a name and the same claim always gets the same one.

use sha2::{Digest as _, Sha256};

/// What a target accepts: a length, a charset, and what may start and end
/// a name.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// What the name is, for messages: "a Kubernetes label value".
    pub what: &'static str,
    pub max: usize,
    /// The rule in words, for messages.
    pub says: &'static str,
    allowed: fn(char) -> bool,
    first: fn(char) -> bool,
    last: fn(char) -> bool,
    /// Whether an empty name is valid (label values, tag values).
    empty_ok: bool,
    /// Whether upper case is folded to lower case when a name is fitted.
    lowercase: bool,
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn any(_: char) -> bool {
    true
}

/// A DNS label (RFC 1123): namespaces, hostnames, AKS DNS prefixes.
pub const DNS_LABEL: Rule = Rule {
    what: "a DNS label",
    max: 63,
    says: "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    allowed: |c| lower_alnum(c) || c == '-',
    first: lower_alnum,
    last: lower_alnum,
    empty_ok: false,
    lowercase: true,
};

/// A DNS subdomain (RFC 1123): most Kubernetes object names (Secrets,
/// ProviderConfigs).
pub const DNS_SUBDOMAIN: Rule = Rule {
    what: "a Kubernetes object name",
    max: 253,
    says: "at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
    allowed: |c| lower_alnum(c) || c == '-' || c == '.',
    first: lower_alnum,
    last: lower_alnum,
    empty_ok: false,
    lowercase: true,
};

/// A Kubernetes label value.
pub const LABEL_VALUE: Rule = Rule {
    what: "a Kubernetes label value",
    max: 63,
    says: "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    allowed: |c| alnum(c) || matches!(c, '-' | '_' | '.'),
    first: alnum,
    last: alnum,
    empty_ok: true,
    lowercase: false,
};

/// The spoke's cluster name: a DNS label, so that it is at once a valid EKS
/// cluster name (100, letters, digits, '-', '_'), AKS name (63), Kubernetes
/// object name and tailnet hostname.
pub const CLUSTER_NAME: Rule = Rule {
    what: "the spoke's cloud cluster name",
    ..DNS_LABEL
};

/// A tailnet device hostname prefix: the operator appends the replica's
/// ordinal (`-0`), and the Connector CRD allows 62.
pub const HOSTNAME_PREFIX: Rule = Rule {
    what: "a tailnet hostname prefix",
    max: 62,
    says: "at most 62 lowercase letters, digits and '-', starting and ending with a letter or digit",
    ..DNS_LABEL
};

/// An IAM role name.
pub const IAM_ROLE: Rule = Rule {
    what: "an IAM role name",
    max: 64,
    says: "at most 64 letters, digits and '+=,.@_-'",
    allowed: |c| alnum(c) || "+=,.@_-".contains(c),
    first: |c| alnum(c) || "+=,.@_-".contains(c),
    last: |c| alnum(c) || "+=,.@_-".contains(c),
    empty_ok: false,
    lowercase: false,
};

/// An Azure resource group name.
pub const RESOURCE_GROUP: Rule = Rule {
    what: "an Azure resource group name",
    max: 90,
    says: "at most 90 letters, digits, '-', '_', '.', '(' and ')', not ending with '.'",
    allowed: |c| alnum(c) || "-_.()".contains(c),
    first: |c| alnum(c) || "-_.()".contains(c),
    last: |c| alnum(c) || "-_()".contains(c),
    empty_ok: false,
    lowercase: false,
};

/// An Azure virtual network name.
pub const VNET: Rule = Rule {
    what: "an Azure virtual network name",
    max: 64,
    says: "at most 64 letters, digits, '-', '_' and '.', starting with a letter or digit and ending with a letter, digit or '_'",
    allowed: |c| alnum(c) || "-_.".contains(c),
    first: alnum,
    last: |c| alnum(c) || c == '_',
    empty_ok: false,
    lowercase: false,
};

/// An AWS tag key (`aws:` is reserved, checked apart).
pub const AWS_TAG_KEY: Rule = Rule {
    what: "an AWS tag key",
    max: 128,
    says: "at most 128 letters, digits, spaces and '_.:/=+-@'",
    allowed: aws_tag_char,
    first: aws_tag_char,
    last: aws_tag_char,
    empty_ok: false,
    lowercase: false,
};

/// An AWS tag value.
pub const AWS_TAG_VALUE: Rule = Rule {
    what: "an AWS tag value",
    max: 256,
    says: "at most 256 letters, digits, spaces and '_.:/=+-@'",
    allowed: aws_tag_char,
    first: aws_tag_char,
    last: aws_tag_char,
    empty_ok: true,
    lowercase: false,
};

/// An Azure tag key (after `/` and the other forbidden characters are
/// replaced, see `compose/azure.rs`).
pub const AZURE_TAG_KEY: Rule = Rule {
    what: "an Azure tag key",
    max: 512,
    says: "at most 512 characters, none of '<>%&\\?/'",
    allowed: |c| !"<>%&\\?/".contains(c),
    first: any,
    last: any,
    empty_ok: false,
    lowercase: false,
};

/// An Azure tag value.
pub const AZURE_TAG_VALUE: Rule = Rule {
    what: "an Azure tag value",
    max: 256,
    says: "at most 256 characters",
    allowed: any,
    first: any,
    last: any,
    empty_ok: true,
    lowercase: false,
};

/// A Kubernetes label key, in words.
pub const LABEL_KEY_SAYS: &str = "an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/// A Kubernetes label key: `[prefix/]name`.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    !name.is_empty()
        && LABEL_VALUE.is_valid(name)
        && prefix.is_none_or(|p| DNS_SUBDOMAIN.is_valid(p))
}

fn aws_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// Characters of the hash that makes a shortened name unique.
const HASH_LENGTH: usize = 8;

impl Rule {
    pub fn is_valid(&self, name: &str) -> bool {
        if name.is_empty() {
            return self.empty_ok;
        }
        name.chars().count() <= self.max
            && name.chars().all(self.allowed)
            && name.chars().next().is_some_and(self.first)
            && name.chars().last().is_some_and(self.last)
    }

    /// `name` itself when it satisfies the rule; otherwise a readable
    /// prefix of it (characters the rule refuses become '-') and a hash of
    /// the whole of it, so distinct names stay distinct. `None` when
    /// nothing of `name` can be kept (empty, or no character allowed).
    pub fn fit(&self, name: &str) -> Option<String> {
        if self.is_valid(name) {
            return Some(name.to_string());
        }
        let hash = short_hash(name);
        let cleaned: String = name
            .chars()
            .map(|c| {
                if self.lowercase {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .map(|c| if (self.allowed)(c) { c } else { '-' })
            .collect();
        let room = self.max.saturating_sub(HASH_LENGTH + 1);
        let prefix: String = cleaned.chars().take(room).collect();
        let prefix = prefix
            .trim_start_matches(|c| !(self.first)(c))
            .trim_end_matches(|c| !(self.last)(c) || c == '-');
        if prefix.is_empty() {
            return None;
        }
        let fitted = format!("{prefix}-{hash}");
        self.is_valid(&fitted).then_some(fitted)
    }
}

/// The first hex digits of the name's SHA-256.
fn short_hash(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .take(HASH_LENGTH / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept() {
        assert_eq!(
            CLUSTER_NAME.fit("team-payments-eu").as_deref(),
            Some("team-payments-eu")
        );
        assert_eq!(LABEL_VALUE.fit("").as_deref(), Some(""));
    }

    #[test]
    fn long_names_get_a_readable_prefix_and_a_hash() {
        let long = "a".repeat(100);
        let fitted = CLUSTER_NAME.fit(&long).expect("fits");
        assert_eq!(fitted.len(), 63);
        assert!(fitted.starts_with("aaaa"));
        assert!(CLUSTER_NAME.is_valid(&fitted));
        // Deterministic, and distinct for distinct names.
        assert_eq!(CLUSTER_NAME.fit(&long), Some(fitted.clone()));
        assert_ne!(CLUSTER_NAME.fit(&"a".repeat(101)), Some(fitted));
    }

    #[test]
    fn refused_characters_become_dashes() {
        let fitted = CLUSTER_NAME.fit("team-eu.payments").expect("fits");
        assert!(fitted.starts_with("team-eu-payments-"), "{fitted}");
        assert_ne!(CLUSTER_NAME.fit("team-eu-payments"), Some(fitted));
    }

    #[test]
    fn nothing_to_keep_is_refused() {
        assert_eq!(CLUSTER_NAME.fit(""), None);
        assert_eq!(CLUSTER_NAME.fit("...."), None);
    }
}
