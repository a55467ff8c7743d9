//! ProviderConfigUsage tracking (crossplane-runtime
//! `ProviderConfigUsageTracker.Track`): one usage per managed resource,
//! named by its UID, labelled with the ProviderConfig's name and kind,
//! controlled by the managed resource.

use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use super::Managed;

pub const LABEL_PROVIDER_CONFIG: &str = "crossplane.io/provider-config";
pub const LABEL_PROVIDER_CONFIG_KIND: &str = "crossplane.io/provider-config-kind";
pub const FIELD_MANAGER: &str = "provider-hybrid-spoke";

fn api<K: Managed>(client: &kube::Client, mr: &K) -> Api<K::Usage> {
    K::usage_api(client, mr.meta().namespace.as_deref())
}

/// Creates or updates the usage (server-side apply).
pub async fn track<K: Managed>(client: &kube::Client, mr: &K) -> Result<(), kube::Error> {
    let Some(usage) = mr.usage() else {
        return Ok(());
    };
    let Some(name) = usage.meta().name.clone() else {
        return Ok(());
    };
    let mut value = serde_json::to_value(&usage).map_err(kube::Error::SerdeError)?;
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("creationTimestamp");
    }
    api(client, mr)
        .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(value))
        .await?;
    Ok(())
}

/// Deletes the usage (the garbage collector would, given one).
pub async fn untrack<K: Managed>(client: &kube::Client, mr: &K) -> Result<(), kube::Error> {
    let Some(uid) = mr.meta().uid.clone() else {
        return Ok(());
    };
    match api(client, mr).delete(&uid, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
