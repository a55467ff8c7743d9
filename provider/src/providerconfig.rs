//! ProviderConfigs: resolving one (and its credentials) for a managed
//! resource, and the controller that counts their users and blocks the
//! deletion of one in use (crossplane-runtime `pkg/reconciler/providerconfig`).

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::apis::Condition;
use crate::apis::SecretKeySelector;
use crate::apis::tailnet::{ProviderConfigSpec, ProviderConfigStatus, pc_cluster, pc_namespaced};
use crate::managed::ExternalError;
use crate::managed::conditions;
use crate::managed::usage::{LABEL_PROVIDER_CONFIG, LABEL_PROVIDER_CONFIG_KIND};
use crate::watched::Watched;

pub const IN_USE_FINALIZER: &str = "in-use.crossplane.io";

/// A ProviderConfig found for a managed resource (`S`: its group's spec).
#[derive(Clone, Debug)]
pub struct Resolved<S = ProviderConfigSpec> {
    pub spec: S,
    /// Where credential Secrets are read when a selector names no namespace
    /// (a namespaced ProviderConfig's own namespace).
    pub secret_namespace: Option<String>,
    /// `Kind/name` for messages.
    pub what: String,
}

fn not_found(what: &str) -> ExternalError {
    ExternalError::new(format!("cannot get {what}: not found"))
}

fn watch_err(what: &str, e: String) -> ExternalError {
    ExternalError::new(format!("cannot get {what}: {e}"))
}

/// The ProviderConfig kinds of one API group: namespaced ProviderConfig,
/// ClusterProviderConfig, legacy ProviderConfig, and their shared spec.
pub trait ConfigFamily {
    type Spec;
    type Namespaced: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    type Cluster: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    type Legacy: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    fn namespaced_spec(pc: Self::Namespaced) -> Self::Spec;
    fn cluster_spec(pc: Self::Cluster) -> Self::Spec;
    fn legacy_spec(pc: Self::Legacy) -> Self::Spec;
}

/// The tailnet group's ProviderConfigs.
pub struct Tailnet;

impl ConfigFamily for Tailnet {
    type Spec = ProviderConfigSpec;
    type Namespaced = pc_namespaced::ProviderConfig;
    type Cluster = pc_namespaced::ClusterProviderConfig;
    type Legacy = pc_cluster::ProviderConfig;
    fn namespaced_spec(pc: Self::Namespaced) -> Self::Spec {
        pc.spec.0
    }
    fn cluster_spec(pc: Self::Cluster) -> Self::Spec {
        pc.spec.0
    }
    fn legacy_spec(pc: Self::Legacy) -> Self::Spec {
        pc.spec.0
    }
}

/// Finds the tailnet ProviderConfig `kind`/`name` for a managed resource in
/// `mr_namespace` (`None`: a legacy cluster-scoped MR), from the watch.
pub async fn resolve(
    client: &kube::Client,
    watched: &Watched,
    mr_namespace: Option<&str>,
    kind: &str,
    name: &str,
) -> Result<Resolved, ExternalError> {
    resolve_in::<Tailnet>(client, watched, mr_namespace, kind, name).await
}

/// Finds the ProviderConfig `kind`/`name` of group `F` for a managed
/// resource in `mr_namespace` (`None`: a legacy cluster-scoped MR), from
/// the watch: no API-server request per reconcile.
pub async fn resolve_in<F: ConfigFamily>(
    client: &kube::Client,
    watched: &Watched,
    mr_namespace: Option<&str>,
    kind: &str,
    name: &str,
) -> Result<Resolved<F::Spec>, ExternalError> {
    let what = format!("{kind} {name}");
    match (mr_namespace, kind) {
        (Some(ns), "ProviderConfig") => {
            let what_ns = format!("ProviderConfig {ns}/{name}");
            let pc = watched
                .get::<F::Namespaced>(client, Some(ns), name)
                .await
                .map_err(|e| watch_err(&what_ns, e))?
                .ok_or_else(|| not_found(&what_ns))?;
            Ok(Resolved {
                spec: F::namespaced_spec((*pc).clone()),
                secret_namespace: Some(ns.to_string()),
                what,
            })
        }
        (Some(_), "ClusterProviderConfig") => {
            let pc = watched
                .get::<F::Cluster>(client, None, name)
                .await
                .map_err(|e| watch_err(&what, e))?
                .ok_or_else(|| not_found(&what))?;
            Ok(Resolved {
                spec: F::cluster_spec((*pc).clone()),
                secret_namespace: None,
                what,
            })
        }
        (None, _) => {
            let what = format!("ProviderConfig {name}");
            let pc = watched
                .get::<F::Legacy>(client, None, name)
                .await
                .map_err(|e| watch_err(&what, e))?
                .ok_or_else(|| not_found(&what))?;
            Ok(Resolved {
                spec: F::legacy_spec((*pc).clone()),
                secret_namespace: None,
                what,
            })
        }
        (Some(_), other) => Err(ExternalError::new(format!(
            "providerConfigRef.kind {other:?} is not ProviderConfig or ClusterProviderConfig"
        ))),
    }
}

