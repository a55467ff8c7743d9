//! The edge part and the Argo CD registration, as a platform engineer
//! checks them in the renders of every example at every stage: the tunnel's
//! ingress and cloudflared in the spoke, the Argo CD cluster Secret decoded
//! exactly as Argo CD reads it and selected as an ApplicationSet cluster
//! generator would, and no tunnel token anywhere.

#[path = "support/examples.rs"]
mod examples;

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

/// The made-up token `examples/tools/observe.py` puts in the Tunnel's
/// connection Secret.
const TUNNEL_TOKEN: &str =
    "eyJhIjoiNGQ2ZjBmYzIiLCJ0IjoiOGE1YzFlMmQiLCJzIjoiWW1Gc2JHOXZiaTF6WldOeVpYUT0ifQ";

use examples::renders;

fn condition<'a>(xr: &'a Value, kind: &str) -> Option<&'a Value> {
    xr.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Argo CD's `ClusterConfig` (pkg/apis/application/v1alpha1/types.go), as
/// Argo CD unmarshals the Secret's `config`: every field it knows, nothing
/// else (an unknown field here means a field Argo CD would ignore).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // read by Debug and the assertions through serde
struct ClusterConfig {
    username: Option<String>,
    password: Option<String>,
    bearer_token: Option<String>,
    tls_client_config: TlsClientConfig,
    aws_auth_config: Option<AwsAuthConfig>,
    exec_provider_config: Option<ExecProviderConfig>,
    proxy_url: Option<String>,
    disable_compression: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // every field Argo CD knows, read or not
struct TlsClientConfig {
    insecure: bool,
    server_name: Option<String>,
    /// Go `[]byte`: base64 of the PEM.
    ca_data: Option<String>,
    cert_data: Option<String>,
    key_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // every field Argo CD knows, read or not
struct AwsAuthConfig {
    cluster_name: String,
    #[serde(rename = "roleARN")]
    role_arn: String,
    profile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // every field Argo CD knows, read or not
struct ExecProviderConfig {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    api_version: String,
    install_hint: Option<String>,
}

#[test]
fn the_argo_cd_cluster_secret_is_what_argo_cd_reads() {
    let mut checked = 0;
    for r in renders() {
        let Some(object) = r.composed.get("argocd-cluster") else {
            assert!(
                r.case.name.ends_with("-initial"),
                "{}: no Argo CD cluster Secret once the cluster is observed",
                r.case.name
            );
            let waiting = condition(&r.xr, "RegisteredReady")
                .and_then(|c| c["message"].as_str())
                .unwrap_or("");
            assert!(
                waiting.contains("the cluster's endpoint and CA"),
                "{}: {waiting}",
                r.case.name
            );
            continue;
        };
        checked += 1;
        let secret = &object["spec"]["forProvider"]["manifest"];
        assert_eq!(secret["kind"], "Secret");
        assert_eq!(secret["metadata"]["namespace"], "argocd");
        // Through the hub's own provider-kubernetes config, not the spoke's.
        assert_eq!(object["spec"]["providerConfigRef"]["name"], "default");
        let labels = &secret["metadata"]["labels"];
        assert_eq!(
            labels["argocd.argoproj.io/secret-type"], "cluster",
            "{}",
            r.case.name
        );
        for (label, field) in [
            ("region", "region"),
            ("cloud", "cloud"),
            ("environment", "environment"),
        ] {
            assert_eq!(
                labels[label], r.spec[field],
                "{}: label {label}",
                r.case.name
            );
        }
        assert_eq!(labels["tenant"], r.spec["finops"]["tenant"]);
        for (key, value) in r.spec["argocd"]["labels"].as_object().into_iter().flatten() {
            assert_eq!(&labels[key], value, "{}: claim label {key}", r.case.name);
        }
        let data = &secret["stringData"];
        let status = &r.xr["status"];
        assert_eq!(
            data["name"], status["argocd"]["clusterName"],
            "{}",
            r.case.name
        );
        assert_eq!(data["name"], status["cluster"]["name"], "{}", r.case.name);
        assert_eq!(
            data["server"], status["cluster"]["endpoint"],
            "{}",
            r.case.name
        );
        let config: ClusterConfig =
            serde_json::from_str(data["config"].as_str().expect("config is a string"))
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: config is not Argo CD's ClusterConfig: {e}",
                        r.case.name
                    )
                });
        let ca = config.tls_client_config.ca_data.as_deref().expect("caData");
        let pem = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .expect("caData is base64");
        assert!(
            String::from_utf8_lossy(&pem).starts_with("-----BEGIN CERTIFICATE-----"),
            "{}",
            r.case.name
        );
        assert!(!config.tls_client_config.insecure);
        assert!(
            config.bearer_token.is_none()
                && config.password.is_none()
                && config.tls_client_config.key_data.is_none()
        );
        match r.spec["cloud"].as_str() {
            Some("aws") => {
                let aws = config.aws_auth_config.expect("awsAuthConfig on EKS");
                assert_eq!(
                    aws.cluster_name,
                    status["cluster"]["name"].as_str().unwrap_or("")
                );
                assert!(
                    aws.role_arn.starts_with("arn:aws:iam::") && aws.role_arn.contains(":role/"),
                    "{}",
                    aws.role_arn
                );
                assert!(config.exec_provider_config.is_none());
            }
            _ => {
                let exec = config
                    .exec_provider_config
                    .expect("execProviderConfig on AKS");
                assert_eq!(exec.command, "argocd-k8s-auth");
                assert_eq!(exec.args, ["azure"]);
                assert_eq!(exec.api_version, "client.authentication.k8s.io/v1beta1");
                assert_eq!(exec.env["AAD_LOGIN_METHOD"], "workloadidentity");
                assert!(config.aws_auth_config.is_none());
            }
        }
    }
    assert!(
        checked >= 8,
        "only {checked} renders have the cluster Secret"
    );
}

