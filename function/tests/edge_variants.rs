//! The edge and Argo CD choices the examples do not show, and every claim
//! or Input they must refuse, with the FATAL message a user reads.

use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::json_to_struct;
use serde_json::{Value, json};

const AWS_XR: &str = include_str!("../../examples/aws/xr.yaml");
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

fn fatal(xr: &Value, input: &Value) -> Option<String> {
    let req = RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    };
    run(&req)
        .results
        .into_iter()
        .find(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message)
}

#[test]
fn bad_edge_and_argocd_settings_are_refused_with_the_field_value_and_rule() {
    type Edit = Box<dyn Fn(&mut Value, &mut Value)>;
    let route = |r: Value| -> Edit {
        Box::new(move |xr: &mut Value, _: &mut Value| {
            xr["spec"]["edge"]["routes"] = json!([r.clone()])
        })
    };
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "outside the zone",
            route(json!({"hostname": "payments.example.org", "service": "http://web:80"})),
            "spec.edge.routes[0].hostname payments.example.org is not in the platform's zone example.com (input.edge.zone)",
        ),
        (
            "not a DNS name",
            route(json!({"subdomain": "pay_ments", "service": "http://web:80"})),
            "spec.edge.routes[0].subdomain pay_ments.example.com is not a DNS name: the label \"pay_ments\" must be 1-63 letters, digits and dashes",
        ),
        (
            "both hostname and subdomain",
            route(
                json!({"hostname": "a.example.com", "subdomain": "a", "service": "http://web:80"}),
            ),
            "spec.edge.routes[0] must set exactly one of hostname and subdomain",
        ),
        (
            "not a service cloudflared serves",
            route(json!({"subdomain": "a", "service": "web:80"})),
            "spec.edge.routes[0].service web:80 must be a URL cloudflared can serve",
        ),
        (
            "the same hostname twice",
            Box::new(|xr: &mut Value, _: &mut Value| {
                xr["spec"]["edge"]["routes"] = json!([
                    {"subdomain": "a", "service": "http://web:80"},
                    {"hostname": "A.example.com", "service": "http://api:80"},
                ])
            }),
            "spec.edge.routes[1].hostname a.example.com is routed by an earlier route: each hostname once",
        ),
        (
            "an edge on a platform without a zone",
            Box::new(|_: &mut Value, input: &mut Value| input["edge"]["zone"] = json!("")),
            "spec.edge needs a Cloudflare zone, and this platform has none (input.edge.zone)",
        ),
        (
            "EKS registration without the management role",
            Box::new(|_: &mut Value, input: &mut Value| {
                input["argocd"]["managementRoleArn"] = json!("")
            }),
            "input.argocd.managementRoleArn is required to register EKS spokes",
        ),
        (
            "a label value Kubernetes refuses",
            Box::new(|xr: &mut Value, _: &mut Value| {
                xr["spec"]["argocd"]["labels"]["team"] = json!("pay ments")
            }),
            "spec.argocd.labels[team] pay ments must be a valid Kubernetes label value",
        ),
    ];
    for (what, edit, message) in cases {
        let (mut xr, mut input) = (yaml(AWS_XR), yaml(INPUT));
        edit(&mut xr, &mut input);
        let fatal = fatal(&xr, &input).unwrap_or_else(|| panic!("{what}: no FATAL"));
        assert!(fatal.contains(message), "{what}: {fatal}");
    }
    assert_eq!(
        fatal(&yaml(AWS_XR), &yaml(INPUT)),
        None,
        "the example itself is valid"
    );
}

#[test]
fn a_platform_without_argo_cd_registers_nothing() {
    let mut input = yaml(INPUT);
    input.as_object_mut().expect("a mapping").remove("argocd");
    let req = RunFunctionRequest {
        observed: Some(State {
            composite: yaml(AWS_XR).as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    };
    let rsp = run(&req);
    let names: Vec<String> = rsp
        .desired
        .map(|d| d.resources.into_keys().collect())
        .unwrap_or_default();
    assert!(!names.is_empty());
    assert!(!names.iter().any(|n| n.starts_with("argocd-")), "{names:?}");
    assert!(!rsp.conditions.iter().any(|c| c.r#type == "RegisteredReady"));
}

/// A private-only EKS API server with a tailnet API-server proxy is
/// registered in Argo CD at the proxy's URL (the hub's Argo CD must be on
/// the tailnet); with a public endpoint, at the cluster's.
#[test]
fn a_private_api_server_is_registered_at_its_tailnet_proxy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let documents = |path: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(root.join(path)).expect("read the example");
        serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
            .filter(|v: &Value| !v.is_null())
            .collect()
    };
    let mut observed = documents("examples/aws/observed/all-ready/resources.yaml");
    observed.extend(documents(
        "examples/aws/observed/all-ready/connection-secrets.yaml",
    ));
    let server = |public: bool| {
        let mut xr = yaml(AWS_XR);
        xr["spec"]["network"]["apiEndpoint"] = json!({"public": public, "private": true});
        let rendered =
            function_hybrid_spoke::render::render(&xr, &observed, &yaml(INPUT)).expect("renders");
        let secret = rendered
            .iter()
            .find(|d| {
                d.pointer("/metadata/annotations/crossplane.io~1composition-resource-name")
                    == Some(&json!("argocd-cluster"))
            })
            .expect("the cluster Secret is composed");
        (
            secret["spec"]["forProvider"]["manifest"]["stringData"]["server"].clone(),
            rendered[0]["status"]["tailnet"]["apiServerUrl"].clone(),
            rendered[0]["status"]["cluster"]["endpoint"].clone(),
        )
    };
    let (private, proxy_url, _) = server(false);
    assert!(
        proxy_url.as_str().is_some_and(|u| u.ends_with(".ts.net")),
        "{proxy_url}"
    );
    assert_eq!(private, proxy_url);
    let (public, _, endpoint) = server(true);
    assert_eq!(public, endpoint);
}
