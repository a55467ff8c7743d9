//! Every object the function puts in a spoke (provider-kubernetes Objects'
//! manifests: Namespace, Secret, Deployment, PodDisruptionBudget, the
//! tailscale-operator's Connector, ProxyClass and ProxyGroup, External
//! Secrets' ExternalSecret) is accepted by a real kube-apiserver v1.35, with
//! the operator's and External Secrets' CRDs installed from
//! ../shared/vendor-crds: a server-side dry-run create of each, for every
//! example at every stage. Kubernetes' own kinds are thereby checked against
//! Kubernetes' own schemas and defaulting, not a copy of them.
//!
//! Needs `bash tests/tools/peers.sh && . target/peers/env.sh`.

#[path = "support/examples.rs"]
mod examples;

use std::collections::BTreeSet;

use hybrid_spoke_test_peers::k8s_openapi::api::core::v1::Namespace;
use hybrid_spoke_test_peers::kube;
use hybrid_spoke_test_peers::{self as peers, KubeApiServer};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

fn plural(kind: &str) -> String {
    match kind {
        "ProxyClass" => "proxyclasses".into(),
        "PodDisruptionBudget" => "poddisruptionbudgets".into(),
        other => format!("{}s", other.to_lowercase()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_embedded_object_is_accepted_by_a_real_api_server() {
    let server = KubeApiServer::start().await;
    let vendor = peers::shared_dir().join("vendor-crds");
    let crds = KubeApiServer::read_crds(&[
        vendor.join("tailscale.com_connectors.yaml"),
        vendor.join("tailscale.com_proxyclasses.yaml"),
        vendor.join("tailscale.com_proxygroups.yaml"),
        vendor.join("external-secrets.io_externalsecrets.yaml"),
    ]);
    server.install_crds(&crds).await;
    let client = server.client().await;

    let mut manifests = Vec::new();
    for case in examples::cases() {
        for doc in examples::documents(&examples::hybrid_spoke_render(&case)) {
            if let Some(manifest) = doc.pointer("/spec/forProvider/manifest") {
                manifests.push((case.name.clone(), manifest.clone()));
            }
        }
    }
    let namespaces: BTreeSet<String> = manifests
        .iter()
        .filter_map(|(_, m)| {
            m.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut kinds = BTreeSet::new();
    let mut refused = Vec::new();
    // The Namespaces first, while they do not exist; then the objects in them.
    manifests.sort_by_key(|(_, m)| m["kind"] != "Namespace");
    let mut created = false;
    for (case, manifest) in &manifests {
        if !created && manifest["kind"] != "Namespace" {
            for name in &namespaces {
                let ns: Namespace =
                    serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
                Api::<Namespace>::all(client.clone())
                    .create(&PostParams::default(), &ns)
                    .await
                    .expect("create a namespace");
            }
            created = true;
        }
        let (group, version) = match manifest["apiVersion"]
            .as_str()
            .unwrap_or("")
            .split_once('/')
        {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                manifest["apiVersion"].as_str().unwrap_or("").to_string(),
            ),
        };
        let kind = manifest["kind"].as_str().unwrap_or("").to_string();
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&group, &version, &kind),
            &plural(&kind),
        );
        let api: Api<DynamicObject> = match manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
        {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let object: DynamicObject =
            serde_json::from_value(manifest.clone()).expect("a Kubernetes object");
        match api.create(&dry_run, &object).await {
            Ok(_) => {
                kinds.insert(kind);
            }
            Err(e) => refused.push(format!(
                "{case}: {kind} {:?}: {e}",
                manifest["metadata"]["name"]
            )),
        }
    }
    assert!(
        refused.is_empty(),
        "the API server refused:\n{}",
        refused.join("\n")
    );
    for kind in [
        "Namespace",
        "Secret",
        "Deployment",
        "PodDisruptionBudget",
        "Connector",
        "ProxyClass",
        "ProxyGroup",
    ] {
        assert!(kinds.contains(kind), "no {kind} was checked: {kinds:?}");
    }
}
