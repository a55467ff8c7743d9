//! The envelope of a provider-kubernetes `Object`: a Kubernetes object in
//! the spoke, applied through the spoke's own ProviderConfig, with the
//! readiness policy that reflects the embedded object (`ready.rs`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::managed::{Api, Config, Domain, Labels, ProviderConfigRef};
use super::ready::{self, ObjectReadiness};
use crate::validate::Spoke;

/// Namespaced Objects are v1alpha1; the legacy group stores v1alpha2.
pub const OBJECT: Api = Api::new(
    Domain::Crossplane,
    "kubernetes",
    "Object",
    "v1alpha1",
    "v1alpha2",
);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a, B> {
    api_version: String,
    kind: &'static str,
    metadata: ObjectMetadata<'a>,
    spec: ObjectSpec<'a, B>,
}

#[derive(Serialize)]
struct ObjectMetadata<'a> {
    labels: Labels<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectSpec<'a, B> {
    for_provider: ForProvider<'a, B>,
    readiness: ObjectReadiness,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference>,
    provider_config_ref: ProviderConfigRef,
}

#[derive(Serialize)]
struct ForProvider<'a, B> {
    manifest: Manifest<'a, B>,
}

/// The object in the spoke: its identity, FinOps labels and body (`spec`,
/// `data`, ...), flattened beside them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest<'a, B> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ManifestMetadata<'a>,
    #[serde(flatten)]
    pub body: B,
}

#[derive(Serialize)]
pub struct ManifestMetadata<'a> {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub labels: &'a BTreeMap<String, String>,
}

/// A value patched in from a hub object when provider-kubernetes applies
/// the manifest: the secret never appears in this Object's spec.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    patches_from: PatchesFrom,
    to_field_path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PatchesFrom {
    api_version: &'static str,
    kind: &'static str,
    name: String,
    namespace: String,
    field_path: String,
}

impl Reference {
    /// Copies key `key` of the hub Secret `namespace/name` into the manifest
    /// at `to` (e.g. `data.TS_AUTHKEY`), base64 as Secrets store it.
    pub fn secret_key(namespace: &str, name: &str, key: &str, to: &str) -> Reference {
        Reference {
            patches_from: PatchesFrom {
                api_version: "v1",
                kind: "Secret",
                name: name.to_string(),
                namespace: namespace.to_string(),
                field_path: format!("data.{key}"),
            },
            to_field_path: format!("spec.forProvider.manifest.{to}"),
        }
    }
}

impl<'a, B: Serialize> Object<'a, B> {
    /// An Object of this spoke, applied to the spoke's cluster, labelled
    /// with `labels` (the part's FinOps labels) and the selection label.
    pub fn new(
        spoke: &'a Spoke,
        resource_name: &str,
        labels: &'a BTreeMap<String, String>,
        manifest: Manifest<'a, B>,
    ) -> Self {
        let namespaced = spoke.namespace.is_some();
        Object {
            api_version: OBJECT.api_version(namespaced),
            kind: OBJECT.kind,
            metadata: ObjectMetadata {
                labels: Labels {
                    finops: labels,
                    resource: resource_name.to_string(),
                    role: None,
                },
            },
            spec: ObjectSpec {
                readiness: ready::object_readiness(manifest.kind),
                for_provider: ForProvider { manifest },
                references: Vec::new(),
                provider_config_ref: ProviderConfigRef::of(spoke, Config::Spoke),
            },
        }
    }

    /// Applies the object elsewhere than the spoke (e.g. the hub).
    pub fn provider_config(mut self, spoke: &Spoke, config: Config) -> Self {
        self.spec.provider_config_ref = ProviderConfigRef::of(spoke, config);
        self
    }

    pub fn reference(mut self, reference: Reference) -> Self {
        self.spec.references.push(reference);
        self
    }
}

/// A Namespace in the spoke, labelled like the part that owns it.
pub fn namespace(
    c: &mut super::Composition<'_>,
    stage: super::Stage,
    resource_name: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) {
    let spoke = c.spoke;
    let object = Object::new(
        spoke,
        resource_name,
        labels,
        Manifest {
            api_version: "v1",
            kind: "Namespace",
            metadata: ManifestMetadata {
                name: name.to_string(),
                namespace: None,
                labels,
            },
            body: super::workload::Empty {},
        },
    );
    c.add(stage, resource_name, &object);
}
