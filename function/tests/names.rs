//! Whatever the claim's metadata.name and namespace (unicode, 253
//! characters, leading digits, dots), every name the function derives is
//! valid for its target — cloud cluster, resource group and VNet names,
//! label keys and values, cloud tags, Secret and ProviderConfig names,
//! tailnet hostnames and tags, IAM role names — or the claim gets a FATAL
//! naming the field, the value and the rule. Random names from a seeded
//! generator, rendered with every part composed (all resources ready).

use function_hybrid_spoke::naming::{self, Rule};
use function_hybrid_spoke::render::{RenderError, render};
use function_hybrid_spoke::tailnet::is_tag;
use serde_json::{Value, json};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const INPUT: &str = include_str!("../../examples/input.yaml");

/// (XR, observed resources with everything ready) per cloud and flavour.
const CASES: [(&str, [&str; 2]); 4] = [
    (
        include_str!("../../examples/aws/xr.yaml"),
        [
            include_str!("../../examples/aws/observed/all-ready/resources.yaml"),
            include_str!("../../examples/aws/observed/all-ready/connection-secrets.yaml"),
        ],
    ),
    (
        include_str!("../../examples/aws/legacy-xr.yaml"),
        [
            include_str!("../../examples/aws/observed-legacy/all-ready/resources.yaml"),
            include_str!("../../examples/aws/observed-legacy/all-ready/connection-secrets.yaml"),
        ],
    ),
    (
        include_str!("../../examples/azure/xr.yaml"),
        [
            include_str!("../../examples/azure/observed/all-ready/resources.yaml"),
            include_str!("../../examples/azure/observed/all-ready/connection-secrets.yaml"),
        ],
    ),
    (
        include_str!("../../examples/azure/legacy-xr.yaml"),
        [
            include_str!("../../examples/azure/observed-legacy/all-ready/resources.yaml"),
            include_str!("../../examples/azure/observed-legacy/all-ready/connection-secrets.yaml"),
        ],
    ),
];

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

impl Rng {
    /// A name as a user (or a careless script) might write one.
    fn name(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a", "payments", "eu", "-", ".", "0", "42", "é", "日本", "Z", "_", "x",
        ];
        let length = match self.below(4) {
            0 => 1 + self.below(12),
            1 => 55 + self.below(20),
            2 => 240 + self.below(14),
            _ => 1 + self.below(70),
        };
        let mut name = String::new();
        if self.below(4) == 0 {
            name.push_str(&self.below(1000).to_string());
        }
        while name.chars().count() < length {
            name.push_str(PIECES[self.below(PIECES.len())]);
        }
        name.chars().take(length).collect()
    }
}

/// Sets the XR's names: `metadata.name`, and the namespace (v2) or the
/// claim's name and namespace (legacy).
fn rename(xr: &mut Value, rng: &mut Rng) -> Vec<String> {
    let name = rng.name();
    xr["metadata"]["name"] = json!(name);
    let mut given = vec![name];
    if xr["metadata"]["namespace"].is_string() {
        let namespace = rng.name();
        xr["metadata"]["namespace"] = json!(namespace);
        given.push(namespace);
    } else if xr
        .pointer("/metadata/labels/crossplane.io~1claim-name")
        .is_some()
    {
        let (claim, namespace) = (rng.name(), rng.name());
        xr["metadata"]["labels"]["crossplane.io/claim-name"] = json!(claim);
        xr["metadata"]["labels"]["crossplane.io/claim-namespace"] = json!(namespace);
        given.extend([claim, namespace]);
    }
    given
}

/// Every derived name in a rendered document that breaks its rule.
struct Checker {
    broken: Vec<String>,
    checked: usize,
}

impl Checker {
    fn rule(&mut self, rule: Rule, what: &str, value: &str) {
        self.checked += 1;
        if !rule.is_valid(value) {
            self.broken
                .push(format!("{what} {value:?} is not {}", rule.what));
        }
    }

