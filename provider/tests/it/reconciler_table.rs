//! Table tests of the generic managed reconciler, as crossplane-runtime
//! tests its `managed.Reconciler`: a scripted external client (answers and
//! errors of observe / create / update / delete) and an in-memory API server
//! (`managed::cluster::Cluster`), so each case runs in milliseconds with no
//! kube-apiserver.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use provider_hybrid_spoke::apis::tailnet::{TailnetKeyParameters, cluster, namespaced};
use provider_hybrid_spoke::apis::{
    Condition, DeletionPolicy, LocalSecretReference, ManagementAction, ProviderConfigReference,
    SecretReference, TypedProviderConfigReference,
};
use provider_hybrid_spoke::managed::cluster::Cluster;
use provider_hybrid_spoke::managed::conditions::{self as cond, TYPE_READY, TYPE_SYNCED};
use provider_hybrid_spoke::managed::connection::{Lost, PublishError};
use provider_hybrid_spoke::managed::decide::{
    ANN_CREATE_FAILED, ANN_CREATE_PENDING, ANN_CREATE_SUCCEEDED, ANN_EXTERNAL_NAME, ANN_PAUSED,
    FINALIZER,
};
use provider_hybrid_spoke::managed::ratelimit::GlobalLimiter;
use provider_hybrid_spoke::managed::reasons;
use provider_hybrid_spoke::managed::reconciler::{Options, Reconciler};
use provider_hybrid_spoke::managed::{
    ConnectionDetails, Connector, Creation, ErrorKind, ExternalClient, ExternalError, Managed,
    Observation, Readiness, Recovery, Updated,
};
use provider_hybrid_spoke::metrics::Metrics;
use serde_json::Value;

const SECRET_KEY: &str = "authkey";

// ---------------------------------------------------------------------------
// The in-memory API server
// ---------------------------------------------------------------------------

struct ApiState<K> {
    /// The stored object; `None` once deleted.
    obj: Option<K>,
    rv: u64,
    events: Vec<(EventType, String)>,
    secrets: BTreeMap<(String, String), ConnectionDetails>,
    usage: bool,
    /// Ready=True was written while the connection Secret lacked its key.
    ready_before_secret: bool,
    /// GETs of the object (the reconciler reads from the watch cache).
    gets: usize,
}

#[derive(Clone)]
struct FakeApi<K>(Arc<Mutex<ApiState<K>>>, kube::Client);

fn conflict() -> kube::Error {
    kube::Error::Api(Box::new(
        kube::core::Status::failure("the object has been modified", "Conflict").with_code(409),
    ))
}

impl<K: Managed> FakeApi<K> {
    fn new(obj: K) -> Self {
        // never dialled: the fake connector ignores it
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
        let client = kube::Client::try_from(config).expect("a client");
        let mut obj = obj;
        obj.meta_mut().resource_version = Some("1".into());
        Self(
            Arc::new(Mutex::new(ApiState {
                obj: Some(obj),
                rv: 1,
                events: Vec::new(),
                secrets: BTreeMap::new(),
                usage: false,
                ready_before_secret: false,
                gets: 0,
            })),
            client,
        )
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ApiState<K>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self) -> Option<K> {
        self.state().obj.clone()
    }

    fn edit(&self, f: impl FnOnce(&mut K)) {
        let mut s = self.state();
        s.rv += 1;
        let rv = s.rv.to_string();
        if let Some(o) = s.obj.as_mut() {
            f(o);
            o.meta_mut().resource_version = Some(rv);
        }
    }

    /// Stores `obj` with a new resourceVersion; an object being deleted
    /// without finalizers is gone.
    fn store(s: &mut ApiState<K>, mut obj: K) -> K {
        s.rv += 1;
        obj.meta_mut().resource_version = Some(s.rv.to_string());
        let gone = obj.meta().deletion_timestamp.is_some()
            && obj.meta().finalizers.as_ref().is_none_or(|f| f.is_empty());
        s.obj = (!gone).then(|| obj.clone());
        obj
    }

    fn events(&self) -> Vec<String> {
        self.state().events.iter().map(|(_, r)| r.clone()).collect()
    }

    fn secret(&self) -> Option<ConnectionDetails> {
        self.state().secrets.values().next().cloned()
    }
}

impl<K: Managed> Cluster<K> for FakeApi<K> {
    fn client(&self) -> &kube::Client {
        &self.1
    }

    async fn get(&self, _mr: &K) -> Result<Option<K>, kube::Error> {
        self.state().gets += 1;
        Ok(self.get())
    }

