//! Self-test of the offline CRD validator in `tests/support/crd_schema.rs`:
//! each test is also an example of the violation a developer would see.

#[path = "support/crd_schema.rs"]
mod crd_schema;

use crd_schema::{SchemaSet, Violation, report, vendor_crds};
use serde_json::{Value, json};

fn violations(object: &Value) -> Vec<Violation> {
    match vendor_crds().validate(object) {
        Ok(()) => panic!("expected violations, but the object is valid:\n{object:#}"),
        Err(v) => v,
    }
}

/// Asserts that a violation at `path` has a message containing `needle`.
fn assert_violation(all: &[Violation], path: &str, needle: &str) {
    assert!(
        all.iter()
            .any(|v| v.path == path && v.message.contains(needle)),
        "expected one violation at {path:?} containing {needle:?}, got:\n{}",
        report(all)
    );
}

fn vpc() -> Value {
    json!({
        "apiVersion": "ec2.aws.m.upbound.io/v1beta1",
        "kind": "VPC",
        "metadata": {
            "name": "spoke-a-vpc",
            "namespace": "team-a",
            "labels": { "app.kubernetes.io/managed-by": "hybrid-spoke" },
            "annotations": { "crossplane.io/composition-resource-name": "vpc" }
        },
        "spec": {
            "forProvider": {
                "region": "eu-west-1",
                "cidrBlock": "10.20.0.0/16",
                "enableDnsHostnames": true,
                "enableDnsSupport": true,
                "tags": { "Name": "spoke-a" }
            },
            "providerConfigRef": { "kind": "ProviderConfig", "name": "aws" }
        }
    })
}

fn eks_cluster() -> Value {
    json!({
        "apiVersion": "eks.aws.m.upbound.io/v1beta1",
        "kind": "Cluster",
        "metadata": { "name": "spoke-a", "namespace": "team-a" },
        "spec": {
            "forProvider": {
                "region": "eu-west-1",
                "version": "1.31",
                "roleArn": "arn:aws:iam::123456789012:role/spoke-a-cluster",
                "accessConfig": { "authenticationMode": "API" },
                "vpcConfig": { "subnetIds": ["subnet-0a", "subnet-0b"], "endpointPrivateAccess": true }
            }
        }
    })
}

#[test]
fn valid_namespaced_vpc_passes() {
    vendor_crds().assert_valid(&vpc());
}

#[test]
fn valid_eks_cluster_passes() {
    vendor_crds().assert_valid(&eks_cluster());
}

#[test]
fn unknown_field_is_rejected_with_its_path_and_a_suggestion() {
    let mut vpc = vpc();
    vpc["spec"]["forProvider"]["cidrBlocks"] = json!("10.0.0.0/16");
    let all = violations(&vpc);
    assert_violation(
        &all,
        "spec.forProvider.cidrBlocks",
        "unknown field \"cidrBlocks\" (did you mean \"cidrBlock\"?)",
    );
    assert_eq!(all.len(), 1, "{}", report(&all));
}

#[test]
fn wrong_type_is_rejected() {
    let mut cluster = eks_cluster();
    cluster["spec"]["forProvider"]["vpcConfig"]["subnetIds"] = json!([42, "subnet-0b"]);
    cluster["spec"]["forProvider"]["vpcConfig"]["endpointPrivateAccess"] = json!("yes");
    let all = violations(&cluster);
    assert_violation(
        &all,
        "spec.forProvider.vpcConfig.subnetIds[0]",
        "expected string, got integer",
    );
    assert_violation(
        &all,
        "spec.forProvider.vpcConfig.endpointPrivateAccess",
        "expected boolean, got string",
    );
    assert_eq!(all.len(), 2, "{}", report(&all));
    let shown = all[0].to_string();
    assert!(
        shown.starts_with("spec.forProvider.vpcConfig."),
        "Display puts the path first: {shown}"
    );
}

#[test]
fn bad_enum_value_is_rejected() {
    let mut cluster = eks_cluster();
    cluster["spec"]["managementPolicies"] = json!(["Observe", "Destroy"]);
    cluster["spec"]["forProvider"]["roleArnRef"] =
        json!({ "name": "spoke-a", "policy": { "resolve": "Sometimes" } });
    let all = violations(&cluster);
    assert_violation(
        &all,
        "spec.managementPolicies[1]",
        r#"unsupported value "Destroy": must be one of ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]"#,
    );
    assert_violation(
        &all,
        "spec.forProvider.roleArnRef.policy.resolve",
        r#"must be one of ["Always", "IfNotPresent"]"#,
    );
    assert_eq!(all.len(), 2, "{}", report(&all));
}

