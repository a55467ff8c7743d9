//! The tailnet part of a spoke, read top to bottom:
//!
//! 1. in the hub, the spoke's identity on the tailnet (an OAuth client for
//!    the tailscale-operator, or a pre-auth key for a plain router on
//!    Headscale) and its policy fragment (tag owners, route auto-approval,
//!    grants), both managed by this project's provider;
//! 2. once the spoke's ProviderConfigs exist (`target.rs`), in the spoke:
//!    the `connectivity` Namespace and either the tailscale-operator Release
//!    with a ProxyClass, a Connector subnet router and an optional
//!    API-server ProxyGroup (Tailscale), or a subnet-router Deployment
//!    (Headscale);
//! 3. the Usages that delete it in order: proxies before the operator (which
//!    removes their devices from the tailnet), the operator before its OAuth
//!    client and Namespace; the spoke's ProviderConfigs outlive all of them.
//!
//! No secret value is ever composed: the operator reads its OAuth client
//! through Helm `valueFrom.secretKeyRef`, the router its key through a
//! `secretKeyRef` of a Secret that provider-kubernetes patches in from the
//! hub (or External Secrets, in that mode).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::managed::{Api, Config, Domain, ManagedResource};
use super::object::{self, Manifest, ManifestMetadata, OBJECT, Object};
use super::workload::{
    Container, DeploymentSpec, EnvVar, LabelSelector, PodMetadata, PodSpec, PodTemplate, Spec,
    TopologySpread,
};
use super::{Composition, Stage, names, secrets, target, usage};
use crate::input::{Resources, SecretsMode, TailnetBackend};
use crate::spoke::{ApiServerProxy, TailnetDevice, TailnetStatus};

pub const TAILNET_KEY: Api = Api::new(
    Domain::HybridSpoke,
    "tailnet",
    "TailnetKey",
    "v1alpha1",
    "v1alpha1",
);
pub const ACL_FRAGMENT: Api = Api::new(
    Domain::HybridSpoke,
    "tailnet",
    "AclFragment",
    "v1alpha1",
    "v1alpha1",
);
pub const RELEASE: Api = Api::new(Domain::Crossplane, "helm", "Release", "v1beta1", "v1beta1");

/// The operator's OAuth scopes (tailscale.md §4.3): its own device, the
/// proxies' auth keys, and VIP services.
const OPERATOR_SCOPES: [&str; 3] = ["devices:core", "auth_keys", "services"];
/// Connection Secret keys our provider writes (provider/src/tailnetkey.rs).
const KEY_CLIENT_ID: &str = "client_id";
const KEY_CLIENT_SECRET: &str = "client_secret";
const KEY_AUTHKEY: &str = "authkey";
/// The chart's OAuth Secret (`<fullname>-oauth`) the operator reads when the
/// chart is given no credentials (ExternalSecrets mode).
const OPERATOR_OAUTH_SECRET: &str = "operator-oauth";
/// Names in the spoke: one spoke per cluster, so fixed names are unique.
const PROXY_CLASS: &str = "hybrid-spoke";
const CONNECTOR: &str = "spoke-router";
const API_SERVER_PROXY: &str = "spoke-api-server";
const ROUTER: &str = "tailnet-router";
const ROUTER_SECRET: &str = "tailnet-router-auth";
/// The Kubernetes API-server capability of a grant (tailscale.md §4.4).
const KUBERNETES_CAPABILITY: &str = "tailscale.com/cap/kubernetes";

pub fn compose(c: &mut Composition<'_>) {
    let backend = c.spoke.input.tailnet.backend;
    identity(c, backend);
    policy(c);
    if !target::ready(c) {
        c.wait(Stage::Tailnet, "the spoke's ProviderConfigs");
        return;
    }
    namespace(c);
    match backend {
        TailnetBackend::Tailscale => {
            operator(c);
            proxies(c);
        }
        TailnetBackend::Headscale => router(c),
    }
    report(c, backend);
}

// --- 1. In the hub ---------------------------------------------------------

