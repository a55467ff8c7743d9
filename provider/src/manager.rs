//! The controller manager: one controller per managed kind and per
//! ProviderConfig kind, `/metrics`, `/healthz` + `/readyz`, leader election.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::watch;

use crate::aclfragment::AclConnector;
use crate::apis::acl;
use crate::apis::cloudflare as cf;
use crate::apis::tailnet::{cluster, namespaced, pc_cluster, pc_namespaced};
use crate::cloudflare::tunnel::{self as cftunnel, CloudflareConnector};
use crate::managed::conditions::{self, TYPE_READY, TYPE_SYNCED};
use crate::managed::ratelimit::GlobalLimiter;
use crate::managed::reconciler::{self, Options, Reconciler};
use crate::managed::{Connector, Managed, usage};
use crate::metrics::Metrics;
use crate::providerconfig::{self, ProviderConfigKind};
use crate::tailnetkey::TailnetConnector;

/// Everything the flags set.
#[derive(Clone, Debug)]
pub struct Settings {
    pub reconcile: Options,
    /// `--sync`: every resource is reconciled at least this often.
    pub sync: Duration,
    /// `--max-reconcile-rate`: reconciles per second overall, and concurrent
    /// reconciles per controller.
    pub max_reconcile_rate: u32,
    pub leader_election: bool,
    pub lease_duration: Duration,
    pub leader_namespace: String,
    pub identity: String,
    pub metrics_addr: Option<SocketAddr>,
    pub health_addr: Option<SocketAddr>,
    /// How often the state gauges are refreshed.
    pub poll_state_metric: Duration,
    /// Cloudflare: client behaviour and the shared list window.
    pub cloudflare: cftunnel::Options,
    /// `--acl-write-window`: how long a tailnet's policy writer collects
    /// AclFragment changes before writing.
    pub acl_write_window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reconcile: Options::default(),
            sync: Duration::from_secs(3600),
            max_reconcile_rate: 100,
            leader_election: false,
            lease_duration: Duration::from_secs(60),
            leader_namespace: "crossplane-system".into(),
            identity: "provider-hybrid-spoke".into(),
            metrics_addr: None,
            health_addr: None,
            poll_state_metric: Duration::from_secs(5),
            cloudflare: cftunnel::Options::default(),
            acl_write_window: Duration::from_secs(1),
        }
    }
}

/// The reconcilers, built before they run (tests reach in to arm fail points).
pub struct Controllers {
    pub client: kube::Client,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub namespaced_keys: Arc<Reconciler<namespaced::TailnetKey, TailnetConnector>>,
    pub cluster_keys: Arc<Reconciler<cluster::TailnetKey, TailnetConnector>>,
    pub namespaced_tunnels: Arc<Reconciler<cf::namespaced::Tunnel, CloudflareConnector>>,
    pub cluster_tunnels: Arc<Reconciler<cf::cluster::Tunnel, CloudflareConnector>>,
    pub namespaced_acls: Arc<Reconciler<acl::namespaced::AclFragment, AclConnector>>,
    pub cluster_acls: Arc<Reconciler<acl::cluster::AclFragment, AclConnector>>,
}

/// A shutdown signal the controllers and servers wait on.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

