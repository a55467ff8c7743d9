//! The spoke in the hub's Argo CD, read top to bottom:
//!
//! 1. access for Argo CD's identity: on EKS a per-spoke IAM role with no
//!    permissions that trusts Argo CD's management role, an access entry for
//!    it and the Input's access policy; on AKS the Input's Entra group is a
//!    cluster admin group (`azure.rs`);
//! 2. once every value the cluster Secret needs is observed (endpoint, CA,
//!    role ARN), the Argo CD cluster Secret in the hub (a provider-kubernetes
//!    Object through the hub's ProviderConfig), labelled for ApplicationSet
//!    cluster generators; never half filled;
//! 3. deletion: the Secret goes before the cluster (a Usage), so Argo CD
//!    stops targeting a cluster that is going away.
//!
//! The Secret holds no credential: Argo CD authenticates with its own
//! identity (`awsAuthConfig`, `argocd-k8s-auth azure`); the CA is public.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;

use super::aws::{self, Principal, TrustedPrincipal};
use super::managed::Config;
use super::object::{Manifest, ManifestMetadata, OBJECT, Object};
use super::{Composition, Stage, azure, names, usage};
use crate::input::ArgoCdSettings;
use crate::spoke::{ApiServerProxy, ArgoCdStatus, Cloud};

/// The label Argo CD finds cluster Secrets by.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// AKS: the connection detail with the cluster CA (PEM bytes).
const AKS_CA_KEY: &str = "kubeconfig.clustercacertificate";

pub fn compose(c: &mut Composition<'_>) {
    let Some(settings) = c.spoke.input.argocd.as_ref() else {
        return;
    };
    if c.spoke.spec.cloud == Cloud::Aws {
        aws::trusting_role(
            c,
            Stage::Registered,
            names::ARGOCD_ROLE,
            TrustedPrincipal::Aws(settings.management_role_arn.clone()),
            &c.spoke.tags,
        );
        aws::grant_cluster_access(
            c,
            Stage::Registered,
            (names::ARGOCD_ACCESS_ENTRY, names::ARGOCD_ACCESS_POLICY),
            Principal::Role(names::ARGOCD_ROLE),
            &settings.access_policy,
        );
    }
    let Some(cluster) = observed_cluster(c) else {
        c.wait(Stage::Registered, "the cluster's endpoint and CA");
        return;
    };
    cluster_secret(c, settings, cluster);
}

/// What the cluster Secret needs, all observed.
struct ObservedCluster {
    server: String,
    ca_data: String,
    auth: ClusterAuth,
}

enum ClusterAuth {
    Aws {
        cluster_name: String,
        role_arn: String,
    },
    Azure,
}

fn observed_cluster(c: &Composition<'_>) -> Option<ObservedCluster> {
    let spoke = c.spoke;
    let endpoint = c.status.cluster.as_ref()?.endpoint.clone()?;
    // A private-only API server is reached through the tailnet proxy; that
    // needs the hub's Argo CD on the tailnet.
    let api = &spoke.spec.network.api_endpoint;
    let server = match (api.public, spoke.spec.tailnet.api_server) {
        (false, ApiServerProxy::Auth | ApiServerProxy::Noauth) => {
            c.status.tailnet.as_ref()?.api_server_url.clone()?
        }
        _ => endpoint,
    };
    let (ca_data, auth) = match spoke.spec.cloud {
        Cloud::Aws => (
            // Already base64 PEM, as `tlsClientConfig.caData` wants it.
            c.observed_str(
                names::CLUSTER,
                "/status/atProvider/certificateAuthority/0/data",
            )?
            .to_string(),
            ClusterAuth::Aws {
                cluster_name: spoke.cluster_name(),
                role_arn: c
                    .observed_str(names::ARGOCD_ROLE, "/status/atProvider/arn")?
                    .to_string(),
            },
        ),
        Cloud::Azure => {
            let pem = c
                .observed(names::CLUSTER)?
                .connection_details
                .get(AKS_CA_KEY)
                .filter(|pem| !pem.is_empty())?;
            (
                base64::engine::general_purpose::STANDARD.encode(pem),
                ClusterAuth::Azure,
            )
        }
    };
    Some(ObservedCluster {
        server,
        ca_data,
        auth,
    })
}