    fn document(&mut self, doc: &Value) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let api = doc["apiVersion"].as_str().unwrap_or_default();
        if let Some(external) = doc.pointer("/metadata/annotations/crossplane.io~1external-name") {
            let external = external.as_str().unwrap_or_default();
            match (api.contains("azure"), kind) {
                (false, "Cluster") | (true, "KubernetesCluster") => {
                    self.rule(naming::CLUSTER_NAME, "cluster", external)
                }
                (true, "ResourceGroup") => self.rule(naming::RESOURCE_GROUP, "group", external),
                (true, "VirtualNetwork") => self.rule(naming::VNET, "vnet", external),
                _ => {}
            }
        }
        if kind == "Role" && api.contains("iam.aws") {
            let name = doc.pointer("/metadata/name").and_then(Value::as_str);
            self.rule(naming::IAM_ROLE, "IAM role", name.unwrap_or_default());
        }
        let (tag_key, tag_value) = if api.contains("azure") {
            (naming::AZURE_TAG_KEY, naming::AZURE_TAG_VALUE)
        } else {
            (naming::AWS_TAG_KEY, naming::AWS_TAG_VALUE)
        };
        self.walk(doc, "", (tag_key, tag_value));
    }

    fn walk(&mut self, value: &Value, key: &str, tags: (Rule, Rule)) {
        match value {
            Value::Object(map) => {
                match key {
                    "labels" | "matchLabels" => self.labels(map),
                    "tags" | "defaultTags" => {
                        for (k, v) in map {
                            self.rule(tags.0, "tag key", k);
                            self.rule(tags.1, "tag value", v.as_str().unwrap_or_default());
                        }
                    }
                    "writeConnectionSecretToRef" | "providerConfigRef" | "metadata" => {
                        if let Some(name) = map.get("name").and_then(Value::as_str) {
                            self.rule(naming::DNS_SUBDOMAIN, key, name);
                        }
                    }
                    _ => {}
                }
                for (k, v) in map {
                    self.walk(v, k, tags);
                }
            }
            Value::Array(items) => {
                for item in items {
                    if let (Some(tag), true) = (item.as_str(), key.ends_with("ags")) {
                        self.checked += 1;
                        if !is_tag(tag) {
                            self.broken.push(format!("tailnet tag {tag:?}"));
                        }
                    }
                    self.walk(item, key, tags);
                }
            }
            Value::String(s) => match key {
                "hostnamePrefix" => self.rule(naming::HOSTNAME_PREFIX, key, s),
                "hostname" if !s.contains('.') => self.rule(naming::DNS_LABEL, key, s),
                _ => {}
            },
            _ => {}
        }
    }

    fn labels(&mut self, map: &serde_json::Map<String, Value>) {
        for (k, v) in map {
            // Crossplane's own labels carry the XR's name as it is.
            if k.starts_with("crossplane.io/") {
                continue;
            }
            self.checked += 1;
            if !naming::is_label_key(k) {
                self.broken.push(format!("label key {k:?}"));
            }
            self.rule(
                naming::LABEL_VALUE,
                "label value",
                v.as_str().unwrap_or_default(),
            );
        }
    }
}

