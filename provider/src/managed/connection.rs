//! Connection Secrets (crossplane-runtime's `APISecretPublisher`): type
//! `connection.crossplane.io/v1alpha1`, controlled by the managed resource,
//! additive, unchanged data not rewritten, never taken over from another
//! controller.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use super::ConnectionDetails;

pub const SECRET_TYPE: &str = "connection.crossplane.io/v1alpha1";

/// An error publishing: the message names the Secret, never a value.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "cannot publish connection details to Secret {0}: it is controlled by another resource"
    )]
    NotControlled(String),
    #[error("cannot publish connection details to Secret {0}: {1}")]
    Kube(String, kube::Error),
}

/// Writes `details` into the Secret (creating it), keeping other keys.
pub async fn publish(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    owner: &OwnerReference,
    details: &ConnectionDetails,
) -> Result<(), PublishError> {
    if details.is_empty() {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let what = format!("{namespace}/{name}");
    let err = |e| PublishError::Kube(what.clone(), e);
    let mut data: BTreeMap<String, ByteString> = details
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.clone())))
        .collect();
    match api.get_opt(name).await.map_err(err)? {
        None => {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    owner_references: Some(vec![owner.clone()]),
                    ..Default::default()
                },
                type_: Some(SECRET_TYPE.into()),
                data: Some(data),
                ..Default::default()
            };
            api.create(&PostParams::default(), &secret)
                .await
                .map_err(err)?;
        }
        Some(mut existing) => {
            let controller = existing
                .metadata
                .owner_references
                .as_ref()
                .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
                .map(|c| c.uid.clone());
            match &controller {
                Some(uid) if *uid != owner.uid => return Err(PublishError::NotControlled(what)),
                Some(_) => {}
                None => existing
                    .metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(owner.clone()),
            }
            let mut merged = existing.data.clone().unwrap_or_default();
            let before = merged.clone();
            merged.append(&mut data);
            if merged == before && controller.is_some() {
                return Ok(());
            }
            existing.data = Some(merged);
            api.replace(name, &PostParams::default(), &existing)
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Deletes the Secret if this resource controls it (in a real cluster the
/// garbage collector would too; a bare API server has none).
pub async fn unpublish(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    owner_uid: &str,
) -> Result<(), PublishError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let what = format!("{namespace}/{name}");
    let Some(existing) = api
        .get_opt(name)
        .await
        .map_err(|e| PublishError::Kube(what.clone(), e))?
    else {
        return Ok(());
    };
    let ours = existing
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.controller == Some(true) && r.uid == owner_uid)
        });
    if ours {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(PublishError::Kube(what, e)),
        }
    }
    Ok(())
}
