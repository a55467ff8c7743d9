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

/// What a connection Secret lacks of the keys the provider published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lost {
    /// `namespace/name` does not exist (deleted, or never written).
    Secret(String),
    /// `namespace/name` exists without these keys (or with them empty).
    Keys(String, Vec<&'static str>),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Secret(s) => write!(f, "the connection Secret {s} is missing"),
            Lost::Keys(s, keys) => {
                write!(f, "the connection Secret {s} lacks {}", keys.join(", "))
            }
        }
    }
}

/// What `secret` lacks of `keys`; `None` when it has them all, or when
/// another resource controls it (publishing says so).
pub fn lacks(
    secret: Option<&Secret>,
    what: &str,
    owner_uid: &str,
    keys: &[&'static str],
) -> Option<Lost> {
    let Some(secret) = secret else {
        return Some(Lost::Secret(what.to_string()));
    };
    let foreign = secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid != owner_uid);
    if foreign {
        return None;
    }
    let data = secret.data.clone().unwrap_or_default();
    let missing: Vec<&'static str> = keys
        .iter()
        .filter(|k| data.get(**k).is_none_or(|v| v.0.is_empty()))
        .copied()
        .collect();
    (!missing.is_empty()).then(|| Lost::Keys(what.to_string(), missing))
}

/// What the connection Secret `namespace/name` lacks of `keys`: first from
/// the watch of connection Secrets (no request per poll), then, when that
/// says something is missing or has no answer, from a GET (the watch may
/// not have seen the provider's own write yet).
pub async fn check(
    client: &kube::Client,
    watched: &crate::watched::Watched,
    namespace: &str,
    name: &str,
    owner_uid: &str,
    keys: &[&'static str],
) -> Result<Option<Lost>, kube::Error> {
    let what = format!("{namespace}/{name}");
    if let Ok(cached) = watched.connection_secret(client, namespace, name).await
        && lacks(cached.as_deref(), &what, owner_uid, keys).is_none()
    {
        return Ok(None);
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get_opt(name).await?;
    Ok(lacks(secret.as_ref(), &what, owner_uid, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(owner: Option<&str>, data: &[(&str, &[u8])]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                owner_references: owner.map(|uid| {
                    vec![OwnerReference {
                        uid: uid.into(),
                        controller: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn what_a_connection_secret_lacks() {
        let keys = ["client_id", "client_secret"];
        assert_eq!(
            lacks(None, "ns/s", "u1", &keys).map(|l| l.to_string()),
            Some("the connection Secret ns/s is missing".into())
        );
        let full = secret(Some("u1"), &[("client_id", b"x"), ("client_secret", b"y")]);
        assert_eq!(lacks(Some(&full), "ns/s", "u1", &keys), None);
        let edited = secret(Some("u1"), &[("client_id", b"x"), ("client_secret", b"")]);
        assert_eq!(
            lacks(Some(&edited), "ns/s", "u1", &keys).map(|l| l.to_string()),
            Some("the connection Secret ns/s lacks client_secret".into())
        );
        // another resource's Secret is not ours to repair
        let foreign = secret(Some("u2"), &[]);
        assert_eq!(lacks(Some(&foreign), "ns/s", "u1", &keys), None);
        // one nobody controls is adopted by publishing: checked
        let adopted = secret(None, &[("client_id", b"x")]);
        assert_eq!(
            lacks(Some(&adopted), "ns/s", "u1", &keys),
            Some(Lost::Keys("ns/s".into(), vec!["client_secret"]))
        );
    }
}
