//! Turns an observed XR and the function input into a checked [`Spoke`], or
//! into the list of everything wrong with them. Nothing is composed from a
//! claim that fails here, so an invalid claim never yields a half spoke.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;

use crate::input::Input;
use crate::network::{self, NetworkPlan};
use crate::spoke::{Cloud, SpokeSpec, SpokeStatus};

/// One broken rule: the field, the value it has, and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub value: String,
    pub rule: String,
}

impl Invalid {
    pub fn new(
        field: impl Into<String>,
        value: impl fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        Invalid {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{} {}", self.field, self.rule)
        } else {
            write!(f, "{} {} {}", self.field, self.value, self.rule)
        }
    }
}

/// A spoke whose claim passed every check, with the platform defaults
/// applied. Composition reads only this.
#[derive(Clone, Debug)]
pub struct Spoke {
    /// The XR's name.
    pub name: String,
    /// The XR's namespace: `Some` for a Crossplane v2 namespaced XR, which
    /// composes namespaced (`*.m.upbound.io`) resources in that namespace.
    pub namespace: Option<String>,
    pub spec: SpokeSpec,
    /// The claim of a legacy XR, if it has one.
    pub claim: Option<Claim>,
    /// What earlier reconciles recorded in the XR status.
    pub status: SpokeStatus,
    pub kubernetes_version: String,
    /// Instance type of each node pool, in `spec.nodePools` order.
    pub instance_types: Vec<String>,
    pub network: NetworkPlan,
    /// FinOps labels for every composed object.
    pub labels: BTreeMap<String, String>,
    /// Cloud tags: the FinOps labels plus `spec.tags`.
    pub tags: BTreeMap<String, String>,
    pub input: Input,
}

/// The claim a legacy XR is bound to, from Crossplane's claim labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
}

pub const LABEL_CLAIM_NAME: &str = "crossplane.io/claim-name";
pub const LABEL_CLAIM_NAMESPACE: &str = "crossplane.io/claim-namespace";

impl Spoke {
    /// The cloud-side name of the cluster: `<namespace>-<name>` of the v2 XR
    /// or of the v1 claim, so that a spoke has the same readable name in the
    /// cloud console whichever API created it; a legacy XR without a claim
    /// uses its own name.
    pub fn cluster_name(&self) -> String {
        cluster_name(&self.name, self.namespace.as_deref(), self.claim.as_ref())
    }

    /// The Secret that receives the cluster's kubeconfig.
    pub fn kubeconfig_secret_name(&self) -> String {
        format!("{}-kubeconfig", self.name)
    }
}

fn cluster_name(name: &str, namespace: Option<&str>, claim: Option<&Claim>) -> String {
    match (namespace, claim) {
        (Some(ns), _) => format!("{ns}-{name}"),
        (None, Some(claim)) => format!("{}-{}", claim.namespace, claim.name),
        (None, None) => name.to_string(),
    }
}

/// The spoke's name as its owners know it: the claim's for a claimed XR.
fn spoke_name<'a>(name: &'a str, claim: Option<&'a Claim>) -> &'a str {
    claim.map_or(name, |c| c.name.as_str())
}

