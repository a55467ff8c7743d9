//! etcd + kube-apiserver on loopback (built by `tests/tools/peers.sh` from
//! go.etcd.io/etcd and k8s.io/kubernetes), with a temporary data dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::Value;

use crate::{Process, TempDir, free_port, listening, peer_binary};

/// A running etcd + kube-apiserver pair; both are killed and the data dir
/// removed on drop.
///
/// Authentication is a static bearer token of a `system:masters` user;
/// authorization is `AlwaysAllow`. The serving certificate (127.0.0.1,
/// localhost) is signed by a CA generated per server.
pub struct KubeApiServer {
    // Fields drop in order: the API server before etcd, both before the dir.
    apiserver: Process,
    etcd: Process,
    url: String,
    token: String,
    ca_pem: String,
    kubeconfig: PathBuf,
    startup: Duration,
    dir: TempDir,
}

impl KubeApiServer {
    /// Starts etcd and kube-apiserver (`HYBRID_SPOKE_ETCD`,
    /// `HYBRID_SPOKE_KUBE_APISERVER`) on free loopback ports and waits until
    /// `/readyz` answers `ok`.
    pub async fn start() -> Self {
        let started = Instant::now();
        let etcd_bin = peer_binary("HYBRID_SPOKE_ETCD");
        let apiserver_bin = peer_binary("HYBRID_SPOKE_KUBE_APISERVER");
        let dir = TempDir::new("kube");
        let path = |name: &str| dir.path().join(name);

        // etcd, single member, no fsync (a throw-away data dir).
        let (client_port, peer_port) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut etcd = Command::new(etcd_bin);
        etcd.arg("--name=test")
            .arg(format!("--data-dir={}", path("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        let mut etcd = Process::spawn("etcd", etcd, path("etcd.log"));

        // Certificates and the static token, while etcd starts.
        let (ca_pem, serving_cert, serving_key) = serving_certificate();
        let sa_key = rcgen::KeyPair::generate().expect("generate the service-account key");
        std::fs::write(path("sa.pub"), sa_key.public_key_pem()).expect("write sa.pub");
        let sa_key = sa_key.serialize_pem();
        std::fs::write(path("serving.crt"), &serving_cert).expect("write serving.crt");
        std::fs::write(path("serving.key"), &serving_key).expect("write serving.key");
        std::fs::write(path("sa.key"), &sa_key).expect("write sa.key");
        let token = format!("hybrid-spoke-test-{}", std::process::id());
        std::fs::write(
            path("tokens.csv"),
            format!("{token},admin,admin,system:masters\n"),
        )
        .expect("write tokens.csv");

        etcd.wait_until("healthy", Duration::from_secs(20), || {
            crate::try_http("GET", &format!("{client_url}/health"), &[], None)
                .is_ok_and(|r| r.status == 200 && r.body.contains("true"))
        });

        let port = free_port();
        let mut apiserver = Command::new(apiserver_bin);
        apiserver
            .arg(format!("--etcd-servers={client_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--cert-dir={}", path("certs").display()))
            .arg(format!("--tls-cert-file={}", path("serving.crt").display()))
            .arg(format!(
                "--tls-private-key-file={}",
                path("serving.key").display()
            ))
            .arg(format!(
                "--token-auth-file={}",
                path("tokens.csv").display()
            ))
            .arg("--authorization-mode=AlwaysAllow")
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!(
                "--service-account-key-file={}",
                path("sa.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                path("sa.key").display()
            ))
            .arg("--service-cluster-ip-range=10.96.0.0/24")
            .arg("--endpoint-reconciler-type=none")
            .arg("--enable-priority-and-fairness=false")
            .arg("--profiling=false")
            .arg("--v=1");
        let mut apiserver = Process::spawn("kube-apiserver", apiserver, path("kube-apiserver.log"));
        apiserver.wait_until("listening", Duration::from_secs(60), || listening(port));

        let url = format!("https://127.0.0.1:{port}");
        let kubeconfig = path("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url, &ca_pem, &token))
            .expect("write kubeconfig");
        let mut server = Self {
            apiserver,
            etcd,
            url,
            token,
            ca_pem,
            kubeconfig,
            startup: Duration::ZERO,
            dir,
        };
        server.wait_ready(Duration::from_secs(60)).await;
        server.startup = started.elapsed();
        server
    }

    async fn wait_ready(&mut self, timeout: Duration) {
        let client = self.client().await;
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            self.apiserver.assert_running();
            self.etcd.assert_running();
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("a request");
            match client.request_text(request).await {
                Ok(body) if body.trim() == "ok" => return,
                Ok(body) => last = body,
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                panic!(
                    "kube-apiserver not ready after {timeout:?} ({last}); its log ({}):\n{}",
                    self.apiserver.log_path().display(),
                    crate::tail(&self.apiserver.log(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process ids of (kube-apiserver, etcd).
    pub fn pids(&self) -> (u32, u32) {
        (self.apiserver.pid(), self.etcd.pid())
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer token of a `system:masters` user.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate (PEM) the serving certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig file for the server (context `test`, namespace `default`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The scratch directory (logs, certificates, etcd data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long [`KubeApiServer::start`] took until `/readyz` was `ok`.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// A client for the server, built from the kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("a kube config from the kubeconfig");
        kube::Client::try_from(config).expect("a kube client")
    }

    /// Creates the CRDs and waits until each is `Established`.
    pub async fn install_crds(&self, crds: &[Value]) -> Vec<CustomResourceDefinition> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client().await);
        // Created concurrently: dozens of CRDs one by one take seconds.
        let mut creating = tokio::task::JoinSet::new();
        for (index, crd) in crds.iter().enumerate() {
            let crd: CustomResourceDefinition = serde_json::from_value(crd.clone())
                .unwrap_or_else(|e| panic!("not a CustomResourceDefinition ({e}): {crd}"));
            let api = api.clone();
            creating.spawn(async move {
                let name = crd.metadata.name.clone().unwrap_or_default();
                let created = api
                    .create(&PostParams::default(), &crd)
                    .await
                    .unwrap_or_else(|e| panic!("the API server refused CRD {name}: {e}"));
                (
                    index,
                    created.metadata.name.expect("a created CRD has a name"),
                )
            });
        }
        let mut names: Vec<(usize, String)> = creating.join_all().await;
        names.sort();
        let names: Vec<String> = names.into_iter().map(|(_, n)| n).collect();
        let mut established = Vec::new();
        for name in names {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let crd = api.get(&name).await.expect("get the CRD");
                let conditions = crd
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.clone())
                    .unwrap_or_default();
                if conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                {
                    established.push(crd);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "CRD {name} not Established after 30s: {conditions:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        established
    }

    /// Reads CRD documents from YAML files (multi-document streams allowed;
    /// non-CRD documents are skipped).
    pub fn read_crds(paths: &[PathBuf]) -> Vec<Value> {
        let mut crds = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value: Value = serde::Deserialize::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
                if value["kind"] == "CustomResourceDefinition" {
                    crds.push(value);
                }
            }
        }
        crds
    }
}

/// A CA and a serving certificate for 127.0.0.1/localhost (ECDSA P-256).
fn serving_certificate() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("generate the CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "hybrid-spoke test kube CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).expect("self-sign the CA").pem();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("generate the serving key");
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("serving params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &issuer)
        .expect("sign the serving cert");
    (ca_pem, cert.pem(), key.serialize_pem())
}

fn kubeconfig_yaml(url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: test\n  \
           cluster:\n    \
             server: {url}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: admin\n  \
           user:\n    \
             token: {token}\n\
         contexts:\n\
         - name: test\n  \
           context:\n    \
             cluster: test\n    \
             user: admin\n    \
             namespace: default\n\
         current-context: test\n"
    )
}
