//! Composition: a pure function from a checked [`Spoke`] and the observed
//! composed resources to the desired ones. One module per part of a spoke.

pub mod argocd;
pub mod aws;
pub mod azure;
pub mod cloudflare;
pub mod managed;
pub mod names;
pub mod object;
pub mod observed;
pub mod ready;
pub mod secrets;
pub mod tailscale;
pub mod target;
pub mod usage;
pub mod workload;

use std::collections::BTreeMap;

use pbjson_types::Struct;
use serde::Serialize;

pub use observed::{Observed, ObservedResource};

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
    /// Who may reach the spoke: the admin's access entry, and the spoke's
    /// own provider-kubernetes / provider-helm configs.
    Access,
    Tailnet,
    Edge,
    /// The spoke in the hub's Argo CD.
    Registered,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Network,
        Stage::Cluster,
        Stage::NodePools,
        Stage::Access,
        Stage::Tailnet,
        Stage::Edge,
        Stage::Registered,
    ];

    /// The XR condition type for this stage.
    pub fn condition_type(self) -> &'static str {
        match self {
            Stage::Network => "NetworkReady",
            Stage::Cluster => "ClusterReady",
            Stage::NodePools => "NodePoolsReady",
            Stage::Access => "AccessReady",
            Stage::Tailnet => "TailnetReady",
            Stage::Edge => "EdgeReady",
            Stage::Registered => "RegisteredReady",
        }
    }
}

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
    /// What each stage still waits for before it can compose the rest.
    pending: Vec<(Stage, &'static str)>,
    pub status: SpokeStatus,
}

impl<'a> Composition<'a> {
    pub fn new(spoke: &'a Spoke, observed: &'a Observed<'a>) -> Self {
        Composition {
            spoke,
            observed,
            resources: BTreeMap::new(),
            pending: Vec::new(),
            status: spoke.status.clone(),
        }
    }

    /// Adds a desired resource; its readiness comes from the observed one,
    /// by the rule for its kind (`ready.rs`).
    pub fn add<T: Serialize>(&mut self, stage: Stage, name: &str, resource: &T) {
        // Our own typed models hold only strings, numbers, booleans, lists
        // and string-keyed maps: they always have a Struct form.
        let resource = crate::pb::to_struct(resource).unwrap_or_default();
        let ready = self.observed(name).is_some_and(|o| ready::is_ready(&o));
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
    pub fn observed(&self, name: &str) -> Option<ObservedResource<'a>> {
        self.observed.get(name).cloned()
    }

    /// A string at `pointer` (RFC 6901) in an observed resource.
    pub fn observed_str(&self, name: &str, pointer: &str) -> Option<&'a str> {
        self.observed(name)?.str(pointer)
    }

    /// Whether the observed resource of this name is ready by its kind's rule.
    pub fn is_ready(&self, name: &str) -> bool {
        self.observed(name).is_some_and(|o| ready::is_ready(&o))
    }

    /// Records that a stage cannot be complete yet: it waits for `what`
    /// before it composes the rest of its resources.
    pub fn wait(&mut self, stage: Stage, what: &'static str) {
        self.pending.push((stage, what));
    }

    /// What a stage waits for: its resources that are not ready yet, by
    /// name, then what it waits for before composing the rest.
    pub fn unready(&self, stage: Stage) -> Vec<&str> {
        self.resources
            .iter()
            .filter(|(_, c)| c.stage == stage && !c.ready)
            .map(|(name, _)| name.as_str())
            .chain(
                self.pending
                    .iter()
                    .filter(|(s, _)| *s == stage)
                    .map(|(_, what)| *what),
            )
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
            || self.pending.iter().any(|(s, _)| *s == stage)
    }
}

/// Composes every part of the spoke.
pub fn compose<'a>(spoke: &'a Spoke, observed: &'a Observed<'a>) -> Composition<'a> {
    let mut composition = Composition::new(spoke, observed);
    match spoke.spec.cloud {
        Cloud::Aws => aws::compose(&mut composition),
        Cloud::Azure => azure::compose(&mut composition),
    }
    target::compose(&mut composition);
    tailscale::compose(&mut composition);
    cloudflare::compose(&mut composition);
    argocd::compose(&mut composition);
    composition
}
