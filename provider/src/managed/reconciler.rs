//! The managed reconciler: crossplane-runtime's algorithm over kube-rs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use serde_json::{Value, json};
use tracing::Instrument;

use super::cluster::{Cluster, KubeCluster};
use super::conditions::{self as cond, TYPE_READY};
use super::decide::{self, Post, Pre, Seen, View};
use super::error::Error;
use super::policy::Policies;
use super::ratelimit::{Failures, GlobalLimiter};
use super::reasons;
use super::{Connector, ErrorKind, ExternalClient, ExternalError, Managed, Readiness, connection};
use crate::apis::Condition;
use crate::metrics::Metrics;

/// Extra annotation: connection details of a create not yet published. A
/// crash between recording a created key and publishing its secret leaves
/// it set, and the next reconcile replaces the key (its secret is lost).
pub const ANN_CONNECTION_PENDING: &str = "hybridspoke.io/connection-details-pending";

/// How often a ProviderConfigUsage this process applied is applied again
/// (in case someone deleted it); a change of providerConfigRef applies it at
/// once.
pub const USAGE_REFRESH: Duration = Duration::from_secs(3600);

/// How a reconciler behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--poll`: how often an up-to-date resource is observed again.
    pub poll: Duration,
    /// Uniform jitter around the poll interval, as a fraction (0.1 = ±10 %).
    pub poll_jitter: f64,
    /// The shortest `crossplane.io/poll-interval` honoured.
    pub min_poll: Duration,
    /// Do not create again while a just-created resource is not visible.
    pub creation_grace: Duration,
    /// Time limit of each external call.
    pub timeout: Duration,
    /// `--enable-management-policies`.
    pub management_policies: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(60),
            poll_jitter: 0.1,
            min_poll: Duration::from_secs(1),
            creation_grace: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            management_policies: true,
        }
    }
}

/// Places where a test can make the reconciler stop as if the process died
/// (only with the `fail-points` feature, which tests enable: the release
/// binary has none).
#[cfg(feature = "fail-points")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPoint {
    /// Right after the external create returned, before anything records it.
    AfterCreate,
}

/// What to do after a reconcile that did not fail.
enum Next {
    /// Requeue after the (jittered) poll interval.
    Poll,
    After(Duration),
    /// Wait for a change of the resource.
    Wait,
}

/// State of one reconcile: the object and the status being built.
struct Work<K> {
    mr: K,
    /// The conditions as this reconcile sees them (transitions, events).
    conditions: Vec<Condition>,
    /// The conditions this reconcile set, in order: the status write applies
    /// them to the newest copy of the object, never the whole list read at
    /// the start (it may be stale, and would erase newer conditions).
    set_conditions: Vec<Condition>,
    /// `status.atProvider` as observed (or created) by this reconcile.
    at_provider: Option<Value>,
    write_status: bool,
    now: String,
}

impl<K: Managed> Work<K> {
    /// Sets a condition; returns whether it changed.
    fn set(&mut self, c: Condition) -> bool {
        let generation = self.mr.meta().generation;
        self.set_conditions.push(c.clone());
        cond::set(&mut self.conditions, c, generation, &self.now).is_some()
    }

    /// The status to write on top of `work.mr` (the newest copy this
    /// reconcile has), or None when it would change nothing.
    fn status_update(&self) -> Option<(Vec<Condition>, Option<Value>)> {
        let current = self.mr.conditions();
        let mut conditions = current.clone();
        for c in &self.set_conditions {
            cond::set(
                &mut conditions,
                c.clone(),
                self.mr.meta().generation,
                &self.now,
            );
        }
        let current_ap = self.mr.at_provider();
        let at_provider = self.at_provider.clone().or_else(|| current_ap.clone());
        (conditions != current || at_provider != current_ap).then_some((conditions, at_provider))
    }
}

/// The ProviderConfig (kind, name) a usage named, and when it was applied.
type UsageApplied = ((String, String), Instant);

/// The managed reconciler of kind `K` with connector `C`, on the API
/// server `Kc` (the real one unless a test says otherwise).
pub struct Reconciler<K: Managed, C: Connector<K>, Kc: Cluster<K> = KubeCluster> {
    cluster: Kc,
    connector: C,
    opts: Options,
    metrics: Arc<Metrics>,
    limiter: Arc<GlobalLimiter>,
    failures: Failures,
    gvk: String,
    #[cfg(feature = "fail-points")]
    fail_point: Mutex<Option<FailPoint>>,
    reconciled_once: Mutex<HashSet<String>>,
    ready_once: Mutex<HashSet<String>>,
    /// UID -> the ProviderConfig its usage names and when it was applied:
    /// the usage is applied again only when that changes or after
    /// [`USAGE_REFRESH`], not on every poll.
    usages: Mutex<HashMap<String, UsageApplied>>,
    /// UID -> when the API lets this resource try again (a rate limit): a
    /// watch event before then does not send it to the API early.
    rate_limited: Mutex<HashMap<String, Instant>>,
    _kind: PhantomData<fn() -> K>,
}

