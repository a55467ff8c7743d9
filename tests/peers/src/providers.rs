//! Crossplane providers built from their modules (tests/tools/provider-*),
//! run out of cluster against a [`KubeApiServer`], CRDs from the module's
//! `package/crds`.
//!
//! provider-kubernetes will not start without serving certificates
//! (`TLS_SERVER_CERTS_DIR`), and its legacy `Object` CRD converts through
//! its webhook: the CRD's conversion client config is rewritten to
//! `url: https://127.0.0.1:9443/convert` with the CA. The webhook (9443)
//! and metrics (8080) ports are controller-runtime's defaults, with no flag
//! to change them: run one provider per network namespace.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{KubeApiServer, Pki, Process, TempDir, free_port, listening, peer_binary};

/// controller-runtime's default webhook port, which the providers keep.
pub const WEBHOOK_PORT: u16 = 9443;

/// A running provider, killed on drop.
pub struct Provider {
    process: Process,
    _dir: TempDir,
}

fn module(var: &str) -> PathBuf {
    let dir = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run `bash tests/tools/peers.sh && . target/peers/env.sh`")
    }));
    assert!(
        dir.join("package/crds").is_dir(),
        "{} has no package/crds: run `bash tests/tools/peers.sh`",
        dir.display()
    );
    dir
}

/// The module's CRDs, webhook conversions pointed at 127.0.0.1.
fn crds(module: &std::path::Path, ca_pem: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(module.join("package/crds"))
        .expect("read package/crds")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    KubeApiServer::read_crds(&files)
        .into_iter()
        .map(|mut crd| {
            if crd.pointer("/spec/conversion/strategy") == Some(&json!("Webhook")) {
                crd["spec"]["conversion"]["webhook"]["clientConfig"] = json!({
                    "url": format!("https://127.0.0.1:{WEBHOOK_PORT}/convert"),
                    "caBundle": ca,
                });
            }
            crd
        })
        .collect()
}

impl Provider {
    /// provider-kubernetes (`HYBRID_SPOKE_PROVIDER_KUBERNETES`), serving
    /// its webhook with `pki`'s server certificate (SAN 127.0.0.1).
    pub async fn start_kubernetes(hub: &KubeApiServer, pki: &Pki) -> Self {
        let module = module("HYBRID_SPOKE_PROVIDER_KUBERNETES_MODULE");
        hub.install_crds(&crds(&module, &pki.ca_cert)).await;
        let dir = TempDir::new("provider-kubernetes");
        let health = free_port();
        let mut command = Command::new(peer_binary("HYBRID_SPOKE_PROVIDER_KUBERNETES"));
        command
            .arg(format!("--health-probe-bind-addr=127.0.0.1:{health}"))
            .arg("--poll=10s")
            .arg("--debug")
            .env("KUBECONFIG", hub.kubeconfig_path())
            .env("TLS_SERVER_CERTS_DIR", pki.server_dir());
        let mut process = Process::spawn(
            "provider-kubernetes",
            command,
            dir.path().join("provider-kubernetes.log"),
        );
        process.wait_until("serving", Duration::from_secs(60), || {
            listening(health) && listening(WEBHOOK_PORT)
        });
        Self { process, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}