/// Kubernetes label-selector semantics (`matchLabels` and
/// `matchExpressions` with In, NotIn, Exists, DoesNotExist), as the
/// ApplicationSet cluster generator applies them to cluster Secrets.
fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let match_labels = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("In") => label(key).is_some_and(|v| values.contains(&v)),
                Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
                Some("Exists") => label(key).is_some(),
                Some("DoesNotExist") => label(key).is_none(),
                _ => false,
            }
        });
    match_labels && expressions
}

#[test]
fn an_applicationset_cluster_generator_selects_spokes_by_their_labels() {
    let selector = json!({"matchLabels": {"argocd.argoproj.io/secret-type": "cluster", "region": "eu-west-1"}});
    let production = json!({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["prod"]}, {"key": "team", "operator": "Exists"}]});
    let mut selected = Vec::new();
    let mut not_selected = Vec::new();
    for r in renders() {
        let Some(object) = r.composed.get("argocd-cluster") else {
            continue;
        };
        let labels = &object["spec"]["forProvider"]["manifest"]["metadata"]["labels"];
        if selects(&selector, labels) {
            selected.push(r.case.name.clone());
        } else {
            not_selected.push(r.case.name.clone());
        }
        assert!(
            selects(&production, labels)
                == (r.spec["environment"] == "prod"
                    && r.spec.pointer("/argocd/labels/team").is_some()),
            "{}",
            r.case.name
        );
    }
    assert!(
        !selected.is_empty() && selected.iter().all(|n| n.starts_with("aws")),
        "selected {selected:?}"
    );
    assert!(
        not_selected.iter().any(|n| n.starts_with("azure")),
        "not selected {not_selected:?}"
    );
}

