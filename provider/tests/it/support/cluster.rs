//! A real kube-apiserver + etcd ready for the provider: every CRD of the
//! package installed and the namespaces a test uses created.

use hybrid_spoke_test_peers::KubeApiServer;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

/// Starts the API server, installs `provider_hybrid_spoke::crds::all()` and
/// creates `namespaces`; the server stops when the first value is dropped.
pub async fn provider_api_server(namespaces: &[&str]) -> (KubeApiServer, kube::Client) {
    let server = KubeApiServer::start().await;
    let crds: Vec<serde_json::Value> = provider_hybrid_spoke::crds::all()
        .iter()
        .map(|c| serde_json::to_value(c).expect("a CRD serializes"))
        .collect();
    server.install_crds(&crds).await;
    let client = server.client().await;
    for name in namespaces {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some((*name).into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("create the namespace");
    }
    (server, client)
}

/// The ClusterProviderConfig `default` for a real Headscale: its API key in
/// the Secret `ns/headscale` (key `token`), its first user as the owner of
/// untagged keys, `api` the Headscale API to speak. Returns it as created.
pub async fn headscale_provider_config(
    client: &kube::Client,
    hs: &hybrid_spoke_test_peers::Headscale,
    ns: &str,
    api: provider_hybrid_spoke::apis::tailnet::HeadscaleApi,
) -> provider_hybrid_spoke::apis::tailnet::pc_namespaced::ClusterProviderConfig {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    use provider_hybrid_spoke::apis::SecretKeySelector;
    use provider_hybrid_spoke::apis::tailnet::{
        Backend, ProviderConfigSpec, ProviderCredentials, pc_namespaced,
    };

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("headscale".into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        data: Some(
            [(
                "token".to_string(),
                ByteString(hs.api_key().as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("create the Headscale API key Secret");
    let spec = ProviderConfigSpec {
        backend: Backend::Headscale,
        base_url: Some(hs.url().into()),
        tailnet: "-".into(),
        headscale_api: api,
        headscale_user: Some(hs.user_id()),
        credentials: ProviderCredentials {
            api_key_secret_ref: Some(SecretKeySelector {
                name: "headscale".into(),
                namespace: Some(ns.into()),
                key: "token".into(),
            }),
            oauth: None,
        },
        acl_guardrails: None,
    };
    let cpc = pc_namespaced::ClusterProviderConfig::new(
        "default",
        pc_namespaced::ClusterProviderConfigSpec(spec),
    );
    Api::<pc_namespaced::ClusterProviderConfig>::all(client.clone())
        .create(&PostParams::default(), &cpc)
        .await
        .expect("create the ClusterProviderConfig")
}

/// The ClusterProviderConfig `default` for the Tailscale API at `base_url`
/// (the fake), its API key `api_key` in the Secret
/// `crossplane-system/tailscale` (key `token`). Returns it as created.
pub async fn tailscale_provider_config(
    client: &kube::Client,
    base_url: &str,
    api_key: &str,
) -> provider_hybrid_spoke::apis::tailnet::pc_namespaced::ClusterProviderConfig {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    use provider_hybrid_spoke::apis::SecretKeySelector;
    use provider_hybrid_spoke::apis::tailnet::{
        Backend, HeadscaleApi, ProviderConfigSpec, ProviderCredentials, pc_namespaced,
    };

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("tailscale".into()),
            namespace: Some("crossplane-system".into()),
            ..Default::default()
        },
        data: Some([("token".to_string(), ByteString(api_key.as_bytes().to_vec()))].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), "crossplane-system")
        .create(&PostParams::default(), &secret)
        .await
        .expect("create the Tailscale API key Secret");
    let spec = ProviderConfigSpec {
        backend: Backend::Tailscale,
        base_url: Some(base_url.into()),
        tailnet: "-".into(),
        headscale_api: HeadscaleApi::Auto,
        headscale_user: None,
        credentials: ProviderCredentials {
            api_key_secret_ref: Some(SecretKeySelector {
                name: "tailscale".into(),
                namespace: Some("crossplane-system".into()),
                key: "token".into(),
            }),
            oauth: None,
        },
        acl_guardrails: None,
    };
    Api::<pc_namespaced::ClusterProviderConfig>::all(client.clone())
        .create(
            &PostParams::default(),
            &pc_namespaced::ClusterProviderConfig::new(
                "default",
                pc_namespaced::ClusterProviderConfigSpec(spec),
            ),
        )
        .await
        .expect("create the ClusterProviderConfig")
}
