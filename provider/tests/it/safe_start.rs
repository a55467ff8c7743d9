//! safe-start (the package declares the capability): Crossplane creates a
//! kind's CRD only once a ManagedResourceActivationPolicy activates its
//! ManagedResourceDefinition. The provider starts with every kind of one
//! service inactive (no CRD), keeps the other kinds working, and starts the
//! inactive kind's controller once its CRD appears, without a restart. Real
//! kube-apiserver + etcd (`. target/peers/env.sh` first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::KubeApiServer;
use kube::CustomResourceExt;
use kube::api::{Api, PostParams};
use provider_hybrid_spoke::apis::cloudflare::{IngressRule, TunnelParameters, namespaced};
use provider_hybrid_spoke::apis::{ManagementAction, TypedProviderConfigReference};
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{Controllers, INACTIVE_KIND_RECHECK, Settings, Shutdown};
use provider_hybrid_spoke::metrics::Metrics;

const NS: &str = "team-a";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inactive_kind_starts_when_its_crd_appears() {
    let server = KubeApiServer::start().await;
    let tunnel_crd = serde_json::to_value(namespaced::Tunnel::crd()).expect("a CRD");
    let others: Vec<serde_json::Value> = provider_hybrid_spoke::crds::all()
        .iter()
        .map(|c| serde_json::to_value(c).expect("a CRD"))
        .filter(|c| c != &tunnel_crd)
        .collect();
    server.install_crds(&others).await;
    let client = server.client().await;
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).expect("ns");
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create the namespace");

    let settings = Settings {
        reconcile: Options {
            poll: Duration::from_secs(1),
            ..Options::default()
        },
        ..Settings::default()
    };
    let controllers = Controllers::new(client.clone(), settings, Arc::new(Metrics::new()));
    let (stop, shutdown) = Shutdown::new();
    let running = tokio::spawn(controllers.run(shutdown));
    tokio::time::sleep(INACTIVE_KIND_RECHECK + Duration::from_secs(1)).await;
    assert!(
        !running.is_finished(),
        "the provider stopped without the Tunnel CRD"
    );

    // The activation policy activates Tunnels: Crossplane creates the CRD.
    server.install_crds(&[tunnel_crd]).await;
    let api = Api::<namespaced::Tunnel>::namespaced(client.clone(), NS);
    let mut tunnel = namespaced::Tunnel::new(
        "web",
        namespaced::TunnelSpec {
            rotation: None,
            for_provider: TunnelParameters {
                zone: "example.com".into(),
                ingress: vec![IngressRule {
                    hostname: "web.example.com".into(),
                    path: None,
                    service: "http://web:80".into(),
                    origin_request: None,
                }],
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: None,
            provider_config_ref: TypedProviderConfigReference {
                kind: "ClusterProviderConfig".into(),
                name: "missing".into(),
            },
            management_policies: vec![ManagementAction::All],
        },
    );
    tunnel.metadata.namespace = Some(NS.into());
    api.create(&PostParams::default(), &tunnel)
        .await
        .expect("create a Tunnel");
    // Reconciled: Synced=False naming the missing ProviderConfig, within two
    // rechecks of the CRD appearing.
    let deadline = Instant::now() + INACTIVE_KIND_RECHECK * 2 + Duration::from_secs(10);
    loop {
        let t = api.get("web").await.expect("get");
        let synced = t
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced").cloned());
        if let Some(c) = synced {
            assert_eq!(c.status, "False", "{c:?}");
            assert!(
                c.message.as_deref().unwrap_or("").contains("missing"),
                "{c:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Tunnel controller did not start after its CRD appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
}