    async fn replace(&self, mr: &K) -> Result<K, kube::Error> {
        let mut s = self.state();
        let current = s
            .obj
            .as_ref()
            .and_then(|o| o.meta().resource_version.clone());
        if current != mr.meta().resource_version {
            return Err(conflict());
        }
        Ok(Self::store(&mut s, mr.clone()))
    }

    async fn patch_annotations(
        &self,
        _mr: &K,
        annotations: &serde_json::Map<String, Value>,
    ) -> Result<K, kube::Error> {
        let mut s = self.state();
        let mut obj = s.obj.clone().ok_or_else(conflict)?;
        let ann = obj.meta_mut().annotations.get_or_insert_with(BTreeMap::new);
        for (k, v) in annotations {
            match v.as_str() {
                Some(v) => {
                    ann.insert(k.clone(), v.to_string());
                }
                None => {
                    ann.remove(k);
                }
            }
        }
        Ok(Self::store(&mut s, obj))
    }

    async fn patch_status(&self, _mr: &K, patch: &Value) -> Result<(), kube::Error> {
        let mut s = self.state();
        let obj = s.obj.clone().ok_or_else(conflict)?;
        let want = patch["metadata"]["resourceVersion"]
            .as_str()
            .map(String::from);
        if want.is_some() && want != obj.meta().resource_version {
            return Err(conflict());
        }
        let mut value = serde_json::to_value(&obj).map_err(kube::Error::SerdeError)?;
        let status = value.as_object_mut().map(|o| {
            o.entry("status")
                .or_insert_with(|| Value::Object(Default::default()))
        });
        if let (Some(status), Some(new)) = (status, patch["status"].as_object()) {
            for (k, v) in new {
                status[k] = v.clone();
            }
        }
        let obj: K = serde_json::from_value(value).map_err(kube::Error::SerdeError)?;
        if cond::is_true(&obj.conditions(), TYPE_READY) {
            let has_key = s
                .secrets
                .values()
                .any(|d| d.get(SECRET_KEY).is_some_and(|v| !v.is_empty()));
            s.ready_before_secret |= !has_key;
        }
        Self::store(&mut s, obj);
        Ok(())
    }

    async fn event(&self, _mr: &K, ev: &Event) -> Result<(), kube::Error> {
        self.state().events.push((ev.type_, ev.reason.clone()));
        Ok(())
    }

    async fn track_usage(&self, _mr: &K) -> Result<(), kube::Error> {
        self.state().usage = true;
        Ok(())
    }

    async fn untrack_usage(&self, _mr: &K) -> Result<(), kube::Error> {
        self.state().usage = false;
        Ok(())
    }

    async fn publish(
        &self,
        ns: &str,
        name: &str,
        _owner: &OwnerReference,
        details: &ConnectionDetails,
    ) -> Result<(), PublishError> {
        self.state()
            .secrets
            .entry((ns.into(), name.into()))
            .or_default()
            .extend(details.clone());
        Ok(())
    }

    async fn unpublish(&self, _ns: &str, _name: &str, _uid: &str) -> Result<(), PublishError> {
        Ok(())
    }

