//! Watched copies of the few objects every reconcile reads — ProviderConfigs
//! and the credential Secrets they name — so that a poll costs no API-server
//! GET (a Crossplane provider's controller-runtime client reads them from an
//! informer cache the same way). Each watch starts on first use; credential
//! Secrets are watched one by one (a field selector on the name), never all
//! of them; connection Secrets by their type, with the values dropped.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

/// How long a first use waits for a watch's initial list.
const FIRST_LIST: Duration = Duration::from_secs(30);

type Cell<K> = OnceCell<Store<K>>;

#[derive(Default)]
struct Inner {
    stores: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self
            .tasks
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

/// The watches of one process (cheap to clone; they stop when the last
/// clone is dropped).
#[derive(Clone, Default)]
pub struct Watched(Arc<Inner>);

impl Watched {
    /// The store of `api` under `key`, started (and listed) on first use.
    async fn store<K>(
        &self,
        key: String,
        api: Api<K>,
        config: watcher::Config,
        trim: fn(&mut K),
    ) -> Result<Store<K>, String>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let cell = {
            let mut stores = self.0.stores.lock().unwrap_or_else(|e| e.into_inner());
            let any = stores
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Cell::<K>::new()))
                .clone();
            any.downcast::<Cell<K>>()
                .map_err(|_| format!("watch {key}: a different kind under the same key"))?
        };
        // Only the first caller waits for the initial list; the others wait
        // on the cell (with every first reconcile waiting on the Store's
        // readiness itself, the bench saw them all held for 30 s).
        let store = cell
            .get_or_try_init(|| async {
                let (reader, writer) = reflector::store();
                let stream = watcher(api, config)
                    .default_backoff()
                    .modify(move |o| {
                        o.meta_mut().managed_fields = None;
                        trim(o);
                    })
                    .reflect(writer)
                    .for_each(|_| futures::future::ready(()));
                let task = tokio::spawn(stream);
                match tokio::time::timeout(FIRST_LIST, reader.wait_until_ready()).await {
                    Ok(Ok(())) => {
                        self.0
                            .tasks
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(task);
                        Ok(reader)
                    }
                    Ok(Err(_)) => {
                        task.abort();
                        Err(format!("watch {key} stopped"))
                    }
                    Err(_) => {
                        task.abort();
                        Err(format!("watch {key}: not listed within {FIRST_LIST:?}"))
                    }
                }
            })
            .await?;
        Ok(store.clone())
    }

    /// A cluster-scoped object, or one of any namespace (`ns`), by name.
    pub async fn get<K>(
        &self,
        client: &kube::Client,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<K>>, String>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let key = format!("{}.{}", K::plural(&()), K::group(&()));
        let store = self
            .store(
                key,
                Api::<K>::all(client.clone()),
                watcher::Config::default(),
                |_| {},
            )
            .await?;
        let mut r = ObjectRef::<K>::new(name);
        if let Some(ns) = ns {
            r = r.within(ns);
        }
        Ok(store.get(&r))
    }

    /// The Secret `ns/name`, from a watch of that one Secret.
    pub async fn secret(
        &self,
        client: &kube::Client,
        ns: &str,
        name: &str,
    ) -> Result<Option<Arc<Secret>>, String> {
        let key = format!("secrets/{ns}/{name}");
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let store = self
            .store(
                key,
                Api::<Secret>::namespaced(client.clone(), ns),
                config,
                |_| {},
            )
            .await?;
        Ok(store.get(&ObjectRef::new(name).within(ns)))
    }

    /// The connection Secret `ns/name` as a watch of every Secret of type
    /// `connection.crossplane.io/v1alpha1` sees it, with each value
    /// replaced by one byte (empty stays empty): which keys are set is all
    /// the reconciler checks, and no secret is kept in memory.
    pub async fn connection_secret(
        &self,
        client: &kube::Client,
        ns: &str,
        name: &str,
    ) -> Result<Option<Arc<Secret>>, String> {
        let config = watcher::Config::default()
            .fields(&format!("type={}", crate::managed::connection::SECRET_TYPE));
        let store = self
            .store(
                "secrets/connection".into(),
                Api::<Secret>::all(client.clone()),
                config,
                |s| {
                    for v in s.data.iter_mut().flat_map(|d| d.values_mut()) {
                        if !v.0.is_empty() {
                            v.0 = vec![1];
                        }
                    }
                    s.string_data = None;
                    s.metadata.annotations = None;
                },
            )
            .await?;
        Ok(store.get(&ObjectRef::new(name).within(ns)))
    }
}