fn cluster_secret(c: &mut Composition<'_>, settings: &ArgoCdSettings, cluster: ObservedCluster) {
    let spoke = c.spoke;
    let name = spoke.cluster_name();
    let config = ClusterConfig {
        aws_auth_config: match &cluster.auth {
            ClusterAuth::Aws {
                cluster_name,
                role_arn,
            } => Some(AwsAuthConfig {
                cluster_name: cluster_name.clone(),
                role_arn: role_arn.clone(),
            }),
            ClusterAuth::Azure => None,
        },
        exec_provider_config: match cluster.auth {
            ClusterAuth::Azure => Some(ExecProviderConfig {
                command: "argocd-k8s-auth",
                args: vec!["azure"],
                api_version: "client.authentication.k8s.io/v1beta1",
                env: BTreeMap::from([("AAD_LOGIN_METHOD", "workloadidentity")]),
            }),
            ClusterAuth::Aws { .. } => None,
        },
        tls_client_config: TlsClientConfig {
            insecure: false,
            ca_data: cluster.ca_data,
        },
    };
    let labels = labels(c);
    let secret = Object::new(
        spoke,
        names::ARGOCD_CLUSTER,
        &spoke.labels,
        Manifest {
            api_version: "v1",
            kind: "Secret",
            metadata: ManifestMetadata {
                name: name.clone(),
                namespace: Some(settings.namespace.clone()),
                labels: &labels,
            },
            body: ClusterSecret {
                r#type: "Opaque",
                string_data: ClusterSecretData {
                    name: name.clone(),
                    server: cluster.server.clone(),
                    // Our own typed config always serializes.
                    config: serde_json::to_string(&config).unwrap_or_default(),
                },
            },
        },
    )
    .provider_config(spoke, Config::Hub);
    c.add(Stage::Registered, names::ARGOCD_CLUSTER, &secret);
    let cluster_api = match spoke.spec.cloud {
        Cloud::Aws => &aws::CLUSTER,
        Cloud::Azure => &azure::KUBERNETES_CLUSTER,
    };
    usage::add(
        c,
        Stage::Registered,
        (&OBJECT, names::ARGOCD_CLUSTER),
        (cluster_api, names::CLUSTER),
    );
    c.status.argocd = Some(ArgoCdStatus {
        cluster_name: name,
        server: Some(cluster.server),
    });
}

/// The labels ApplicationSet cluster generators select spokes by: the
/// secret type, where and what the spoke is, its FinOps labels (the same
/// keys as on everything it owns) and the claim's own.
fn labels(c: &Composition<'_>) -> BTreeMap<String, String> {
    let spoke = c.spoke;
    let spec = &spoke.spec;
    let mut labels = spoke.labels.clone();
    labels.extend(spec.argocd.labels.clone());
    for (key, value) in [
        (SECRET_TYPE_LABEL, "cluster"),
        ("region", spec.region.as_str()),
        ("cloud", spec.cloud.as_str()),
        ("environment", spec.environment.as_str()),
        ("tenant", spec.finops.tenant.as_str()),
        ("spoke", spoke.spoke_label.as_str()),
    ] {
        labels.insert(key.to_string(), value.to_string());
    }
    labels
}

// --- Shapes: Argo CD's declarative cluster Secret ---------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterSecret {
    r#type: &'static str,
    string_data: ClusterSecretData,
}

#[derive(Serialize)]
struct ClusterSecretData {
    name: String,
    server: String,
    config: String,
}

/// Argo CD's `ClusterConfig` (pkg/apis/application/v1alpha1), the fields
/// used here.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_auth_config: Option<AwsAuthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec_provider_config: Option<ExecProviderConfig>,
    tls_client_config: TlsClientConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AwsAuthConfig {
    cluster_name: String,
    #[serde(rename = "roleARN")]
    role_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecProviderConfig {
    command: &'static str,
    args: Vec<&'static str>,
    api_version: &'static str,
    env: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    insecure: bool,
    /// Base64 of the PEM, as Go's `[]byte` marshals.
    ca_data: String,
}
