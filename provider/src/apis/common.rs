//! Types every managed resource and ProviderConfig shares: Crossplane's
//! conditions, management policies, references (crossplane `apis/core/v2`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Crossplane condition (`apis/core/v2/condition.go`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of this condition. At most one of each condition type may apply to
    /// a resource at any point in time.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of this condition; is it currently True, False, or Unknown?
    pub status: String,
    /// LastTransitionTime is the last time this condition transitioned from one
    /// status to another.
    pub last_transition_time: String,
    /// A Reason for this condition's last transition from one status to another.
    pub reason: String,
    /// A Message containing details about this condition's last transition from
    /// one status to another, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// ObservedGeneration represents the .metadata.generation that the
    /// condition was set based upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A management action (`apis/core/v2/policies.go`).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum ManagementAction {
    Observe,
    Create,
    Update,
    Delete,
    LateInitialize,
    #[serde(rename = "*")]
    All,
}

/// What happens to the external resource when a legacy MR is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Orphan,
}

pub fn default_management_policies() -> Vec<ManagementAction> {
    vec![ManagementAction::All]
}

/// A reference to a ProviderConfig (namespaced MRs: `kind` is
/// `ProviderConfig` in the MR's namespace or `ClusterProviderConfig`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct TypedProviderConfigReference {
    /// Kind of the referenced object.
    pub kind: String,
    /// Name of the referenced object.
    pub name: String,
}

impl Default for TypedProviderConfigReference {
    fn default() -> Self {
        Self {
            kind: "ClusterProviderConfig".into(),
            name: "default".into(),
        }
    }
}

/// A reference to a (cluster-scoped) legacy ProviderConfig.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ProviderConfigReference {
    /// Name of the referenced object.
    pub name: String,
}

impl Default for ProviderConfigReference {
    fn default() -> Self {
        Self {
            name: "default".into(),
        }
    }
}

/// The connection Secret of a namespaced MR, always in the MR's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalSecretReference {
    /// Name of the secret.
    pub name: String,
}

/// The connection Secret of a legacy MR.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretReference {
    /// Name of the secret.
    pub name: String,
    /// Namespace of the secret.
    pub namespace: String,
}

/// A key of a Secret holding a credential.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeySelector {
    /// Name of the secret.
    pub name: String,
    /// Namespace of the secret. Required for cluster-scoped ProviderConfigs;
    /// a namespaced ProviderConfig defaults (and is limited) to its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The key to select.
    pub key: String,
}

/// Who uses a ProviderConfig.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The number of managed resources using this ProviderConfig.
    #[serde(default)]
    pub users: i64,
}

/// The resource a ProviderConfigUsage records.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypedReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The ProviderConfig kinds of one API group pair, in the modules
/// `pc_namespaced` (ProviderConfig, ClusterProviderConfig and
/// ProviderConfigUsage of `$namespaced_group`) and `pc_cluster`
/// (ProviderConfig and ProviderConfigUsage of `$legacy_group`). They differ
/// between groups only in the names, one printed column and the docs; the
/// invoking module defines `ProviderConfigSpec`. (kube's derive takes
/// literal strings, hence a macro rather than generics.)
macro_rules! provider_config_kinds {
    (
        namespaced_group: $namespaced_group:tt,
        legacy_group: $legacy_group:tt,
        category: $category:tt,
        column: ($column:tt, $column_path:tt),
        namespaced_doc: $namespaced_doc:tt,
        cluster_doc: $cluster_doc:tt,
        legacy_doc: $legacy_doc:tt $(,)?
    ) => {
        /// ProviderConfigs and usages of the namespaced group.
        pub mod pc_namespaced {
            use super::*;

            #[doc = $namespaced_doc]
            #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
            #[kube(
                group = $namespaced_group,
                version = "v1alpha1",
                kind = "ProviderConfig",
                namespaced,
                status = "ProviderConfigStatus",
                category = "crossplane",
                category = "provider",
                category = $category,
                printcolumn(name = $column, type_ = "string", json_path = $column_path),
                printcolumn(name = "USERS", type_ = "integer", json_path = ".status.users"),
                printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp"),
                doc = $namespaced_doc
            )]
            pub struct ProviderConfigSpecNs(pub ProviderConfigSpec);

            #[doc = $cluster_doc]
            #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
            #[kube(
                group = $namespaced_group,
                version = "v1alpha1",
                kind = "ClusterProviderConfig",
                status = "ProviderConfigStatus",
                category = "crossplane",
                category = "provider",
                category = $category,
                printcolumn(name = $column, type_ = "string", json_path = $column_path),
                printcolumn(name = "USERS", type_ = "integer", json_path = ".status.users"),
                printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp"),
                doc = $cluster_doc
            )]
            pub struct ClusterProviderConfigSpec(pub ProviderConfigSpec);

            /// Records that a managed resource uses a ProviderConfig or
            /// ClusterProviderConfig (named by the resource's UID).
            #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
            #[kube(
                group = $namespaced_group,
                version = "v1alpha1",
                kind = "ProviderConfigUsage",
                namespaced,
                no_spec,
                category = "crossplane",
                category = "provider",
                category = $category,
                printcolumn(name = "CONFIG-NAME", type_ = "string", json_path = ".providerConfigRef.name"),
                printcolumn(name = "RESOURCE-KIND", type_ = "string", json_path = ".resourceRef.kind"),
                printcolumn(name = "RESOURCE-NAME", type_ = "string", json_path = ".resourceRef.name"),
                printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp"),
                doc = "A ProviderConfigUsage records that a managed resource uses a ProviderConfig."
            )]
            #[serde(rename_all = "camelCase")]
            pub struct ProviderConfigUsageFields {
                pub provider_config_ref: TypedProviderConfigReference,
                pub resource_ref: TypedReference,
            }
        }

        /// ProviderConfigs and usages of the legacy group.
        pub mod pc_cluster {
            use super::*;

            #[doc = $legacy_doc]
            #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
            #[kube(
                group = $legacy_group,
                version = "v1alpha1",
                kind = "ProviderConfig",
                status = "ProviderConfigStatus",
                category = "crossplane",
                category = "provider",
                category = $category,
                printcolumn(name = $column, type_ = "string", json_path = $column_path),
                printcolumn(name = "USERS", type_ = "integer", json_path = ".status.users"),
                printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp"),
                doc = $legacy_doc
            )]
            pub struct ProviderConfigSpecCluster(pub ProviderConfigSpec);

            /// Records that a legacy managed resource uses a ProviderConfig.
            #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
            #[kube(
                group = $legacy_group,
                version = "v1alpha1",
                kind = "ProviderConfigUsage",
                no_spec,
                category = "crossplane",
                category = "provider",
                category = $category,
                printcolumn(name = "CONFIG-NAME", type_ = "string", json_path = ".providerConfigRef.name"),
                printcolumn(name = "RESOURCE-KIND", type_ = "string", json_path = ".resourceRef.kind"),
                printcolumn(name = "RESOURCE-NAME", type_ = "string", json_path = ".resourceRef.name"),
                printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp"),
                doc = "A ProviderConfigUsage records that a legacy managed resource uses a ProviderConfig."
            )]
            #[serde(rename_all = "camelCase")]
            pub struct ProviderConfigUsageFields {
                pub provider_config_ref: ProviderConfigReference,
                pub resource_ref: TypedReference,
            }
        }
    };
}
pub(crate) use provider_config_kinds;