impl Controllers {
    pub fn new(client: kube::Client, settings: Settings, metrics: Arc<Metrics>) -> Self {
        let limiter = Arc::new(GlobalLimiter::new(settings.max_reconcile_rate));
        // one watch of connection Secrets for every controller
        let secrets = crate::watched::Watched::default();
        let connector = TailnetConnector::new(settings.reconcile.timeout);
        let namespaced_keys = Arc::new(
            Reconciler::new(
                client.clone(),
                connector.clone(),
                settings.reconcile.clone(),
                metrics.clone(),
                limiter.clone(),
            )
            .sharing(secrets.clone()),
        );
        let cluster_keys = Arc::new(
            Reconciler::new(
                client.clone(),
                connector.clone(),
                settings.reconcile.clone(),
                metrics.clone(),
                limiter.clone(),
            )
            .sharing(secrets.clone()),
        );
        // one connector: the tunnels of both flavours share lists and budgets
        let cloudflare = CloudflareConnector::new(settings.cloudflare.clone());
        let namespaced_tunnels = Arc::new(
            Reconciler::new(
                client.clone(),
                cloudflare.clone(),
                settings.reconcile.clone(),
                metrics.clone(),
                limiter.clone(),
            )
            .sharing(secrets.clone()),
        );
        let cluster_tunnels = Arc::new(
            Reconciler::new(
                client.clone(),
                cloudflare,
                settings.reconcile.clone(),
                metrics.clone(),
                limiter.clone(),
            )
            .sharing(secrets.clone()),
        );
        let acls = AclConnector::new(connector, settings.acl_write_window);
        let namespaced_acls = Arc::new(
            Reconciler::new(
                client.clone(),
                acls.clone(),
                settings.reconcile.clone(),
                metrics.clone(),
                limiter.clone(),
            )
            .sharing(secrets.clone()),
        );
        let cluster_acls = Arc::new(
            Reconciler::new(
                client.clone(),
                acls,
                settings.reconcile.clone(),
                metrics.clone(),
                limiter,
            )
            .sharing(secrets.clone()),
        );
        Self {
            client,
            settings,
            metrics,
            namespaced_keys,
            cluster_keys,
            namespaced_tunnels,
            cluster_tunnels,
            namespaced_acls,
            cluster_acls,
        }
    }