/// Reads one credential from a Secret (watched). Messages name the Secret
/// and key, never the value.
pub async fn read_secret<S>(
    client: &kube::Client,
    watched: &Watched,
    resolved: &Resolved<S>,
    sel: &SecretKeySelector,
) -> Result<String, ExternalError> {
    let ns = match (&resolved.secret_namespace, &sel.namespace) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ExternalError::new(format!(
                "{}: a namespaced ProviderConfig may only read Secrets of its own namespace {own}, not {asked}",
                resolved.what
            )));
        }
        (Some(own), _) => own.clone(),
        (None, Some(asked)) => asked.clone(),
        (None, None) => {
            return Err(ExternalError::new(format!(
                "{}: the Secret reference {} needs a namespace",
                resolved.what, sel.name
            )));
        }
    };
    let what = format!("credentials Secret {ns}/{}", sel.name);
    let secret = watched
        .secret(client, &ns, &sel.name)
        .await
        .map_err(|e| watch_err(&what, e))?
        .ok_or_else(|| not_found(&what))?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&sel.key))
        .map(|b| String::from_utf8_lossy(&b.0).trim().to_string())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&sel.key))
                .map(|s| s.trim().to_string())
        })
        .filter(|v| !v.is_empty());
    value.ok_or_else(|| {
        ExternalError::new(format!(
            "credentials Secret {ns}/{} has no key {:?}",
            sel.name, sel.key
        ))
    })
}

// ---------------------------------------------------------------------------
// The ProviderConfig controller
// ---------------------------------------------------------------------------

/// A ProviderConfig kind the controller counts users of.
pub trait ProviderConfigKind:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    fn status(&self) -> Option<&ProviderConfigStatus>;
    fn api(client: &kube::Client, namespace: Option<&str>) -> Api<Self>;
    /// How many usages name this ProviderConfig; deletes usages that have no
    /// controller (e.g. restored from a backup without their owner).
    fn count_users(
        client: &kube::Client,
        pc: &Self,
    ) -> impl std::future::Future<Output = Result<i64, kube::Error>> + Send;
}

pub fn selector(kind: &str, name: &str) -> ListParams {
    ListParams::default().labels(&format!(
        "{LABEL_PROVIDER_CONFIG}={name},{LABEL_PROVIDER_CONFIG_KIND}={kind}"
    ))
}

/// (namespace, name, has a controller) of every usage `lp` selects, read as
/// metadata 500 at a time: a full LIST of thousands of usages (each with its
/// managedFields) on every usage change was the provider's largest memory
/// peak in the scale bench.
async fn usages<U>(
    api: &Api<U>,
    lp: ListParams,
) -> Result<Vec<(Option<String>, String, bool)>, kube::Error>
where
    U: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let mut out = Vec::new();
    let mut lp = lp.limit(500);
    loop {
        let page = api.list_metadata(&lp).await?;
        for u in &page.items {
            let controlled = u
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|refs| refs.iter().any(|r| r.controller == Some(true)));
            out.push((u.metadata.namespace.clone(), u.name_any(), controlled));
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// Counts the usages `lp` selects; deletes those without a controller.
pub async fn count<U>(api: Api<U>, lp: ListParams) -> Result<i64, kube::Error>
where
    U: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let mut users = 0;
    for (_, name, controlled) in usages(&api, lp).await? {
        if controlled {
            users += 1;
        } else {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
    }
    Ok(users)
}

/// Counts the namespaced usages (of every namespace) of the
/// ClusterProviderConfig `name`; deletes those without a controller.
pub async fn count_cluster_users<U>(client: &kube::Client, name: &str) -> Result<i64, kube::Error>
where
    U: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    // usages of all namespaces; deletions go through a namespaced API
    let mut users = 0;
    for (ns, name, controlled) in usages(
        &Api::<U>::all(client.clone()),
        selector("ClusterProviderConfig", name),
    )
    .await?
    {
        if controlled {
            users += 1;
        } else if let Some(ns) = ns {
            let _ = Api::<U>::namespaced(client.clone(), &ns)
                .delete(&name, &DeleteParams::default())
                .await;
        }
    }
    Ok(users)
}

