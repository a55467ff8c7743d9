//! Readiness, per kind, in one place. Crossplane does not derive composed
//! readiness (the function reports it for every desired resource), and
//! provider-kubernetes derives an `Object`'s `Ready` from the readiness
//! policy the Object carries, which must reflect the embedded object.

use serde::Serialize;

use super::ObservedResource;

/// Whether an observed composed resource is ready.
///
/// Managed resources of every provider, Usages and External Secrets report
/// a `Ready` condition. A provider-kubernetes or provider-helm
/// `ProviderConfig` has none: it is ready once it exists.
pub fn is_ready(observed: &ObservedResource<'_>) -> bool {
    if is_crossplane_provider_config(observed) {
        return true;
    }
    observed.condition("Ready")
}

fn is_crossplane_provider_config(observed: &ObservedResource<'_>) -> bool {
    observed.str("/kind") == Some("ProviderConfig")
        && observed.str("/apiVersion").is_some_and(|v| {
            v.starts_with("kubernetes.crossplane.io/")
                || v.starts_with("kubernetes.m.crossplane.io/")
                || v.starts_with("helm.crossplane.io/")
                || v.starts_with("helm.m.crossplane.io/")
        })
}

/// An Object's `spec.readiness`: how provider-kubernetes decides that the
/// object it manages in the spoke is ready.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReadiness {
    pub policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cel_query: Option<String>,
}

/// The readiness policy that really reflects an embedded object of `kind`.
pub fn object_readiness(kind: &str) -> ObjectReadiness {
    match kind {
        // The tailscale-operator's own conditions: a Connector is ready once
        // its proxies run; a ProxyGroup once all its replicas are set up.
        "Connector" => condition_true("ConnectorReady"),
        "ProxyGroup" => condition_true("ProxyGroupReady"),
        "ProxyClass" => condition_true("ProxyClassReady"),
        "ExternalSecret" => condition_true("Ready"),
        "Deployment" => condition_true("Available"),
        "Namespace" => {
            cel("has(object.status) && has(object.status.phase) && object.status.phase == 'Active'")
        }
        // Secrets and other plain objects are ready once they exist.
        _ => ObjectReadiness {
            policy: "SuccessfulCreate",
            cel_query: None,
        },
    }
}

fn condition_true(condition_type: &str) -> ObjectReadiness {
    // `has` guards: a query on a missing field is an error, not `false`.
    cel(&format!(
        "has(object.status) && has(object.status.conditions) && object.status.conditions.exists(c, c.type == '{condition_type}' && c.status == 'True')"
    ))
}

fn cel(query: &str) -> ObjectReadiness {
    ObjectReadiness {
        policy: "DeriveFromCelQuery",
        cel_query: Some(query.to_string()),
    }
}