/// The spoke's own credential: an OAuth client tagged with the spoke's
/// operator tag, or a reusable ephemeral pre-auth key for its routers.
fn identity(c: &mut Composition<'_>, backend: TailnetBackend) {
    let spoke = c.spoke;
    let plan = &spoke.tailnet;
    let (name, params, rotation) = match backend {
        TailnetBackend::Tailscale => (
            names::TAILNET_OAUTH_CLIENT,
            KeyParameters {
                key_type: "client",
                description: description("operator", &spoke.cluster_name()),
                tags: vec![plan.operator_tag.clone()],
                scopes: OPERATOR_SCOPES.map(String::from).to_vec(),
                reusable: false,
                ephemeral: false,
                preauthorized: false,
                expiry_seconds: None,
            },
            None,
        ),
        // Two replicas with in-memory state join with one key, again after
        // every restart: reusable; ephemeral, so a gone pod's node is
        // removed; renewed a day before it expires.
        TailnetBackend::Headscale => (
            names::TAILNET_ROUTER_KEY,
            KeyParameters {
                key_type: "auth",
                description: description("router", &spoke.cluster_name()),
                tags: vec![plan.proxy_tag.clone()],
                scopes: Vec::new(),
                reusable: true,
                ephemeral: true,
                preauthorized: true,
                expiry_seconds: Some(spoke.input.tailnet.router.key_expiry_seconds),
            },
            Some(Rotation {
                renew_before: "24h",
            }),
        ),
    };
    let key = ManagedResource::new(spoke, TAILNET_KEY, name, params)
        .provider_config(spoke, Config::Tailnet)
        .finops(&plan.labels)
        .connection_secret(spoke, secrets::connection_secret_name(spoke, name));
    // `spec.rotation` is the TailnetKey's own, beside the managed envelope.
    let mut key = serde_json::to_value(&key).unwrap_or_default();
    if let (Some(rotation), Some(spec)) = (
        rotation,
        key.get_mut("spec").and_then(|s| s.as_object_mut()),
    ) {
        spec.insert(
            "rotation".to_string(),
            json!({"renewBefore": rotation.renew_before}),
        );
    }
    c.add(Stage::Tailnet, name, &key);
    if spoke.input.secrets.mode == SecretsMode::ExternalSecrets {
        let keys: &[&str] = match backend {
            TailnetBackend::Tailscale => &[KEY_CLIENT_ID, KEY_CLIENT_SECRET],
            TailnetBackend::Headscale => &[KEY_AUTHKEY],
        };
        secrets::push(
            c,
            Stage::Tailnet,
            names::TAILNET_OAUTH_PUSH,
            name,
            keys,
            &plan.labels,
        );
    }
}

/// The key's description: at most 50 letters, digits, spaces and dashes.
fn description(role: &str, cluster: &str) -> String {
    let text = format!("{role} of {cluster}");
    text.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == ' ' {
                ch
            } else {
                '-'
            }
        })
        .take(50)
        .collect()
}

/// The spoke's entries in the one tailnet policy: who owns its tags, the
/// auto-approval of exactly its routes for exactly its proxy tag, and the
/// grants the platform gives on them.
fn policy(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let plan = &spoke.tailnet;
    let settings = &spoke.input.tailnet;
    let tag_owners = BTreeMap::from([
        (plan.operator_tag.clone(), settings.admins.clone()),
        (plan.proxy_tag.clone(), vec![plan.operator_tag.clone()]),
    ]);
    let routes = plan
        .routes
        .iter()
        .map(|route| (route.clone(), vec![plan.proxy_tag.clone()]))
        .collect();
    let mut grants: Vec<Grant> = settings
        .route_grants
        .iter()
        .map(|grant| Grant {
            src: grant.src.clone(),
            dst: plan.routes.clone(),
            ip: grant.ip.clone(),
            app: None,
        })
        .collect();
    if let (ApiServerProxy::Auth, Some(access)) =
        (spoke.spec.tailnet.api_server, &settings.api_server_access)
    {
        grants.push(Grant {
            src: access.src.clone(),
            dst: vec![plan.proxy_tag.clone()],
            ip: Vec::new(),
            app: Some(BTreeMap::from([(
                KUBERNETES_CAPABILITY,
                vec![json!({"impersonate": {"groups": access.groups}})],
            )])),
        });
    }
    let fragment = PolicyFragment {
        tag_owners,
        auto_approvers: AutoApprovers { routes },
        grants,
    };
    c.add(
        Stage::Tailnet,
        names::TAILNET_POLICY,
        &ManagedResource::new(spoke, ACL_FRAGMENT, names::TAILNET_POLICY, fragment)
            .provider_config(spoke, Config::Tailnet)
            .finops(&plan.labels),
    );
}