/// Implements [`ProviderConfigKind`] for one API group's ProviderConfig,
/// ClusterProviderConfig (module `$ns`) and legacy ProviderConfig (module
/// `$legacy`), with their ProviderConfigUsages.
macro_rules! impl_provider_config_kinds {
    ($($ns:ident)::+, $($legacy:ident)::+) => {
        impl $crate::providerconfig::ProviderConfigKind for $($ns)::+::ProviderConfig {
            fn status(&self) -> Option<&$crate::apis::ProviderConfigStatus> {
                self.status.as_ref()
            }
            fn api(client: &::kube::Client, namespace: Option<&str>) -> ::kube::api::Api<Self> {
                ::kube::api::Api::namespaced(client.clone(), namespace.unwrap_or("default"))
            }
            async fn count_users(client: &::kube::Client, pc: &Self) -> Result<i64, ::kube::Error> {
                let ns = ::kube::ResourceExt::namespace(pc).unwrap_or_default();
                let api = ::kube::api::Api::<$($ns)::+::ProviderConfigUsage>::namespaced(client.clone(), &ns);
                $crate::providerconfig::count(api, $crate::providerconfig::selector("ProviderConfig", &::kube::ResourceExt::name_any(pc))).await
            }
        }

        impl $crate::providerconfig::ProviderConfigKind for $($ns)::+::ClusterProviderConfig {
            fn status(&self) -> Option<&$crate::apis::ProviderConfigStatus> {
                self.status.as_ref()
            }
            fn api(client: &::kube::Client, _: Option<&str>) -> ::kube::api::Api<Self> {
                ::kube::api::Api::all(client.clone())
            }
            async fn count_users(client: &::kube::Client, pc: &Self) -> Result<i64, ::kube::Error> {
                $crate::providerconfig::count_cluster_users::<$($ns)::+::ProviderConfigUsage>(client, &::kube::ResourceExt::name_any(pc)).await
            }
        }

        impl $crate::providerconfig::ProviderConfigKind for $($legacy)::+::ProviderConfig {
            fn status(&self) -> Option<&$crate::apis::ProviderConfigStatus> {
                self.status.as_ref()
            }
            fn api(client: &::kube::Client, _: Option<&str>) -> ::kube::api::Api<Self> {
                ::kube::api::Api::all(client.clone())
            }
            async fn count_users(client: &::kube::Client, pc: &Self) -> Result<i64, ::kube::Error> {
                let api = ::kube::api::Api::<$($legacy)::+::ProviderConfigUsage>::all(client.clone());
                $crate::providerconfig::count(api, $crate::providerconfig::selector("ProviderConfig", &::kube::ResourceExt::name_any(pc))).await
            }
        }
    };
}

pub(crate) use impl_provider_config_kinds;

impl_provider_config_kinds!(pc_namespaced, pc_cluster);

/// The condition a ProviderConfig in use shows while its deletion waits.
pub fn in_use_condition(users: i64) -> Condition {
    Condition {
        type_: "Terminating".into(),
        status: "True".into(),
        last_transition_time: String::new(),
        reason: crate::managed::reasons::IN_USE.into(),
        message: Some(format!(
            "Blocking deletion while usages still exist ({users} users)"
        )),
        observed_generation: None,
    }
}

/// Reconciles one ProviderConfig: the in-use finalizer, `status.users`.
pub async fn reconcile<P: ProviderConfigKind>(
    pc: Arc<P>,
    client: Arc<kube::Client>,
) -> Result<Action, kube::Error> {
    let api = P::api(&client, pc.meta().namespace.as_deref());
    let name = pc.name_any();
    let users = P::count_users(&client, &pc).await?;
    let deleting = pc.meta().deletion_timestamp.is_some();
    let has_finalizer = pc.finalizers().iter().any(|f| f == IN_USE_FINALIZER);
    // the finalizer first (a conflict-checked replace of what we read)
    let pc: P = if !deleting && !has_finalizer {
        let mut updated = (*pc).clone();
        updated.finalizers_mut().push(IN_USE_FINALIZER.into());
        api.replace(&name, &PostParams::default(), &updated).await?
    } else {
        (*pc).clone()
    };
    let mut status = pc.status().cloned().unwrap_or_default();
    let mut changed = status.users != users;
    status.users = users;
    let now = jiff::Timestamp::now().to_string();
    if deleting && users > 0 {
        changed |= conditions::set(
            &mut status.conditions,
            in_use_condition(users),
            pc.meta().generation,
            &now,
        )
        .is_some();
    }
    if changed {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    }
    if deleting {
        if users == 0 && has_finalizer {
            let mut latest = api.get(&name).await?;
            latest.finalizers_mut().retain(|f| f != IN_USE_FINALIZER);
            api.replace(&name, &PostParams::default(), &latest).await?;
            return Ok(Action::await_change());
        }
        // usages are watched; the requeue is a safety net
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    Ok(Action::requeue(Duration::from_secs(600)))
}
