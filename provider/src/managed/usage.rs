//! ProviderConfigUsage tracking (crossplane-runtime
//! `ProviderConfigUsageTracker.Track`): one usage per managed resource,
//! named by its UID, labelled with the ProviderConfig's name and kind,
//! controlled by the managed resource.

use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use crate::apis::TypedReference;

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
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(value),
        )
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

/// The metadata of a usage of `mr`: named by its UID, labelled with the
/// ProviderConfig, controlled by `mr`.
pub fn usage_meta<K: Resource<DynamicType = ()>>(
    mr: &K,
    kind: &str,
    name: &str,
) -> Option<ObjectMeta> {
    let uid = mr.meta().uid.clone()?;
    let mut owner = mr.controller_owner_ref(&())?;
    owner.block_owner_deletion = Some(true);
    Some(ObjectMeta {
        name: Some(uid),
        namespace: mr.meta().namespace.clone(),
        labels: Some(
            [
                (LABEL_PROVIDER_CONFIG.to_string(), name.to_string()),
                (LABEL_PROVIDER_CONFIG_KIND.to_string(), kind.to_string()),
            ]
            .into(),
        ),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

/// The reference to `mr` a usage records.
pub fn resource_ref<K: Resource<DynamicType = ()>>(mr: &K) -> TypedReference {
    TypedReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: mr.name_any(),
        uid: mr.meta().uid.clone(),
    }
}