// --- 2. In the spoke -------------------------------------------------------

fn namespace(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    object::namespace(
        c,
        Stage::Tailnet,
        names::TAILNET_NAMESPACE,
        &spoke.input.tailnet.namespace,
        &spoke.tailnet.labels,
    );
}

/// The tailscale-operator, authenticated as the spoke's OAuth client.
fn operator(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let plan = &spoke.tailnet;
    let settings = &spoke.input.tailnet;
    let api_server = spoke.spec.tailnet.api_server;
    let values = OperatorValues {
        install_crds: true,
        login_server: settings.login_server.clone(),
        operator_config: OperatorConfig {
            // The operator's tags must equal its OAuth client's
            // (tailscale/tailscale#15732).
            default_tags: vec![plan.operator_tag.clone()],
            hostname: plan.operator_hostname(),
            resources: &settings.operator.resources,
            pod_labels: &plan.labels,
        },
        proxy_config: ProxyConfig {
            default_tags: plan.proxy_tag.clone(),
        },
        api_server_proxy_config: ApiServerProxyConfig {
            mode: "false",
            allow_impersonation: if api_server == ApiServerProxy::Auth {
                "true"
            } else {
                "false"
            },
        },
    };
    let set = match spoke.input.secrets.mode {
        SecretsMode::ConnectionSecrets => {
            let secret = secrets::connection_secret_name(spoke, names::TAILNET_OAUTH_CLIENT);
            let legacy_namespace = spoke
                .namespace
                .is_none()
                .then(|| spoke.secret_namespace().to_string());
            [
                ("oauth.clientId", KEY_CLIENT_ID),
                ("oauth.clientSecret", KEY_CLIENT_SECRET),
            ]
            .map(|(value, key)| SetValue {
                name: value,
                value_from: ValueFrom {
                    secret_key_ref: SecretKeyRef {
                        name: secret.clone(),
                        namespace: legacy_namespace.clone(),
                        key,
                    },
                },
            })
            .to_vec()
        }
        // The chart then reads the operator-oauth Secret pulled in below.
        SecretsMode::ExternalSecrets => {
            let pull = secrets::SpokeSecret {
                name: names::TAILNET_OAUTH_PULL,
                from: names::TAILNET_OAUTH_CLIENT,
                keys: &[KEY_CLIENT_ID, KEY_CLIENT_SECRET],
                target: OPERATOR_OAUTH_SECRET,
                namespace: &settings.namespace,
                labels: &plan.labels,
            };
            secrets::pull(c, Stage::Tailnet, &pull);
            Vec::new()
        }
    };
    let release = ManagedResource::new(
        spoke,
        RELEASE,
        names::TAILSCALE_OPERATOR,
        ReleaseParameters {
            chart: &settings.operator.chart,
            namespace: &settings.namespace,
            // The Namespace Object owns the namespace and its labels.
            skip_create_namespace: true,
            // Ready = deployed; the proxies' own readiness is the Objects'.
            wait: false,
            values,
            set,
        },
    )
    .provider_config(spoke, Config::Spoke)
    .finops(&plan.labels);
    c.add(Stage::Tailnet, names::TAILSCALE_OPERATOR, &release);
    // Uninstall the operator before its namespace goes, and revoke its
    // OAuth client only after it cleaned up its devices.
    usage::add_as(
        c,
        Stage::Tailnet,
        &format!("usage-{}-namespace", names::TAILSCALE_OPERATOR),
        (&RELEASE, names::TAILSCALE_OPERATOR),
        (&OBJECT, names::TAILNET_NAMESPACE),
    );
    usage::add_as(
        c,
        Stage::Tailnet,
        &format!("usage-{}-oauth-client", names::TAILSCALE_OPERATOR),
        (&RELEASE, names::TAILSCALE_OPERATOR),
        (&TAILNET_KEY, names::TAILNET_OAUTH_CLIENT),
    );
}