    async fn lost_connection_keys(
        &self,
        ns: &str,
        name: &str,
        _uid: &str,
        keys: &[&'static str],
    ) -> Result<Option<Lost>, kube::Error> {
        let what = format!("{ns}/{name}");
        let s = self.state();
        let Some(d) = s.secrets.get(&(ns.to_string(), name.to_string())) else {
            return Ok(Some(Lost::Secret(what)));
        };
        let missing: Vec<&'static str> = keys
            .iter()
            .filter(|k| d.get(**k).is_none_or(|v| v.is_empty()))
            .copied()
            .collect();
        Ok((!missing.is_empty()).then_some(Lost::Keys(what, missing)))
    }
}

// ---------------------------------------------------------------------------
// The scripted external API
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Script {
    /// External resources that exist (by ID).
    existing: Vec<String>,
    up_to_date: bool,
    next_id: u32,
    /// Errors the next calls of an operation return, in order.
    errors: BTreeMap<&'static str, VecDeque<ExternalError>>,
    /// What `recover_incomplete_create` answers.
    recovery: Option<Recovery>,
    calls: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeExternal(Arc<Mutex<Script>>);

impl FakeExternal {
    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, op: &'static str, e: ExternalError) {
        self.script().errors.entry(op).or_default().push_back(e);
    }

    fn call(&self, op: &str) -> Result<(), ExternalError> {
        let mut s = self.script();
        s.calls.push(op.to_string());
        match s.errors.get_mut(op).and_then(VecDeque::pop_front) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn calls(&self, op: &str) -> usize {
        self.script().calls.iter().filter(|c| *c == op).count()
    }
}

impl<K: Managed> ExternalClient<K> for FakeExternal {
    async fn observe(&self, _mr: &K, name: Option<&str>) -> Result<Observation, ExternalError> {
        self.call("observe")?;
        let s = self.script();
        let exists = name.is_some_and(|n| s.existing.iter().any(|e| e == n));
        Ok(Observation {
            exists,
            up_to_date: exists && s.up_to_date,
            ready: if exists {
                Readiness::Available
            } else {
                Readiness::Unknown
            },
            ..Default::default()
        })
    }

    async fn create(&self, _mr: &K) -> Result<Creation, ExternalError> {
        self.call("create")?;
        let mut s = self.script();
        s.next_id += 1;
        let id = format!("k{}", s.next_id);
        s.existing.push(id.clone());
        s.up_to_date = true;
        Ok(Creation {
            external_name: id.clone(),
            connection_details: [(SECRET_KEY.to_string(), format!("secret-{id}").into_bytes())]
                .into(),
            at_provider: None,
        })
    }

    async fn update(&self, _mr: &K, _name: &str) -> Result<Updated, ExternalError> {
        self.call("update")?;
        self.script().up_to_date = true;
        Ok(Updated::default())
    }

    async fn delete(&self, _mr: &K, name: &str) -> Result<(), ExternalError> {
        self.call("delete")?;
        self.script().existing.retain(|e| e != name);
        Ok(())
    }

    fn connection_keys(&self, _mr: &K) -> Vec<&'static str> {
        vec![SECRET_KEY]
    }

    async fn recover_incomplete_create(
        &self,
        _mr: &K,
        _pending: jiff::Timestamp,
    ) -> Result<Option<Recovery>, ExternalError> {
        self.call("recover")?;
        Ok(self.script().recovery.clone())
    }
}

impl<K: Managed> Connector<K> for FakeExternal {
    type Client = FakeExternal;
    async fn connect(&self, _kube: &kube::Client, _mr: &K) -> Result<FakeExternal, ExternalError> {
        self.call("connect")?;
        Ok(self.clone())
    }
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

struct Case<K: Managed> {
    api: FakeApi<K>,
    external: FakeExternal,
    metrics: Arc<Metrics>,
    rec: Reconciler<K, FakeExternal, FakeApi<K>>,
}

impl<K: Managed> Case<K> {
    fn new(obj: K) -> Self {
        let api = FakeApi::new(obj);
        let external = FakeExternal::default();
        let metrics = Arc::new(Metrics::new());
        let opts = Options {
            creation_grace: Duration::ZERO,
            poll_jitter: 0.0,
            ..Options::default()
        };
        let rec = Reconciler::on(
            api.clone(),
            external.clone(),
            opts,
            metrics.clone(),
            Arc::new(GlobalLimiter::new(10_000)),
        );
        Self {
            api,
            external,
            metrics,
            rec,
        }
    }

    /// One reconcile of the stored object, as the watch would hand it over.
    async fn reconcile(&self) -> Action {
        let obj = self.api.get().expect("the object exists");
        self.rec.reconcile(Arc::new(obj)).await
    }

    fn condition(&self, type_: &str) -> Option<Condition> {
        let obj = self.api.get()?;
        cond::get(&obj.conditions(), type_).cloned()
    }

    fn reason(&self, type_: &str) -> String {
        self.condition(type_).map(|c| c.reason).unwrap_or_default()
    }

    fn annotation(&self, key: &str) -> Option<String> {
        self.api
            .get()?
            .meta()
            .annotations
            .as_ref()?
            .get(key)
            .cloned()
    }

    fn has_finalizer(&self) -> bool {
        self.api
            .get()
            .and_then(|o| o.meta().finalizers.clone())
            .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
    }

