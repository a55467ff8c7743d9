//! Crossplane core (`crossplane core init` + `core start`) out of cluster
//! against a [`KubeApiServer`], webhooks on, package runtime `External`,
//! and a Function whose runtime is a process the caller runs.
//!
//! What a cluster install does and this does instead:
//! - the TLS Secrets (`crossplane-root-ca`, server, client) are created
//!   from a [`Pki`] before `core init`, which keeps Secrets that hold data;
//!   the server certificate has SAN 127.0.0.1, so the webhook server it
//!   serves is reachable by the API server on loopback;
//! - the `crossplane-no-usages` ValidatingWebhookConfiguration `core init`
//!   writes points at a Service; it is rewritten to
//!   `url: https://127.0.0.1:<webhook port>/validate-no-usages`;
//! - the External runtime registers no runtime controller, so
//!   [`CrossplaneCore::install_function`] writes the FunctionRevision status
//!   one would (endpoint, TLS server Secret, `RuntimeHealthy`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::{KubeApiServer, Pki, Process, TempDir, free_port, listening, peer_binary};

pub const NAMESPACE: &str = "crossplane-system";
pub const CA_SECRET: &str = "crossplane-root-ca";
pub const SERVER_SECRET: &str = "crossplane-tls-server";
pub const CLIENT_SECRET: &str = "crossplane-tls-client";
const NO_USAGES_WEBHOOK: &str = "crossplane-no-usages";

/// The module directory of the pinned Crossplane (cluster/crds,
/// cluster/webhookconfigurations), exported by tests/tools/peers.sh.
pub fn crossplane_module() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var_os("HYBRID_SPOKE_CROSSPLANE_MODULE")
            .expect("HYBRID_SPOKE_CROSSPLANE_MODULE is not set: run `bash tests/tools/peers.sh && . target/peers/env.sh`"),
    );
    assert!(
        dir.join("cluster/crds").is_dir(),
        "{} has no cluster/crds: run `bash tests/tools/peers.sh`",
        dir.display()
    );
    dir
}

