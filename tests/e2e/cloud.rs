//! The cloud stand-in: a small test program playing AWS and Azure for the
//! upjet managed resources no provider reconciles here (EKS, EC2, IAM, AKS,
//! network). Not a mock of Crossplane: it only writes what a provider
//! would write into those resources' status.
//!
//! Every 250 ms it reads each XHybridSpoke's resource references. Like a
//! cloud provider, it creates a resource only once what the resource refers
//! to exists: an upjet resource whose `*Selector`s (`matchControllerRef`,
//! `hybridspoke.io/resource: <name>`) all point at Ready resources of the
//! same XR gets, [`DELAY`] later, `Synced`/`Ready` and the `status` the
//! reviewed examples record for it (examples/<cloud>/observed*/all-ready/,
//! by composition-resource-name: endpoint, CA, OIDC issuer, ids); one that
//! publishes a connection Secret (ClusterAuth, the AKS cluster) gets it,
//! with a kubeconfig for the spoke API server. So the network, the cluster,
//! the node pools and the add-ons become ready in that order, as in a
//! cloud. It never touches our provider's, provider-kubernetes' or
//! provider-helm's kinds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::KubeApiServer;
use hybrid_spoke_test_peers::crossplane_core::now;
use hybrid_spoke_test_peers::k8s_openapi::ByteString;
use hybrid_spoke_test_peers::k8s_openapi::api::core::v1::Secret;
use hybrid_spoke_test_peers::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use hybrid_spoke_test_peers::kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use hybrid_spoke_test_peers::kube::core::GroupVersionKind;
use hybrid_spoke_test_peers::kube::discovery::{self, ApiResource};
use hybrid_spoke_test_peers::kube::{self, Client};
use serde_json::{Value, json};

use crate::stack::repo;

/// How long a resource takes to become ready once what it refers to is.
pub const DELAY: Duration = Duration::from_millis(500);
/// The label the function puts on every composed resource, which its
/// selectors match.
const RESOURCE_LABEL: &str = "hybridspoke.io/resource";
const COMPOSITION_RESOURCE_NAME: &str = "crossplane.io/composition-resource-name";
const XR_API_VERSION: &str = "platform.hybridspoke.io/v1alpha1";

/// Whether the stand-in plays the cloud for this API group.
pub fn is_cloud_group(api_version: &str) -> bool {
    api_version
        .split_once('/')
        .is_some_and(|(group, _)| group.ends_with(".upbound.io"))
}

/// Counters the scenarios read: what the stand-in did, when.
#[derive(Default, Debug)]
pub struct Log {
    /// (composition-resource-name, XR name) → when it was marked Ready.
    pub ready_at: HashMap<(String, String), Instant>,
}

pub struct CloudStandIn {
    pub log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CloudStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CloudStandIn {
    pub fn start(client: Client, spoke: &KubeApiServer) -> Self {
        let kubeconfig =
            std::fs::read_to_string(spoke.kubeconfig_path()).expect("read the spoke's kubeconfig");
        let log = Arc::new(Mutex::new(Log::default()));
        let state = State {
            client,
            kubeconfig,
            templates: templates(),
            kinds: HashMap::new(),
            first_seen: HashMap::new(),
            log: log.clone(),
        };
        let task = tokio::spawn(run(state));
        Self { log, task }
    }
}

struct State {
    client: Client,
    kubeconfig: String,
    /// cloud → composition-resource-name → status.
    templates: BTreeMap<String, BTreeMap<String, Value>>,
    kinds: HashMap<(String, String), ApiResource>,
    first_seen: HashMap<String, Instant>,
    log: Arc<Mutex<Log>>,
}

/// The statuses the reviewed examples record at their last stage.
fn templates() -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for cloud in ["aws", "azure"] {
        let mut by_name = BTreeMap::new();
        for observed in ["observed", "observed-legacy"] {
            let dir = repo()
                .join("examples")
                .join(cloud)
                .join(observed)
                .join("all-ready");
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    let Ok(value) = <Value as serde::Deserialize>::deserialize(doc) else {
                        continue;
                    };
                    if let (Some(name), Some(status)) = (
                        value
                            .pointer("/metadata/annotations")
                            .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
                            .and_then(Value::as_str),
                        value.get("status"),
                    ) {
                        by_name.entry(name.to_string()).or_insert(status.clone());
                    }
                }
            }
        }
        out.insert(cloud.to_string(), by_name);
    }
    out
}