/// The ProxyClass, the Connector and the optional API-server proxy: the
/// operator's kinds, composed once the operator (and its CRDs) is deployed.
fn proxies(c: &mut Composition<'_>) {
    if !c.is_ready(names::TAILSCALE_OPERATOR) {
        c.wait(Stage::Tailnet, "the tailscale-operator before its proxies");
        return;
    }
    let spoke = c.spoke;
    let plan = &spoke.tailnet;
    let proxy = &spoke.input.tailnet.proxy;
    let labels = &plan.labels;
    let proxy_class = ProxyClassSpec {
        stateful_set: StatefulSet {
            labels,
            pod: Pod {
                labels,
                tailscale_container: TailscaleContainer {
                    resources: &proxy.resources,
                },
            },
        },
    };
    c.add(
        Stage::Tailnet,
        names::TAILNET_PROXY_CLASS,
        &Object::new(
            spoke,
            names::TAILNET_PROXY_CLASS,
            labels,
            operator_kind("ProxyClass", PROXY_CLASS, labels, proxy_class),
        ),
    );
    let connector = ConnectorSpec {
        hostname_prefix: plan.hostname.clone(),
        replicas: proxy.replicas,
        tags: vec![plan.proxy_tag.clone()],
        proxy_class: PROXY_CLASS,
        subnet_router: SubnetRouter {
            advertise_routes: plan.routes.clone(),
        },
    };
    c.add(
        Stage::Tailnet,
        names::TAILNET_CONNECTOR,
        &Object::new(
            spoke,
            names::TAILNET_CONNECTOR,
            labels,
            operator_kind("Connector", CONNECTOR, labels, connector),
        ),
    );
    // The operator deletes a proxy's devices when the proxy goes: proxies
    // first, operator after.
    usage::add(
        c,
        Stage::Tailnet,
        (&OBJECT, names::TAILNET_CONNECTOR),
        (&RELEASE, names::TAILSCALE_OPERATOR),
    );
    let mode = match spoke.spec.tailnet.api_server {
        ApiServerProxy::None => return,
        ApiServerProxy::Auth => "auth",
        ApiServerProxy::Noauth => "noauth",
    };
    let proxy_group = ProxyGroupSpec {
        r#type: "kube-apiserver",
        replicas: proxy.replicas,
        tags: vec![plan.proxy_tag.clone()],
        proxy_class: PROXY_CLASS,
        kube_api_server: KubeApiServer {
            mode,
            hostname: plan.api_server_hostname(),
        },
    };
    c.add(
        Stage::Tailnet,
        names::TAILNET_API_SERVER_PROXY,
        &Object::new(
            spoke,
            names::TAILNET_API_SERVER_PROXY,
            labels,
            operator_kind("ProxyGroup", API_SERVER_PROXY, labels, proxy_group),
        ),
    );
    usage::add(
        c,
        Stage::Tailnet,
        (&OBJECT, names::TAILNET_API_SERVER_PROXY),
        (&RELEASE, names::TAILSCALE_OPERATOR),
    );
}

/// A cluster-scoped object of the tailscale-operator's API.
fn operator_kind<'a, S: Serialize>(
    kind: &'static str,
    name: &str,
    labels: &'a BTreeMap<String, String>,
    spec: S,
) -> Manifest<'a, Spec<S>> {
    Manifest {
        api_version: "tailscale.com/v1alpha1",
        kind,
        metadata: ManifestMetadata {
            name: name.to_string(),
            namespace: None,
            labels,
        },
        body: Spec { spec },
    }
}