#[test]
fn the_tunnel_routes_exactly_the_claims_hostnames_and_cloudflared_runs_it() {
    let mut with_edge = 0;
    for r in renders() {
        let Some(routes) = r.spec.pointer("/edge/routes").and_then(Value::as_array) else {
            assert!(
                !r.composed.keys().any(|n| n.starts_with("edge-")),
                "{}: an edge without spec.edge",
                r.case.name
            );
            continue;
        };
        with_edge += 1;
        let expected: Vec<String> = routes
            .iter()
            .map(|route| match route["hostname"].as_str() {
                Some(h) => h.to_string(),
                None => format!("{}.example.com", route["subdomain"].as_str().unwrap_or("")),
            })
            .collect();
        let tunnel = &r.composed["edge-tunnel"]["spec"]["forProvider"];
        let hostnames: Vec<&str> = tunnel["ingress"]
            .as_array()
            .expect("ingress")
            .iter()
            .filter_map(|i| i["hostname"].as_str())
            .collect();
        assert_eq!(hostnames, expected, "{}", r.case.name);
        assert_eq!(tunnel["catchAll"], "http_status:404");
        assert_eq!(
            r.xr["status"]["edge"]["hostnames"],
            json!(expected),
            "{}",
            r.case.name
        );
        if r.case.name.ends_with("-initial") || r.case.name.ends_with("-cluster-ready") {
            assert!(
                !r.composed.contains_key("edge-cloudflared"),
                "{}: cloudflared before the token",
                r.case.name
            );
            continue;
        }
        let deployment = &r.composed["edge-cloudflared"]["spec"]["forProvider"]["manifest"];
        assert_eq!(deployment["metadata"]["namespace"], "edge");
        let spec = &deployment["spec"];
        assert_eq!(spec["replicas"], 2);
        let pod = &spec["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "cloudflare/cloudflared:2026.1.2");
        assert_eq!(
            container["args"],
            json!([
                "tunnel",
                "--no-autoupdate",
                "--metrics",
                "0.0.0.0:2000",
                "run"
            ])
        );
        assert_eq!(
            container["env"],
            json!([{"name": "TUNNEL_TOKEN", "valueFrom": {"secretKeyRef": {"name": "cloudflared-token", "key": "token"}}}])
        );
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(
                container[probe]["httpGet"],
                json!({"path": "/ready", "port": 2000}),
                "{}",
                r.case.name
            );
        }
        assert_eq!(
            pod["topologySpreadConstraints"][0]["topologyKey"],
            "topology.kubernetes.io/zone"
        );
        assert_eq!(
            deployment["metadata"]["labels"]["appgear.io/tenant-id"],
            r.spec["finops"]["tenant"]
        );
        let budget = &r.composed["edge-cloudflared-budget"]["spec"]["forProvider"]["manifest"];
        assert_eq!(budget["spec"]["minAvailable"], 1);
        assert_eq!(budget["spec"]["selector"], spec["selector"]);
        // The token Secret is filled from the hub Secret, never composed.
        let token = &r.composed["edge-token"]["spec"];
        assert_eq!(token["forProvider"]["manifest"]["data"]["token"], "");
        assert_eq!(
            token["references"][0]["patchesFrom"]["name"],
            r.composed["edge-tunnel"]["spec"]["writeConnectionSecretToRef"]["name"]
        );
        // cloudflared is deleted before its tunnel.
        let usage = &r.composed["usage-edge-cloudflared-tunnel"]["spec"];
        assert_eq!(
            usage["by"]["resourceSelector"]["matchLabels"]["hybridspoke.io/resource"],
            "edge-cloudflared"
        );
        assert_eq!(
            usage["of"]["resourceSelector"]["matchLabels"]["hybridspoke.io/resource"],
            "edge-tunnel"
        );
        assert_eq!(
            condition(&r.xr, "EdgeReady").map(|c| c["status"].clone()),
            Some(json!("True")),
            "{}",
            r.case.name
        );
        assert!(
            r.xr["status"]["edge"]["tunnelId"].is_string(),
            "{}",
            r.case.name
        );
    }
    assert!(with_edge >= 6, "only {with_edge} renders have an edge");
}

#[test]
fn no_tunnel_token_appears_in_any_render() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(TUNNEL_TOKEN);
    let mut observed_with_token = 0;
    for case in examples::cases() {
        if let Some(dir) = &case.observed
            && std::fs::read_to_string(dir.join("connection-secrets.yaml"))
                .unwrap_or_default()
                .contains(&encoded)
        {
            observed_with_token += 1;
        }
    }
    assert!(
        observed_with_token >= 2,
        "the observed sets must hold the token for this test to mean anything"
    );
    for r in renders() {
        assert!(
            !r.text.contains(TUNNEL_TOKEN) && !r.text.contains(&encoded),
            "{}: the tunnel token is in the render",
            r.case.name
        );
        assert!(
            !r.text.contains("PRIVATE KEY"),
            "{}: private key material in the render",
            r.case.name
        );
    }
}

#[test]
fn the_cluster_secret_goes_before_the_cluster() {
    for r in renders()
        .into_iter()
        .filter(|r| r.composed.contains_key("argocd-cluster"))
    {
        let usage = &r.composed["usage-argocd-cluster"]["spec"];
        assert_eq!(
            usage["of"]["resourceSelector"]["matchLabels"]["hybridspoke.io/resource"], "cluster",
            "{}",
            r.case.name
        );
        assert_eq!(usage["replayDeletion"], true);
    }
}