    fn delete(&self) {
        self.api.edit(|o| {
            o.meta_mut().deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        });
    }
}

fn key(policies: Vec<ManagementAction>) -> namespaced::TailnetKey {
    let spec = namespaced::TailnetKeySpec {
        for_provider: TailnetKeyParameters::default(),
        rotation: None,
        write_connection_secret_to_ref: Some(LocalSecretReference { name: "k".into() }),
        provider_config_ref: TypedProviderConfigReference {
            kind: "ProviderConfig".into(),
            name: "default".into(),
        },
        management_policies: policies,
    };
    let mut k = namespaced::TailnetKey::new("k", spec);
    k.meta_mut().namespace = Some("ns".into());
    k.meta_mut().uid = Some("uid-1".into());
    k.meta_mut().generation = Some(1);
    k
}

fn all() -> Vec<ManagementAction> {
    vec![ManagementAction::All]
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_then_observe_publishes_the_secret_before_ready() {
    let c = Case::new(key(all()));
    // 1: nothing exists: create, record, publish; Ready=Creating
    let action = c.reconcile().await;
    assert_eq!(action, Action::requeue(Duration::from_millis(200)));
    assert_eq!(c.external.calls("create"), 1);
    assert_eq!(c.annotation(ANN_EXTERNAL_NAME).as_deref(), Some("k1"));
    assert!(c.annotation(ANN_CREATE_PENDING).is_some());
    assert!(c.annotation(ANN_CREATE_SUCCEEDED).is_some());
    assert!(c.has_finalizer());
    assert!(c.api.state().usage, "the ProviderConfigUsage is tracked");
    assert_eq!(c.reason(TYPE_READY), reasons::CREATING);
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_SUCCESS);
    assert_eq!(
        c.api.secret().and_then(|d| d.get(SECRET_KEY).cloned()),
        Some(b"secret-k1".to_vec())
    );
    assert_eq!(c.api.events(), [reasons::EV_CREATED]);
    // 2: observed, up to date: Ready=True, poll
    let action = c.reconcile().await;
    assert_eq!(action, Action::requeue(Options::default().poll));
    assert_eq!(c.reason(TYPE_READY), reasons::AVAILABLE);
    assert_eq!(c.external.calls("create"), 1, "no second create");
    assert!(
        !c.api.state().ready_before_secret,
        "Ready=True was never written before the connection Secret held the key"
    );
}

#[tokio::test]
async fn drift_is_corrected_by_update() {
    let c = Case::new(key(all()));
    c.reconcile().await;
    c.external.script().up_to_date = false;
    c.reconcile().await;
    assert_eq!(c.external.calls("update"), 1);
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_SUCCESS);
    assert!(c.api.events().contains(&reasons::EV_UPDATED.to_string()));
}

#[tokio::test]
async fn an_incomplete_create_stops_for_a_human_when_the_kind_cannot_recover() {
    let mut k = key(all());
    let pending = now();
    k.meta_mut().annotations = Some([(ANN_CREATE_PENDING.to_string(), pending)].into());
    let c = Case::new(k);
    let action = c.reconcile().await;
    assert_eq!(
        action,
        Action::await_change(),
        "no requeue: a human must act"
    );
    assert_eq!(c.external.calls("create"), 0);
    assert_eq!(c.external.calls("observe"), 0);
    assert_eq!(c.reason(TYPE_READY), reasons::CREATING);
    let synced = c.condition(TYPE_SYNCED).expect("Synced");
    assert_eq!(synced.reason, reasons::RECONCILE_ERROR);
    assert_eq!(synced.message.as_deref(), Some(cond::MSG_INCOMPLETE_CREATE));
    assert_eq!(c.api.events(), [reasons::EV_CANNOT_INITIALIZE]);
}

#[tokio::test]
async fn an_incomplete_create_the_kind_recovers_creates_once_again() {
    let mut k = key(all());
    k.meta_mut().annotations = Some([(ANN_CREATE_PENDING.to_string(), now())].into());
    let c = Case::new(k);
    c.external.script().recovery = Some(Recovery::Discarded(vec!["k0".into()]));
    c.reconcile().await;
    assert_eq!(c.external.calls("recover"), 1);
    assert!(
        c.annotation(ANN_CREATE_FAILED).is_some(),
        "recorded as failed"
    );
    assert_eq!(c.api.events(), [reasons::EV_RECOVERED]);
    assert_eq!(c.external.calls("create"), 0);
    // the next reconcile creates, once
    c.reconcile().await;
    c.reconcile().await;
    assert_eq!(c.external.calls("create"), 1);
    assert_eq!(c.reason(TYPE_READY), reasons::AVAILABLE);
}

#[tokio::test]
async fn a_stale_copy_showing_a_create_pending_is_read_again_not_recovered() {
    let c = Case::new(key(all()));
    c.external.script().recovery = Some(Recovery::NothingCreated);
    c.reconcile().await;
    assert_eq!(c.external.calls("create"), 1);
    // the watch cache still holds the copy written just before the create
    let mut stale = c.api.get().expect("the object");
    if let Some(a) = stale.meta_mut().annotations.as_mut() {
        a.remove(ANN_CREATE_SUCCEEDED);
        a.remove(ANN_EXTERNAL_NAME);
    }
    stale.meta_mut().resource_version = Some("2".into());
    c.rec.reconcile(Arc::new(stale)).await;
    assert_eq!(c.api.state().gets, 1, "read the object once");
    assert_eq!(
        c.external.calls("recover"),
        0,
        "no recovery: the create was recorded"
    );
    assert_eq!(c.external.calls("create"), 1, "no second create");
    assert_eq!(c.reason(TYPE_READY), reasons::AVAILABLE);
    assert!(!c.api.events().contains(&reasons::EV_RECOVERED.to_string()));
}

#[tokio::test]
async fn observe_only_never_creates_updates_or_deletes() {
    let c = Case::new(key(vec![ManagementAction::Observe]));
    // missing: an error, but a poll, not a backoff
    let action = c.reconcile().await;
    assert_eq!(action, Action::requeue(Options::default().poll));
    let synced = c.condition(TYPE_SYNCED).expect("Synced");
    assert_eq!(synced.reason, reasons::RECONCILE_ERROR);
    assert_eq!(
        synced.message.as_deref(),
        Some("observe failed: external resource does not exist")
    );
    // it appears (someone else made it) and drifts: still only observed
    c.external.script().existing.push("ext".into());
    c.api.edit(|o| {
        o.meta_mut()
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANN_EXTERNAL_NAME.into(), "ext".into());
    });
    c.reconcile().await;
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_SUCCESS);
    assert_eq!(c.reason(TYPE_READY), reasons::AVAILABLE);
    c.delete();
    c.reconcile().await;
    assert_eq!(
        (
            c.external.calls("create"),
            c.external.calls("update"),
            c.external.calls("delete")
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn policies_without_delete_orphan_the_external_resource() {
    let c = Case::new(key(vec![
        ManagementAction::Observe,
        ManagementAction::Create,
        ManagementAction::Update,
        ManagementAction::LateInitialize,
    ]));
    c.reconcile().await;
    assert!(c.has_finalizer());
    c.delete();
    let action = c.reconcile().await;
    assert_eq!(action, Action::await_change());
    assert_eq!(c.external.calls("delete"), 0, "orphaned, not deleted");
    assert!(
        c.api.get().is_none(),
        "finalizer removed: the object is gone"
    );
    assert_eq!(c.external.script().existing, ["k1"]);
    assert!(!c.api.state().usage, "usage removed");
}

fn cluster_key(policy: DeletionPolicy) -> cluster::TailnetKey {
    let spec = cluster::TailnetKeySpec {
        for_provider: TailnetKeyParameters::default(),
        rotation: None,
        write_connection_secret_to_ref: Some(SecretReference {
            name: "k".into(),
            namespace: "ns".into(),
        }),
        provider_config_ref: ProviderConfigReference {
            name: "default".into(),
        },
        management_policies: all(),
        deletion_policy: policy,
    };
    let mut k = cluster::TailnetKey::new("k", spec);
    k.meta_mut().uid = Some("uid-c".into());
    k
}

#[tokio::test]
async fn legacy_deletion_policy_orphan_and_delete() {
    let c = Case::new(cluster_key(DeletionPolicy::Orphan));
    c.reconcile().await;
    c.delete();
    c.reconcile().await;
    assert_eq!(c.external.calls("delete"), 0);
    assert!(c.api.get().is_none());

    let c = Case::new(cluster_key(DeletionPolicy::Delete));
    c.reconcile().await;
    c.delete();
    // deletes, sets Deleting, comes back to verify
    c.reconcile().await;
    assert_eq!(c.external.calls("delete"), 1);
    assert_eq!(c.reason(TYPE_READY), reasons::DELETING);
    c.reconcile().await;
    assert!(c.api.get().is_none(), "gone once the external resource is");
    assert!(c.external.script().existing.is_empty());
}

#[tokio::test]
async fn paused_resources_are_not_touched() {
    let mut k = key(all());
    k.meta_mut().annotations = Some([(ANN_PAUSED.to_string(), "true".to_string())].into());
    let c = Case::new(k);
    let action = c.reconcile().await;
    assert_eq!(action, Action::await_change());
    assert!(c.external.script().calls.is_empty(), "not even connected");
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_PAUSED);
    assert_eq!(c.api.events(), [reasons::EV_PAUSED]);
    // an empty managementPolicies pauses as well
    let c = Case::new(key(Vec::new()));
    c.reconcile().await;
    assert!(c.external.script().calls.is_empty());
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_PAUSED);
}