    /// Runs every controller until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        futures::join!(
            self.run_tailnet(shutdown.clone()),
            self.run_cloudflare(shutdown)
        );
    }

    /// Runs the tailnet controllers until `shutdown`.
    async fn run_tailnet(&self, shutdown: Shutdown) {
        let s = &self.settings;
        futures::join!(
            run_managed(
                self.client.clone(),
                self.namespaced_keys.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_managed(
                self.client.clone(),
                self.cluster_keys.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_managed(
                self.client.clone(),
                self.namespaced_acls.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_managed(
                self.client.clone(),
                self.cluster_acls.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_provider_config::<pc_namespaced::ProviderConfig, pc_namespaced::ProviderConfigUsage>(
                self.client.clone(),
                "ProviderConfig",
                true,
                shutdown.clone()
            ),
            run_provider_config::<
                pc_namespaced::ClusterProviderConfig,
                pc_namespaced::ProviderConfigUsage,
            >(
                self.client.clone(),
                "ClusterProviderConfig",
                false,
                shutdown.clone()
            ),
            run_provider_config::<pc_cluster::ProviderConfig, pc_cluster::ProviderConfigUsage>(
                self.client.clone(),
                "ProviderConfig",
                false,
                shutdown.clone()
            ),
        );
    }

    /// Runs the Cloudflare controllers until `shutdown`.
    async fn run_cloudflare(&self, shutdown: Shutdown) {
        let s = &self.settings;
        futures::join!(
            run_managed(
                self.client.clone(),
                self.namespaced_tunnels.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_managed(
                self.client.clone(),
                self.cluster_tunnels.clone(),
                s,
                self.metrics.clone(),
                shutdown.clone()
            ),
            run_provider_config::<
                cf::pc_namespaced::ProviderConfig,
                cf::pc_namespaced::ProviderConfigUsage,
            >(
                self.client.clone(),
                "ProviderConfig",
                true,
                shutdown.clone()
            ),
            run_provider_config::<
                cf::pc_namespaced::ClusterProviderConfig,
                cf::pc_namespaced::ProviderConfigUsage,
            >(
                self.client.clone(),
                "ClusterProviderConfig",
                false,
                shutdown.clone()
            ),
            run_provider_config::<
                cf::pc_cluster::ProviderConfig,
                cf::pc_cluster::ProviderConfigUsage,
            >(
                self.client.clone(),
                "ProviderConfig",
                false,
                shutdown.clone()
            ),
        );
    }
}

fn ticker(every: Duration) -> impl futures::Stream<Item = ()> + Send {
    futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some(((), ()))
    })
}

async fn run_managed<K, C>(
    client: kube::Client,
    rec: Arc<Reconciler<K, C>>,
    s: &Settings,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) where
    K: Managed,
    C: Connector<K>,
{
    // safe-start: a kind whose ManagedResourceDefinition is not active has
    // no CRD; its controller waits for it instead of failing its watch.
    if !wait_for_kind::<K>(&client, &shutdown).await {
        return;
    }
    let api = Api::<K>::all(client);
    let (reader, writer) = reflector::store();
    // managedFields are dropped from the cache (they are most of an object's
    // size; a replace without them keeps the server's)
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o| o.meta_mut().managed_fields = None)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconciler::desired_state::<K>, PredicateConfig::default());
    // state gauges: exists / ready / synced per kind
    let gauge_reader = reader.clone();
    let gvk = Metrics::gvk(rec.gvk());
    let every = s.poll_state_metric;
    let state_shutdown = shutdown.clone();
    let gauges = async move {
        let stop = state_shutdown.wait();
        tokio::pin!(stop);
        loop {
            let items = gauge_reader.state();
            let ready = items
                .iter()
                .filter(|o| conditions::is_true(&o.conditions(), TYPE_READY))
                .count();
            let synced = items
                .iter()
                .filter(|o| conditions::is_true(&o.conditions(), TYPE_SYNCED))
                .count();
            metrics.exists.get_or_create(&gvk).set(items.len() as i64);
            metrics.ready.get_or_create(&gvk).set(ready as i64);
            metrics.synced.get_or_create(&gvk).set(synced as i64);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    };
    let concurrency = u16::try_from(s.max_reconcile_rate.max(1)).unwrap_or(u16::MAX);
    let controller = Controller::for_stream(stream, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .reconcile_all_on(ticker(s.sync))
        .graceful_shutdown_on(shutdown.wait())
        .run(
            |obj: Arc<K>, rec: Arc<Reconciler<K, C>>| async move {
                Ok::<Action, Infallible>(rec.reconcile(obj).await)
            },
            |_obj, _err: &Infallible, _rec| Action::requeue(Duration::from_secs(5)),
            rec,
        )
        .for_each(|_| futures::future::ready(()));
    futures::join!(controller, gauges);
}

/// How often a controller whose kind is not served looks again.
pub const INACTIVE_KIND_RECHECK: Duration = Duration::from_secs(5);

/// Waits until the API server serves kind `K` (its CRD exists and is
/// established), looking every [`INACTIVE_KIND_RECHECK`]. False when
/// `shutdown` came first. The package declares the `safe-start`
/// capability: Crossplane then creates a kind's CRD only once a
/// ManagedResourceActivationPolicy activates it.
async fn wait_for_kind<K: Managed>(client: &kube::Client, shutdown: &Shutdown) -> bool {
    let api = Api::<K>::all(client.clone());
    let mut told = false;
    loop {
        match api
            .list_metadata(&kube::api::ListParams::default().limit(1))
            .await
        {
            Err(kube::Error::Api(e)) if e.code == 404 => {
                if !told {
                    tracing::info!(
                        kind = %K::kind(&()),
                        group = %K::group(&()),
                        "kind not served (inactive ManagedResourceDefinition?); its controller starts once it is"
                    );
                    told = true;
                }
            }
            // Served (or another error, which the watcher retries and reports).
            _ => {
                if told {
                    tracing::info!(kind = %K::kind(&()), group = %K::group(&()), "kind served: starting its controller");
                }
                return true;
            }
        }
        let stop = shutdown.clone().wait();
        tokio::select! {
            () = stop => return false,
            () = tokio::time::sleep(INACTIVE_KIND_RECHECK) => {}
        }
    }
}

async fn run_provider_config<P, U>(
    client: kube::Client,
    kind: &'static str,
    namespaced: bool,
    shutdown: Shutdown,
) where
    P: ProviderConfigKind,
    U: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let pcs = Api::<P>::all(client.clone());
    let usages = Api::<U>::all(client.clone());
    let ctx = Arc::new(client);
    Controller::new(pcs, watcher::Config::default())
        .watches(usages, watcher::Config::default(), move |u: U| {
            let labels = u.labels();
            if labels
                .get(usage::LABEL_PROVIDER_CONFIG_KIND)
                .map(String::as_str)
                != Some(kind)
            {
                return None;
            }
            let name = labels.get(usage::LABEL_PROVIDER_CONFIG)?.clone();
            let r = ObjectRef::<P>::new(&name);
            Some(if namespaced {
                r.within(&u.namespace().unwrap_or_default())
            } else {
                r
            })
        })
        .graceful_shutdown_on(shutdown.wait())
        .run(
            |pc: Arc<P>, ctx: Arc<kube::Client>| providerconfig::reconcile(pc, ctx),
            |_pc, err: &kube::Error, _ctx| {
                tracing::debug!("ProviderConfig reconcile failed: {err}");
                Action::requeue(Duration::from_secs(5))
            },
            ctx,
        )
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// Serves `/metrics` (and, on `health`, `/healthz` + `/readyz`).
pub async fn serve(
    metrics_addr: Option<SocketAddr>,
    health_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    let health = {
        let ready = ready.clone();
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || {
                    let ready = ready.clone();
                    async move {
                        if ready.load(Ordering::Relaxed) {
                            (StatusCode::OK, "ok")
                        } else {
                            (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                        }
                    }
                }),
            )
    };
    let metrics_router = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    );
    let mut servers = Vec::new();
    match (metrics_addr, health_addr) {
        (Some(m), Some(h)) if m == h => servers.push((m, metrics_router.merge(health))),
        (m, h) => {
            if let Some(m) = m {
                servers.push((m, metrics_router));
            }
            if let Some(h) = h {
                servers.push((h, health));
            }
        }
    }
    let mut tasks = Vec::new();
    for (addr, router) in servers {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, "serving HTTP");
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.wait())
                .await
        }));
    }
    for t in tasks {
        match t.await {
            Ok(r) => r?,
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Ok(())
}

/// Runs the provider until `shutdown` (or until leadership is lost).
pub async fn run(
    client: kube::Client,
    settings: Settings,
    shutdown: Shutdown,
) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let servers = serve(
        settings.metrics_addr,
        settings.health_addr,
        metrics.clone(),
        ready.clone(),
        shutdown.clone(),
    );
    let (lost_tx, lost) = Shutdown::new();
    let work = async {
        if settings.leader_election {
            let elector = crate::leader::Elector::new(
                client.clone(),
                &settings.leader_namespace,
                settings.identity.clone(),
                settings.lease_duration,
            );
            tokio::select! {
                _ = elector.acquire() => {}
                _ = shutdown.clone().wait() => return Ok(()),
            }
            tracing::info!(identity = %settings.identity, "became the leader");
            let holder = elector.clone();
            tokio::spawn(async move {
                holder.hold().await;
                let _ = lost_tx.send(true);
            });
        }
        ready.store(true, Ordering::Relaxed);
        let controllers = Controllers::new(client.clone(), settings.clone(), metrics.clone());
        let stop = {
            let (tx, rx) = Shutdown::new();
            let a = shutdown.clone();
            let b = lost.clone();
            tokio::spawn(async move {
                tokio::select! { _ = a.wait() => {}, _ = b.wait() => {} }
                let _ = tx.send(true);
            });
            rx
        };
        controllers.run(stop).await;
        if *lost.0.borrow() {
            return Err("lost leadership".to_string());
        }
        Ok(())
    };
    let (served, worked) = futures::join!(servers, work);
    served.map_err(|e| format!("cannot serve metrics/probes: {e}"))?;
    worked
}
