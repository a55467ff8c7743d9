//! Prometheus metrics with crossplane-runtime's names
//! (shared/reference/crossplane-provider.md §1.8), served on `/metrics`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Gvk {
    /// Go's `schema.GroupVersionKind.String()`: `group/version, Kind=Kind`.
    pub gvk: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerResult {
    pub controller: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerError {
    pub controller: String,
    /// [`crate::managed::error::Error::metric_label`]
    pub error: String,
}

type Histograms = Family<Gvk, Histogram, fn() -> Histogram>;

fn seconds_1_to_3600() -> Histogram {
    // 1 s … 4096 s (crossplane-runtime uses 1 s to 1 h)
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub exists: Family<Gvk, Gauge>,
    pub ready: Family<Gvk, Gauge>,
    pub synced: Family<Gvk, Gauge>,
    pub first_time_to_reconcile: Histograms,
    pub first_time_to_readiness: Histograms,
    pub deletion: Histograms,
    pub drift: Histograms,
    pub reconcile_total: Family<ControllerResult, Counter>,
    pub reconcile_errors: Family<ControllerError, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let exists = Family::<Gvk, Gauge>::default();
        let ready = Family::<Gvk, Gauge>::default();
        let synced = Family::<Gvk, Gauge>::default();
        let h = || Histograms::new_with_constructor(seconds_1_to_3600 as fn() -> Histogram);
        let (first_time_to_reconcile, first_time_to_readiness, deletion, drift) =
            (h(), h(), h(), h());
        let reconcile_total = Family::<ControllerResult, Counter>::default();
        let reconcile_errors = Family::<ControllerError, Counter>::default();
        registry.register(
            "crossplane_managed_resource_exists",
            "The number of managed resources that exist",
            exists.clone(),
        );
        registry.register(
            "crossplane_managed_resource_ready",
            "The number of managed resources in Ready=True state",
            ready.clone(),
        );
        registry.register(
            "crossplane_managed_resource_synced",
            "The number of managed resources in Synced=True state",
            synced.clone(),
        );
        registry.register(
            "crossplane_managed_resource_first_time_to_reconcile_seconds",
            "The time it took for a managed resource to be detected by the controller",
            first_time_to_reconcile.clone(),
        );
        registry.register(
            "crossplane_managed_resource_first_time_to_readiness_seconds",
            "The time it took for a managed resource to become ready first time after creation",
            first_time_to_readiness.clone(),
        );
        registry.register(
            "crossplane_managed_resource_deletion_seconds",
            "The time it took for a managed resource to be deleted",
            deletion.clone(),
        );
        registry.register(
            "crossplane_managed_resource_drift_seconds",
            "ALPHA: How long since the previous successful reconcile when a resource was found to be out of sync",
            drift.clone(),
        );
        // counter: the encoder appends _total
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        registry.register(
            "provider_reconcile_errors",
            "Failed reconciles per controller, by the step that failed",
            reconcile_errors.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            exists,
            ready,
            synced,
            first_time_to_reconcile,
            first_time_to_readiness,
            deletion,
            drift,
            reconcile_total,
            reconcile_errors,
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn gvk(gvk: &str) -> Gvk {
        Gvk {
            gvk: gvk.to_string(),
        }
    }
}