/// Reads the function input; a missing or malformed input is the platform's
/// error, not the claim's, and says so.
pub fn input(raw: Option<serde_json::Value>) -> Result<Input, Vec<Invalid>> {
    let Some(raw) = raw else {
        return Err(vec![Invalid::new(
            "input",
            "",
            "is missing: the Composition step must set an Input with the platform defaults (see package/configuration)",
        )]);
    };
    let input: Input = deserialize("input", raw)?;
    let mut errors = Vec::new();
    for (cloud, defaults) in [(Cloud::Aws, &input.aws), (Cloud::Azure, &input.azure)] {
        let c = cloud.as_str();
        if defaults.regions.is_empty() {
            errors.push(Invalid::new(
                format!("input.{c}.regions"),
                "[]",
                "must list at least one region",
            ));
        }
        if defaults.kubernetes_versions.is_empty() {
            errors.push(Invalid::new(
                format!("input.{c}.kubernetesVersions"),
                "[]",
                "must list at least one version",
            ));
        }
        if defaults.default_instance_type.is_empty() {
            errors.push(Invalid::new(
                format!("input.{c}.defaultInstanceType"),
                "\"\"",
                "must not be empty",
            ));
        }
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// Checks the observed XR against the claim rules and the platform input.
pub fn spoke(xr: &serde_json::Value, input: Input) -> Result<Spoke, Vec<Invalid>> {
    let name = xr
        .pointer("/metadata/name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let namespace = xr
        .pointer("/metadata/namespace")
        .and_then(|v| v.as_str())
        .filter(|ns| !ns.is_empty())
        .map(String::from);
    let label = |key: &str| {
        xr.pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let claim = match (
        namespace.as_ref(),
        label(LABEL_CLAIM_NAMESPACE),
        label(LABEL_CLAIM_NAME),
    ) {
        (None, Some(ns), Some(claim_name)) => Some(Claim {
            namespace: ns.to_string(),
            name: claim_name.to_string(),
        }),
        _ => None,
    };
    let spec_raw = xr.get("spec").cloned().unwrap_or(serde_json::Value::Null);
    let spec: SpokeSpec = deserialize("spec", spec_raw)?;
    // A status the function cannot read is not the user's fault: start afresh.
    let status: SpokeStatus = xr
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();

    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(Invalid::new("metadata.name", "\"\"", "must be set"));
    }

    let cloud = spec.cloud;
    let c = cloud.as_str();
    let defaults = input.cloud(cloud);

    if !defaults.regions.contains(&spec.region) {
        errors.push(Invalid::new(
            "spec.region",
            &spec.region,
            format!(
                "is not a region the platform allows for {c} (allowed: {})",
                defaults.regions.join(", ")
            ),
        ));
    }

    let kubernetes_version = if spec.kubernetes_version.is_empty() {
        defaults
            .kubernetes_versions
            .first()
            .cloned()
            .unwrap_or_default()
    } else {
        spec.kubernetes_version.clone()
    };
    if !defaults.kubernetes_versions.contains(&kubernetes_version) {
        errors.push(Invalid::new(
            "spec.kubernetesVersion",
            &kubernetes_version,
            format!(
                "is not a Kubernetes version the platform supports on {c} (supported: {})",
                defaults.kubernetes_versions.join(", ")
            ),
        ));
    }

    match (cloud, &spec.aws, &spec.azure) {
        (Cloud::Aws, None, _) => errors.push(Invalid::new(
            "spec.aws",
            "",
            "is required when spec.cloud is aws",
        )),
        (Cloud::Azure, _, None) => errors.push(Invalid::new(
            "spec.azure",
            "",
            "is required when spec.cloud is azure",
        )),
        _ => {}
    }
    if cloud == Cloud::Aws && spec.azure.is_some() {
        errors.push(Invalid::new(
            "spec.azure",
            "",
            "is only allowed when spec.cloud is azure",
        ));
    }
    if cloud == Cloud::Azure && spec.aws.is_some() {
        errors.push(Invalid::new(
            "spec.aws",
            "",
            "is only allowed when spec.cloud is aws",
        ));
    }
    if let Some(aws) = &spec.aws
        && !is_iam_principal_arn(&aws.admin_principal_arn)
    {
        errors.push(Invalid::new(
            "spec.aws.adminPrincipalArn",
            &aws.admin_principal_arn,
            "must be an IAM role or user ARN, e.g. arn:aws:iam::123456789012:role/platform-admin",
        ));
    }

    let mut seen = BTreeSet::new();
    let mut instance_types = Vec::new();
    for (i, pool) in spec.node_pools.iter().enumerate() {
        let field = format!("spec.nodePools[{i}]");
        if !seen.insert(pool.name.as_str()) {
            errors.push(Invalid::new(
                format!("{field}.name"),
                &pool.name,
                "is used by an earlier node pool: names must be unique",
            ));
        }
        if !is_pool_name(cloud, &pool.name) {
            let rule = match cloud {
                Cloud::Aws => {
                    "must be lowercase letters, digits and dashes, starting with a letter (at most 40)"
                }
                Cloud::Azure => {
                    "must be 1-12 lowercase letters and digits, starting with a letter (an AKS rule)"
                }
            };
            errors.push(Invalid::new(format!("{field}.name"), &pool.name, rule));
        }
        if pool.min_size > pool.max_size {
            errors.push(Invalid::new(
                format!("{field}.minSize"),
                pool.min_size,
                format!("exceeds {field}.maxSize {}", pool.max_size),
            ));
        }
        if pool.max_size == 0 {
            errors.push(Invalid::new(
                format!("{field}.maxSize"),
                0,
                "must be at least 1",
            ));
        }
        if let Some(desired) = pool.desired_size
            && (desired < pool.min_size || desired > pool.max_size)
        {
            errors.push(Invalid::new(
                format!("{field}.desiredSize"),
                desired,
                format!(
                    "must lie between minSize {} and maxSize {}",
                    pool.min_size, pool.max_size
                ),
            ));
        }
        instance_types.push(if pool.instance_type.is_empty() {
            defaults.default_instance_type.clone()
        } else {
            pool.instance_type.clone()
        });
    }
    if spec.node_pools.is_empty() {
        errors.push(Invalid::new(
            "spec.nodePools",
            "[]",
            "must list at least one node pool",
        ));
    }
    if let (Cloud::Azure, Some(system)) = (cloud, spec.node_pools.first()) {
        // AKS runs its own system pods on the first (default) pool.
        if system.min_size == 0 {
            errors.push(Invalid::new(
                "spec.nodePools[0].minSize",
                0,
                "must be at least 1 on azure: the first pool is the AKS system pool",
            ));
        }
        if !system.taints.is_empty() {
            errors.push(Invalid::new(
                "spec.nodePools[0].taints",
                format!("{} taint(s)", system.taints.len()),
                "must be empty on azure: the first pool is the AKS system pool, which takes no taints",
            ));
        }
    }

    let zone_names = defaults
        .zones
        .get(&spec.region)
        .cloned()
        .unwrap_or_else(|| match cloud {
            Cloud::Aws => ["a", "b", "c"]
                .iter()
                .map(|z| format!("{}{z}", spec.region))
                .collect(),
            Cloud::Azure => ["1", "2", "3"].map(String::from).to_vec(),
        });
    let network = match network::plan(cloud, &spec.network, &zone_names) {
        Ok(plan) => Some(plan),
        Err(mut more) => {
            errors.append(&mut more);
            None
        }
    };

    let labels = finops_labels(
        spoke_name(&name, claim.as_ref()),
        &spec,
        &input,
        &mut errors,
    );
    let mut tags = labels.clone();
    tags.extend(spec.tags.clone());

    let cluster_name = cluster_name(&name, namespace.as_deref(), claim.as_ref());
    if cluster_name.contains('.') {
        errors.push(Invalid::new(
            "metadata.name",
            &name,
            format!("gives the cloud cluster name {cluster_name}, which must not contain '.' (letters, digits and dashes only)"),
        ));
    }
    if cluster_name.len() > 63 {
        errors.push(Invalid::new(
            "metadata.name",
            &name,
            format!("gives the cloud cluster name {cluster_name}, which is longer than 63 characters: namespace, dash and name together must fit"),
        ));
    }

    match network {
        Some(network) if errors.is_empty() => Ok(Spoke {
            name,
            namespace,
            claim,
            spec,
            status,
            kubernetes_version,
            instance_types,
            network,
            labels,
            tags,
            input,
        }),
        _ => Err(errors),
    }
}

fn finops_labels(
    name: &str,
    spec: &SpokeSpec,
    input: &Input,
    errors: &mut Vec<Invalid>,
) -> BTreeMap<String, String> {
    let keys = &input.label_keys;
    let mut labels = BTreeMap::new();
    for (field, value) in &spec.finops.labels {
        if !is_label_value(value) {
            errors.push(Invalid::new(
                format!("spec.finops.labels[{field}]"),
                value,
                "must be a valid Kubernetes label value",
            ));
        }
        labels.insert(field.clone(), value.clone());
    }
    for (field, value) in [
        ("spec.finops.tenant", &spec.finops.tenant),
        ("spec.finops.costCenter", &spec.finops.cost_center),
        ("spec.finops.tier", &spec.finops.tier),
    ] {
        if !is_label_value(value) || value.is_empty() {
            errors.push(Invalid::new(field, value, "must be a non-empty Kubernetes label value (letters, digits, '-', '_', '.'; at most 63)"));
        }
    }
    labels.insert(keys.tenant.clone(), spec.finops.tenant.clone());
    labels.insert(keys.cost_center.clone(), spec.finops.cost_center.clone());
    labels.insert(keys.tier.clone(), spec.finops.tier.clone());
    labels.insert(keys.module.clone(), input.module.clone());
    labels.insert(
        keys.environment.clone(),
        spec.environment.as_str().to_string(),
    );
    labels.insert(keys.spoke.clone(), name.to_string());
    labels
}

/// Deserializes a section, naming the exact field serde could not read.
fn deserialize<T: DeserializeOwned>(
    root: &str,
    value: serde_json::Value,
) -> Result<T, Vec<Invalid>> {
    if value.is_null() {
        return Err(vec![Invalid::new(root, "", "is missing")]);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            root.to_string()
        } else {
            format!("{root}.{path}")
        };
        vec![Invalid::new(
            field,
            "",
            format!("is invalid: {}", e.inner()),
        )]
    })
}

fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric())
}

fn is_pool_name(cloud: Cloud, name: &str) -> bool {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    match cloud {
        Cloud::Aws => {
            starts_with_letter
                && name.len() <= 40
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        Cloud::Azure => {
            starts_with_letter
                && name.len() <= 12
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
    }
}

fn is_iam_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && (resource.strip_prefix("role/").or_else(|| resource.strip_prefix("user/")).is_some_and(|r| !r.is_empty())))
}