/// The upstream schema documents "Valid values are CONFIG_MAP, API or
/// API_AND_CONFIG_MAP" for authenticationMode but declares no `enum`: the API
/// server accepts anything, so the validator must too (AWS rejects it later).
#[test]
fn eks_authentication_mode_has_no_enum_upstream() {
    let mut cluster = eks_cluster();
    cluster["spec"]["forProvider"]["accessConfig"]["authenticationMode"] = json!("FOO");
    vendor_crds().assert_valid(&cluster);
}

#[test]
fn missing_required_field_is_rejected() {
    let mut vpc = vpc();
    vpc["spec"]["forProvider"]
        .as_object_mut()
        .expect("forProvider is an object")
        .remove("region");
    let all = violations(&vpc);
    assert_violation(&all, "spec.forProvider.region", "required field is missing");
    assert_eq!(all.len(), 1, "{}", report(&all));
}

#[test]
fn null_in_a_required_field_is_dropped_then_reported_missing() {
    let mut vpc = vpc();
    vpc["spec"]["forProvider"]["region"] = Value::Null;
    let all = violations(&vpc);
    assert_violation(&all, "spec.forProvider.region", "it was null");
}

#[test]
fn upjet_required_parameter_cel_rule_is_enforced() {
    let mut cluster = eks_cluster();
    cluster["spec"]["forProvider"]
        .as_object_mut()
        .expect("forProvider is an object")
        .remove("vpcConfig");
    let all = violations(&cluster);
    assert_violation(
        &all,
        "spec",
        "spec.forProvider.vpcConfig is a required parameter",
    );
    assert_eq!(all.len(), 1, "{}", report(&all));

    // Setting it through initProvider satisfies the same rule ...
    cluster["spec"]["initProvider"] = json!({ "vpcConfig": { "subnetIds": ["subnet-0a"] } });
    vendor_crds().assert_valid(&cluster);

    // ... and an observe-only resource needs no parameters at all: the rule
    // reads spec.managementPolicies, which defaults to ["*"] when omitted.
    cluster["spec"]
        .as_object_mut()
        .expect("spec is an object")
        .remove("initProvider");
    cluster["spec"]["managementPolicies"] = json!(["Observe"]);
    vendor_crds().assert_valid(&cluster);
}

#[test]
fn unknown_api_version_or_kind_is_an_error() {
    let mut object = vpc();
    object["apiVersion"] = json!("ec2.aws.m.upbound.io/v1beta9");
    let all = violations(&object);
    assert_eq!(
        all,
        vec![Violation {
            path: String::new(),
            message: "no CRD for ec2.aws.m.upbound.io/v1beta9/VPC".into()
        }]
    );

    object["apiVersion"] = json!("ec2.aws.m.upbound.io/v1beta1");
    object["kind"] = json!("Vpc");
    assert_violation(
        &violations(&object),
        "",
        "no CRD for ec2.aws.m.upbound.io/v1beta1/Vpc",
    );
}

#[test]
fn metadata_is_checked_as_object_meta() {
    let mut vpc = vpc();
    vpc["metadata"]["name"] = json!("Spoke_A");
    vpc["metadata"]["labels"]["tier"] = json!(3);
    vpc["metadata"]["labels"]["bad key!"] = json!("x");
    vpc["metadata"]["annotations"]["ok/free-form"] = json!("any text at all: fine");
    vpc["metadata"]["owner"] = json!("me");
    let all = violations(&vpc);
    assert_violation(&all, "metadata.name", "RFC 1123 subdomain");
    assert_violation(
        &all,
        "metadata.labels[tier]",
        "expected string, got integer",
    );
    assert_violation(&all, "metadata.labels[bad key!]", "invalid key");
    assert_violation(&all, "metadata.owner", "unknown field");
    assert_eq!(all.len(), 4, "{}", report(&all));
}

#[test]
fn namespace_on_a_cluster_scoped_resource_is_rejected() {
    let mut vpc = vpc();
    vpc["apiVersion"] = json!("ec2.aws.upbound.io/v1beta1");
    // the cluster-scoped (legacy) providerConfigRef has no `kind`
    vpc["spec"]["providerConfigRef"] = json!({ "name": "aws" });
    let all = violations(&vpc);
    assert_violation(&all, "metadata.namespace", "cluster-scoped");
    assert_eq!(all.len(), 1, "{}", report(&all));
}

