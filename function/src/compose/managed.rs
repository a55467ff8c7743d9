//! The envelope every upjet managed resource shares, for both API flavours:
//! namespaced `*.m.upbound.io` MRs composed by a Crossplane v2 namespaced XR,
//! and cluster-scoped `*.upbound.io` MRs composed by a legacy XR.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::validate::Spoke;

/// Label that names the composition resource an object is, so that other
/// composed resources can select it (`*Selector.matchLabels`) together with
/// `matchControllerRef` instead of guessing generated names.
pub const RESOURCE_LABEL: &str = "hybridspoke.io/resource";
/// Label that groups objects selected as a set, e.g. all private subnets.
pub const ROLE_LABEL: &str = "hybridspoke.io/role";
pub const EXTERNAL_NAME: &str = "crossplane.io/external-name";

/// One upjet kind in both flavours.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    /// The provider service group without the scope part, e.g. `ec2.aws`.
    pub service: &'static str,
    pub kind: &'static str,
    pub namespaced_version: &'static str,
    /// Storage version of the cluster-scoped flavour (EKS Cluster and
    /// NodeGroup moved to v1beta2 there; the namespaced v1beta1 already has
    /// the v1beta2 shape).
    pub cluster_version: &'static str,
}

impl Api {
    pub const fn v1beta1(service: &'static str, kind: &'static str) -> Api {
        Api {
            service,
            kind,
            namespaced_version: "v1beta1",
            cluster_version: "v1beta1",
        }
    }

    pub fn api_version(&self, namespaced: bool) -> String {
        if namespaced {
            format!("{}.m.upbound.io/{}", self.service, self.namespaced_version)
        } else {
            format!("{}.upbound.io/{}", self.service, self.cluster_version)
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedResource<P, I = Empty> {
    pub api_version: String,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ManagedSpec<P, I>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedSpec<P, I> {
    pub for_provider: P,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_provider: Option<I>,
    pub provider_config_ref: ProviderConfigRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<SecretRef>,
}

/// Namespaced MRs name the kind (`ClusterProviderConfig` for a platform-wide
/// config); legacy MRs only a name.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderConfigRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub name: String,
}

/// Namespaced MRs write to their own namespace; legacy MRs name one.
#[derive(Clone, Debug, Serialize)]
pub struct SecretRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// No `initProvider` block.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Empty {}

/// Selects a composed resource of this XR by its composition resource name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_controller_ref: bool,
    pub match_labels: BTreeMap<String, String>,
}

impl Selector {
    pub fn resource(name: &str) -> Selector {
        Selector::label(RESOURCE_LABEL, name)
    }

    pub fn role(role: &str) -> Selector {
        Selector::label(ROLE_LABEL, role)
    }

    fn label(key: &str, value: &str) -> Selector {
        Selector {
            match_controller_ref: true,
            match_labels: BTreeMap::from([(key.to_string(), value.to_string())]),
        }
    }
}

impl<P: Serialize> ManagedResource<P> {
    /// A managed resource of this spoke: FinOps labels, the selection label,
    /// and the spoke's ProviderConfig.
    pub fn new(spoke: &Spoke, api: Api, resource_name: &str, for_provider: P) -> Self {
        let namespaced = spoke.namespace.is_some();
        let mut labels = spoke.labels.clone();
        labels.insert(RESOURCE_LABEL.to_string(), resource_name.to_string());
        ManagedResource {
            api_version: api.api_version(namespaced),
            kind: api.kind,
            metadata: Metadata {
                annotations: BTreeMap::new(),
                labels,
            },
            spec: ManagedSpec {
                for_provider,
                init_provider: None,
                provider_config_ref: ProviderConfigRef {
                    kind: namespaced.then_some("ClusterProviderConfig"),
                    name: spoke.spec.provider_config_name.clone(),
                },
                write_connection_secret_to_ref: None,
            },
        }
    }

    /// Sets fields only at creation, leaving them to others afterwards
    /// (e.g. the autoscaler owns a node group's desired size).
    pub fn init_provider<I: Serialize>(self, init: I) -> ManagedResource<P, I> {
        ManagedResource {
            api_version: self.api_version,
            kind: self.kind,
            metadata: self.metadata,
            spec: ManagedSpec {
                for_provider: self.spec.for_provider,
                init_provider: Some(init),
                provider_config_ref: self.spec.provider_config_ref,
                write_connection_secret_to_ref: self.spec.write_connection_secret_to_ref,
            },
        }
    }
}

impl<P: Serialize, I: Serialize> ManagedResource<P, I> {
    pub fn external_name(mut self, name: impl Into<String>) -> Self {
        self.metadata
            .annotations
            .insert(EXTERNAL_NAME.to_string(), name.into());
        self
    }

    pub fn role(mut self, role: &str) -> Self {
        self.metadata
            .labels
            .insert(ROLE_LABEL.to_string(), role.to_string());
        self
    }

    /// Publishes the resource's connection details to a Secret: in the XR's
    /// namespace for namespaced MRs, in the platform's connection-secret
    /// namespace for legacy ones.
    pub fn connection_secret(mut self, spoke: &Spoke, name: String) -> Self {
        let namespace = match spoke.namespace {
            Some(_) => None,
            None => Some(spoke.input.connection_secret_namespace.clone()),
        };
        self.spec.write_connection_secret_to_ref = Some(SecretRef { name, namespace });
        self
    }
}
