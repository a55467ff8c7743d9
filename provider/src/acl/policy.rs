//! The sections of a tailnet policy an AclFragment may hold, typed after the
//! Tailscale policy schema (KB 1337; `../shared/reference/tailscale.md` §2.2).
//! Parts whose shape the schema leaves open (grant `app` capabilities) stay
//! JSON.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A piece of the tailnet policy. Each entry is owned by the fragment; the
/// rest of the document is left alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFragment {
    /// `tag:name` → who may apply the tag (users, groups, tags, `autogroup:admin`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tag_owners: BTreeMap<String, Vec<String>>,
    /// `group:name` → members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Host alias → IP address or CIDR.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approvers: Option<AutoApprovers>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acls: Vec<AclRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh: Vec<SshRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_attrs: Vec<NodeAttr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<AclTest>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoApprovers {
    /// CIDR → who may advertise it without manual approval.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, Vec<String>>,
    /// Who may advertise an exit node without manual approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_node: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub src: Vec<String>,
    pub dst: Vec<String>,
    /// e.g. `tcp:443`, `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip: Vec<String>,
    /// Application capabilities: capability name → list of JSON objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub app: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub src_posture: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclRule {
    /// Only `accept` exists.
    #[schemars(pattern(r"^accept$"))]
    pub action: String,
    pub src: Vec<String>,
    /// `host:port` entries.
    pub dst: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub src_posture: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshRule {
    /// `accept` or `check`.
    #[schemars(pattern(r"^(accept|check)$"))]
    pub action: String,
    pub src: Vec<String>,
    pub dst: Vec<String>,
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_period: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_env: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeAttr {
    pub target: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub app: Option<serde_json::Map<String, Value>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclTest {
    pub src: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// Where in the policy document an entry lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    TagOwners,
    Groups,
    Hosts,
    AutoApproverRoutes,
    AutoApproverExitNode,
    Grants,
    Acls,
    Ssh,
    NodeAttrs,
    Tests,
}

impl Section {
    pub const ALL: [Section; 10] = [
        Section::TagOwners,
        Section::Groups,
        Section::Hosts,
        Section::AutoApproverRoutes,
        Section::AutoApproverExitNode,
        Section::Grants,
        Section::Acls,
        Section::Ssh,
        Section::NodeAttrs,
        Section::Tests,
    ];

    /// The path of keys from the document root.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Section::TagOwners => &["tagOwners"],
            Section::Groups => &["groups"],
            Section::Hosts => &["hosts"],
            Section::AutoApproverRoutes => &["autoApprovers", "routes"],
            Section::AutoApproverExitNode => &["autoApprovers", "exitNode"],
            Section::Grants => &["grants"],
            Section::Acls => &["acls"],
            Section::Ssh => &["ssh"],
            Section::NodeAttrs => &["nodeAttrs"],
            Section::Tests => &["tests"],
        }
    }

    /// Object sections are keyed (`tagOwners`); the others are lists.
    pub fn is_object(self) -> bool {
        matches!(
            self,
            Section::TagOwners | Section::Groups | Section::Hosts | Section::AutoApproverRoutes
        )
    }

    pub fn name(self) -> String {
        self.path().join(".")
    }
}

/// One entry of a fragment: a keyed member of an object section, or an
/// element of a list section (`key` is then its canonical JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub section: Section,
    pub key: String,
    pub value: Value,
}

impl PolicyFragment {
    /// The fragment's entries, section by section.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let keyed = |out: &mut Vec<Entry>, section, key: &String, value: Value| {
            out.push(Entry {
                section,
                key: key.clone(),
                value,
            });
        };
        for (k, v) in &self.tag_owners {
            keyed(&mut out, Section::TagOwners, k, Value::from(v.clone()));
        }
        for (k, v) in &self.groups {
            keyed(&mut out, Section::Groups, k, Value::from(v.clone()));
        }
        for (k, v) in &self.hosts {
            keyed(&mut out, Section::Hosts, k, Value::from(v.clone()));
        }
        if let Some(aa) = &self.auto_approvers {
            for (k, v) in &aa.routes {
                keyed(
                    &mut out,
                    Section::AutoApproverRoutes,
                    k,
                    Value::from(v.clone()),
                );
            }
            for v in &aa.exit_node {
                out.push(list_entry(
                    Section::AutoApproverExitNode,
                    Value::from(v.clone()),
                ));
            }
        }
        fn listed<T: Serialize>(out: &mut Vec<Entry>, section: Section, items: &[T]) {
            for item in items {
                // Serializing these plain structs cannot fail.
                let value = serde_json::to_value(item).unwrap_or(Value::Null);
                out.push(list_entry(section, value));
            }
        }
        listed(&mut out, Section::Grants, &self.grants);
        listed(&mut out, Section::Acls, &self.acls);
        listed(&mut out, Section::Ssh, &self.ssh);
        listed(&mut out, Section::NodeAttrs, &self.node_attrs);
        listed(&mut out, Section::Tests, &self.tests);
        out
    }
}

pub fn list_entry(section: Section, value: Value) -> Entry {
    Entry {
        section,
        key: canonical(&value),
        value,
    }
}

/// JSON with object keys sorted, so equal values give equal strings.
pub fn canonical(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push(':');
                    walk(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    walk(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    walk(v, &mut s);
    s
}

/// Free-form JSON objects in a CRD must say so (structural schemas).
fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
