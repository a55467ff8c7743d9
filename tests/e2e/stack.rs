//! The shared stack and the helpers scenarios use to talk to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::crossplane_core::{self, condition_true};
use hybrid_spoke_test_peers::kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use hybrid_spoke_test_peers::kube::core::GroupVersionKind;
use hybrid_spoke_test_peers::kube::discovery::{self, ApiResource, Scope};
use hybrid_spoke_test_peers::providers::Provider;
use hybrid_spoke_test_peers::{
    self as peers, CrossplaneCore, FunctionServer, KubeApiServer, KubeControllerManager, Pki,
};
use serde_json::{Value, json};

use crate::cloud::CloudStandIn;

/// The Function's name, as the Compositions' pipeline references it.
pub const FUNCTION: &str = "function-hybrid-spoke";
/// Field manager of everything the tests apply.
const MANAGER: &str = "hybrid-spoke-e2e";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Stack {
    // Dropped first: the stand-in stops before the API servers go.
    pub cloud: CloudStandIn,
    pub hub: KubeApiServer,
    pub client: hybrid_spoke_test_peers::kube::Client,
    pub spoke: KubeApiServer,
    kcm: KubeControllerManager,
    /// A real spoke has a garbage collector too: provider-kubernetes
    /// deletes with foreground propagation, which only it completes.
    spoke_kcm: KubeControllerManager,
    pub core: CrossplaneCore,
    provider_kubernetes: Provider,
    function: Option<FunctionServer>,
    /// The function's certificates and port while it is stopped.
    parked: Option<(Option<Pki>, u16)>,
    timings: Vec<(&'static str, Duration)>,
    kinds: BTreeMap<(String, String), (ApiResource, bool)>,
}

impl Stack {
    pub async fn start() -> Self {
        let mut timings = Vec::new();
        let mut t = Instant::now();
        let mut lap = |what: &'static str, t: &mut Instant| {
            timings.push((what, t.elapsed()));
            *t = Instant::now();
        };
        // The spoke starts on another worker meanwhile.
        let spoke = tokio::spawn(KubeApiServer::start());
        let hub = KubeApiServer::start().await;
        lap("hub", &mut t);
        let kcm = KubeControllerManager::start(&hub);
        lap("kube-controller-manager", &mut t);

        // The upjet kinds the function composes; no provider runs for them
        // here, the cloud stand-in does.
        let shared = peers::shared_dir().join("vendor-crds");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&shared)
            .expect("read vendor-crds")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains(".upbound.io_"))
            })
            .collect();
        files.sort();
        // The kinds the tailnet/edge/Argo CD parts will compose, so that
        // once they are composed they apply (and wait for their providers)
        // rather than fail for a missing kind: our provider's, provider-helm's.
        for dir in [
            repo().join("package/provider/crds"),
            PathBuf::from(
                std::env::var_os("HYBRID_SPOKE_PROVIDER_HELM_MODULE").unwrap_or_default(),
            )
            .join("package/crds"),
        ] {
            let mut more: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| {
                    panic!(
                        "read {}: {e} (run bash tests/tools/peers.sh)",
                        dir.display()
                    )
                })
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect();
            more.sort();
            files.extend(more);
        }
        hub.install_crds(&KubeApiServer::read_crds(&files)).await;
        lap("CRDs (cloud, our provider, provider-helm)", &mut t);

        let pki = Pki::new();
        let core = CrossplaneCore::start(&hub, &pki).await;
        lap("crossplane core init + start", &mut t);
        let function = FunctionServer::start_mtls_with(pki, None);
        let pki = function.pki().expect("an mTLS function has certificates");
        core.install_function(
            &hub,
            FUNCTION,
            &repo().join("package/function"),
            &function.address(),
            pki,
        )
        .await;
        lap("function + Function package", &mut t);
        let provider_kubernetes = Provider::start_kubernetes(&hub, pki).await;
        lap("provider-kubernetes", &mut t);

        let client = hub.client().await;
        let spoke = spoke.await.expect("the spoke API server starts");
        let spoke_kcm = KubeControllerManager::start(&spoke);
        lap("spoke + its kube-controller-manager", &mut t);
        let cloud = CloudStandIn::start(client.clone(), &spoke);
        let mut stack = Self {
            hub,
            client,
            spoke,
            kcm,
            spoke_kcm,
            core,
            provider_kubernetes,
            function: Some(function),
            parked: None,
            cloud,
            timings,
            kinds: BTreeMap::new(),
        };
        let t = Instant::now();
        stack
            .apply_file(&repo().join("package/configuration/namespaced/definition.yaml"))
            .await;
        let established: Result<(), String> = poll!(
            "the namespaced XRD Established",
            Duration::from_secs(60),
            stack
                .get(
                    "apiextensions.crossplane.io/v2",
                    "CompositeResourceDefinition",
                    None,
                    "xhybridspokes.platform.hybridspoke.io",
                )
                .await
                .filter(|xrd| condition_true(xrd, "Established"))
                .map(|_| ())
        );
        established.unwrap_or_else(|e| panic!("{e}\ncore:\n{}", stack.core_log_tail()));
        stack
            .apply_file(&repo().join("package/configuration/namespaced/composition.yaml"))
            .await;
        stack.timings.push(("XRD + Composition", t.elapsed()));
        stack
    }

    pub fn startup_report(&self) -> String {
        let mut parts: Vec<String> = self
            .timings
            .iter()
            .map(|(what, d)| format!("{what} {:.1}s", d.as_secs_f64()))
            .collect();
        parts.push(format!(
            "function binary {}",
            peers::function_binary().display()
        ));
        parts.join(", ")
    }

    pub fn assert_running(&mut self) {
        self.kcm.assert_running();
        self.spoke_kcm.assert_running();
        self.core.assert_running();
        self.provider_kubernetes.assert_running();
        if let Some(f) = self.function.as_mut() {
            f.assert_running();
        }
    }

    /// Stops the function process (SIGKILL), keeping its port.
    pub fn stop_function(&mut self) {
        if let Some(f) = self.function.take() {
            self.parked = Some(f.stop());
        }
    }

    /// Starts the function again on the same port with the same certificates.
    pub fn restart_function(&mut self) {
        if let Some((Some(pki), port)) = self.parked.take() {
            self.function = Some(FunctionServer::start_mtls_with(pki, Some(port)));
        }
    }

    /// Peak resident set size (VmHWM) of every process of the stack.
    pub fn peak_rss_report(&self) -> String {
        let (hub_api, hub_etcd) = self.hub.pids();
        let (spoke_api, spoke_etcd) = self.spoke.pids();
        let mut rows = vec![
            ("hub kube-apiserver", hub_api),
            ("hub etcd", hub_etcd),
            ("kube-controller-manager", self.kcm.pid()),
            ("crossplane core", self.core.pid()),
            ("provider-kubernetes", self.provider_kubernetes.pid()),
            ("spoke kube-apiserver", spoke_api),
            ("spoke etcd", spoke_etcd),
            ("spoke kube-controller-manager", self.spoke_kcm.pid()),
        ];
        if let Some(f) = &self.function {
            rows.push(("function-hybrid-spoke", f.pid()));
        }
        let mut total = 0;
        let mut out: Vec<String> = rows
            .iter()
            .map(|(name, pid)| {
                let kib = peak_rss_kib(*pid);
                total += kib;
                format!("  {name:<30} {:>7.1} MiB", kib as f64 / 1024.0)
            })
            .collect();
        out.push(format!(
            "  {:<26} {:>7.1} MiB",
            "total",
            total as f64 / 1024.0
        ));
        out.join("\n")
    }

    /// Waits for Ctrl-C, printing how to reach the stack.
    pub async fn keep_up(&self) {
        println!(
            "e2e: HYBRID_SPOKE_E2E_KEEP: the stack stays up until Ctrl-C.\n  \
             hub:   KUBECONFIG={}\n  spoke: KUBECONFIG={}\n  \
             (inside this network namespace: nsenter --net=/proc/{}/ns/net kubectl ...)",
            self.hub.kubeconfig_path().display(),
            self.spoke.kubeconfig_path().display(),
            std::process::id()
        );
        let _ = tokio::signal::ctrl_c().await;
    }

    // --- talking to the hub -------------------------------------------------

    /// The API resource of `apiVersion`/`kind` and whether it is namespaced.
    pub async fn kind(&mut self, api_version: &str, kind: &str) -> (ApiResource, bool) {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.get(&key) {
            return found.clone();
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = discovery::pinned_kind(&self.client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("the hub does not serve {api_version} {kind}: {e}"));
        let found = (resource, caps.scope == Scope::Namespaced);
        self.kinds.insert(key, found.clone());
        found
    }

    pub async fn api(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        let (resource, namespaced) = self.kind(api_version, kind).await;
        match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Server-side applies `object` (as this test's field manager).
    pub async fn apply(&mut self, object: &Value) -> Value {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string);
        let api = self.api(&api_version, &kind, namespace.as_deref()).await;
        let applied = api
            .patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
        serde_json::to_value(applied).unwrap_or_default()
    }

    pub async fn apply_file(&mut self, path: &Path) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("YAML");
            if value.is_object() {
                self.apply(&value).await;
            }
        }
    }

    /// A client for the spoke API server.
    pub async fn spoke_client(&self) -> hybrid_spoke_test_peers::kube::Client {
        self.spoke.client().await
    }

    pub async fn namespace(&mut self, name: &str) {
        self.apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .await;
    }

    /// The object, or None if it does not exist.
    pub async fn get(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let api = self.api(api_version, kind, namespace).await;
        match api.get_opt(name).await {
            Ok(found) => found.map(|o| serde_json::to_value(o).unwrap_or_default()),
            Err(e) => panic!("get {kind} {name}: {e}"),
        }
    }

    pub async fn delete(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) {
        self.try_delete(api_version, kind, namespace, name)
            .await
            .unwrap_or_else(|e| panic!("delete {kind} {name}: {e}"));
    }

    /// Deletes the object; the API server's refusal as an error message.
    pub async fn try_delete(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), String> {
        let api = self.api(api_version, kind, namespace).await;
        api.delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub async fn merge_patch(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) {
        let api = self.api(api_version, kind, namespace).await;
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap_or_else(|e| panic!("patch {kind} {name}: {e}"));
    }

    /// Crossplane core's log so far (for failure messages).
    pub fn core_log_tail(&self) -> String {
        let log = self.core.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// VmHWM of a process, KiB (0 if it is gone).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

pub use crossplane_core::condition_true as is_true;