#[test]
fn tailscale_connector_patterns_formats_min_items_and_rules() {
    let valid = json!({
        "apiVersion": "tailscale.com/v1alpha1",
        "kind": "Connector",
        "metadata": { "name": "spoke-a" },
        "spec": {
            "hostname": "spoke-a-router",
            "tags": ["tag:spoke"],
            "subnetRouter": { "advertiseRoutes": ["10.20.0.0/16", "fd7a:115c:a1e0::/48"] }
        }
    });
    vendor_crds().assert_valid(&valid);

    let mut bad = valid.clone();
    bad["spec"]["hostname"] = json!("Spoke_A");
    bad["spec"]["hostnamePrefix"] = json!("spoke");
    bad["spec"]["tags"] = json!(["spoke"]);
    bad["spec"]["subnetRouter"]["advertiseRoutes"] = json!(["10.20.0.0/33"]);
    let all = violations(&bad);
    assert_violation(&all, "spec.hostname", "does not match pattern");
    assert_violation(
        &all,
        "spec.tags[0]",
        r#""spoke" does not match pattern "^tag:[a-zA-Z][a-zA-Z0-9-]*$""#,
    );
    assert_violation(
        &all,
        "spec.subnetRouter.advertiseRoutes[0]",
        "is not a valid cidr",
    );
    assert_violation(
        &all,
        "spec",
        "The hostname and hostnamePrefix fields are mutually exclusive.",
    );
    assert_eq!(all.len(), 4, "{}", report(&all));

    let mut empty = valid;
    empty["spec"]["subnetRouter"]["advertiseRoutes"] = json!([]);
    assert_violation(
        &violations(&empty),
        "spec.subnetRouter.advertiseRoutes",
        "must have at least 1 items, got 0",
    );
}

#[test]
fn embedded_resources_need_api_version_and_kind() {
    let object = json!({
        "apiVersion": "kubernetes.m.crossplane.io/v1alpha1",
        "kind": "Object",
        "metadata": { "name": "argocd-cluster-secret", "namespace": "team-a" },
        "spec": { "forProvider": { "manifest": { "metadata": { "name": "x", "labels": { "a": 1 } }, "data": {} } } }
    });
    let all = violations(&object);
    assert_violation(
        &all,
        "spec.forProvider.manifest.apiVersion",
        "required field is missing",
    );
    assert_violation(
        &all,
        "spec.forProvider.manifest.kind",
        "required field is missing",
    );
    assert_violation(
        &all,
        "spec.forProvider.manifest.metadata.labels[a]",
        "expected string, got integer",
    );
}

#[test]
fn int_or_string_accepts_both_and_nothing_else() {
    let mut release = json!({
        "apiVersion": "helm.m.crossplane.io/v1beta1",
        "kind": "Release",
        "metadata": { "name": "cilium", "namespace": "team-a" },
        "spec": { "forProvider": { "chart": { "name": "cilium", "repository": "https://helm.cilium.io" }, "namespace": "kube-system" } }
    });
    vendor_crds().assert_valid(&release);
    release["spec"]["forProvider"]["chart"]["version"] = json!(1.16);
    assert_violation(
        &violations(&release),
        "spec.forProvider.chart.version",
        "expected string, got number",
    );
}

/// Every `x-kubernetes-validations` rule in the vendored CRDs compiles and
/// passes the static checks, or is allowlisted with a reason.
#[test]
fn every_vendored_cel_rule_compiles_or_is_allowlisted() {
    let survey = vendor_crds().rule_survey();
    println!(
        "CEL rules in ../shared/vendor-crds: {} total, {} evaluated on create, {} transition-only (oldSelf, skipped on create), {} allowlisted, {} broken",
        survey.total,
        survey.evaluated,
        survey.transition_only,
        survey.allowlisted.len(),
        survey.broken.len()
    );
    for site in &survey.allowlisted {
        println!(
            "  allowlisted: {} {:?}: {:?}",
            site.location, site.rule, site.status
        );
    }
    let broken: Vec<String> = survey
        .broken
        .iter()
        .map(|s| format!("  {} {:?}: {:?}", s.location, s.rule, s.status))
        .collect();
    assert!(
        broken.is_empty(),
        "rules that neither compile nor are allowlisted:\n{}",
        broken.join("\n")
    );
    assert!(
        survey.total >= 90,
        "expected the ~92 vendored rules, found {}",
        survey.total
    );
    assert_eq!(
        survey.total,
        survey.evaluated + survey.transition_only + survey.allowlisted.len()
    );
}

#[test]
fn every_vendored_pattern_compiles() {
    let set = vendor_crds();
    println!(
        "distinct patterns in ../shared/vendor-crds: {}",
        set.pattern_count()
    );
    assert!(
        set.pattern_count() >= 10,
        "expected the vendored patterns, found {}",
        set.pattern_count()
    );
    assert_eq!(
        set.pattern_errors(),
        vec![],
        "patterns the regex crate cannot compile"
    );
}

