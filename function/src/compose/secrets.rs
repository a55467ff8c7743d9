//! How a secret a hub resource publishes (a key's, a tunnel's token) reaches
//! the spoke without its value ever being composed:
//!
//! - `ConnectionSecrets` (default): provider-kubernetes patches the value
//!   from the hub Secret into a Secret in the spoke at apply time
//!   (`references[].patchesFrom`), or provider-helm reads it
//!   (`valueFrom.secretKeyRef`);
//! - `ExternalSecrets`: a `PushSecret` sends the hub Secret to the store and
//!   an `ExternalSecret` in the spoke pulls it into the named Secret.

use std::collections::BTreeMap;

use serde::Serialize;

use super::managed::Labels;
use super::object::{Manifest, ManifestMetadata, Object, Reference};
use super::workload::SecretBody;
use super::{Composition, Stage};
use crate::validate::Spoke;

const PUSH_SECRET_API_VERSION: &str = "external-secrets.io/v1alpha1";
const EXTERNAL_SECRET_API_VERSION: &str = "external-secrets.io/v1";

/// The connection Secret of the composed resource `resource`.
pub fn connection_secret_name(spoke: &Spoke, resource: &str) -> String {
    spoke.secret_name(resource)
}

/// The store key of the connection Secret of `resource`.
fn remote_key(spoke: &Spoke, resource: &str) -> String {
    format!(
        "{}/{}/{resource}",
        spoke.input.secrets.remote_key_prefix,
        spoke.cluster_name()
    )
}

/// Copies `keys` of the connection Secret of `from` into the Secret
/// `target` in the spoke's `namespace`, as the Object `name`.
pub struct SpokeSecret<'a> {
    pub name: &'a str,
    pub from: &'a str,
    pub keys: &'a [&'static str],
    pub target: &'static str,
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// ConnectionSecrets mode: a Secret Object whose values provider-kubernetes
/// patches in from the hub.
pub fn copy(c: &mut Composition<'_>, stage: Stage, s: &SpokeSecret<'_>) {
    let spoke = c.spoke;
    let hub_secret = connection_secret_name(spoke, s.from);
    let mut object = Object::new(
        spoke,
        s.name,
        s.labels,
        Manifest {
            api_version: "v1",
            kind: "Secret",
            metadata: ManifestMetadata {
                name: s.target.to_string(),
                namespace: Some(s.namespace.to_string()),
                labels: s.labels,
            },
            body: SecretBody {
                r#type: "Opaque",
                data: s.keys.iter().map(|k| (*k, "")).collect(),
            },
        },
    );
    for key in s.keys {
        object = object.reference(Reference::secret_key(
            spoke.secret_namespace(),
            &hub_secret,
            key,
            &format!("data.{key}"),
        ));
    }
    c.add(stage, s.name, &object);
}

/// ExternalSecrets mode, hub side: pushes the connection Secret of `from`.
pub fn push(
    c: &mut Composition<'_>,
    stage: Stage,
    name: &str,
    from: &str,
    keys: &[&str],
    labels: &BTreeMap<String, String>,
) {
    let spoke = c.spoke;
    let remote = remote_key(spoke, from);
    let push = PushSecret {
        api_version: PUSH_SECRET_API_VERSION,
        kind: "PushSecret",
        metadata: PushMetadata {
            namespace: spoke.secret_namespace(),
            labels: Labels {
                finops: labels,
                resource: name.to_string(),
                role: None,
            },
        },
        spec: PushSpec {
            secret_store_refs: vec![StoreRef::cluster(spoke)],
            selector: PushSelector {
                secret: NamedSecret {
                    name: connection_secret_name(spoke, from),
                },
            },
            data: keys
                .iter()
                .map(|k| PushData {
                    r#match: PushMatch {
                        secret_key: k,
                        remote_ref: PushRemoteRef {
                            remote_key: remote.clone(),
                            property: k,
                        },
                    },
                })
                .collect(),
        },
    };
    c.add(stage, name, &push);
}

/// ExternalSecrets mode, spoke side: pulls what `push` sent into `target`.
pub fn pull(c: &mut Composition<'_>, stage: Stage, s: &SpokeSecret<'_>) {
    let spoke = c.spoke;
    let remote = remote_key(spoke, s.from);
    let body = ExternalSecretSpec {
        secret_store_ref: StoreRef::cluster(spoke),
        target: Target {
            name: s.target,
            creation_policy: "Owner",
        },
        data: s
            .keys
            .iter()
            .map(|k| PullData {
                secret_key: k,
                remote_ref: PullRemoteRef {
                    key: remote.clone(),
                    property: k,
                },
            })
            .collect(),
    };
    let object = Object::new(
        spoke,
        s.name,
        s.labels,
        Manifest {
            api_version: EXTERNAL_SECRET_API_VERSION,
            kind: "ExternalSecret",
            metadata: ManifestMetadata {
                name: s.target.to_string(),
                namespace: Some(s.namespace.to_string()),
                labels: s.labels,
            },
            body: super::workload::Spec { spec: body },
        },
    );
    c.add(stage, s.name, &object);
}

// The External Secrets shapes (`external-secrets.io`).

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushSecret<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: PushMetadata<'a>,
    spec: PushSpec<'a>,
}

#[derive(Serialize)]
struct PushMetadata<'a> {
    namespace: &'a str,
    labels: Labels<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushSpec<'a> {
    secret_store_refs: Vec<StoreRef<'a>>,
    selector: PushSelector,
    data: Vec<PushData<'a>>,
}

#[derive(Serialize)]
struct StoreRef<'a> {
    kind: &'static str,
    name: &'a str,
}

impl<'a> StoreRef<'a> {
    fn cluster(spoke: &'a Spoke) -> StoreRef<'a> {
        StoreRef {
            kind: "ClusterSecretStore",
            name: &spoke.input.secrets.cluster_secret_store,
        }
    }
}

#[derive(Serialize)]
struct PushSelector {
    secret: NamedSecret,
}

#[derive(Serialize)]
struct NamedSecret {
    name: String,
}

#[derive(Serialize)]
struct PushData<'a> {
    r#match: PushMatch<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushMatch<'a> {
    secret_key: &'a str,
    remote_ref: PushRemoteRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushRemoteRef<'a> {
    remote_key: String,
    property: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalSecretSpec<'a> {
    secret_store_ref: StoreRef<'a>,
    target: Target,
    data: Vec<PullData<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    name: &'static str,
    creation_policy: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PullData<'a> {
    secret_key: &'a str,
    remote_ref: PullRemoteRef<'a>,
}

#[derive(Serialize)]
struct PullRemoteRef<'a> {
    key: String,
    property: &'a str,
}
