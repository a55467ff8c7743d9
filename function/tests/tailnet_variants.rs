//! Table tests for the tailnet choices the examples do not show: the
//! External Secrets mode, who pays, and every claim or Input the tailnet
//! part must refuse, with the FATAL message a user reads.

use std::collections::{BTreeMap, HashMap};

use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const AZURE_XR: &str = include_str!("../../examples/azure/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");
const HEADSCALE_INPUT: &str = include_str!("../../examples/input-headscale.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

/// Runs the function with the spoke's kubeconfig published and its
/// ProviderConfigs existing (plus `ready` resources observed Ready), so the
/// parts in the spoke are composed.
fn run_with(xr: &Value, input: &Value, ready: &[&str]) -> Result<BTreeMap<String, Value>, String> {
    let publisher = if xr["spec"]["cloud"] == "aws" {
        "cluster-auth"
    } else {
        "cluster"
    };
    let mut observed: HashMap<String, Resource> = HashMap::new();
    observed.insert(
        publisher.into(),
        Resource {
            resource: Some(json_to_struct(
                json!({"apiVersion": "v1", "kind": "Observed"})
                    .as_object()
                    .expect("object"),
            )),
            connection_details: HashMap::from([(
                "kubeconfig".to_string(),
                b"apiVersion: v1".to_vec(),
            )]),
            ..Default::default()
        },
    );
    for (name, api_version) in [
        (
            "spoke-kubernetes-config",
            "kubernetes.m.crossplane.io/v1alpha1",
        ),
        ("spoke-helm-config", "helm.m.crossplane.io/v1beta1"),
    ] {
        observed.insert(
            name.into(),
            Resource {
                resource: Some(json_to_struct(
                    json!({"apiVersion": api_version, "kind": "ProviderConfig"})
                        .as_object()
                        .expect("object"),
                )),
                ..Default::default()
            },
        );
    }
    for name in ready {
        observed.insert(
            name.to_string(),
            Resource {
                resource: Some(json_to_struct(
                    json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
                        .as_object()
                        .expect("object"),
                )),
                ..Default::default()
            },
        );
    }
    let req = RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            resources: observed,
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    };
    let rsp = run(&req);
    if let Some(fatal) = rsp
        .results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
    {
        return Err(fatal.message.clone());
    }
    Ok(rsp
        .desired
        .map(|d| {
            d.resources
                .into_iter()
                .filter_map(|(name, r)| Some((name, struct_to_json(r.resource.as_ref()?))))
                .collect()
        })
        .unwrap_or_default())
}

