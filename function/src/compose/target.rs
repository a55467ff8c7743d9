//! The spoke's cluster as a target: a provider-kubernetes and a
//! provider-helm ProviderConfig whose credentials are the kubeconfig the
//! cloud half publishes. Composed only once that kubeconfig is observed, and
//! nothing that targets the spoke is composed before both configs exist.
//!
//! Deletion: a ProviderConfig in use keeps its finalizer until every Object
//! and Release using it is gone (crossplane-runtime's usage tracking); the
//! Usages below keep the kubeconfig's publisher and the cluster until then.

use serde::Serialize;

use super::managed::{Api, Domain, Labels};
use super::{Composition, KUBECONFIG_KEY, Stage, aws, azure, names, usage};
use crate::spoke::Cloud;

pub const KUBERNETES_CONFIG: Api = Api::new(
    Domain::Crossplane,
    "kubernetes",
    "ProviderConfig",
    "v1alpha1",
    "v1alpha1",
);
pub const HELM_CONFIG: Api = Api::new(
    Domain::Crossplane,
    "helm",
    "ProviderConfig",
    "v1beta1",
    "v1beta1",
);

pub fn compose(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let publisher = names::kubeconfig_publisher(spoke.spec.cloud);
    if !c
        .observed(publisher)
        .is_some_and(|o| o.has_connection_detail(KUBECONFIG_KEY))
    {
        c.wait(Stage::Access, "the spoke's kubeconfig");
        return;
    }
    for (name, api) in [
        (names::SPOKE_KUBERNETES_CONFIG, KUBERNETES_CONFIG),
        (names::SPOKE_HELM_CONFIG, HELM_CONFIG),
    ] {
        let config = ProviderConfig {
            api_version: api.api_version(spoke.namespace.is_some()),
            kind: api.kind,
            metadata: Metadata {
                name: spoke.spoke_config_name(),
                labels: Labels {
                    finops: &spoke.labels,
                    resource: name.to_string(),
                    role: None,
                },
            },
            spec: ConfigSpec {
                credentials: Credentials {
                    source: "Secret",
                    secret_ref: SecretRef {
                        name: spoke.kubeconfig_secret_name(),
                        namespace: spoke.secret_namespace().to_string(),
                        key: KUBECONFIG_KEY,
                    },
                },
            },
        };
        c.add(Stage::Access, name, &config);
        let uses: &[(&Api, &str)] = match spoke.spec.cloud {
            Cloud::Aws => &[
                (&aws::CLUSTER_AUTH, names::CLUSTER_AUTH),
                (&aws::CLUSTER, names::CLUSTER),
            ],
            Cloud::Azure => &[(&azure::KUBERNETES_CLUSTER, names::CLUSTER)],
        };
        for (of_api, of) in uses {
            usage::add_as(
                c,
                Stage::Access,
                &format!("usage-{name}-{of}"),
                (&api, name),
                (of_api, of),
            );
        }
    }
}

/// Whether both of the spoke's ProviderConfigs exist: only then may
/// anything that targets the spoke be composed.
pub fn ready(c: &Composition<'_>) -> bool {
    c.observed(names::SPOKE_KUBERNETES_CONFIG).is_some()
        && c.observed(names::SPOKE_HELM_CONFIG).is_some()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderConfig<'a> {
    api_version: String,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: ConfigSpec,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: String,
    labels: Labels<'a>,
}

#[derive(Serialize)]
struct ConfigSpec {
    credentials: Credentials,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    source: &'static str,
    secret_ref: SecretRef,
}

#[derive(Serialize)]
struct SecretRef {
    name: String,
    namespace: String,
    key: &'static str,
}