#[test]
fn every_vendored_schema_loads() {
    let kinds = vendor_crds().kinds();
    for (api_version, kind) in [
        ("ec2.aws.m.upbound.io/v1beta1", "VPC"),
        ("eks.aws.upbound.io/v1beta2", "Cluster"),
        ("eks.aws.upbound.io/v1beta1", "Cluster"),
        ("apiextensions.crossplane.io/v1", "Composition"),
        ("argoproj.io/v1alpha1", "ApplicationSet"),
        (
            "containerservice.azure.m.upbound.io/v1beta1",
            "KubernetesCluster",
        ),
    ] {
        assert!(
            vendor_crds().contains(api_version, kind),
            "{api_version} {kind} not loaded; have {kinds:?}"
        );
    }
}

// ----- CEL semantics, on a small CRD shaped like our future XRD ------------------

const SPOKE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: xspokes.example.hybrid-spoke.io
spec:
  group: example.hybrid-spoke.io
  scope: Namespaced
  names: { kind: XSpoke, plural: xspokes }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              type: object
              required: [cloud, vpcCidr]
              x-kubernetes-validations:
                - rule: "self.cloud != 'aws' || has(self.aws)"
                  message: "spec.aws is required when cloud is aws"
                - rule: "self.minSize <= self.maxSize"
                  messageExpression: "'minSize ' + string(self.minSize) + ' exceeds maxSize ' + string(self.maxSize)"
                  fieldPath: ".minSize"
                - rule: "self.subnets.all(s, isCIDR(s) && cidr(self.vpcCidr).containsCIDR(s))"
                  message: "every subnet must be a CIDR inside vpcCidr"
                - rule: "self.vpcCidr == oldSelf.vpcCidr"
                  message: "vpcCidr is immutable"
              properties:
                cloud: { type: string, enum: [aws, azure] }
                vpcCidr:
                  type: string
                  x-kubernetes-validations:
                    - rule: "isCIDR(self) && cidr(self).prefixLength() <= 24 && cidr(self).ip().family() == 4"
                      message: "vpcCidr must be an IPv4 CIDR of /24 or larger"
                subnets:
                  type: array
                  default: []
                  x-kubernetes-list-type: set
                  items: { type: string }
                minSize: { type: integer, default: 1, minimum: 0 }
                maxSize: { type: integer, default: 3, maximum: 100 }
                port: { x-kubernetes-int-or-string: true }
                note: { type: string, nullable: true }
                aws:
                  type: object
                  properties:
                    region: { type: string, minLength: 1 }
                    namespace: { type: string }
                  x-kubernetes-validations:
                    - rule: "!has(self.__namespace__) || self.__namespace__.startsWith('team-')"
                      message: "namespace must start with team-"
"#;

fn spoke_schemas() -> &'static SchemaSet {
    static SET: std::sync::OnceLock<SchemaSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut set = SchemaSet::new();
        set.add_yaml(SPOKE_CRD, "spoke-crd.yaml")
            .expect("the inline CRD parses");
        set
    })
}

fn spoke(spec: Value) -> Value {
    json!({ "apiVersion": "example.hybrid-spoke.io/v1alpha1", "kind": "XSpoke", "metadata": { "name": "a" }, "spec": spec })
}

#[test]
fn xrd_style_rules_pass_on_a_good_object() {
    let survey = spoke_schemas().rule_survey();
    assert!(survey.broken.is_empty(), "{:?}", survey.broken);
    assert_eq!((survey.evaluated, survey.transition_only), (5, 1));

    spoke_schemas().assert_valid(&spoke(json!({
        "cloud": "aws",
        "vpcCidr": "10.20.0.0/16",
        "subnets": ["10.20.0.0/20", "10.20.16.0/20"],
        "port": "https",
        "note": null,
        "aws": { "region": "eu-west-1", "namespace": "team-a" }
    })));
    spoke_schemas().assert_valid(&spoke(
        json!({ "cloud": "azure", "vpcCidr": "10.0.0.0/8", "port": 443 }),
    ));
}