async fn run(mut state: State) {
    loop {
        if let Err(e) = tick(&mut state).await {
            eprintln!("cloud stand-in: {e}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl State {
    async fn resource(
        &mut self,
        api_version: &str,
        kind: &str,
    ) -> Result<ApiResource, kube::Error> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let (resource, _) =
            discovery::pinned_kind(&self.client, &GroupVersionKind::gvk(group, version, kind))
                .await?;
        self.kinds.insert(key, resource.clone());
        Ok(resource)
    }
}

async fn tick(state: &mut State) -> Result<(), String> {
    // Nothing to do until the XRD's CRD is served.
    let Ok(xr_resource) = state.resource(XR_API_VERSION, "XHybridSpoke").await else {
        return Ok(());
    };
    let xrs: Api<DynamicObject> = Api::all_with(state.client.clone(), &xr_resource);
    let xrs = xrs
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("list XRs: {e}"))?;
    // (apiVersion, kind) → the XRs (name, cloud) referencing that kind.
    let mut kinds: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut clouds: HashMap<String, String> = HashMap::new();
    for xr in &xrs.items {
        let xr = serde_json::to_value(xr).unwrap_or_default();
        let refs = xr
            .pointer("/spec/crossplane/resourceRefs")
            .or_else(|| xr.pointer("/spec/resourceRefs"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let xr_name = xr
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cloud = xr
            .pointer("/spec/cloud")
            .and_then(Value::as_str)
            .unwrap_or("aws");
        clouds.insert(xr_name.to_string(), cloud.to_string());
        for r in refs {
            let (Some(api_version), Some(kind)) = (r["apiVersion"].as_str(), r["kind"].as_str())
            else {
                continue;
            };
            if is_cloud_group(api_version) {
                kinds.insert((api_version.to_string(), kind.to_string()), ());
            }
        }
    }
    // One snapshot of every cloud resource, then decide.
    let mut objects = Vec::new();
    for (api_version, kind) in kinds.keys() {
        let resource = state
            .resource(api_version, kind)
            .await
            .map_err(|e| format!("{api_version} {kind}: {e}"))?;
        let api: Api<DynamicObject> = Api::all_with(state.client.clone(), &resource);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("list {kind}: {e}"))?;
        for object in list.items {
            objects.push((
                resource.clone(),
                serde_json::to_value(&object).unwrap_or_default(),
            ));
        }
    }
    let label = |o: &Value, key: &str| {
        o.pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // (XR, hybridspoke.io/resource) of every Ready resource.
    let ready_set: std::collections::HashSet<(String, String)> = objects
        .iter()
        .filter(|(_, o)| ready(o))
        .map(|(_, o)| {
            (
                label(o, "crossplane.io/composite"),
                label(o, RESOURCE_LABEL),
            )
        })
        .collect();
    for (resource, value) in objects {
        if ready(&value) || value.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let owner = label(&value, "crossplane.io/composite");
        let waiting = referenced(&value)
            .into_iter()
            .any(|r| !ready_set.contains(&(owner.clone(), r)));
        let uid = value
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if waiting {
            state.first_seen.remove(&uid);
            continue;
        }
        let eligible = *state.first_seen.entry(uid).or_insert_with(Instant::now);
        if eligible.elapsed() < DELAY {
            continue;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let cloud = clouds.get(&owner).cloned().unwrap_or_else(|| "aws".into());
        let name = value
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut status = state
            .templates
            .get(&cloud)
            .and_then(|t| t.get(&name))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let at = now();
        status["conditions"] = json!([
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": at},
            {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": at},
        ]);
        if let Some(secret) = value.pointer("/spec/writeConnectionSecretToRef") {
            write_connection_secret(state, &value, secret).await?;
        }
        let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str);
        let object_name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(state.client.clone(), ns, &resource),
            None => Api::all_with(state.client.clone(), &resource),
        };
        api.patch_status(
            object_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .map_err(|e| format!("mark {kind} {object_name} ready: {e}"))?;
        state
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ready_at
            .insert((name, owner), Instant::now());
    }
    Ok(())
}

/// The `hybridspoke.io/resource` names a resource's selectors point at.
fn referenced(object: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key.ends_with("Selector")
                        && let Some(name) = v
                            .pointer("/matchLabels")
                            .and_then(|l| l.get(RESOURCE_LABEL))
                            .and_then(Value::as_str)
                    {
                        out.push(name.to_string());
                    }
                    walk(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(spec) = object.get("spec") {
        walk(spec, &mut out);
    }
    out
}

fn ready(object: &Value) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The connection Secret a cluster's provider would publish: the spoke's
/// kubeconfig under `kubeconfig`.
async fn write_connection_secret(
    state: &mut State,
    object: &Value,
    to: &Value,
) -> Result<(), String> {
    let name = to["name"].as_str().unwrap_or_default();
    let namespace = to["namespace"]
        .as_str()
        .or_else(|| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
        })
        .unwrap_or("default");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        data: Some(
            [(
                "kubeconfig".to_string(),
                ByteString(state.kubeconfig.as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(state.client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::apply("cloud-stand-in").force(),
        &Patch::Apply(&secret),
    )
    .await
    .map_err(|e| format!("write connection Secret {namespace}/{name}: {e}"))?;
    Ok(())
}
