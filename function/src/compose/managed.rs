//! The envelope every managed resource shares, whichever provider owns it,
//! for both API flavours: namespaced `<service>.m.<domain>` MRs composed by a
//! Crossplane v2 namespaced XR, and cluster-scoped `<service>.<domain>` MRs
//! composed by a legacy XR. Upjet (`upbound.io`), provider-kubernetes and
//! provider-helm (`crossplane.io`) and this project's provider
//! (`hybridspoke.io`) all follow that naming.

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

/// The domain a provider's API groups end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// provider-upjet-aws / -azure.
    Upbound,
    /// provider-kubernetes, provider-helm.
    Crossplane,
    /// This project's provider.
    HybridSpoke,
}

impl Domain {
    pub const fn as_str(self) -> &'static str {
        match self {
            Domain::Upbound => "upbound.io",
            Domain::Crossplane => "crossplane.io",
            Domain::HybridSpoke => "hybridspoke.io",
        }
    }
}

/// One managed kind in both flavours.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    /// The provider service group without the scope part, e.g. `ec2.aws`.
    pub service: &'static str,
    pub domain: Domain,
    pub kind: &'static str,
    pub namespaced_version: &'static str,
    /// Storage version of the cluster-scoped flavour (EKS Cluster and
    /// NodeGroup moved to v1beta2 there; the namespaced v1beta1 already has
    /// the v1beta2 shape).
    pub cluster_version: &'static str,
}

impl Api {
    /// An upjet kind at v1beta1 in both flavours.
    pub const fn v1beta1(service: &'static str, kind: &'static str) -> Api {
        Api::upjet(service, kind, "v1beta1", "v1beta1")
    }

    pub const fn upjet(
        service: &'static str,
        kind: &'static str,
        namespaced_version: &'static str,
        cluster_version: &'static str,
    ) -> Api {
        Api {
            service,
            domain: Domain::Upbound,
            kind,
            namespaced_version,
            cluster_version,
        }
    }

    pub const fn new(
        domain: Domain,
        service: &'static str,
        kind: &'static str,
        namespaced_version: &'static str,
        cluster_version: &'static str,
    ) -> Api {
        Api {
            service,
            domain,
            kind,
            namespaced_version,
            cluster_version,
        }
    }

    pub fn api_version(&self, namespaced: bool) -> String {
        let domain = self.domain.as_str();
        if namespaced {
            format!("{}.m.{domain}/{}", self.service, self.namespaced_version)
        } else {
            format!("{}.{domain}/{}", self.service, self.cluster_version)
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedResource<'a, P, I = Empty> {
    pub api_version: String,
    pub kind: &'static str,
    pub metadata: Metadata<'a>,
    pub spec: ManagedSpec<'a, P, I>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Metadata<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'static str, String>,
    pub labels: Labels<'a>,
}

/// The FinOps labels every object of the spoke shares, borrowed rather than
/// copied into each, plus the labels that make it selectable.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    pub finops: &'a BTreeMap<String, String>,
    pub resource: String,
    pub role: Option<&'static str>,
}

// By hand rather than `#[serde(flatten)]`: a flattened map is serialized
// without its length, and these labels are on every composed resource.
impl Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.finops.len() + 2))?;
        for (key, value) in self.finops {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry(RESOURCE_LABEL, &self.resource)?;
        if let Some(role) = self.role {
            map.serialize_entry(ROLE_LABEL, role)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedSpec<'a, P, I> {
    pub for_provider: P,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_provider: Option<I>,
    pub provider_config_ref: ProviderConfigRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<SecretRef<'a>>,
}

/// Namespaced MRs name the kind (`ClusterProviderConfig` for a platform-wide
/// config, `ProviderConfig` for one in the XR's namespace); legacy MRs only
/// a name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderConfigRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub name: String,
}

/// Which provider configuration a composed resource acts through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    /// The cloud's (upjet) ProviderConfig named in the claim.
    Cloud,
    /// This project's tailnet ProviderConfig named in the Input.
    Tailnet,
    /// This project's Cloudflare ProviderConfig named in the Input.
    Cloudflare,
    /// provider-kubernetes' config for the hub itself, named in the Input.
    Hub,
    /// The spoke's own provider-kubernetes and provider-helm configs,
    /// composed per spoke (`target.rs`).
    Spoke,
}

