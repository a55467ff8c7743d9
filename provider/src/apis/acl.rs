//! `AclFragment`: a piece of a tailnet's policy file owned by one resource,
//! in both API flavours. It uses the tailnet ProviderConfigs.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;
pub use crate::acl::policy::PolicyFragment;

/// What the policy holds for a fragment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclFragmentObservation {
    /// The fragment's id in the policy (its `// hybrid-spoke:` marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The entries the policy marks as this fragment's, e.g.
    /// `tagOwners["tag:web"]`, `acls[{"action":"accept",…}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned_entries: Vec<String>,
    /// Which API answered: `tailscale`, `headscale/v1`, `headscale/v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclFragmentStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_provider: Option<AclFragmentObservation>,
}

pub mod namespaced {
    use super::*;

    /// Entries of a tailnet policy file owned by this resource; the rest of
    /// the policy (other fragments, hand edits, comments) is kept.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
    #[kube(
        group = "tailnet.m.hybridspoke.io",
        version = "v1alpha1",
        kind = "AclFragment",
        namespaced,
        status = "AclFragmentStatus",
        category = "crossplane",
        category = "managed",
        category = "tailnet",
        printcolumn(
            name = "SYNCED",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Synced')].status"
        ),
        printcolumn(
            name = "READY",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Ready')].status"
        ),
        printcolumn(
            name = "EXTERNAL-NAME",
            type_ = "string",
            json_path = ".metadata.annotations.crossplane\\.io/external-name"
        ),
        printcolumn(
            name = "AGE",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
        doc = "An AclFragment owns some entries of a tailnet's policy file (Tailscale API v2 or Headscale)."
    )]
    #[serde(rename_all = "camelCase")]
    pub struct AclFragmentSpec {
        pub for_provider: PolicyFragment,
        /// The ProviderConfig (this namespace) or ClusterProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: TypedProviderConfigReference,
        /// Which actions the provider may take on the policy entries.
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
    }
}

pub mod cluster {
    use super::*;

    /// Entries of a tailnet policy file (legacy cluster-scoped flavour).
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
    #[kube(
        group = "tailnet.hybridspoke.io",
        version = "v1alpha1",
        kind = "AclFragment",
        status = "AclFragmentStatus",
        category = "crossplane",
        category = "managed",
        category = "tailnet",
        printcolumn(
            name = "SYNCED",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Synced')].status"
        ),
        printcolumn(
            name = "READY",
            type_ = "string",
            json_path = ".status.conditions[?(@.type=='Ready')].status"
        ),
        printcolumn(
            name = "EXTERNAL-NAME",
            type_ = "string",
            json_path = ".metadata.annotations.crossplane\\.io/external-name"
        ),
        printcolumn(
            name = "AGE",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
        doc = "An AclFragment owns some entries of a tailnet's policy file (legacy cluster-scoped flavour)."
    )]
    #[serde(rename_all = "camelCase")]
    pub struct AclFragmentSpec {
        pub for_provider: PolicyFragment,
        /// The ProviderConfig to use.
        #[serde(default)]
        pub provider_config_ref: ProviderConfigReference,
        #[serde(default = "default_management_policies")]
        pub management_policies: Vec<ManagementAction>,
        /// What happens to the entries when this resource is deleted.
        #[serde(default)]
        pub deletion_policy: DeletionPolicy,
    }
}