/// Headscale: a plain subnet router, joined with the spoke's pre-auth key.
fn router(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let plan = &spoke.tailnet;
    let settings = &spoke.input.tailnet;
    let labels = &plan.labels;
    let secret = secrets::SpokeSecret {
        name: names::TAILNET_ROUTER_SECRET,
        from: names::TAILNET_ROUTER_KEY,
        keys: &[KEY_AUTHKEY],
        target: ROUTER_SECRET,
        namespace: &settings.namespace,
        labels,
    };
    match spoke.input.secrets.mode {
        SecretsMode::ConnectionSecrets => secrets::copy(c, Stage::Tailnet, &secret),
        SecretsMode::ExternalSecrets => secrets::pull(
            c,
            Stage::Tailnet,
            &secrets::SpokeSecret {
                name: names::TAILNET_OAUTH_PULL,
                ..secret
            },
        ),
    }
    let mut args = vec![format!("--advertise-tags={}", plan.proxy_tag)];
    if let Some(server) = &settings.login_server {
        args.push(format!("--login-server={server}"));
    }
    let container = Container {
        name: "tailscale",
        image: &settings.router.image,
        args: Vec::new(),
        env: vec![
            EnvVar::from_secret("TS_AUTHKEY", ROUTER_SECRET, KEY_AUTHKEY),
            EnvVar::value("TS_ROUTES", plan.routes.join(",")),
            EnvVar::value("TS_HOSTNAME", plan.hostname.clone()),
            EnvVar::value("TS_EXTRA_ARGS", args.join(" ")),
            // No state Secret (and no RBAC for one): state in memory, which
            // is why the key is reusable and the nodes ephemeral.
            EnvVar::value("TS_KUBE_SECRET", ""),
            // Userspace networking routes without NET_ADMIN.
            EnvVar::value("TS_USERSPACE", "true"),
            EnvVar::value("TS_ACCEPT_DNS", "false"),
        ],
        ports: Vec::new(),
        liveness_probe: None,
        readiness_probe: None,
        resources: &settings.proxy.resources,
    };
    let deployment = DeploymentSpec {
        replicas: settings.proxy.replicas,
        selector: LabelSelector::app(ROUTER),
        template: PodTemplate {
            metadata: PodMetadata::new(labels, ROUTER),
            spec: PodSpec {
                containers: vec![container],
                topology_spread_constraints: vec![TopologySpread::zones(ROUTER)],
                ..PodSpec::default()
            },
        },
    };
    let object = Object::new(
        spoke,
        names::TAILNET_ROUTER,
        labels,
        Manifest {
            api_version: "apps/v1",
            kind: "Deployment",
            metadata: ManifestMetadata {
                name: ROUTER.to_string(),
                namespace: Some(settings.namespace.clone()),
                labels,
            },
            body: Spec { spec: deployment },
        },
    );
    c.add(Stage::Tailnet, names::TAILNET_ROUTER, &object);
    usage::add(
        c,
        Stage::Tailnet,
        (&OBJECT, names::TAILNET_ROUTER),
        (&OBJECT, names::TAILNET_NAMESPACE),
    );
}

// --- Status ----------------------------------------------------------------