fn random_fraction() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Timestamp::now().as_nanosecond() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The controller name Crossplane uses: `managed/<kind>.<group>`, lowercase
/// (also the events' reportingController, which must be a qualified name).
pub fn controller_name<K: Managed>() -> String {
    format!("managed/{}.{}", K::kind(&()), K::group(&())).to_lowercase()
}

impl<K: Managed, C: Connector<K>> Reconciler<K, C> {
    pub fn new(
        client: kube::Client,
        connector: C,
        opts: Options,
        metrics: Arc<Metrics>,
        limiter: Arc<GlobalLimiter>,
    ) -> Self {
        let cluster = KubeCluster::new(client, controller_name::<K>());
        Reconciler::on(cluster, connector, opts, metrics, limiter)
    }

    /// Uses `watched` for connection Secrets (one watch for every
    /// controller of a process).
    pub fn sharing(mut self, watched: crate::watched::Watched) -> Self {
        self.cluster.watched = watched;
        self
    }
}

impl<K: Managed, C: Connector<K>, Kc: Cluster<K>> Reconciler<K, C, Kc> {
    /// A reconciler on `cluster` (tests: an in-memory fake).
    pub fn on(
        cluster: Kc,
        connector: C,
        opts: Options,
        metrics: Arc<Metrics>,
        limiter: Arc<GlobalLimiter>,
    ) -> Self {
        Self {
            gvk: format!(
                "{}/{}, Kind={}",
                K::group(&()),
                K::version(&()),
                K::kind(&())
            ),
            cluster,
            connector,
            opts,
            metrics,
            limiter,
            failures: Failures::default(),
            #[cfg(feature = "fail-points")]
            fail_point: Mutex::new(None),
            reconciled_once: Mutex::new(HashSet::new()),
            ready_once: Mutex::new(HashSet::new()),
            usages: Mutex::new(HashMap::new()),
            rate_limited: Mutex::new(HashMap::new()),
            _kind: PhantomData,
        }
    }

    /// Arms a fail point (tests): the next reconcile reaching it stops there.
    #[cfg(feature = "fail-points")]
    pub fn inject(&self, point: Option<FailPoint>) {
        *self.fail_point.lock().unwrap_or_else(|e| e.into_inner()) = point;
    }

    /// Whether the reconcile stops at `point`: armed by [`Self::inject`],
    /// or (the binary's crash tests) `PROVIDER_HYBRID_SPOKE_FAIL_POINT`,
    /// which aborts the process.
    #[cfg(feature = "fail-points")]
    fn hit(&self, point: FailPoint) -> bool {
        let mut armed = self.fail_point.lock().unwrap_or_else(|e| e.into_inner());
        if *armed == Some(point) {
            *armed = None;
            return true;
        }
        if std::env::var("PROVIDER_HYBRID_SPOKE_FAIL_POINT").is_ok_and(|v| v == "after-create")
            && point == FailPoint::AfterCreate
        {
            tracing::error!("fail point after-create: aborting the process");
            std::process::abort();
        }
        false
    }

    pub fn gvk(&self) -> &str {
        &self.gvk
    }

    fn owner_ref(mr: &K) -> Option<OwnerReference> {
        let mut o = mr.controller_owner_ref(&())?;
        o.block_owner_deletion = Some(true);
        Some(o)
    }

    /// One reconcile. Never fails: errors become conditions and a backoff.
    /// Runs in one `reconcile` span naming the kind, the resource and its
    /// external name, so every log line of it can be traced to its resource.
    pub async fn reconcile(&self, obj: Arc<K>) -> Action {
        let span = tracing::info_span!(
            "reconcile",
            kind = %K::kind(&()),
            namespace = obj.meta().namespace.as_deref().unwrap_or_default(),
            name = %obj.name_any(),
            external_name = obj
                .annotations()
                .get(decide::ANN_EXTERNAL_NAME)
                .map(String::as_str)
                .unwrap_or_default(),
        );
        self.reconcile_in_span(obj).instrument(span).await
    }

