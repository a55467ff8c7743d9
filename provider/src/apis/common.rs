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
