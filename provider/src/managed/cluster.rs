//! What the managed reconciler asks of the Kubernetes API, as one narrow
//! trait: [`KubeCluster`] is the real API server; tests
//! (`tests/reconciler_table.rs`) put an in-memory fake in its place and run
//! the reconciler without an API server, as crossplane-runtime's tests use a
//! mock `client.Client`.

use std::future::Future;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::Event;
use serde_json::Value;

use super::connection::{self, Lost, PublishError};
use super::{ConnectionDetails, Managed, usage};

/// The reconciler's view of the API server for kind `K`.
pub trait Cluster<K: Managed>: Send + Sync + 'static {
    /// The client a [`super::Connector`] reads ProviderConfigs and
    /// credentials with.
    fn client(&self) -> &kube::Client;
    /// The object as the API server has it now (not a cache); `None` when
    /// it is gone.
    fn get(&self, mr: &K) -> impl Future<Output = Result<Option<K>, kube::Error>> + Send;
    /// Replaces the object, conflict-checked by its resourceVersion; the
    /// stored copy.
    fn replace(&self, mr: &K) -> impl Future<Output = Result<K, kube::Error>> + Send;
    /// Merge-patches `metadata.annotations` (a null value removes one); the
    /// stored copy.
    fn patch_annotations(
        &self,
        mr: &K,
        annotations: &serde_json::Map<String, Value>,
    ) -> impl Future<Output = Result<K, kube::Error>> + Send;
    /// Merge-patches the status subresource with `patch` (which carries the
    /// resourceVersion it must apply to).
    fn patch_status(
        &self,
        mr: &K,
        patch: &Value,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Records an event about `mr`.
    fn event(&self, mr: &K, ev: &Event) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Creates or updates `mr`'s ProviderConfigUsage.
    fn track_usage(&self, mr: &K) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Deletes `mr`'s ProviderConfigUsage.
    fn untrack_usage(&self, mr: &K) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Writes connection details to the Secret `ns/name` (additive).
    fn publish(
        &self,
        ns: &str,
        name: &str,
        owner: &OwnerReference,
        details: &ConnectionDetails,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
    /// Forgets the connection Secret `ns/name` of the resource `uid`.
    fn unpublish(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
    /// What the connection Secret `ns/name` lacks of `keys`.
    fn lost_connection_keys(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        keys: &[&'static str],
    ) -> impl Future<Output = Result<Option<Lost>, kube::Error>> + Send;
}

/// The real API server (with the process's watch of connection Secrets).
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    recorder: std::sync::Arc<super::events::Publisher>,
    pub(crate) watched: crate::watched::Watched,
}

impl KubeCluster {
    /// Events are reported by `controller`.
    pub fn new(client: kube::Client, controller: String) -> Self {
        Self {
            recorder: std::sync::Arc::new(super::events::Publisher::new(
                client.clone(),
                controller,
            )),
            client,
            watched: crate::watched::Watched::default(),
        }
    }

    fn api<K: Managed>(&self, mr: &K) -> Api<K> {
        K::api(&self.client, mr.meta().namespace.as_deref())
    }
}

impl<K: Managed> Cluster<K> for KubeCluster {
    fn client(&self) -> &kube::Client {
        &self.client
    }

    async fn get(&self, mr: &K) -> Result<Option<K>, kube::Error> {
        self.api(mr).get_opt(&mr.name_any()).await
    }

    async fn replace(&self, mr: &K) -> Result<K, kube::Error> {
        self.api(mr)
            .replace(&mr.name_any(), &PostParams::default(), mr)
            .await
    }

    async fn patch_annotations(
        &self,
        mr: &K,
        annotations: &serde_json::Map<String, Value>,
    ) -> Result<K, kube::Error> {
        let patch = serde_json::json!({ "metadata": { "annotations": annotations } });
        self.api(mr)
            .patch(
                &mr.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
    }

    async fn patch_status(&self, mr: &K, patch: &Value) -> Result<(), kube::Error> {
        self.api(mr)
            .patch_status(
                &mr.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        Ok(())
    }

    async fn event(&self, mr: &K, ev: &Event) -> Result<(), kube::Error> {
        self.recorder.publish(ev, &mr.object_ref(&())).await
    }

    async fn track_usage(&self, mr: &K) -> Result<(), kube::Error> {
        usage::track(&self.client, mr).await
    }

    async fn untrack_usage(&self, mr: &K) -> Result<(), kube::Error> {
        usage::untrack(&self.client, mr).await
    }

    async fn publish(
        &self,
        ns: &str,
        name: &str,
        owner: &OwnerReference,
        details: &ConnectionDetails,
    ) -> Result<(), PublishError> {
        connection::publish(&self.client, ns, name, owner, details).await
    }

    async fn unpublish(&self, ns: &str, name: &str, uid: &str) -> Result<(), PublishError> {
        connection::unpublish(&self.client, ns, name, uid).await
    }

    async fn lost_connection_keys(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        keys: &[&'static str],
    ) -> Result<Option<Lost>, kube::Error> {
        connection::check(&self.client, &self.watched, ns, name, uid, keys).await
    }
}
