//! Composition: a pure function from a checked [`Spoke`] and the observed
//! composed resources to the desired ones. One module per part of a spoke.

pub mod argocd;
pub mod aws;
pub mod azure;
pub mod cloudflare;
pub mod managed;
pub mod tailscale;
pub mod usage;

use std::collections::BTreeMap;

use pbjson_types::Struct;
use serde::Serialize;

use crate::pb;

use crate::spoke::{Cloud, ClusterStatus, SecretLocation, SpokeStatus};
use crate::validate::Spoke;

/// The connection-secret key both EKS's ClusterAuth and AKS's
/// KubernetesCluster publish the kubeconfig under.
pub const KUBECONFIG_KEY: &str = "kubeconfig";

/// The parts of a spoke that become ready one after another; each gets an
/// XR condition `<Stage>Ready` that a person can read in `kubectl get`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Network,
    Cluster,
    NodePools,
    Access,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Network,
        Stage::Cluster,
        Stage::NodePools,
        Stage::Access,
    ];

    /// The XR condition type for this stage.
    pub fn condition_type(self) -> &'static str {
        match self {
            Stage::Network => "NetworkReady",
            Stage::Cluster => "ClusterReady",
            Stage::NodePools => "NodePoolsReady",
            Stage::Access => "AccessReady",
        }
    }
}

/// Observed composed resources by composition resource name, read in place
/// from the request.
pub type Observed<'a> = BTreeMap<&'a str, &'a Struct>;

/// One desired composed resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Composed {
    pub stage: Stage,
    pub resource: Struct,
    /// Whether its observed counterpart reports `Ready=True`.
    pub ready: bool,
}

/// The state a composition step builds: what to compose, and what to report.
#[derive(Debug)]
pub struct Composition<'a> {
    pub spoke: &'a Spoke,
    observed: &'a Observed<'a>,
    /// Desired composed resources by composition resource name.
    pub resources: BTreeMap<String, Composed>,
    pub status: SpokeStatus,
}

impl<'a> Composition<'a> {
    pub fn new(spoke: &'a Spoke, observed: &'a Observed<'a>) -> Self {
        Composition {
            spoke,
            observed,
            resources: BTreeMap::new(),
            status: spoke.status.clone(),
        }
    }

    /// Adds a desired resource; its readiness comes from the observed one.
    pub fn add<T: Serialize>(&mut self, stage: Stage, name: &str, resource: &T) {
        // Our own typed models hold only strings, numbers, booleans, lists
        // and string-keyed maps: they always have a Struct form.
        let resource = pb::to_struct(resource).unwrap_or_default();
        let ready = self.observed(name).is_some_and(is_ready);
        self.resources.insert(
            name.to_string(),
            Composed {
                stage,
                resource,
                ready,
            },
        );
    }

    /// The observed composed resource of this name, if it exists yet.
    pub fn observed(&self, name: &str) -> Option<&'a Struct> {
        self.observed.get(name).copied()
    }

    /// A string at `pointer` (RFC 6901) in an observed resource.
    pub fn observed_str(&self, name: &str, pointer: &str) -> Option<&'a str> {
        pb::pointer(self.observed(name)?, pointer)
            .and_then(pb::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Resources of a stage that are not ready yet, by name.
    pub fn unready(&self, stage: Stage) -> Vec<&str> {
        self.resources
            .iter()
            .filter(|(_, c)| c.stage == stage && !c.ready)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Records the cluster in the XR status: its name, version, where its
    /// kubeconfig is published, and its API endpoint once the cloud reports it.
    pub fn report_cluster(&mut self, endpoint: Option<String>) {
        let spoke = self.spoke;
        self.status.cluster = Some(ClusterStatus {
            name: spoke.cluster_name(),
            version: spoke.kubernetes_version.clone(),
            endpoint,
            kubeconfig_secret: SecretLocation {
                name: spoke.kubeconfig_secret_name(),
                namespace: Some(
                    spoke
                        .namespace
                        .clone()
                        .unwrap_or_else(|| spoke.input.connection_secret_namespace.clone()),
                ),
                key: KUBECONFIG_KEY.to_string(),
            },
        });
    }

    pub fn has_stage(&self, stage: Stage) -> bool {
        self.resources.values().any(|c| c.stage == stage)
    }
}

/// Composes every part of the spoke.
pub fn compose<'a>(spoke: &'a Spoke, observed: &'a Observed<'a>) -> Composition<'a> {
    let mut composition = Composition::new(spoke, observed);
    match spoke.spec.cloud {
        Cloud::Aws => aws::compose(&mut composition),
        Cloud::Azure => azure::compose(&mut composition),
    }
    tailscale::compose(&mut composition);
    cloudflare::compose(&mut composition);
    argocd::compose(&mut composition);
    composition
}

/// Crossplane does not derive composed readiness; an MR is ready when its
/// own `Ready` condition is `True`.
pub fn is_ready(resource: &Struct) -> bool {
    pb::pointer(resource, "/status/conditions")
        .and_then(pb::as_list)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                let field = |key| match c.kind.as_ref() {
                    Some(pbjson_types::value::Kind::StructValue(s)) => {
                        s.fields.get(key).and_then(pb::as_str)
                    }
                    _ => None,
                };
                field("type") == Some("Ready") && field("status") == Some("True")
            })
        })
}
