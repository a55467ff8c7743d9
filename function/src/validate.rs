//! Turns an observed XR and the function input into a checked [`Spoke`], or
//! into the list of everything wrong with them. Nothing is composed from a
//! claim that fails here, so an invalid claim never yields a half spoke.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;

use crate::edge::{self, EdgePlan};
use crate::input::{AddressPlan, CloudDefaults, Input};
use crate::naming;
use crate::network::{self, NetworkPlan};
use crate::sizing;
use crate::spoke::{AllocatedNetwork, Cloud, NodePool, SpokeSpec, SpokeStatus};
use crate::tailnet::{self, TailnetPlan};

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
        // Shape findings (`strict.rs`) read `<field>: <message>`.
        if let Some(message) = self.rule.strip_prefix(':') {
            write!(f, "{}:{message}", self.field)
        } else if self.value.is_empty() {
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
    /// The block the address plan allocated, when the claim sets no
    /// `spec.network.vpcCidr`.
    pub allocated: Option<AllocatedNetwork>,
    /// Warnings for the user (a network close to full), not errors.
    pub warnings: Vec<String>,
    pub tailnet: TailnetPlan,
    /// The public hostnames, when the claim asks for an edge.
    pub edge: Option<EdgePlan>,
    /// The cloud-side cluster name, fitted to its rule (see
    /// [`Spoke::cluster_name`]).
    pub cluster: String,
    /// The spoke's name as a label value: the claim's name (or the XR's),
    /// fitted to 63 characters.
    pub spoke_label: String,
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
    /// uses its own name. Too long or with dots, it is a readable prefix and
    /// a hash (`naming.rs`): a DNS label, valid on EKS, AKS and the tailnet.
    pub fn cluster_name(&self) -> String {
        self.cluster.clone()
    }

    /// The name of the spoke's own provider-kubernetes and provider-helm
    /// ProviderConfigs: the cluster name, unique in the namespace (v2) and
    /// in the hub (legacy, cluster-scoped).
    pub fn spoke_config_name(&self) -> String {
        self.cluster_name()
    }

    /// The namespace of connection Secrets: the XR's (v2), or the
    /// platform's connection-secret namespace (legacy).
    pub fn secret_namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .unwrap_or(&self.input.connection_secret_namespace)
    }

    /// The Secret that receives the cluster's kubeconfig.
    pub fn kubeconfig_secret_name(&self) -> String {
        self.secret_name("kubeconfig")
    }

    /// `<XR name>-<suffix>`, a Secret name: shortened when the XR's name
    /// leaves no room for the suffix.
    pub fn secret_name(&self, suffix: &str) -> String {
        let name = format!("{}-{suffix}", self.name);
        naming::DNS_SUBDOMAIN.fit(&name).unwrap_or(name)
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
    // The API server never checks an Input against its CRD, so a misspelled
    // field must be an error here, not a silently ignored setting. serde
    // refuses it (deny_unknown_fields) and stays the fast path; only then
    // does the schema walk name every problem in the user's terms.
    let input: Input = deserialize("input", &raw).map_err(|serde_errors| {
        let findings = crate::strict::input(&raw);
        if findings.is_empty() {
            return serde_errors;
        }
        let mut errors = findings.unknown;
        errors.extend(findings.wrong);
        errors
    })?;
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
    if let Some(plan) = &input.address_plan {
        address_plan(plan, &mut errors);
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// The pools must be ranges blocks can be carved from, with unique names.
fn address_plan(plan: &AddressPlan, errors: &mut Vec<Invalid>) {
    let mut names = BTreeSet::new();
    for (i, pool) in plan.pools.iter().enumerate() {
        let field = format!("input.addressPlan.pools[{i}]");
        if pool.name.is_empty() || !names.insert(pool.name.as_str()) {
            errors.push(Invalid::new(
                format!("{field}.name"),
                format!("{:?}", pool.name),
                "must be non-empty and unique: status.network.allocated.pool names it",
            ));
        }
        if pool.cidrs.is_empty() {
            errors.push(Invalid::new(
                format!("{field}.cidrs"),
                "[]",
                "must list at least one range",
            ));
        }
        for (j, cidr) in pool.cidrs.iter().enumerate() {
            match cidr.parse::<ipnet::Ipv4Net>() {
                Ok(net) if net.trunc() == net => {
                    if pool.block_prefix < net.prefix_len() || pool.block_prefix > 28 {
                        errors.push(Invalid::new(
                            format!("{field}.blockPrefix"),
                            pool.block_prefix,
                            format!(
                                "must lie between the prefix of {field}.cidrs[{j}] {net} and 28"
                            ),
                        ));
                    }
                }
                _ => errors.push(Invalid::new(
                    format!("{field}.cidrs[{j}]"),
                    cidr,
                    "must be an IPv4 network address in CIDR notation, e.g. 10.64.0.0/12",
                )),
            }
        }
    }
}

/// Checks the observed XR against the claim rules and the platform input.
///
/// `allocated` is the block the address plan gave a claim without
/// `spec.network.vpcCidr` (see [`crate::fleet`]).
///
/// Every rule runs, so one message names every problem; each step below
/// checks one part of the claim, in the order the spoke comes up.
pub fn spoke(
    xr: &serde_json::Value,
    input: Input,
    allocated: Option<AllocatedNetwork>,
) -> Result<Spoke, Vec<Invalid>> {
    let Identity {
        name,
        namespace,
        claim,
    } = Identity::read(xr);
    let spec = read_spec(xr)?;
    let status = read_status(xr);
    let defaults = input.cloud(spec.cloud);
    let mut errors = Vec::new();

    name_is_set(&name, &mut errors);
    region_is_allowed(&spec, defaults, &mut errors);
    let kubernetes_version = kubernetes_version(&spec, defaults, &mut errors);
    cloud_section_matches(&spec, &mut errors);
    admin_principal_is_an_arn(&spec, &mut errors);
    let instance_types = node_pools(&spec, defaults, &mut errors);
    let network = network(&spec, defaults, allocated.as_ref(), &mut errors);
    let warnings = sizing(&spec, defaults, network.as_ref(), &mut errors);
    let spoke_label = spoke_label(&name, claim.as_ref(), &mut errors);
    let labels = finops_labels(&spoke_label, &spec, &input, &mut errors);
    tags_are_valid(&spec, &mut errors);
    let mut tags = labels.clone();
    tags.extend(spec.tags.clone());
    let cluster_name =
        fitted_cluster_name(&name, namespace.as_deref(), claim.as_ref(), &mut errors);
    let tailnet = network.as_ref().and_then(|network| {
        tailnet::plan(&cluster_name, &spec.tailnet, network, &labels, &input)
            .map_err(|mut more| errors.append(&mut more))
            .ok()
    });
    let edge = edge(&spec, &input, &mut errors);
    argocd_registration(&spec, &input, &mut errors);

    match (network, tailnet) {
        (Some(network), Some(tailnet)) if errors.is_empty() => Ok(Spoke {
            name,
            namespace,
            claim,
            spec,
            status,
            kubernetes_version,
            instance_types,
            network,
            allocated,
            warnings,
            tailnet,
            edge,
            cluster: cluster_name,
            spoke_label,
            labels,
            tags,
            input,
        }),
        _ => Err(errors),
    }
}

/// Who the XR is: its name, its namespace (v2), its claim (legacy).
struct Identity {
    name: String,
    namespace: Option<String>,
    claim: Option<Claim>,
}

impl Identity {
    fn read(xr: &serde_json::Value) -> Self {
        let text = |pointer: &str| {
            xr.pointer(pointer)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let name = text("/metadata/name").unwrap_or_default().to_string();
        let namespace = text("/metadata/namespace").map(String::from);
        let label = |key: &str| {
            xr.pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // A namespaced (v2) XR has no claim.
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
        Identity {
            name,
            namespace,
            claim,
        }
    }
}

fn read_spec(xr: &serde_json::Value) -> Result<SpokeSpec, Vec<Invalid>> {
    let raw = xr.get("spec").unwrap_or(&serde_json::Value::Null);
    deserialize("spec", raw).map_err(|serde_errors| {
        // Name every wrong value in the user's terms; serde stops at the
        // first and speaks of Rust types.
        let wrong = crate::strict::spec(xr).wrong;
        if wrong.is_empty() {
            serde_errors
        } else {
            wrong
        }
    })
}

/// A status the function cannot read is not the user's fault: start afresh.
fn read_status(xr: &serde_json::Value) -> SpokeStatus {
    xr.get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default()
}

fn name_is_set(name: &str, errors: &mut Vec<Invalid>) {
    if name.is_empty() {
        errors.push(Invalid::new("metadata.name", "\"\"", "must be set"));
    }
}

fn region_is_allowed(spec: &SpokeSpec, defaults: &CloudDefaults, errors: &mut Vec<Invalid>) {
    if !defaults.regions.contains(&spec.region) {
        errors.push(Invalid::new(
            "spec.region",
            &spec.region,
            format!(
                "is not a region the platform allows for {} (allowed: {})",
                spec.cloud.as_str(),
                defaults.regions.join(", ")
            ),
        ));
    }
}

/// The claim's version, or the platform's default; either must be one the
/// platform supports.
fn kubernetes_version(
    spec: &SpokeSpec,
    defaults: &CloudDefaults,
    errors: &mut Vec<Invalid>,
) -> String {
    let version = if spec.kubernetes_version.is_empty() {
        defaults
            .kubernetes_versions
            .first()
            .cloned()
            .unwrap_or_default()
    } else {
        spec.kubernetes_version.clone()
    };
    if !defaults.kubernetes_versions.contains(&version) {
        errors.push(Invalid::new(
            "spec.kubernetesVersion",
            &version,
            format!(
                "is not a Kubernetes version the platform supports on {} (supported: {})",
                spec.cloud.as_str(),
                defaults.kubernetes_versions.join(", ")
            ),
        ));
    }
    version
}

/// `spec.aws` goes with `cloud: aws`, `spec.azure` with `cloud: azure`.
fn cloud_section_matches(spec: &SpokeSpec, errors: &mut Vec<Invalid>) {
    match (spec.cloud, &spec.aws, &spec.azure) {
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
    if spec.cloud == Cloud::Aws && spec.azure.is_some() {
        errors.push(Invalid::new(
            "spec.azure",
            "",
            "is only allowed when spec.cloud is azure",
        ));
    }
    if spec.cloud == Cloud::Azure && spec.aws.is_some() {
        errors.push(Invalid::new(
            "spec.aws",
            "",
            "is only allowed when spec.cloud is aws",
        ));
    }
}

fn admin_principal_is_an_arn(spec: &SpokeSpec, errors: &mut Vec<Invalid>) {
    if let Some(aws) = &spec.aws
        && !is_iam_principal_arn(&aws.admin_principal_arn)
    {
        errors.push(Invalid::new(
            "spec.aws.adminPrincipalArn",
            &aws.admin_principal_arn,
            "must be an IAM role or user ARN, e.g. arn:aws:iam::123456789012:role/platform-admin",
        ));
    }
}

/// Checks every pool and returns each one's instance type (the platform's
/// default where the pool names none), in `spec.nodePools` order.
fn node_pools(
    spec: &SpokeSpec,
    defaults: &CloudDefaults,
    errors: &mut Vec<Invalid>,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for (i, pool) in spec.node_pools.iter().enumerate() {
        let field = format!("spec.nodePools[{i}]");
        if !seen.insert(pool.name.as_str()) {
            errors.push(Invalid::new(
                format!("{field}.name"),
                &pool.name,
                "is used by an earlier node pool: names must be unique",
            ));
        }
        pool_name_is_valid(spec.cloud, &field, pool, errors);
        labels_are_valid(&format!("{field}.labels"), &pool.labels, errors);
        pool_sizes_are_consistent(&field, pool, errors);
    }
    if spec.node_pools.is_empty() {
        errors.push(Invalid::new(
            "spec.nodePools",
            "[]",
            "must list at least one node pool",
        ));
    }
    if let (Cloud::Azure, Some(system)) = (spec.cloud, spec.node_pools.first()) {
        aks_system_pool(system, errors);
    }
    spec.node_pools
        .iter()
        .map(|pool| {
            if pool.instance_type.is_empty() {
                defaults.default_instance_type.clone()
            } else {
                pool.instance_type.clone()
            }
        })
        .collect()
}

fn pool_name_is_valid(cloud: Cloud, field: &str, pool: &NodePool, errors: &mut Vec<Invalid>) {
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
}

/// minSize ≤ desiredSize ≤ maxSize, and at least one node at most.
fn pool_sizes_are_consistent(field: &str, pool: &NodePool, errors: &mut Vec<Invalid>) {
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
}

/// AKS runs its own system pods on the first (default) pool.
fn aks_system_pool(system: &NodePool, errors: &mut Vec<Invalid>) {
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

/// Plans the network in the region's zones, from the claim's range or the
/// one the address plan allocated.
fn network(
    spec: &SpokeSpec,
    defaults: &CloudDefaults,
    allocated: Option<&AllocatedNetwork>,
    errors: &mut Vec<Invalid>,
) -> Option<NetworkPlan> {
    let zone_names = defaults
        .zones
        .get(&spec.region)
        .cloned()
        .unwrap_or_else(|| match spec.cloud {
            Cloud::Aws => ["a", "b", "c"]
                .iter()
                .map(|z| format!("{}{z}", spec.region))
                .collect(),
            Cloud::Azure => ["1", "2", "3"].map(String::from).to_vec(),
        });
    let mut addressing = spec.network.clone();
    if addressing.vpc_cidr.is_none() {
        addressing.vpc_cidr = allocated.map(|a| a.vpc_cidr.clone());
    }
    network::plan(spec.cloud, &spec.region, &addressing, &zone_names)
        .map_err(|mut more| errors.append(&mut more))
        .ok()
}

/// Whether the nodes and pods fit the network: errors when they cannot,
/// warnings (returned) when it is close to full.
fn sizing(
    spec: &SpokeSpec,
    defaults: &CloudDefaults,
    network: Option<&NetworkPlan>,
    errors: &mut Vec<Invalid>,
) -> Vec<String> {
    let Some(plan) = network else {
        return Vec::new();
    };
    let mut sizing = sizing::check(
        spec.cloud,
        plan,
        &spec.node_pools,
        defaults.max_pods_per_node,
    );
    errors.append(&mut sizing.errors);
    sizing.warnings
}

/// The cloud-side cluster name, made a DNS label (`naming.rs`); only a
/// name with nothing to keep (no letter or digit) is refused.
fn fitted_cluster_name(
    name: &str,
    namespace: Option<&str>,
    claim: Option<&Claim>,
    errors: &mut Vec<Invalid>,
) -> String {
    let raw = cluster_name(name, namespace, claim);
    let rule = naming::CLUSTER_NAME;
    rule.fit(&raw).unwrap_or_else(|| {
        if !name.is_empty() {
            errors.push(Invalid::new(
                "metadata.name",
                name,
                format!(
                    "gives the cloud cluster name {raw:?}, which cannot be made {}: {}",
                    rule.what, rule.says
                ),
            ));
        }
        raw
    })
}

/// The spoke's label value: the claim's name, or the XR's, fitted to a
/// label value; refused when nothing of it can be kept.
fn spoke_label(name: &str, claim: Option<&Claim>, errors: &mut Vec<Invalid>) -> String {
    let spoke = spoke_name(name, claim);
    let rule = naming::LABEL_VALUE;
    rule.fit(spoke).unwrap_or_else(|| {
        let field = match claim {
            Some(_) => "the claim's metadata.name",
            None => "metadata.name",
        };
        errors.push(Invalid::new(
            field,
            spoke,
            format!("cannot be made {}: {}", rule.what, rule.says),
        ));
        spoke.to_string()
    })
}

/// Node labels: keys and values Kubernetes accepts.
fn labels_are_valid(field: &str, labels: &BTreeMap<String, String>, errors: &mut Vec<Invalid>) {
    for (key, value) in labels {
        let field = format!("{field}[{key}]");
        label_key_is_valid(&field, key, errors);
        if !naming::LABEL_VALUE.is_valid(value) {
            errors.push(Invalid::new(
                &field,
                format!("{value:?}"),
                format!(
                    "must be {}: {}",
                    naming::LABEL_VALUE.what,
                    naming::LABEL_VALUE.says
                ),
            ));
        }
    }
}

fn label_key_is_valid(field: &str, key: &str, errors: &mut Vec<Invalid>) {
    if !naming::is_label_key(key) {
        errors.push(Invalid::new(
            field,
            format!("key {key:?}"),
            format!("must be a Kubernetes label key: {}", naming::LABEL_KEY_SAYS),
        ));
    }
}

/// `spec.tags` become cloud tags as they are: each key and value must be
/// one the spoke's cloud accepts.
fn tags_are_valid(spec: &SpokeSpec, errors: &mut Vec<Invalid>) {
    let (key_rule, value_rule) = match spec.cloud {
        Cloud::Aws => (naming::AWS_TAG_KEY, naming::AWS_TAG_VALUE),
        Cloud::Azure => (naming::AZURE_TAG_KEY, naming::AZURE_TAG_VALUE),
    };
    for (key, value) in &spec.tags {
        let field = format!("spec.tags[{key}]");
        if !key_rule.is_valid(key) || key.to_ascii_lowercase().starts_with("aws:") {
            errors.push(Invalid::new(
                &field,
                format!("key {key:?}"),
                format!(
                    "must be {}: {} (and not start with aws:)",
                    key_rule.what, key_rule.says
                ),
            ));
        }
        if !value_rule.is_valid(value) {
            errors.push(Invalid::new(
                &field,
                format!("{value:?}"),
                format!("must be {}: {}", value_rule.what, value_rule.says),
            ));
        }
    }
}

fn edge(spec: &SpokeSpec, input: &Input, errors: &mut Vec<Invalid>) -> Option<EdgePlan> {
    let edge_spec = spec.edge.as_ref()?;
    edge::plan(edge_spec, input)
        .map_err(|mut more| errors.append(&mut more))
        .ok()
}

/// Registration in the hub's Argo CD: label values the Secret can carry,
/// and the identity the Input must give Argo CD on the spoke's cloud.
fn argocd_registration(spec: &SpokeSpec, input: &Input, errors: &mut Vec<Invalid>) {
    let Some(argocd) = &input.argocd else {
        return;
    };
    for (key, value) in &spec.argocd.labels {
        if !is_label_value(value) {
            errors.push(Invalid::new(
                format!("spec.argocd.labels[{key}]"),
                value,
                "must be a valid Kubernetes label value",
            ));
        }
        label_key_is_valid(&format!("spec.argocd.labels[{key}]"), key, errors);
    }
    if spec.cloud == Cloud::Aws && argocd.management_role_arn.is_empty() {
        errors.push(Invalid::new(
            "input.argocd.managementRoleArn",
            "",
            "is required to register EKS spokes: the IAM role Argo CD runs as, which each spoke's role trusts",
        ));
    }
    if spec.cloud == Cloud::Azure && argocd.admin_group_object_id.is_empty() {
        errors.push(Invalid::new(
            "input.argocd.adminGroupObjectId",
            "",
            "is required to register AKS spokes: the Entra group of Argo CD's workload identity",
        ));
    }
}

fn finops_labels(
    spoke_label: &str,
    spec: &SpokeSpec,
    input: &Input,
    errors: &mut Vec<Invalid>,
) -> BTreeMap<String, String> {
    let keys = &input.label_keys;
    let mut labels = BTreeMap::new();
    for (field, value) in &spec.finops.labels {
        label_key_is_valid(&format!("spec.finops.labels[{field}]"), field, errors);
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
    labels.insert(keys.spoke.clone(), spoke_label.to_string());
    labels
}

/// Deserializes a section, naming the exact field serde could not read.
/// Callers check the shape first (`strict.rs`), so this speaks only for
/// what a schema cannot say.
pub(crate) fn deserialize<T: DeserializeOwned>(
    root: &str,
    value: &serde_json::Value,
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
            format!("is invalid: {}", user_terms(&e.inner().to_string())),
        )]
    })
}

/// serde's message without the Rust types it names ("expected u32").
fn user_terms(message: &str) -> String {
    let message = message.split(", expected ").next().unwrap_or(message);
    [
        ("`", "\""),
        ("invalid type: ", "expected another type, got "),
        ("invalid value: ", "got "),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
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
