//! The function's Input: platform-wide defaults, set once per Composition.
//! Nothing a platform team may want to differ between installations is a
//! constant in code; it lives here and in the Composition that sets it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spoke::Cloud;

pub const INPUT_GROUP: &str = "hybridspoke.fn.crossplane.io";
pub const INPUT_VERSION: &str = "v1alpha1";
pub const INPUT_KIND: &str = "Input";

/// Platform defaults for every spoke composed by one Composition.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub metadata: Option<serde_json::Value>,
    /// The label keys FinOps values are written under.
    pub label_keys: LabelKeys,
    /// Value of the `labelKeys.module` label on everything this function
    /// composes. Default: `hybrid-spoke`.
    #[serde(default = "default_module")]
    pub module: String,
    pub aws: CloudDefaults,
    pub azure: CloudDefaults,
    /// Namespace for connection Secrets of cluster-scoped (legacy) managed
    /// resources. Default: `crossplane-system`.
    #[serde(default = "default_connection_secret_namespace")]
    pub connection_secret_namespace: String,
    /// How often Crossplane re-runs the function, in seconds. Default: 60.
    #[serde(default = "default_ttl_seconds")]
    pub ttl_seconds: u32,
}

/// Where FinOps values go: label keys, also used as cloud tag keys.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelKeys {
    pub tenant: String,
    pub cost_center: String,
    pub module: String,
    pub tier: String,
    pub environment: String,
    /// Key for the spoke's name on everything it owns.
    pub spoke: String,
}

/// What the platform allows and defaults to on one cloud.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudDefaults {
    /// Regions (AWS) or locations (Azure) spokes may be created in.
    pub regions: Vec<String>,
    /// Kubernetes minor versions spokes may run; the first is the default.
    pub kubernetes_versions: Vec<String>,
    /// Node size for pools that name none.
    pub default_instance_type: String,
    /// AWS: managed add-ons installed on every cluster. Ignored on Azure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addons: Vec<String>,
    /// Zone names per region where they are not `<region>a/b/c` (AWS) or
    /// `1/2/3` (Azure).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zones: BTreeMap<String, Vec<String>>,
}

fn default_module() -> String {
    "hybrid-spoke".to_string()
}

fn default_connection_secret_namespace() -> String {
    "crossplane-system".to_string()
}

fn default_ttl_seconds() -> u32 {
    60
}

impl Input {
    pub fn cloud(&self, cloud: Cloud) -> &CloudDefaults {
        match cloud {
            Cloud::Aws => &self.aws,
            Cloud::Azure => &self.azure,
        }
    }
}