    async fn reconcile_in_span(&self, obj: Arc<K>) -> Action {
        let mr = (*obj).clone();
        let uid = mr.meta().uid.clone().unwrap_or_default();
        if let Some(wait) = self.rate_limited_for(&uid) {
            return Action::requeue(wait);
        }
        if let Err(wait) = self.limiter.admit(&uid) {
            return Action::requeue(wait);
        }
        let name = format!(
            "{}/{}",
            mr.meta().namespace.clone().unwrap_or_default(),
            mr.name_any()
        );
        self.first_reconcile(&mr, &uid);
        let mut work = Work {
            conditions: mr.conditions(),
            set_conditions: Vec::new(),
            at_provider: None,
            write_status: true,
            now: Timestamp::now().to_string(),
            mr,
        };
        let result = self.run(&mut work).await;
        let (mut next, mut result_label) = match result {
            Ok(next) => {
                self.failures.forget(&uid);
                (next, "success")
            }
            Err(e) if e.is_conflict() => {
                tracing::debug!(resource = %name, "conflict, requeueing: {e}");
                (Next::After(Duration::from_secs(1)), "requeue")
            }
            // a state, not a failure: back when the API allows, no backoff
            Err(e) if e.kind() == ErrorKind::RateLimited => {
                let wait = e.retry_after().unwrap_or(Duration::from_secs(1));
                tracing::info!(resource = %name, retry_in = ?wait, "{e}");
                self.rate_limited
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(uid.clone(), Instant::now() + wait);
                (Next::After(wait), "requeue_after")
            }
            Err(e) => {
                let n = self.failures.fail(&uid);
                let mut wait = decide::backoff(n);
                if let Some(after) = e.retry_after() {
                    wait = wait.max(after);
                }
                self.metrics
                    .reconcile_errors
                    .get_or_create(&crate::metrics::ControllerError {
                        controller: controller_name::<K>(),
                        error: e.metric_label().into(),
                    })
                    .inc();
                tracing::warn!(resource = %name, failures = n, retry_in = ?wait, error = e.metric_label(), "reconcile failed: {e}");
                (Next::After(wait), "error")
            }
        };
        if work.write_status
            && let Some((conditions, at_provider)) = work.status_update()
        {
            match self
                .write_status(&work.mr, &conditions, at_provider.as_ref())
                .await
            {
                Ok(()) => {}
                // `work.mr` is a stale cache copy (this reconcile wrote
                // nothing that returned a newer one): look again soon, from a
                // fresher copy. A failed reconcile keeps its backoff.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    tracing::debug!(resource = %name, "status conflict, requeueing");
                    if result_label != "error" {
                        (next, result_label) = (Next::After(Duration::from_secs(1)), "requeue");
                    }
                }
                Err(e) => tracing::warn!(resource = %name, "cannot write status: {e}"),
            }
        }
        if work.write_status && cond::is_true(&work.conditions, TYPE_READY) {
            self.first_ready(&work.mr, &uid);
        }
        self.metrics
            .reconcile_total
            .get_or_create(&crate::metrics::ControllerResult {
                controller: controller_name::<K>(),
                result: result_label.into(),
            })
            .inc();
        match next {
            Next::Poll => Action::requeue(self.poll_interval(&work.mr)),
            Next::After(d) => Action::requeue(d),
            Next::Wait => Action::await_change(),
        }
    }

    /// How long this resource still waits for a rate limit, if it does.
    fn rate_limited_for(&self, uid: &str) -> Option<Duration> {
        let mut map = self.rate_limited.lock().unwrap_or_else(|e| e.into_inner());
        let until = *map.get(uid)?;
        let now = Instant::now();
        if until <= now {
            map.remove(uid);
            return None;
        }
        Some(until - now)
    }

    fn poll_interval(&self, mr: &K) -> Duration {
        let poll = mr
            .annotations()
            .get(decide::ANN_POLL_INTERVAL)
            .and_then(|v| decide::parse_go_duration(v))
            .map(|d| d.max(self.opts.min_poll))
            .unwrap_or(self.opts.poll);
        decide::jittered(poll, self.opts.poll_jitter, random_fraction())
    }

    /// Applies the ProviderConfigUsage unless this process already did for
    /// the same ProviderConfig within [`USAGE_REFRESH`].
    async fn track_usage(&self, mr: &K) -> Result<(), kube::Error> {
        let uid = mr.meta().uid.clone().unwrap_or_default();
        let pc = mr.provider_config_ref();
        let fresh = |m: &HashMap<String, UsageApplied>| {
            m.get(&uid)
                .is_some_and(|(p, at)| *p == pc && at.elapsed() < USAGE_REFRESH)
        };
        if fresh(&self.usages.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        self.cluster.track_usage(mr).await?;
        self.usages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid, (pc, Instant::now()));
        Ok(())
    }

    /// Drops everything kept in memory about a resource that is gone.
    fn forget(&self, mr: &K) {
        let uid = mr.meta().uid.clone().unwrap_or_default();
        self.reconciled_once
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&uid);
        self.ready_once
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&uid);
        self.usages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&uid);
        self.failures.forget(&uid);
        self.limiter.forget(&uid);
        self.rate_limited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&uid);
    }

    fn first_reconcile(&self, mr: &K, uid: &str) {
        let mut seen = self
            .reconciled_once
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.insert(uid.to_string())
            && let Some(created) = &mr.meta().creation_timestamp
        {
            let age = Timestamp::now()
                .duration_since(created.0)
                .as_secs_f64()
                .max(0.0);
            self.metrics
                .first_time_to_reconcile
                .get_or_create(&Metrics::gvk(&self.gvk))
                .observe(age);
        }
    }

    fn first_ready(&self, mr: &K, uid: &str) {
        let mut seen = self.ready_once.lock().unwrap_or_else(|e| e.into_inner());
        let was_ready = cond::is_true(&mr.conditions(), TYPE_READY);
        if !was_ready
            && seen.insert(uid.to_string())
            && let Some(created) = &mr.meta().creation_timestamp
        {
            let age = Timestamp::now()
                .duration_since(created.0)
                .as_secs_f64()
                .max(0.0);
            self.metrics
                .first_time_to_readiness
                .get_or_create(&Metrics::gvk(&self.gvk))
                .observe(age);
        }
    }

    /// Merge-patches the status, conditioned on the resourceVersion of
    /// `mr` (crossplane-runtime's `Status().Update`): the patch replaces the
    /// whole conditions list, so it must not land on a newer object.
    async fn write_status(
        &self,
        mr: &K,
        conditions: &[Condition],
        at_provider: Option<&Value>,
    ) -> Result<(), kube::Error> {
        let mut status = serde_json::Map::new();
        status.insert(
            "conditions".into(),
            serde_json::to_value(conditions).unwrap_or(Value::Null),
        );
        if let Some(g) = mr.meta().generation {
            status.insert("observedGeneration".into(), json!(g));
        }
        if let Some(ap) = at_provider {
            status.insert("atProvider".into(), ap.clone());
        }
        let patch = json!({ "metadata": { "resourceVersion": mr.meta().resource_version }, "status": status });
        self.cluster.patch_status(mr, &patch).await
    }

    async fn event(&self, mr: &K, type_: EventType, reason: &str, note: Option<String>) {
        let ev = Event {
            type_,
            reason: reason.into(),
            note: note.map(|n| n.chars().take(1000).collect()),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.cluster.event(mr, &ev).await {
            tracing::warn!("cannot publish event {reason}: {e}");
        }
    }

    /// Sets Synced=False (ReconcileError with the event reason `reason`
    /// for a failure, else the kind's own reason for both); a Warning event
    /// on a transition.
    async fn error(&self, work: &mut Work<K>, reason: &str, stop: Error) -> Result<Next, Error> {
        if stop.is_conflict() {
            return Err(stop);
        }
        let message = stop.to_string();
        let (condition, reason) = match stop.kind() {
            ErrorKind::Failed => (cond::reconcile_error(message.clone()), reason),
            kind => (
                cond::not_synced(kind.reason(), message.clone()),
                kind.reason(),
            ),
        };
        if work.set(condition) {
            self.event(&work.mr, EventType::Warning, reason, Some(message))
                .await;
        }
        Err(stop)
    }

    /// Replaces the object (conflict-checked by resourceVersion) after
    /// `edit` changed its metadata; keeps the returned object.
    async fn update_meta(
        &self,
        work: &mut Work<K>,
        edit: impl FnOnce(&mut K),
    ) -> Result<(), Error> {
        let mut mr = work.mr.clone();
        edit(&mut mr);
        let updated = self
            .cluster
            .replace(&mr)
            .await
            .map_err(Error::UpdateManaged)?;
        work.mr = updated;
        Ok(())
    }

    async fn ensure_finalizer(&self, work: &mut Work<K>) -> Result<(), Error> {
        if work.mr.finalizers().iter().any(|f| f == decide::FINALIZER) {
            return Ok(());
        }
        self.update_meta(work, |mr| {
            mr.finalizers_mut().push(decide::FINALIZER.into())
        })
        .await
    }

    async fn remove_finalizer(&self, work: &mut Work<K>) -> Result<(), Error> {
        if !work.mr.finalizers().iter().any(|f| f == decide::FINALIZER) {
            return Ok(());
        }
        self.update_meta(work, |mr| {
            mr.finalizers_mut().retain(|f| f != decide::FINALIZER)
        })
        .await
    }

    /// crossplane-runtime's `RetryingCriticalAnnotationUpdater`: merge-patches
    /// annotations (a `None` value removes one), retrying transient errors.
    async fn critical_annotations(
        &self,
        work: &mut Work<K>,
        set: &[(&str, Option<String>)],
    ) -> Result<(), Error> {
        let annotations: serde_json::Map<String, Value> = set
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.clone().map(Value::String).unwrap_or(Value::Null),
                )
            })
            .collect();
        let mut last = None;
        for attempt in 0..5u32 {
            match self.cluster.patch_annotations(&work.mr, &annotations).await {
                Ok(updated) => {
                    work.mr = updated;
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
            }
        }
        Err(Error::UpdateAnnotations(last))
    }

    async fn publish(
        &self,
        work: &Work<K>,
        details: &super::ConnectionDetails,
    ) -> Result<(), Error> {
        let Some((ns, name)) = work.mr.connection_secret() else {
            return Ok(());
        };
        if details.is_empty() {
            return Ok(());
        }
        let Some(owner) = Self::owner_ref(&work.mr) else {
            return Ok(());
        };
        self.cluster
            .publish(&ns, &name, &owner, details)
            .await
            .map_err(Error::Publish)
    }

    async fn unpublish(&self, work: &Work<K>) -> Result<(), Error> {
        let (Some((ns, name)), Some(uid)) =
            (work.mr.connection_secret(), work.mr.meta().uid.clone())
        else {
            return Ok(());
        };
        self.cluster
            .unpublish(&ns, &name, &uid)
            .await
            .map_err(Error::Unpublish)
    }

    /// What the connection Secret lacks of the keys the kind publishes.
    async fn lost_connection_keys(
        &self,
        work: &Work<K>,
        external: &C::Client,
    ) -> Result<Option<connection::Lost>, Error> {
        let keys = external.connection_keys(&work.mr);
        let (Some((ns, name)), Some(uid)) =
            (work.mr.connection_secret(), work.mr.meta().uid.clone())
        else {
            return Ok(None);
        };
        if keys.is_empty() {
            return Ok(None);
        }
        self.cluster
            .lost_connection_keys(&ns, &name, &uid, &keys)
            .await
            .map_err(Error::ReadConnectionSecret)
    }

    /// Writes lost connection details back when they can be had without a
    /// new external resource: from this observation, or read again from the
    /// API. `false`: they cannot.
    async fn repair_connection(
        &self,
        work: &mut Work<K>,
        external: &C::Client,
        name: &str,
        lost: &connection::Lost,
        observation: &super::Observation,
    ) -> Result<bool, Error> {
        let keys = external.connection_keys(&work.mr);
        let complete = |d: &super::ConnectionDetails| {
            keys.iter()
                .all(|k| d.get(*k).is_some_and(|v| !v.is_empty()))
        };
        let mut details = observation.connection_details.clone();
        if !complete(&details) {
            match self
                .timed(
                    "observe",
                    external.reread_connection_details(&work.mr, name),
                )
                .await
            {
                Ok(Some(d)) => details.extend(d),
                Ok(None) => return Ok(false),
                Err(e) => {
                    return Err(Error::RereadConnectionDetails(e));
                }
            }
            if !complete(&details) {
                return Ok(false);
            }
        }
        self.publish(work, &details).await?;
        self.event(
            &work.mr,
            EventType::Normal,
            reasons::EV_REPUBLISHED,
            Some(format!(
                "{lost}: wrote {} again, as read from the API",
                keys.join(", ")
            )),
        )
        .await;
        Ok(true)
    }

    async fn timed<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, ExternalError>>,
    ) -> Result<T, ExternalError> {
        match tokio::time::timeout(self.opts.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(ExternalError::new(format!(
                "{what} timed out after {:?}",
                self.opts.timeout
            ))),
        }
    }

    async fn run(&self, work: &mut Work<K>) -> Result<Next, Error> {
        let policies = Policies::new(
            work.mr.management_policies(),
            work.mr.deletion_policy(),
            self.opts.management_policies,
        );
        let mut view = View::from_meta(work.mr.meta(), policies.clone());
        if decide::before_observe(&view) == Pre::IncompleteCreate {
            // The watch cache lags behind this provider's own writes: a copy
            // showing a create pending may predate the write that recorded
            // its result. Read the object itself before concluding anything
            // (and before a recovery lists the external API).
            match self
                .cluster
                .get(&work.mr)
                .await
                .map_err(Error::GetManaged)?
            {
                Some(latest) => {
                    work.conditions = latest.conditions();
                    work.mr = latest;
                    view = View::from_meta(work.mr.meta(), policies);
                }
                None => {
                    work.write_status = false;
                    return Ok(Next::Wait);
                }
            }
        }
        match decide::before_observe(&view) {
            Pre::Paused => {
                if work.set(cond::reconcile_paused()) {
                    self.event(
                        &work.mr,
                        EventType::Normal,
                        reasons::EV_PAUSED,
                        Some(cond::MSG_PAUSED.into()),
                    )
                    .await;
                }
                return Ok(Next::Wait);
            }
            Pre::InvalidPolicy(message) => {
                if work.set(cond::reconcile_error(message.clone())) {
                    self.event(
                        &work.mr,
                        EventType::Warning,
                        reasons::EV_INVALID_POLICY,
                        Some(message),
                    )
                    .await;
                }
                return Ok(Next::Wait);
            }
            Pre::Orphan => {
                self.unpublish(work).await?;
                self.cluster
                    .untrack_usage(&work.mr)
                    .await
                    .map_err(Error::UntrackUsage)?;
                self.remove_finalizer(work).await?;
                self.record_deletion(&work.mr);
                self.forget(&work.mr);
                work.write_status = false;
                return Ok(Next::Wait);
            }
            Pre::IncompleteCreate => {
                if let Some(next) = self.recover(work, &view).await {
                    return next;
                }
                work.set(cond::creating(None));
                if work.set(cond::reconcile_error(cond::MSG_INCOMPLETE_CREATE)) {
                    self.event(
                        &work.mr,
                        EventType::Warning,
                        reasons::EV_CANNOT_INITIALIZE,
                        Some(cond::MSG_INCOMPLETE_CREATE.into()),
                    )
                    .await;
                }
                return Ok(Next::Wait);
            }
            Pre::Proceed => {}
        }

        if let Err(e) = self.track_usage(&work.mr).await {
            let stop = Error::TrackUsage(e);
            return self.error(work, reasons::EV_CANNOT_CONNECT, stop).await;
        }
        let external = match self
            .connector
            .connect(self.cluster.client(), &work.mr)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let stop = Error::Connect(e);
                return self.error(work, reasons::EV_CANNOT_CONNECT, stop).await;
            }
        };
        let external_name = view.external_name.clone();
        let observation = match self
            .timed(
                "observe",
                external.observe(&work.mr, external_name.as_deref()),
            )
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let stop = Error::Observe(e);
                return self.error(work, reasons::EV_CANNOT_OBSERVE, stop).await;
            }
        };
        if let Some(ap) = &observation.at_provider {
            work.at_provider = Some(ap.clone());
        }
        let mut seen = Seen {
            exists: observation.exists,
            up_to_date: observation.up_to_date,
            replace: observation.replace.clone(),
        };
        if seen.exists
            && seen.replace.is_none()
            && view.superseded.is_none()
            && work.mr.annotations().contains_key(ANN_CONNECTION_PENDING)
        {
            seen.replace = Some(decide::Replacement {
                reason: reasons::CONNECTION_DETAILS_LOST.into(),
                message: format!(
                    "the secret of {} was never published to the connection Secret; replaced it",
                    external_name.clone().unwrap_or_default()
                ),
            });
        }
        // Ready is what Observe saw (crossplane-runtime's external clients
        // set it in Observe), whatever the rest of the reconcile does.
        match &observation.ready {
            Readiness::Available => {
                work.set(cond::available());
            }
            Readiness::Unavailable(m) => {
                work.set(cond::unavailable(m.clone()));
            }
            Readiness::Unknown => {}
        }
        if seen.exists
            && seen.replace.is_none()
            && view.superseded.is_none()
            && !view.deleting
            && let Some(name) = &external_name
        {
            let lost = match self.lost_connection_keys(work, &external).await {
                Ok(lost) => lost,
                Err(stop) => return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await,
            };
            if let Some(lost) = lost {
                match self
                    .repair_connection(work, &external, name, &lost, &observation)
                    .await
                {
                    Ok(true) => {}
                    // the secret is shown only once: replace (rotation path)
                    Ok(false) => {
                        seen.replace = Some(decide::Replacement {
                            reason: reasons::CONNECTION_SECRET_LOST.into(),
                            message: format!(
                                "{lost}, and the secret of {name} cannot be read back from the API; created a new one"
                            ),
                        });
                    }
                    Err(stop) => {
                        return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
                    }
                }
            }
        }
        let now = Timestamp::now();
        let post = decide::after_observe(&view, &seen, now, self.opts.creation_grace);
        tracing::debug!(resource = %work.mr.name_any(), ?post, diff = ?observation.diff, "observed");

        match post {
            Post::ObserveOnlyMissing => {
                let message = Error::ObserveOnlyMissing.to_string();
                if work.set(cond::reconcile_error(message.clone())) {
                    self.event(
                        &work.mr,
                        EventType::Warning,
                        reasons::EV_CANNOT_OBSERVE,
                        Some(message),
                    )
                    .await;
                }
                Ok(Next::Poll)
            }
            Post::CreationGrace(wait) => {
                work.set(cond::creating(Some(format!(
                    "{} is not visible in the API yet; waiting {}s more of the {}s creation grace before creating it again",
                    external_name.clone().unwrap_or_default(),
                    wait.as_secs_f64().ceil(),
                    self.opts.creation_grace.as_secs()
                ))));
                Ok(Next::After(wait))
            }
            Post::DelayDeletion => {
                work.set(cond::deleting());
                Ok(Next::After(Duration::from_secs(5)))
            }
            Post::Delete => {
                let name = external_name.clone().unwrap_or_default();
                if let Err(e) = self.timed("delete", external.delete(&work.mr, &name)).await {
                    work.set(cond::deleting());
                    let stop = Error::Delete(e);
                    return self.error(work, reasons::EV_CANNOT_DELETE, stop).await;
                }
                work.set(cond::deleting());
                work.set(cond::reconcile_success());
                self.event(
                    &work.mr,
                    EventType::Normal,
                    reasons::EV_DELETED,
                    Some(format!("deleted {name}")),
                )
                .await;
                Ok(Next::After(Duration::from_millis(200)))
            }
            Post::Finalize => {
                self.unpublish(work).await?;
                self.cluster
                    .untrack_usage(&work.mr)
                    .await
                    .map_err(Error::UntrackUsage)?;
                self.remove_finalizer(work).await?;
                self.record_deletion(&work.mr);
                self.forget(&work.mr);
                work.write_status = false;
                Ok(Next::Wait)
            }
            Post::RemoveSuperseded { name, revoke } => {
                if revoke
                    && let Err(e) = self.timed("delete", external.delete(&work.mr, &name)).await
                {
                    let stop = Error::DeleteSuperseded {
                        name: name.clone(),
                        source: e,
                    };
                    return self.error(work, reasons::EV_CANNOT_DELETE, stop).await;
                }
                self.critical_annotations(work, &[(decide::ANN_SUPERSEDED, None)])
                    .await?;
                if revoke {
                    self.event(
                        &work.mr,
                        EventType::Normal,
                        reasons::EV_DELETED,
                        Some(format!("deleted the superseded {name}")),
                    )
                    .await;
                }
                Ok(Next::After(Duration::from_millis(200)))
            }
            Post::Create { replacing } => {
                self.create(work, &external, external_name, replacing, &observation)
                    .await
            }
            Post::MissingNoCreate => {
                self.publish(work, &observation.connection_details).await?;
                work.set(cond::unavailable(Some(
                    "the external resource does not exist and spec.managementPolicies do not include Create".into(),
                )));
                self.success(work).await;
                Ok(Next::Poll)
            }
            Post::UpToDate | Post::UpdateNotAllowed => {
                if let Err(stop) = self.publish(work, &observation.connection_details).await {
                    return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
                }
                self.ensure_finalizer(work).await?;
                self.success(work).await;
                Ok(Next::Poll)
            }
            Post::Update => {
                if let Err(stop) = self.publish(work, &observation.connection_details).await {
                    return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
                }
                self.ensure_finalizer(work).await?;
                let name = external_name.clone().unwrap_or_default();
                let updated = match self.timed("update", external.update(&work.mr, &name)).await {
                    Ok(u) => u,
                    Err(e) => {
                        let stop = Error::Update(e);
                        return self.error(work, reasons::EV_CANNOT_UPDATE, stop).await;
                    }
                };
                self.metrics
                    .drift
                    .get_or_create(&Metrics::gvk(&self.gvk))
                    .observe(0.0);
                if let Some(ap) = &updated.at_provider {
                    work.at_provider = Some(ap.clone());
                }
                if let Err(stop) = self.publish(work, &updated.connection_details).await {
                    return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
                }
                self.success(work).await;
                self.event(
                    &work.mr,
                    EventType::Normal,
                    reasons::EV_UPDATED,
                    Some(format!(
                        "corrected drift of {name}: {}",
                        observation.diff.clone().unwrap_or_default()
                    )),
                )
                .await;
                Ok(Next::Poll)
            }
        }
    }

    /// Tries the kind's recovery of an unrecorded create; `None`: stall.
    async fn recover(&self, work: &mut Work<K>, view: &View) -> Option<Result<Next, Error>> {
        let pending = view.create_pending?;
        self.track_usage(&work.mr).await.ok()?;
        let external = self
            .connector
            .connect(self.cluster.client(), &work.mr)
            .await
            .ok()?;
        let recovery = match self
            .timed(
                "recover",
                external.recover_incomplete_create(&work.mr, pending),
            )
            .await
        {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(resource = %work.mr.name_any(), "cannot recover an incomplete create: {e}");
                return None;
            }
        };
        let message = match &recovery {
            super::Recovery::NothingCreated => {
                "the interrupted create made nothing; creating again".to_string()
            }
            super::Recovery::Discarded(ids) => format!(
                "the interrupted create made {} whose secret was lost; deleted it, creating again",
                ids.join(", ")
            ),
            super::Recovery::Adopted(ids) => format!(
                "the interrupted create made {}; creating again adopts it",
                ids.join(", ")
            ),
        };
        let failed = Timestamp::now().to_string();
        if let Err(stop) = self
            .critical_annotations(work, &[(decide::ANN_CREATE_FAILED, Some(failed))])
            .await
        {
            return Some(Err(stop));
        }
        self.event(
            &work.mr,
            EventType::Warning,
            reasons::EV_RECOVERED,
            Some(message),
        )
        .await;
        Some(Ok(Next::After(Duration::from_millis(200))))
    }

    async fn success(&self, work: &mut Work<K>) {
        work.set(cond::reconcile_success());
    }

    fn record_deletion(&self, mr: &K) {
        if let Some(t) = &mr.meta().deletion_timestamp {
            let secs = Timestamp::now().duration_since(t.0).as_secs_f64().max(0.0);
            self.metrics
                .deletion
                .get_or_create(&Metrics::gvk(&self.gvk))
                .observe(secs);
        }
    }

    async fn create(
        &self,
        work: &mut Work<K>,
        external: &C::Client,
        previous: Option<String>,
        replacing: Option<decide::Replacement>,
        observation: &super::Observation,
    ) -> Result<Next, Error> {
        if let Err(stop) = self.publish(work, &observation.connection_details).await {
            return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
        }
        // Record the intent with a conflict-checked update: it fails unless
        // this reconcile acts on the latest version of the resource.
        let pending = Timestamp::now().to_string();
        self.update_meta(work, |mr| {
            if !mr.finalizers().iter().any(|f| f == decide::FINALIZER) {
                mr.finalizers_mut().push(decide::FINALIZER.into());
            }
            mr.annotations_mut()
                .insert(decide::ANN_CREATE_PENDING.into(), pending.clone());
        })
        .await?;

        let created = self.timed("create", external.create(&work.mr)).await;
        #[cfg(feature = "fail-points")]
        if self.hit(FailPoint::AfterCreate) {
            work.write_status = false;
            return Err(Error::FailPoint);
        }
        let creation = match created {
            Ok(c) => c,
            Err(e) => {
                let failed = Timestamp::now().to_string();
                self.critical_annotations(work, &[(decide::ANN_CREATE_FAILED, Some(failed))])
                    .await?;
                work.set(cond::creating(None));
                let stop = Error::Create(e);
                return self.error(work, reasons::EV_CANNOT_CREATE, stop).await;
            }
        };
        tracing::Span::current().record("external_name", creation.external_name.as_str());
        let succeeded = Timestamp::now().to_string();
        let superseded = match (&replacing, &previous) {
            (Some(_), Some(old)) if *old != creation.external_name && observation.exists => {
                Some(old.clone())
            }
            _ => None,
        };
        let has_details =
            !creation.connection_details.is_empty() && work.mr.connection_secret().is_some();
        let mut annotations: Vec<(&str, Option<String>)> = vec![
            (
                decide::ANN_EXTERNAL_NAME,
                Some(creation.external_name.clone()),
            ),
            (decide::ANN_CREATE_SUCCEEDED, Some(succeeded)),
            (
                ANN_CONNECTION_PENDING,
                has_details.then(|| "true".to_string()),
            ),
        ];
        if let Some(old) = &superseded {
            annotations.push((decide::ANN_SUPERSEDED, Some(old.clone())));
        }
        self.critical_annotations(work, &annotations).await?;
        if let Some(ap) = &creation.at_provider {
            work.at_provider = Some(ap.clone());
        }
        if let Err(stop) = self.publish(work, &creation.connection_details).await {
            return self.error(work, reasons::EV_CANNOT_PUBLISH, stop).await;
        }
        if has_details {
            self.critical_annotations(work, &[(ANN_CONNECTION_PENDING, None)])
                .await?;
        }
        let message = replacing.as_ref().map(|r| r.message.clone());
        work.set(cond::creating(message));
        work.set(cond::reconcile_success());
        self.event(
            &work.mr,
            EventType::Normal,
            reasons::EV_CREATED,
            Some(format!("created {}", creation.external_name)),
        )
        .await;
        if let Some(r) = replacing {
            let message = match &previous {
                Some(old) => format!(
                    "{} ({old} -> {} at {})",
                    r.message, creation.external_name, work.now
                ),
                None => r.message.clone(),
            };
            work.set(cond::replaced(&r.reason, message.clone()));
            self.event(
                &work.mr,
                EventType::Normal,
                reasons::EV_REPLACED,
                Some(message),
            )
            .await;
        }
        Ok(Next::After(Duration::from_millis(200)))
    }
}