#[test]
fn external_secrets_mode_moves_the_oauth_client_through_the_store() {
    let mut input = yaml(INPUT);
    input["secrets"] = json!({"mode": "ExternalSecrets", "clusterSecretStore": "vault"});
    let composed = run_with(&yaml(AWS_XR), &input, &[]).expect("composes");
    let push = &composed["tailnet-oauth-push"];
    assert_eq!(push["kind"], "PushSecret");
    assert_eq!(
        push["spec"]["secretStoreRefs"],
        json!([{"kind": "ClusterSecretStore", "name": "vault"}])
    );
    assert_eq!(
        push["spec"]["selector"]["secret"]["name"],
        composed["tailnet-oauth-client"]["spec"]["writeConnectionSecretToRef"]["name"]
    );
    let pushed: Vec<&str> = push["spec"]["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["match"]["secretKey"].as_str())
        .collect();
    assert_eq!(pushed, ["client_id", "client_secret"]);
    let remote = push["spec"]["data"][0]["match"]["remoteRef"]["remoteKey"]
        .as_str()
        .expect("remote key");
    assert_eq!(
        remote,
        "hybrid-spoke/team-payments-eu-payments/tailnet-oauth-client"
    );

    // The spoke pulls them into the chart's own Secret; the Release names none.
    let pull = &composed["tailnet-oauth-pull"]["spec"]["forProvider"]["manifest"];
    assert_eq!(pull["kind"], "ExternalSecret");
    assert_eq!(pull["spec"]["target"]["name"], "operator-oauth");
    assert_eq!(pull["metadata"]["namespace"], "connectivity");
    assert_eq!(
        pull["spec"]["data"][1]["remoteRef"],
        json!({"key": remote, "property": "client_secret"})
    );
    let release = &composed["tailscale-operator"]["spec"]["forProvider"];
    assert!(release.get("set").is_none(), "{release}");
    assert!(release["values"].get("oauth").is_none());
}

#[test]
fn the_tailnet_part_is_labelled_for_the_spokes_tenant_when_the_input_says_so() {
    let mut input = yaml(INPUT);
    input["tailnet"]["finopsTenant"] = json!("Spoke");
    let composed = run_with(&yaml(AWS_XR), &input, &[]).expect("composes");
    for name in [
        "tailnet-policy",
        "tailnet-oauth-client",
        "tailscale-operator",
        "tailnet-namespace",
    ] {
        assert_eq!(
            composed[name]["metadata"]["labels"]["appgear.io/tenant-id"], "payments",
            "{name}"
        );
    }
    let default = run_with(&yaml(AWS_XR), &yaml(INPUT), &[]).expect("composes");
    assert_eq!(
        default["tailnet-policy"]["metadata"]["labels"]["appgear.io/tenant-id"],
        "global"
    );
    // The cloud half stays the spoke's either way.
    assert_eq!(
        default["vpc"]["metadata"]["labels"]["appgear.io/tenant-id"],
        "payments"
    );
}

#[test]
fn the_operators_proxies_wait_for_the_operator() {
    let composed = run_with(&yaml(AWS_XR), &yaml(INPUT), &[]).expect("composes");
    assert!(composed.contains_key("tailscale-operator"));
    assert!(
        !composed.contains_key("tailnet-connector"),
        "the Connector CRD comes with the operator"
    );
    let composed =
        run_with(&yaml(AWS_XR), &yaml(INPUT), &["tailscale-operator"]).expect("composes");
    let connector = &composed["tailnet-connector"];
    assert_eq!(
        connector["spec"]["readiness"]["policy"],
        "DeriveFromCelQuery"
    );
    assert!(
        connector["spec"]["readiness"]["celQuery"]
            .as_str()
            .unwrap_or("")
            .contains("'ConnectorReady'")
    );
    let proxy = &composed["tailnet-api-server-proxy"]["spec"]["forProvider"]["manifest"]["spec"];
    assert_eq!(proxy["type"], "kube-apiserver");
    assert_eq!(proxy["kubeAPIServer"]["mode"], "auth");
}

#[test]
fn the_headscale_router_joins_with_its_key_by_reference() {
    let composed = run_with(&yaml(AZURE_XR), &yaml(HEADSCALE_INPUT), &[]).expect("composes");
    let key = &composed["tailnet-router-key"]["spec"];
    assert_eq!(key["forProvider"]["keyType"], "auth");
    assert_eq!(key["forProvider"]["reusable"], true);
    assert_eq!(key["forProvider"]["ephemeral"], true);
    assert_eq!(key["rotation"]["renewBefore"], "24h");
    let secret = &composed["tailnet-router-secret"]["spec"];
    assert_eq!(secret["forProvider"]["manifest"]["data"]["authkey"], "");
    let from = &secret["references"][0]["patchesFrom"];
    assert_eq!(from["name"], key["writeConnectionSecretToRef"]["name"]);
    assert_eq!(from["fieldPath"], "data.authkey");
    assert_eq!(
        secret["references"][0]["toFieldPath"],
        "spec.forProvider.manifest.data.authkey"
    );
    let container = &composed["tailnet-router"]["spec"]["forProvider"]["manifest"]["spec"]["template"]
        ["spec"]["containers"][0];
    assert_eq!(container["image"], "tailscale/tailscale:v1.104.7");
    let env: BTreeMap<&str, &Value> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or(""), e))
        .collect();
    assert_eq!(env["TS_ROUTES"]["value"], "10.30.0.0/16");
    assert!(
        env["TS_EXTRA_ARGS"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("--login-server=https://headscale.platform.example.com")
    );
    assert_eq!(
        env["TS_AUTHKEY"]["valueFrom"]["secretKeyRef"],
        json!({"name": "tailnet-router-auth", "key": "authkey"})
    );
}