/// A running `crossplane core start`, killed on drop.
pub struct CrossplaneCore {
    process: Process,
    webhook_port: u16,
    metrics_port: u16,
    dir: TempDir,
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

impl CrossplaneCore {
    /// `core init` (repeated until the CRDs it creates are Established)
    /// and `core start` against `hub`, TLS from `pki`.
    pub async fn start(hub: &KubeApiServer, pki: &Pki) -> Self {
        let client = hub.client().await;
        let binary = peer_binary("HYBRID_SPOKE_CROSSPLANE");
        let module = crossplane_module();
        let dir = TempDir::new("crossplane");

        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create namespace {NAMESPACE}: {e}"),
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        for s in [
            secret(
                CA_SECRET,
                &[
                    ("tls.crt", pki.ca_cert.as_str()),
                    ("tls.key", pki.ca_key.as_str()),
                ],
            ),
            secret(
                SERVER_SECRET,
                &[
                    ("tls.crt", pki.server.cert.as_str()),
                    ("tls.key", pki.server.key.as_str()),
                    ("ca.crt", pki.ca_cert.as_str()),
                ],
            ),
            secret(
                CLIENT_SECRET,
                &[
                    ("tls.crt", pki.client.cert.as_str()),
                    ("tls.key", pki.client.key.as_str()),
                    ("ca.crt", pki.ca_cert.as_str()),
                ],
            ),
        ] {
            secrets
                .create(&PostParams::default(), &s)
                .await
                .unwrap_or_else(|e| panic!("create Secret {:?}: {e}", s.metadata.name));
        }

        let env = |command: &mut Command| {
            command
                .env("KUBECONFIG", hub.kubeconfig_path())
                .env("POD_NAMESPACE", NAMESPACE)
                .env("TLS_CA_SECRET_NAME", CA_SECRET)
                .env("TLS_SERVER_SECRET_NAME", SERVER_SECRET)
                .env("TLS_CLIENT_SECRET_NAME", CLIENT_SECRET);
        };

        // core init: the first run fails on the Lock kind until the CRDs
        // it just created are Established; run it again until it passes.
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut init = Command::new(&binary);
            init.args(["core", "init"])
                .env("CRDS_PATH", module.join("cluster/crds"))
                .env(
                    "WEBHOOK_CONFIGS_PATH",
                    module.join("cluster/webhookconfigurations"),
                )
                .env("WEBHOOK_SERVICE_NAME", "crossplane-webhooks")
                .env("WEBHOOK_SERVICE_NAMESPACE", NAMESPACE)
                .env("WEBHOOK_SERVICE_PORT", "9443");
            env(&mut init);
            let output = init.output().expect("run crossplane core init");
            if output.status.success() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "crossplane core init still failing after {attempt} attempts: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        let webhook_port = free_port();
        let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
        let mut config = webhooks
            .get(NO_USAGES_WEBHOOK)
            .await
            .unwrap_or_else(|e| panic!("core init wrote no {NO_USAGES_WEBHOOK}: {e}"));
        for webhook in config.webhooks.iter_mut().flatten() {
            webhook.client_config.service = None;
            webhook.client_config.url = Some(format!(
                "https://127.0.0.1:{webhook_port}/validate-no-usages"
            ));
            webhook.client_config.ca_bundle = Some(ByteString(pki.ca_cert.as_bytes().to_vec()));
        }
        webhooks
            .replace(NO_USAGES_WEBHOOK, &PostParams::default(), &config)
            .await
            .unwrap_or_else(|e| panic!("point {NO_USAGES_WEBHOOK} at 127.0.0.1: {e}"));

        let (metrics_port, health_port) = (free_port(), free_port());
        let xpkg_cache = dir.path().join("xpkg");
        std::fs::create_dir_all(&xpkg_cache).expect("create the xpkg cache");
        let mut start = Command::new(&binary);
        start
            .args([
                "core",
                "start",
                "--package-runtime=External",
                "--enable-webhooks",
            ])
            .arg(format!("--webhook-port={webhook_port}"))
            .arg(format!("--metrics-port={metrics_port}"))
            .arg(format!("--health-probe-port={health_port}"))
            .arg(format!(
                "--tls-server-certs-dir={}",
                pki.server_dir().display()
            ))
            .arg(format!(
                "--tls-client-certs-dir={}",
                pki.client_dir().display()
            ))
            .arg(format!("--xpkg-cache-dir={}", xpkg_cache.display()))
            .env("XFN_CACHE_DIR", dir.path().join("xfn"))
            .arg("--poll-interval=5s")
            // A test cloud readies a spoke's ~46 resources in seconds, which
            // takes a real cloud minutes: each readiness change re-reconciles
            // the XR and updates its status, and at the default burst (100
            // events, refilled 1/s) the XR's watch circuit breaker opens
            // (Responsive=False, WatchCircuitOpen) and the XR then waits for
            // its TTL. Time compression, not a defect: allow a larger burst.
            .arg("--circuit-breaker-burst=1000")
            .arg("--debug");
        env(&mut start);
        let mut process = Process::spawn(
            "crossplane core start",
            start,
            dir.path().join("crossplane.log"),
        );
        process.wait_until("serving webhooks", Duration::from_secs(60), || {
            listening(webhook_port) && listening(health_port)
        });
        Self {
            process,
            webhook_port,
            metrics_port,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn webhook_port(&self) -> u16 {
        self.webhook_port
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }

    pub fn log(&self) -> String {
        self.process.log()
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Installs the function package from `package_root` (crossplane.yaml
    /// plus its CRD files) as `Function` `name`, pinned by digest and served
    /// from the xpkg cache (`packagePullPolicy: Never`), and marks its
    /// revision's runtime as a process at `address` would be: endpoint, TLS
    /// server Secret (holding the CA as `tls.crt`), `RuntimeHealthy`.
    /// Waits until the Function is Healthy.
    pub async fn install_function(
        &self,
        hub: &KubeApiServer,
        name: &str,
        package_root: &Path,
        address: &str,
        pki: &Pki,
    ) {
        let client = hub.client().await;
        let (source, digest) = self.cache_package(name, package_root);
        let functions = dynamic_api(&client, "pkg.crossplane.io", "v1", "Function", "functions");
        let function: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Function",
            "metadata": {"name": name},
            "spec": {
                "package": format!("{source}@{digest}"),
                "packagePullPolicy": "Never",
            },
        }))
        .expect("a Function");
        functions
            .create(&PostParams::default(), &function)
            .await
            .unwrap_or_else(|e| panic!("create Function {name}: {e}"));

        let tls_secret = format!("{name}-tls-server");
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        secrets
            .create(
                &PostParams::default(),
                &secret(&tls_secret, &[("tls.crt", pki.ca_cert.as_str())]),
            )
            .await
            .unwrap_or_else(|e| panic!("create Secret {tls_secret}: {e}"));

        let revisions = dynamic_api(
            &client,
            "pkg.crossplane.io",
            "v1",
            "FunctionRevision",
            "functionrevisions",
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let revision = loop {
            let list = revisions
                .list(
                    &kube::api::ListParams::default()
                        .labels(&format!("pkg.crossplane.io/package={name}")),
                )
                .await
                .expect("list FunctionRevisions");
            if let Some(r) = list.items.into_iter().next() {
                break r;
            }
            assert!(
                Instant::now() < deadline,
                "no FunctionRevision for {name} after 60s; core's log:\n{}",
                crate::tail(&self.log(), 40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let revision_name = revision.metadata.name.clone().expect("a named revision");
        self.mark_runtime(&revisions, &revision_name, address, &tls_secret)
            .await;

        // Healthy once the revision is established and its runtime healthy.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let f = functions.get(name).await.expect("get the Function");
            let f = serde_json::to_value(&f).unwrap_or_default();
            if condition_true(&f, "Healthy") && condition_true(&f, "Installed") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Function {name} not Installed and Healthy after 60s: {}\ncore's log:\n{}",
                f["status"],
                crate::tail(&self.log(), 40)
            );
            // The revision reconciler may have replaced our status fields.
            self.mark_runtime(&revisions, &revision_name, address, &tls_secret)
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// What a runtime controller would write into the revision's status.
    async fn mark_runtime(
        &self,
        revisions: &Api<DynamicObject>,
        revision: &str,
        address: &str,
        tls_secret: &str,
    ) {
        let current = revisions
            .get_status(revision)
            .await
            .expect("get the revision");
        let current = serde_json::to_value(&current).unwrap_or_default();
        let endpoint = format!("dns:///{address}");
        if current.pointer("/status/endpoint").and_then(Value::as_str) == Some(&endpoint)
            && condition_true(&current, "RuntimeHealthy")
        {
            return;
        }
        let mut conditions: Vec<Value> = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| c["type"] != "RuntimeHealthy");
        conditions.push(json!({
            "type": "RuntimeHealthy",
            "status": "True",
            "reason": "HealthyPackageRevision",
            "lastTransitionTime": now(),
        }));
        let patch = json!({
            "status": {
                "endpoint": endpoint,
                "tlsServerSecretName": tls_secret,
                "conditions": conditions,
            }
        });
        revisions
            .patch_status(revision, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("write FunctionRevision {revision} status: {e}"));
    }

    /// Writes the package's YAML stream (what Crossplane extracts from an
    /// xpkg and caches) gzipped into the xpkg cache under its friendly id,
    /// and returns (source, digest): the digest is the stream's sha256.
    fn cache_package(&self, name: &str, package_root: &Path) -> (String, String) {
        let mut files = vec![package_root.join("crossplane.yaml")];
        let mut extra: Vec<PathBuf> = walk_yaml(package_root)
            .into_iter()
            .filter(|p| !p.ends_with("crossplane.yaml"))
            .collect();
        extra.sort();
        files.extend(extra);
        let mut stream = String::new();
        for file in &files {
            let text = std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            stream.push_str("---\n");
            stream.push_str(&text);
            if !text.ends_with('\n') {
                stream.push('\n');
            }
        }
        let source = format!("xpkg.hybrid-spoke.invalid/hybrid-spoke/{name}");
        let digest = format!("sha256:{}", sha256_hex(stream.as_bytes()));
        let path = self
            .dir
            .path()
            .join("xpkg")
            .join(format!("{}.gz", friendly_id(&source, &digest)));
        let raw = self.dir.path().join("package.yaml");
        std::fs::write(&raw, &stream).expect("write package.yaml");
        let gz = Command::new("gzip")
            .arg("-c")
            .arg(&raw)
            .output()
            .expect("run gzip (the xpkg cache is gzipped)");
        assert!(gz.status.success(), "gzip failed");
        std::fs::write(&path, gz.stdout).expect("write the cached package");
        (source, digest)
    }
}

/// crossplane-runtime's `xpkg.FriendlyID(name, hash)`.
pub fn friendly_id(name: &str, hash: &str) -> String {
    let joined = format!("{}-{}", truncate(name, 50), truncate(hash, 12));
    to_dns_label(&joined)
}

fn truncate(s: &str, n: usize) -> &str {
    if s.len() > n { &s[..n] } else { s }
}

/// crossplane-runtime's `xpkg.ToDNSLabel`.
fn to_dns_label(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            out.push(b as char);
        }
        if matches!(b, b'.' | b'/' | b':' | b'-') && i != 0 && i != 62 && i != bytes.len() - 1 {
            out.push('-');
        }
        if i == 62 {
            break;
        }
    }
    out.trim_matches('-').to_string()
}

fn walk_yaml(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_yaml(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An RFC 3339 UTC timestamp of now (seconds).
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether `object` has condition `kind` with status True.
pub fn condition_true(object: &Value, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == kind && c["status"] == "True")
        })
}

/// An `Api<DynamicObject>` for a cluster-scoped kind.
pub fn dynamic_api(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::all_with(client.clone(), &resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_ids_are_crossplanes() {
        // The cache key of a digest-pinned package (xpkg name_test.go shape).
        assert_eq!(
            friendly_id(
                "xpkg.crossplane.io/crossplane/provider-aws",
                "sha256:0123456789abcdef"
            ),
            "xpkg-crossplane-io-crossplane-provider-aws-sha256-01234"
        );
        assert_eq!(to_dns_label("-a.b-"), "a-b");
    }

    #[test]
    fn now_is_rfc3339() {
        let n = now();
        assert_eq!(n.len(), 20, "{n}");
        assert!(n.starts_with("20") && n.ends_with('Z'));
    }
}