/// Hash of what a reconcile should react to (crossplane-runtime
/// `DesiredStateChanged`): generation, labels, annotations other than
/// create-pending/failed, deletion, finalizers. Status writes do not count.
pub fn desired_state<K: Managed>(mr: &K) -> Option<u64> {
    let mut h = std::hash::DefaultHasher::new();
    use std::hash::Hash;
    mr.meta().generation.hash(&mut h);
    let labels: BTreeMap<_, _> = mr.labels().clone();
    labels.hash(&mut h);
    for (k, v) in mr.annotations() {
        if k != decide::ANN_CREATE_PENDING && k != decide::ANN_CREATE_FAILED {
            k.hash(&mut h);
            v.hash(&mut h);
        }
    }
    mr.meta().deletion_timestamp.is_some().hash(&mut h);
    mr.finalizers().hash(&mut h);
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::tailnet::{TailnetKeyStatus, namespaced};

    fn key(conditions: Vec<Condition>) -> namespaced::TailnetKey {
        let spec = namespaced::TailnetKeySpec {
            for_provider: Default::default(),
            rotation: None,
            write_connection_secret_to_ref: None,
            provider_config_ref: Default::default(),
            management_policies: Vec::new(),
        };
        let mut k = namespaced::TailnetKey::new("k", spec);
        k.status = Some(TailnetKeyStatus {
            conditions,
            ..Default::default()
        });
        k
    }

    fn work(mr: namespaced::TailnetKey) -> Work<namespaced::TailnetKey> {
        Work {
            conditions: mr.conditions(),
            set_conditions: Vec::new(),
            at_provider: None,
            write_status: true,
            now: "t2".into(),
            mr,
        }
    }

    #[test]
    fn status_applies_what_this_reconcile_set_to_the_newest_copy() {
        let mut ready = Vec::new();
        cond::set(&mut ready, cond::available(), None, "t0");
        cond::set(&mut ready, cond::reconcile_success(), None, "t0");
        // started from a stale copy: Ready, nothing about the replacement
        let mut w = work(key(ready.clone()));
        w.set(cond::reconcile_success());
        assert_eq!(w.status_update(), None, "nothing changed, nothing to write");
        // a metadata write returned the newest copy, which a newer reconcile
        // had given a Replaced condition
        let mut newest = ready.clone();
        cond::set(&mut newest, cond::creating(None), None, "t1");
        cond::set(
            &mut newest,
            cond::replaced("Expired", "key 1 expired".into()),
            None,
            "t1",
        );
        w.mr = key(newest);
        w.set(cond::available());
        let (conditions, _) = w.status_update().expect("Ready changed");
        assert_eq!(
            cond::get(&conditions, cond::TYPE_REPLACED).map(|c| c.reason.as_str()),
            Some("Expired")
        );
        assert_eq!(
            cond::get(&conditions, TYPE_READY)
                .map(|c| (c.reason.as_str(), c.last_transition_time.as_str())),
            Some(("Available", "t2"))
        );
    }
}
