//! kube-controller-manager (same k8s.io/kubernetes pin as kube-apiserver,
//! tests/tools/kube) against a [`KubeApiServer`]: its garbage collector is
//! what deletes composed resources whose owner (an XR) is gone, and its
//! namespace controller empties deleted namespaces.

use std::process::Command;
use std::time::Duration;

use crate::{KubeApiServer, Process, TempDir, peer_binary};

/// The controllers started: without `garbagecollector`, deleting an XR
/// leaves every composed resource behind, owned by an XR that is gone.
pub const CONTROLLERS: &str = "garbagecollector,namespace";

/// A running kube-controller-manager, killed on drop.
pub struct KubeControllerManager {
    process: Process,
    _dir: TempDir,
}

impl KubeControllerManager {
    /// Starts `HYBRID_SPOKE_KUBE_CONTROLLER_MANAGER` against `hub`, serving
    /// nothing (`--secure-port=0`), no leader election.
    pub fn start(hub: &KubeApiServer) -> Self {
        let dir = TempDir::new("kcm");
        let mut command = Command::new(peer_binary("HYBRID_SPOKE_KUBE_CONTROLLER_MANAGER"));
        command
            .arg(format!("--kubeconfig={}", hub.kubeconfig_path().display()))
            .arg(format!("--controllers={CONTROLLERS}"))
            .arg("--leader-elect=false")
            .arg("--secure-port=0")
            .arg("--use-service-account-credentials=false")
            .arg("--v=1");
        let mut process = Process::spawn(
            "kube-controller-manager",
            command,
            dir.path().join("kube-controller-manager.log"),
        );
        // The garbage collector logs this when it starts.
        let log = dir.path().join("kube-controller-manager.log");
        process.wait_until(
            "running its garbage collector",
            Duration::from_secs(60),
            || {
                std::fs::read_to_string(&log).is_ok_and(|l| {
                    l.contains("\"Starting controller\" controller=\"garbagecollector\"")
                })
            },
        );
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