#[tokio::test]
async fn failures_back_off_exponentially_and_are_counted_by_step() {
    let c = Case::new(key(all()));
    for _ in 0..8 {
        c.external
            .fail("observe", ExternalError::new("503 Service Unavailable"));
    }
    let mut waits = Vec::new();
    for _ in 0..8 {
        waits.push(c.reconcile().await);
    }
    let expected: Vec<Action> = [1, 2, 4, 8, 16, 32, 60, 60]
        .iter()
        .map(|s| Action::requeue(Duration::from_secs(*s)))
        .collect();
    assert_eq!(waits, expected);
    let synced = c.condition(TYPE_SYNCED).expect("Synced");
    assert_eq!(synced.reason, reasons::RECONCILE_ERROR);
    assert_eq!(
        synced.message.as_deref(),
        Some("observe failed: 503 Service Unavailable")
    );
    // one Warning event on the transition, not one per failure
    assert_eq!(c.api.events(), [reasons::EV_CANNOT_OBSERVE]);
    let metrics = c.metrics.encode();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("provider_reconcile_errors_total{")
                && l.contains("error=\"observe\"")
                && l.ends_with(" 8")),
        "{metrics}"
    );
    // a success resets the backoff
    c.reconcile().await;
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_SUCCESS);
    c.external
        .fail("observe", ExternalError::new("503 Service Unavailable"));
    assert_eq!(c.reconcile().await, Action::requeue(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_create_error_is_recorded_and_retried_with_backoff() {
    let c = Case::new(key(all()));
    c.external.fail("create", ExternalError::new("boom"));
    let action = c.reconcile().await;
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    assert!(c.annotation(ANN_CREATE_FAILED).is_some());
    assert_eq!(c.reason(TYPE_READY), reasons::CREATING);
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RECONCILE_ERROR);
    assert_eq!(c.api.events(), [reasons::EV_CANNOT_CREATE]);
    // not an incomplete create: the next reconcile creates again
    c.reconcile().await;
    assert_eq!(c.external.calls("create"), 2);
    assert_eq!(c.annotation(ANN_EXTERNAL_NAME).as_deref(), Some("k1"));
}

#[tokio::test]
async fn a_rate_limit_waits_for_retry_after_without_backoff() {
    let c = Case::new(key(all()));
    c.external.fail(
        "observe",
        ExternalError::rate_limited(
            "Tailscale",
            "GET /keys",
            "answered 429",
            Duration::from_secs(7),
        ),
    );
    let action = c.reconcile().await;
    assert_eq!(action, Action::requeue(Duration::from_secs(7)));
    assert_eq!(c.reason(TYPE_SYNCED), reasons::RATE_LIMITED);
    // a watch event before then does not reach the API
    let observed = c.external.calls("observe");
    let action = c.reconcile().await;
    assert!(matches!(format!("{action:?}"), s if s.contains("requeue_after: Some")));
    assert_eq!(c.external.calls("observe"), observed);
    assert!(
        !c.metrics
            .encode()
            .contains("provider_reconcile_errors_total{"),
        "a rate limit is not a failure"
    );
}

#[tokio::test]
async fn a_lost_connection_secret_is_repaired_by_replacing_a_show_once_secret() {
    let c = Case::new(key(all()));
    c.reconcile().await;
    c.reconcile().await;
    c.api.state().secrets.clear();
    c.reconcile().await;
    assert_eq!(
        c.external.calls("create"),
        2,
        "a new key, its secret shown once"
    );
    assert_eq!(c.annotation(ANN_EXTERNAL_NAME).as_deref(), Some("k2"));
    assert_eq!(
        c.api.secret().and_then(|d| d.get(SECRET_KEY).cloned()),
        Some(b"secret-k2".to_vec())
    );
    assert_eq!(
        c.reason(cond::TYPE_REPLACED),
        reasons::CONNECTION_SECRET_LOST
    );
}

#[test]
fn external_errors_keep_their_kind() {
    let e = ExternalError::of_kind(ErrorKind::Conflict, "taken");
    assert_eq!(e.kind.reason(), reasons::CONFLICT);
}