#[test]
fn xrd_style_rules_report_their_messages() {
    let all = spoke_schemas()
        .validate(&spoke(json!({
            "cloud": "aws",
            "vpcCidr": "10.20.0.0/26",
            "subnets": ["10.20.0.0/20", "10.99.0.0/24", "10.99.0.0/24"],
            "minSize": 5,
            "maxSize": 2,
            "port": 1.5,
        })))
        .expect_err("the object breaks every rule");
    assert_violation(&all, "spec", "spec.aws is required when cloud is aws");
    assert_violation(&all, "spec.minSize", "minSize 5 exceeds maxSize 2");
    assert_violation(
        &all,
        "spec.vpcCidr",
        "vpcCidr must be an IPv4 CIDR of /24 or larger",
    );
    assert_violation(&all, "spec.subnets[2]", "duplicate value");
    assert_violation(&all, "spec.port", "expected integer or string, got number");
    assert_violation(&all, "spec", "every subnet must be a CIDR inside vpcCidr");
    assert_eq!(all.len(), 6, "{}", report(&all));
    assert!(
        !report(&all).contains("immutable"),
        "transition rules do not apply on create:\n{}",
        report(&all)
    );
}

#[test]
fn numeric_bounds_are_checked() {
    let all = spoke_schemas()
        .validate(&spoke(
            json!({ "cloud": "azure", "vpcCidr": "10.0.0.0/16", "minSize": -1, "maxSize": 101 }),
        ))
        .expect_err("both bounds are broken");
    assert_violation(&all, "spec.minSize", "must be >= 0, got -1");
    assert_violation(&all, "spec.maxSize", "must be <= 100, got 101");
    assert_eq!(all.len(), 2, "{}", report(&all));
}

#[test]
fn escaped_property_names_are_visible_to_rules() {
    let all = spoke_schemas()
        .validate(&spoke(json!({ "cloud": "aws", "vpcCidr": "10.0.0.0/16", "aws": { "region": "eu-west-1", "namespace": "prod" } })))
        .expect_err("namespace does not start with team-");
    assert_violation(&all, "spec.aws", "namespace must start with team-");
}

#[test]
fn broken_rules_are_violations_not_silent_skips() {
    let crd = SPOKE_CRD
        .replace(
            "self.minSize <= self.maxSize",
            "self.minSize <= self.maxSise",
        )
        .replace("isCIDR(s) &&", "isCIRD(s) &&");
    let mut set = SchemaSet::new();
    set.add_yaml(&crd, "broken.yaml")
        .expect("the CRD still parses as YAML");
    let broken: Vec<String> = set
        .rule_survey()
        .broken
        .iter()
        .map(|s| format!("{:?}", s.status))
        .collect();
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].contains("no such field 'maxSise'"), "{broken:?}");
    assert!(
        broken[1].contains("undeclared function 'isCIRD'"),
        "{broken:?}"
    );

    let all = set
        .validate(&spoke(
            json!({ "cloud": "azure", "vpcCidr": "10.0.0.0/16" }),
        ))
        .expect_err("broken rules are reported");
    assert_eq!(
        all.iter()
            .filter(|v| v.message.contains("cannot be evaluated"))
            .count(),
        2,
        "{}",
        report(&all)
    );
}

#[test]
fn k8s_cel_library_functions() {
    let crd = SPOKE_CRD.replace(
        r#"- rule: "self.cloud != 'aws' || has(self.aws)""#,
        r#"- rule: "self.cloud != 'aws' || has(self.aws)"
                - rule: "isURL('https://example.com:8443/x') && url('https://example.com:8443/x').getHost() == 'example.com:8443' && url('https://example.com:8443/x').getPort() == '8443' && !isURL('not a url')"
                - rule: "ip('10.0.0.1').family() == 4 && isIP('fd00::1') && !isIP('10.0.0.300') && !isCIDR('10.0.0.0/33') && cidr('10.1.2.3/8').masked() == '10.0.0.0/8' && cidr('10.0.0.0/8').containsIP('10.9.9.9') && !cidr('10.0.0.0/8').containsIP('11.0.0.1')"
                - rule: "'abc-123'.find('[0-9]+') == '123' && 'a1b2'.findAll('[0-9]') == ['1', '2'] && [1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && 'Ab'.lowerAscii() == 'ab' && 'a,b'.split(',').size() == 2 && self.cloud.matches('^a')"
                - rule: "!oldSelf.hasValue() || oldSelf.value().cloud == self.cloud"
                  optionalOldSelf: true
                  message: "optionalOldSelf rules run on create with oldSelf = optional.none()""#,
    );
    let mut set = SchemaSet::new();
    set.add_yaml(&crd, "library.yaml").expect("the CRD parses");
    // the spoke CRD's 5 create-time rules plus the 4 added here all run
    assert_eq!(set.rule_survey().evaluated, 9, "{:?}", set.rule_sites());
    assert!(
        set.rule_survey().broken.is_empty(),
        "{:?}",
        set.rule_survey().broken
    );
    set.assert_valid(&spoke(
        json!({ "cloud": "azure", "vpcCidr": "10.0.0.0/16" }),
    ));
}