#[test]
fn every_derived_name_is_valid_or_refused_by_name() {
    let input: Value = serde_yaml::from_str(INPUT).expect("input");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut rendered, mut refused, mut checked) = (0, 0, 0);
    for round in 0..160 {
        let (xr_text, observed_texts) = CASES[round % CASES.len()];
        let mut xr: Value = serde_yaml::from_str(xr_text).expect("XR");
        let given = rename(&mut xr, &mut rng);
        let observed: Vec<Value> = observed_texts.iter().flat_map(|t| documents(t)).collect();
        match render(&xr, &observed, &input) {
            Ok(documents) => {
                rendered += 1;
                let mut checker = Checker {
                    broken: Vec::new(),
                    checked: 0,
                };
                // The XR itself is the user's; the rest is derived.
                for doc in documents.iter().skip(1).filter(|d| d["kind"] != "Result") {
                    checker.document(doc);
                }
                assert!(
                    checker.broken.is_empty(),
                    "names {given:?}:\n{}",
                    checker.broken.join("\n")
                );
                checked += checker.checked;
            }
            Err(RenderError::Fatal(message)) => {
                refused += 1;
                // The field, the value and the rule.
                let names_field =
                    message.contains("metadata.name") || message.contains("input.tailnet.tags");
                // The value given, or the cluster name derived from it.
                let names_value = given.iter().any(|g| message.contains(g.as_str()))
                    || message.contains("is the cluster name");
                let names_rule =
                    message.contains("cannot be made") || message.contains("which is not");
                assert!(
                    names_field && names_value && names_rule,
                    "names {given:?}: a FATAL must name field, value and rule: {message}"
                );
            }
            Err(other) => panic!("names {given:?}: {other}"),
        }
    }
    eprintln!("{rendered} rendered, {refused} refused, {checked} names checked");
    assert!(
        rendered > 80,
        "only {rendered} of 160 rendered ({refused} refused)"
    );
    assert!(
        refused > 0,
        "no name was refused: the FATAL path went untested"
    );
    assert!(checked > 10_000, "only {checked} names checked");
}

#[test]
fn a_long_dotted_name_is_shortened_deterministically() {
    let input: Value = serde_yaml::from_str(INPUT).expect("input");
    let (xr_text, _) = CASES[0];
    let mut xr: Value = serde_yaml::from_str(xr_text).expect("XR");
    let name = format!("eu.payments.{}", "x".repeat(240));
    xr["metadata"]["name"] = json!(name);
    let cluster = |xr: &Value| {
        let docs = render(xr, &[], &input).expect("renders");
        docs[0]
            .pointer("/status/cluster/name")
            .and_then(Value::as_str)
            .expect("status.cluster.name")
            .to_string()
    };
    let first = cluster(&xr);
    assert_eq!(first.len(), 63, "{first}");
    assert!(
        first.starts_with("team-payments-eu-payments-xxx"),
        "{first}"
    );
    assert!(naming::CLUSTER_NAME.is_valid(&first));
    assert_eq!(cluster(&xr), first, "same claim, same name");
    xr["metadata"]["name"] = json!(format!("eu.payments.{}", "x".repeat(241)));
    assert_ne!(cluster(&xr), first, "another claim, another name");
}

/// The API server refuses the worst early: the XRD bounds tag and label
/// values (the function still checks each cloud's own rules).
#[test]
fn the_xrd_bounds_tags_and_label_values() {
    use function_hybrid_spoke::spoke::{LABEL_VALUE_OR_EMPTY_PATTERN, SpokeSpec};
    let spec = function_hybrid_spoke::xrd::structural_schema::<SpokeSpec>();
    assert_eq!(
        spec.pointer("/properties/tags/additionalProperties/maxLength"),
        Some(&json!(256))
    );
    for labels in [
        "/properties/finops/properties/labels",
        "/properties/argocd/properties/labels",
        "/properties/nodePools/items/properties/labels",
    ] {
        let values = spec
            .pointer(&format!("{labels}/additionalProperties"))
            .unwrap_or_else(|| panic!("{labels} has a value schema"));
        assert_eq!(values["maxLength"], json!(63), "{labels}");
        assert_eq!(
            values["pattern"],
            json!(LABEL_VALUE_OR_EMPTY_PATTERN),
            "{labels}"
        );
        // The pattern is the function's own rule for label values.
        for (value, valid) in [("", true), ("eu-1", true), ("-x", false), ("a b", false)] {
            assert_eq!(naming::LABEL_VALUE.is_valid(value), valid, "{value:?}");
        }
    }
}