/// `status.tailnet`, from what the operator and the routers report.
fn report(c: &mut Composition<'_>, backend: TailnetBackend) {
    let plan = &c.spoke.tailnet;
    let mut status = TailnetStatus {
        router_hostname: plan.hostname.clone(),
        advertised_routes: plan.routes.clone(),
        ..TailnetStatus::default()
    };
    match backend {
        TailnetBackend::Tailscale => {
            status.operator_ready = c.is_ready(names::TAILSCALE_OPERATOR);
            if let Some(connector) = c.observed(names::TAILNET_CONNECTOR) {
                status.devices = devices(&connector);
                status.approved_routes = connector
                    .str("/status/atProvider/manifest/status/subnetRoutes")
                    .map(|routes| {
                        routes
                            .split(',')
                            .map(|r| r.trim().to_string())
                            .filter(|r| !r.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
            }
            status.api_server_url = c
                .observed_str(
                    names::TAILNET_API_SERVER_PROXY,
                    "/status/atProvider/manifest/status/url",
                )
                .map(String::from);
        }
        // A plain router reports nothing to Kubernetes; its routes are
        // auto-approved by the policy fragment.
        TailnetBackend::Headscale => {}
    }
    c.status.tailnet = Some(status);
}

fn devices(connector: &super::ObservedResource<'_>) -> Vec<TailnetDevice> {
    let devices = connector
        .at("/status/atProvider/manifest/status/devices")
        .and_then(|list| list.items())
        .unwrap_or_default();
    devices
        .iter()
        .filter_map(|device| {
            let hostname = device.get("hostname")?.as_str()?.to_string();
            let tailnet_ips = device
                .get("tailnetIPs")
                .map(|ips| ips.strings())
                .unwrap_or_default();
            Some(TailnetDevice {
                hostname,
                tailnet_ips,
            })
        })
        .collect()
}

// --- Shapes: our provider's kinds -------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyParameters {
    key_type: &'static str,
    description: String,
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    reusable: bool,
    #[serde(skip_serializing_if = "is_false")]
    ephemeral: bool,
    #[serde(skip_serializing_if = "is_false")]
    preauthorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_seconds: Option<u64>,
}

fn is_false(value: &bool) -> bool {
    !value
}

struct Rotation {
    renew_before: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyFragment {
    tag_owners: BTreeMap<String, Vec<String>>,
    auto_approvers: AutoApprovers,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grants: Vec<Grant>,
}

#[derive(Serialize)]
struct AutoApprovers {
    routes: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
struct Grant {
    src: Vec<String>,
    dst: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ip: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<BTreeMap<&'static str, Vec<serde_json::Value>>>,
}

// --- Shapes: provider-helm and the operator chart ---------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseParameters<'a> {
    chart: &'a crate::input::Chart,
    namespace: &'a str,
    skip_create_namespace: bool,
    wait: bool,
    values: OperatorValues<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    set: Vec<SetValue>,
}

/// The chart's values we set (tailscale.md §4.2).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorValues<'a> {
    #[serde(rename = "installCRDs")]
    install_crds: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    login_server: Option<String>,
    operator_config: OperatorConfig<'a>,
    proxy_config: ProxyConfig,
    api_server_proxy_config: ApiServerProxyConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorConfig<'a> {
    default_tags: Vec<String>,
    hostname: String,
    resources: &'a Resources,
    pod_labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProxyConfig {
    /// A comma-separated string in the chart.
    default_tags: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiServerProxyConfig {
    mode: &'static str,
    allow_impersonation: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SetValue {
    name: &'static str,
    value_from: ValueFrom,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ValueFrom {
    secret_key_ref: SecretKeyRef,
}

/// Namespaced Releases read Secrets of their own namespace; legacy ones
/// name it.
#[derive(Clone, Serialize)]
struct SecretKeyRef {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    key: &'static str,
}

// --- Shapes: the tailscale-operator's kinds -------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProxyClassSpec<'a> {
    stateful_set: StatefulSet<'a>,
}

#[derive(Serialize)]
struct StatefulSet<'a> {
    labels: &'a BTreeMap<String, String>,
    pod: Pod<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pod<'a> {
    labels: &'a BTreeMap<String, String>,
    tailscale_container: TailscaleContainer<'a>,
}

#[derive(Serialize)]
struct TailscaleContainer<'a> {
    resources: &'a Resources,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectorSpec {
    hostname_prefix: String,
    replicas: u32,
    tags: Vec<String>,
    proxy_class: &'static str,
    subnet_router: SubnetRouter,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubnetRouter {
    advertise_routes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProxyGroupSpec {
    r#type: &'static str,
    replicas: u32,
    tags: Vec<String>,
    proxy_class: &'static str,
    #[serde(rename = "kubeAPIServer")]
    kube_api_server: KubeApiServer,
}

#[derive(Serialize)]
struct KubeApiServer {
    mode: &'static str,
    hostname: String,
}
