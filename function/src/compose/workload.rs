//! The Kubernetes workload shapes the function puts in a spoke through
//! provider-kubernetes Objects (apps/v1 Deployment, policy/v1
//! PodDisruptionBudget), typed after the Kubernetes API: the tailnet's
//! Headscale router and the edge's cloudflared.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::input::Resources;

/// The label every pod of a workload carries and its selector matches.
pub const APP_LABEL: &str = "app.kubernetes.io/name";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec<'a> {
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate<'a>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: BTreeMap<&'static str, &'static str>,
}

impl LabelSelector {
    pub fn app(name: &'static str) -> LabelSelector {
        LabelSelector {
            match_labels: BTreeMap::from([(APP_LABEL, name)]),
        }
    }
}

#[derive(Serialize)]
pub struct PodTemplate<'a> {
    pub metadata: PodMetadata,
    pub spec: PodSpec<'a>,
}

#[derive(Serialize)]
pub struct PodMetadata {
    pub labels: BTreeMap<String, String>,
}

impl PodMetadata {
    /// The part's FinOps labels plus the app label.
    pub fn new(labels: &BTreeMap<String, String>, app: &str) -> PodMetadata {
        let mut labels = labels.clone();
        labels.insert(APP_LABEL.to_string(), app.to_string());
        PodMetadata { labels }
    }
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    pub containers: Vec<Container<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpread>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: bool,
    pub run_as_user: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    pub name: &'static str,
    pub image: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<&'static str>,
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    pub resources: &'a Resources,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: HttpGet,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub failure_threshold: u32,
}

#[derive(Serialize)]
pub struct HttpGet {
    pub path: &'static str,
    pub port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpread {
    pub max_skew: u32,
    pub topology_key: &'static str,
    pub when_unsatisfiable: &'static str,
    pub label_selector: LabelSelector,
}

impl TopologySpread {
    /// Replicas spread over the zones, best effort: a zone down must not
    /// take every replica with it, and a one-zone cluster still schedules.
    pub fn zones(app: &'static str) -> TopologySpread {
        TopologySpread {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone",
            when_unsatisfiable: "ScheduleAnyway",
            label_selector: LabelSelector::app(app),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvValueFrom>,
}

impl EnvVar {
    pub fn value(name: &'static str, value: impl Into<String>) -> EnvVar {
        EnvVar {
            name,
            value: Some(value.into()),
            value_from: None,
        }
    }

    /// A value read from a Secret of the pod's namespace, never inline.
    pub fn from_secret(name: &'static str, secret: &'static str, key: &'static str) -> EnvVar {
        EnvVar {
            name,
            value: None,
            value_from: Some(EnvValueFrom {
                secret_key_ref: SecretKeySelector { name: secret, key },
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvValueFrom {
    pub secret_key_ref: SecretKeySelector,
}

#[derive(Serialize)]
pub struct SecretKeySelector {
    pub name: &'static str,
    pub key: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    pub min_available: u32,
    pub selector: LabelSelector,
}

/// A Secret's body: its type and keys (values filled in elsewhere).
#[derive(Serialize)]
pub struct SecretBody {
    pub r#type: &'static str,
    pub data: BTreeMap<&'static str, &'static str>,
}

/// A `spec` beside an object's identity.
#[derive(Serialize)]
pub struct Spec<S> {
    pub spec: S,
}

/// No body beyond identity (a Namespace).
#[derive(Serialize)]
pub struct Empty {}