impl ProviderConfigRef {
    pub fn of(spoke: &Spoke, config: Config) -> ProviderConfigRef {
        let namespaced = spoke.namespace.is_some();
        let (kind, name) = match config {
            Config::Cloud => (
                "ClusterProviderConfig",
                spoke.spec.provider_config_name.clone(),
            ),
            Config::Tailnet => {
                let pc = &spoke.input.provider_configs.tailnet;
                (pc.kind.as_str(), pc.name.clone())
            }
            Config::Cloudflare => {
                let pc = &spoke.input.provider_configs.cloudflare;
                (pc.kind.as_str(), pc.name.clone())
            }
            Config::Hub => {
                let pc = &spoke.input.provider_configs.hub;
                (pc.kind.as_str(), pc.name.clone())
            }
            Config::Spoke => ("ProviderConfig", spoke.spoke_config_name()),
        };
        ProviderConfigRef {
            kind: namespaced.then_some(kind),
            name,
        }
    }
}

/// Namespaced MRs write to their own namespace; legacy MRs name one.
#[derive(Clone, Debug, Serialize)]
pub struct SecretRef<'a> {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
}

/// No `initProvider` block.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Empty {}

/// Selects a composed resource of this XR by its composition resource name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_controller_ref: bool,
    pub match_labels: BTreeMap<&'static str, String>,
}

impl Selector {
    pub fn resource(name: &str) -> Selector {
        Selector::label(RESOURCE_LABEL, name)
    }

    pub fn role(role: &str) -> Selector {
        Selector::label(ROLE_LABEL, role)
    }

    fn label(key: &'static str, value: &str) -> Selector {
        Selector {
            match_controller_ref: true,
            match_labels: BTreeMap::from([(key, value.to_string())]),
        }
    }
}

impl<'a, P: Serialize> ManagedResource<'a, P> {
    /// A managed resource of this spoke: FinOps labels, the selection label,
    /// and the spoke's ProviderConfig.
    pub fn new(spoke: &'a Spoke, api: Api, resource_name: &str, for_provider: P) -> Self {
        let namespaced = spoke.namespace.is_some();
        ManagedResource {
            api_version: api.api_version(namespaced),
            kind: api.kind,
            metadata: Metadata {
                annotations: BTreeMap::new(),
                labels: Labels {
                    finops: &spoke.labels,
                    resource: resource_name.to_string(),
                    role: None,
                },
            },
            spec: ManagedSpec {
                for_provider,
                init_provider: None,
                provider_config_ref: ProviderConfigRef::of(spoke, Config::Cloud),
                write_connection_secret_to_ref: None,
            },
        }
    }

    /// Sets fields only at creation, leaving them to others afterwards
    /// (e.g. the autoscaler owns a node group's desired size).
    pub fn init_provider<I: Serialize>(self, init: I) -> ManagedResource<'a, P, I> {
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

impl<'a, P: Serialize, I: Serialize> ManagedResource<'a, P, I> {
    pub fn external_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.annotations.insert(EXTERNAL_NAME, name.into());
        self
    }

    /// Acts through another provider configuration than the cloud's.
    pub fn provider_config(mut self, spoke: &Spoke, config: Config) -> Self {
        self.spec.provider_config_ref = ProviderConfigRef::of(spoke, config);
        self
    }

    /// Labels these FinOps values instead of the spoke's (e.g. the platform
    /// paying for the tailnet part).
    pub fn finops(mut self, finops: &'a BTreeMap<String, String>) -> Self {
        self.metadata.labels.finops = finops;
        self
    }

    pub fn role(mut self, role: &'static str) -> Self {
        self.metadata.labels.role = Some(role);
        self
    }

    /// Publishes the resource's connection details to a Secret: in the XR's
    /// namespace for namespaced MRs, in the platform's connection-secret
    /// namespace for legacy ones.
    pub fn connection_secret(mut self, spoke: &'a Spoke, name: String) -> Self {
        let namespace = match spoke.namespace {
            Some(_) => None,
            None => Some(spoke.input.connection_secret_namespace.as_str()),
        };
        self.spec.write_connection_secret_to_ref = Some(SecretRef { name, namespace });
        self
    }
}