#[test]
fn bad_tailnet_settings_are_refused_with_the_field_value_and_rule() {
    let headscale_with_proxy =
        |xr: &mut Value, _: &mut Value| xr["spec"]["tailnet"] = json!({"apiServer": "auth"});
    let cases: Vec<(&str, Box<dyn Fn(&mut Value, &mut Value)>, bool, &str)> = vec![
        (
            "API-server proxy on Headscale",
            Box::new(headscale_with_proxy),
            true,
            "spec.tailnet.apiServer auth needs the tailscale-operator's ProxyGroup, which this platform's tailnet (Headscale, input.tailnet.backend) cannot run: use none",
        ),
        (
            "not a CIDR",
            Box::new(|xr, _| xr["spec"]["tailnet"]["legacyRoutes"] = json!(["10.0.0.300/24"])),
            false,
            "spec.tailnet.legacyRoutes[0] 10.0.0.300/24 is not an IPv4 or IPv6 CIDR (e.g. 192.168.10.0/24)",
        ),
        (
            "a default route",
            Box::new(|xr, _| xr["spec"]["tailnet"]["legacyRoutes"] = json!(["0.0.0.0/0"])),
            false,
            "spec.tailnet.legacyRoutes[0] 0.0.0.0/0 is a default route: a spoke router advertises subnets, not an exit node",
        ),
        (
            "host bits",
            Box::new(|xr, _| xr["spec"]["tailnet"]["legacyRoutes"] = json!(["192.168.40.1/22"])),
            false,
            "spec.tailnet.legacyRoutes[0] 192.168.40.1/22 has host bits set: write 192.168.40.0/22",
        ),
        (
            "the VPC again",
            Box::new(|xr, _| xr["spec"]["tailnet"]["legacyRoutes"] = json!(["10.20.0.0/16"])),
            false,
            "spec.tailnet.legacyRoutes[0] 10.20.0.0/16 is already advertised by this spoke",
        ),
        (
            "a tag template that gives no tag",
            Box::new(|_, input| input["tailnet"]["tags"]["proxy"] = json!("spoke-{spoke}")),
            false,
            "input.tailnet.tags.proxy spoke-{spoke} gives the tag spoke-team-payments-eu-payments for this spoke, which is not a tailnet tag",
        ),
        (
            "the same tag twice",
            Box::new(|_, input| {
                input["tailnet"]["tags"] =
                    json!({"operator": "tag:{spoke}", "proxy": "tag:{spoke}"})
            }),
            false,
            "input.tailnet.tags.proxy tag:{spoke} must differ from input.tailnet.tags.operator",
        ),
        (
            "External Secrets without a store",
            Box::new(|_, input| input["secrets"] = json!({"mode": "ExternalSecrets"})),
            false,
            "input.secrets.clusterSecretStore is required with input.secrets.mode ExternalSecrets",
        ),
        (
            "a misspelled Input field",
            Box::new(|_, input| input["tailnet"]["advertize"] = json!(["Vpc"])),
            false,
            "input.tailnet.advertize: unknown field; did you mean \"advertise\"?",
        ),
    ];
    for (what, edit, headscale, message) in cases {
        let mut xr = yaml(AWS_XR);
        let mut input = yaml(if headscale { HEADSCALE_INPUT } else { INPUT });
        edit(&mut xr, &mut input);
        let fatal = run_with(&xr, &input, &[]).expect_err(what);
        assert!(fatal.contains(message), "{what}: {fatal}");
    }
}
