//! The Crossplane packages `bash tests/tools/xpkg.sh` builds into
//! target/xpkg/ (tests/run.sh runs it first), read the way Crossplane reads
//! them: the image config's `io.crossplane.xpkg:<layer digest>` labels (which
//! `crossplane xpkg push` turns into layer annotations) name the layer whose
//! `package.yaml` is the package; the other layers are the runtime image.
//!
//! Shown here: each package's contents equal the files in package/ and the
//! XRDs, Compositions and MRDs pass `crossplane beta validate`; crank's own
//! `xpkg extract` reads the same package.yaml; the runtime images run as
//! Crossplane runs them (entrypoint, no arguments, non-root user, TLS from
//! TLS_SERVER_CERTS_DIR, ports 9443 and 8080) with only the image's own
//! libraries; their sizes are printed and held to the targets.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hybrid_spoke_test_peers::{self as peers, Pki, Process, TempDir, listening};
use serde_json::{Value, json};

#[path = "support/yaml_docs.rs"]
mod yaml_docs;
use yaml_docs::{beta_validate, documents, read_documents, vendor_crd, yaml_files};

/// The targets for the compressed runtime images (what a node pulls).
const FUNCTION_IMAGE_MAX: u64 = 20 * 1000 * 1000;
const PROVIDER_IMAGE_MAX: u64 = 40 * 1000 * 1000;
/// distroless' `nonroot` user, which the images run as.
const NONROOT: &str = "65532:65532";
const XPKG_LABEL: &str = "io.crossplane.xpkg";

fn version_tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

fn xpkg_path(name: &str) -> PathBuf {
    let path = peers::repo_root()
        .join("target/xpkg")
        .join(format!("{name}-{}.xpkg", version_tag()));
    assert!(
        path.is_file(),
        "{} is missing: run `bash tests/tools/xpkg.sh` (tests/run.sh does) to build the packages",
        path.display()
    );
    path
}

/// An image tarball as go-containerregistry's `tarball.Write` lays it out
/// (what `crossplane xpkg build` writes): manifest.json, the config file,
/// one `<digest>.tar.gz` per layer.
struct ImageTarball {
    config: Value,
    /// Compressed layers in manifest order, with their `sha256:` digests.
    layers: Vec<(String, Vec<u8>)>,
}

impl ImageTarball {
    fn read(path: &Path) -> Self {
        let file = std::fs::File::open(path).expect("open the image tarball");
        let mut entries = BTreeMap::new();
        for entry in tar::Archive::new(file).entries().expect("a tar archive") {
            let mut entry = entry.expect("a tar entry");
            let name = entry.path().expect("entry path").display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read an entry");
            entries.insert(name, data);
        }
        let manifest: Value =
            serde_json::from_slice(&entries["manifest.json"]).expect("manifest.json is JSON");
        let manifest = &manifest[0];
        let config_name = manifest["Config"].as_str().expect("Config");
        let config = serde_json::from_slice(&entries[config_name]).expect("config is JSON");
        let layers = manifest["Layers"]
            .as_array()
            .expect("Layers")
            .iter()
            .map(|l| {
                let name = l.as_str().expect("a layer file name");
                let hex = name.trim_end_matches(".tar.gz");
                (format!("sha256:{hex}"), entries[name].clone())
            })
            .collect();
        Self { config, layers }
    }

    /// Digests of the layers the config labels with `value` (`base` for
    /// package.yaml, `upbound` for the examples).
    fn labelled(&self, value: &str) -> Vec<String> {
        let labels = self.config["config"]["Labels"].as_object();
        labels
            .into_iter()
            .flatten()
            .filter(|(k, v)| k.starts_with(&format!("{XPKG_LABEL}:")) && v.as_str() == Some(value))
            .map(|(k, _)| k[XPKG_LABEL.len() + 1..].to_string())
            .collect()
    }

    fn layer_files(&self, digest: &str) -> BTreeMap<String, Vec<u8>> {
        let (_, data) = self
            .layers
            .iter()
            .find(|(d, _)| d == digest)
            .unwrap_or_else(|| panic!("no layer {digest} in the image"));
        untar(&gunzip(data))
    }

    /// The package stream of the one layer labelled `base`.
    fn package_yaml(&self) -> String {
        let base = self.labelled("base");
        assert_eq!(
            base.len(),
            1,
            "exactly one layer is the package layer (io.crossplane.xpkg: base)"
        );
        let files = self.layer_files(&base[0]);
        String::from_utf8(files.get("package.yaml").expect("package.yaml").clone())
            .expect("package.yaml is UTF-8")
    }

    /// The runtime image's layers: all but the package and examples layers.
    fn runtime_layers(&self) -> Vec<&(String, Vec<u8>)> {
        let package: Vec<String> = [self.labelled("base"), self.labelled("upbound")].concat();
        self.layers
            .iter()
            .filter(|(d, _)| !package.contains(d))
            .collect()
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a gzip layer");
    out
}

/// Regular files of a layer by path (no leading `./`).
fn untar(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(data).entries().expect("a tar layer") {
        let mut entry = entry.expect("a tar entry");
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().expect("path").display().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read a file");
        files.insert(name.trim_start_matches("./").to_string(), content);
    }
    files
}

fn repo_documents(dir: &str) -> Vec<Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(peers::repo_root().join(dir))
        .expect("a package directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| documents(&std::fs::read_to_string(p).expect("read")))
        .collect()
}

fn by_name(docs: &[Value]) -> BTreeMap<String, Value> {
    docs.iter()
        .map(|d| {
            (
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap_or(""),
                    d["metadata"]["name"].as_str().unwrap_or("")
                ),
                d.clone(),
            )
        })
        .collect()
}

/// The first place two JSON values differ, as a JSON pointer with both sides.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}/{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}/{i}"))),
        // Go re-serializes `1.0` as `1`: numbers compare by value.
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(format!("{path}: {a} != {b}")),
    }
}

/// The package's objects are exactly `want` (by kind/name, then content).
fn assert_same_objects(what: &str, got: &BTreeMap<String, Value>, want: &BTreeMap<String, Value>) {
    let (g, w): (Vec<&String>, Vec<&String>) = (got.keys().collect(), want.keys().collect());
    assert_eq!(g, w, "{what}: objects by kind/name");
    for (name, object) in got {
        if let Some(diff) = first_difference(object, &want[name], "") {
            panic!(
                "{what}: {name} differs from the file at {diff} \
                 (a package built before the file changed? `bash tests/tools/xpkg.sh`)"
            );
        }
    }
}

/// The meta object first, then the objects; the objects by kind/name.
/// `crossplane xpkg build` re-serializes CRDs and XRDs from Go types, which
/// adds their zero `status`; it is dropped here, nothing else.
fn split(package: &str) -> (Value, BTreeMap<String, Value>) {
    let docs = documents(package);
    let meta = docs.first().expect("a meta object").clone();
    assert_eq!(meta["apiVersion"], "meta.pkg.crossplane.io/v1");
    let objects: Vec<Value> = docs[1..]
        .iter()
        .cloned()
        .map(|mut d| {
            if let Some(map) = d.as_object_mut() {
                map.remove("status");
            }
            d
        })
        .collect();
    (meta, by_name(&objects))
}

/// `crossplane xpkg extract --from-xpkg`: crank's own reading of the
/// package, which must give the same package.yaml.
fn crank_extract(xpkg: &Path) -> String {
    let scratch = TempDir::new("xpkg-extract");
    let out = scratch.path().join("package.gz");
    peers::run(
        "crossplane xpkg extract",
        Command::new(peers::crank())
            .args(["xpkg", "extract", "--from-xpkg"])
            .arg(xpkg)
            .arg("-o")
            .arg(&out),
    );
    String::from_utf8(gunzip(&std::fs::read(&out).expect("extract output")))
        .expect("package stream is UTF-8")
}

#[test]
fn function_package_holds_the_function_meta_and_its_input_crd() {
    let path = xpkg_path("function-hybrid-spoke");
    let image = ImageTarball::read(&path);
    let package = image.package_yaml();
    assert_eq!(crank_extract(&path), package);
    let (meta, objects) = split(&package);
    assert_eq!(meta["kind"], "Function");
    assert_eq!(meta["metadata"]["name"], "function-hybrid-spoke");
    assert!(
        meta["spec"]["capabilities"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("composition"))),
        "Crossplane refuses a function without the composition capability in a Composition: {meta}"
    );
    assert_same_objects(
        "function package vs package/function/input",
        &objects,
        &by_name(&repo_documents("package/function/input")),
    );
}

#[test]
fn provider_package_declares_safe_start_and_crossplane_makes_mrds_of_its_managed_kinds() {
    let path = xpkg_path("provider-hybrid-spoke");
    let image = ImageTarball::read(&path);
    let package = image.package_yaml();
    assert_eq!(crank_extract(&path), package);
    let (meta, objects) = split(&package);
    assert_eq!(meta["kind"], "Provider");
    assert_eq!(meta["spec"]["capabilities"], json!(["safe-start"]));
    assert_same_objects(
        "provider package vs package/provider/crds",
        &objects,
        &by_name(&repo_documents("package/provider/crds")),
    );

    // Crossplane v2 (internal/converter/custom_to_managed.go) turns every
    // package CRD except the ProviderConfig kinds into an MRD with the CRD's
    // name and spec; safe-start leaves it Inactive.
    const NOT_MANAGED: [&str; 4] = [
        "ProviderConfig",
        "ClusterProviderConfig",
        "ProviderConfigUsage",
        "ClusterProviderConfigUsage",
    ];
    let mrds: Vec<Value> = objects
        .values()
        .filter(|crd| {
            !NOT_MANAGED.contains(&crd["spec"]["names"]["kind"].as_str().unwrap_or_default())
        })
        .map(|crd| {
            let mut spec = crd["spec"].clone();
            spec["state"] = json!("Inactive");
            json!({
                "apiVersion": "apiextensions.crossplane.io/v1alpha1",
                "kind": "ManagedResourceDefinition",
                "metadata": {"name": crd["metadata"]["name"]},
                "spec": spec,
            })
        })
        .collect();
    let names: BTreeSet<&str> = mrds
        .iter()
        .filter_map(|m| m["metadata"]["name"].as_str())
        .collect();
    println!("MRDs Crossplane creates (Inactive until activated): {names:?}");
    let expected: BTreeSet<&str> = [
        "aclfragments.tailnet.hybridspoke.io",
        "aclfragments.tailnet.m.hybridspoke.io",
        "tailnetkeys.tailnet.hybridspoke.io",
        "tailnetkeys.tailnet.m.hybridspoke.io",
        "tunnels.cloudflare.hybridspoke.io",
        "tunnels.cloudflare.m.hybridspoke.io",
    ]
    .into();
    assert_eq!(names, expected);
    beta_validate(
        "provider MRDs",
        &[&vendor_crd(
            "apiextensions.crossplane.io_managedresourcedefinitions.yaml",
        )],
        &mrds,
    );
}

/// The tag of a vendored upstream release in ../shared/vendor-crds/SOURCE.md.
fn vendored_tag(repo: &str) -> String {
    let source = std::fs::read_to_string(vendor_crd("SOURCE.md")).expect("SOURCE.md");
    let heading = format!("## crossplane-contrib/{repo} @ ");
    source
        .lines()
        .find_map(|l| l.strip_prefix(&heading))
        .unwrap_or_else(|| panic!("SOURCE.md names no release of {repo}"))
        .trim()
        .to_string()
}

fn check_configuration(name: &str, dir: &str) -> (Value, BTreeMap<String, Value>) {
    let path = xpkg_path(name);
    let image = ImageTarball::read(&path);
    assert!(
        image.runtime_layers().is_empty(),
        "a configuration has no runtime image"
    );
    let package = image.package_yaml();
    assert_eq!(crank_extract(&path), package);
    let (meta, objects) = split(&package);
    assert_eq!(meta["kind"], "Configuration");
    assert_eq!(meta["metadata"]["name"], name);
    // What its dependencies ask for (the function and the provider say so
    // in their own metadata): a configuration must not promise less.
    for dependency in [
        "package/function/crossplane.yaml",
        "package/provider/crossplane.yaml",
    ] {
        let dep = read_documents(&peers::repo_root().join(dependency)).remove(0);
        assert_eq!(
            meta["spec"]["crossplane"]["version"], dep["spec"]["crossplane"]["version"],
            "{name}: the Crossplane versions it admits are the ones {dependency} admits"
        );
    }
    let files: Vec<Value> = repo_documents(dir)
        .into_iter()
        .filter(|d| d["apiVersion"] != "meta.pkg.crossplane.io/v1")
        .collect();
    assert_same_objects(&format!("{name} vs {dir}"), &objects, &by_name(&files));

    // dependsOn: every package the Compositions need, each with a minimum
    // version that exists: ours is this build, the upstream ones are the
    // releases whose CRDs the composed resources are validated against.
    let ours = format!(">={}", version_tag());
    let aws = format!(">={}", vendored_tag("provider-upjet-aws"));
    let azure = format!(">={}", vendored_tag("provider-upjet-azure"));
    let expected: BTreeMap<&str, (&str, String)> = [
        (
            "ghcr.io/hybrid-spoke/function-hybrid-spoke",
            ("Function", ours.clone()),
        ),
        (
            "ghcr.io/hybrid-spoke/provider-hybrid-spoke",
            ("Provider", ours.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-aws-ec2",
            ("Provider", aws.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-aws-eks",
            ("Provider", aws.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-aws-iam",
            ("Provider", aws.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-family-azure",
            ("Provider", azure.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-azure-network",
            ("Provider", azure.clone()),
        ),
        (
            "xpkg.upbound.io/upbound/provider-azure-containerservice",
            ("Provider", azure.clone()),
        ),
        (
            "xpkg.crossplane.io/crossplane-contrib/provider-kubernetes",
            (
                "Provider",
                format!(">={}", vendored_tag("provider-kubernetes")),
            ),
        ),
        (
            "xpkg.crossplane.io/crossplane-contrib/provider-helm",
            ("Provider", format!(">={}", vendored_tag("provider-helm"))),
        ),
    ]
    .into();
    let actual: BTreeMap<&str, (&str, String)> = meta["spec"]["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .map(|d| {
            assert_eq!(d["apiVersion"], "pkg.crossplane.io/v1", "{d}");
            (
                d["package"].as_str().expect("package"),
                (
                    d["kind"].as_str().expect("kind"),
                    d["version"].as_str().expect("version").to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(actual, expected, "{name}: dependsOn");
    (meta, objects)
}

#[test]
fn configuration_packages_hold_the_xrds_and_compositions_and_pin_their_dependencies() {
    let (_, namespaced) = check_configuration(
        "configuration-hybrid-spoke-namespaced",
        "package/configuration/namespaced",
    );
    let (_, legacy) = check_configuration(
        "configuration-hybrid-spoke-legacy",
        "package/configuration/legacy",
    );
    let objects: Vec<Value> = namespaced
        .into_values()
        .chain(legacy.into_values())
        .collect();
    beta_validate(
        "configuration XRDs and Compositions",
        &[
            &vendor_crd("apiextensions.crossplane.io_compositeresourcedefinitions.yaml"),
            &vendor_crd("apiextensions.crossplane.io_compositions.yaml"),
            // The pipeline's Input, as the function package ships it.
            &peers::repo_root()
                .join("package/function/input/hybridspoke.fn.crossplane.io_inputs.yaml"),
        ],
        &objects,
    );
}

#[test]
fn namespaced_configuration_carries_the_gitops_claims_as_examples_valid_against_its_xrd() {
    let image = ImageTarball::read(&xpkg_path("configuration-hybrid-spoke-namespaced"));
    let examples = image.labelled("upbound");
    assert_eq!(examples.len(), 1, "one examples layer");
    let files = image.layer_files(&examples[0]);
    let stream = String::from_utf8(files[".up/examples.yaml"].clone()).expect("UTF-8");
    let claims = documents(&stream);
    let expected = peers::repo_root().join("examples/gitops/claims");
    let count = yaml_files(&expected).len();
    assert_eq!(
        claims.len(),
        count,
        "every claim under {}",
        expected.display()
    );
    let (_, objects) = split(&image.package_yaml());
    let xrd = TempDir::new("xrd");
    let xrd_file = xrd.path().join("xrd.yaml");
    std::fs::write(
        &xrd_file,
        serde_yaml::to_string(
            &objects["CompositeResourceDefinition/xhybridspokes.platform.hybridspoke.io"],
        )
        .expect("YAML"),
    )
    .expect("write");
    let claims: Vec<Value> = claims
        .into_iter()
        .map(|mut c| {
            c["metadata"]["namespace"] = json!("spokes");
            c
        })
        .collect();
    beta_validate("packaged examples", &[&xrd_file], &claims);
}

/// Compressed (pulled) and uncompressed (unpacked) size of layers.
fn sizes(layers: &[&(String, Vec<u8>)]) -> (u64, u64) {
    layers.iter().fold((0, 0), |(c, u), (_, data)| {
        (c + data.len() as u64, u + gunzip(data).len() as u64)
    })
}

#[test]
fn runtime_images_are_non_root_expose_9443_and_8080_and_fit_their_size_targets() {
    for (name, max) in [
        ("function-hybrid-spoke", FUNCTION_IMAGE_MAX),
        ("provider-hybrid-spoke", PROVIDER_IMAGE_MAX),
    ] {
        let image = ImageTarball::read(&xpkg_path(name));
        let config = &image.config["config"];
        assert_eq!(config["Entrypoint"], json!([format!("/{name}")]), "{name}");
        assert!(
            config.get("Cmd").is_none_or(Value::is_null),
            "{name}: no arguments, as Crossplane runs it"
        );
        assert_eq!(
            config["User"], NONROOT,
            "{name} runs as distroless' nonroot"
        );
        let ports: BTreeSet<&String> = config["ExposedPorts"]
            .as_object()
            .expect("ExposedPorts")
            .keys()
            .collect();
        assert_eq!(
            ports,
            [&"8080/tcp".to_string(), &"9443/tcp".to_string()].into()
        );
        let (compressed, uncompressed) = sizes(&image.runtime_layers());
        println!(
            "{name} runtime image: {:.1} MB compressed (target {} MB), {:.1} MB unpacked; package {:.1} MB",
            compressed as f64 / 1e6,
            max / 1_000_000,
            uncompressed as f64 / 1e6,
            std::fs::metadata(xpkg_path(name)).expect("xpkg").len() as f64 / 1e6,
        );
        assert!(
            compressed <= max,
            "{name}: the runtime image is {compressed} bytes compressed, over the {max} target"
        );
    }
}

/// The runtime image's files, unpacked in layer order into a directory.
fn unpack_runtime(image: &ImageTarball, into: &Path) {
    for (_, data) in image.runtime_layers() {
        tar::Archive::new(gunzip(data).as_slice())
            .unpack(into)
            .expect("unpack a layer");
    }
}

/// `path` inside the unpacked image at `root`, its symlinks resolved
/// inside the image (an absolute target is taken from the image's root,
/// never the host's).
fn resolve_in(root: &Path, path: &str) -> PathBuf {
    let mut current = root.join(path);
    for _ in 0..16 {
        let Ok(target) = std::fs::read_link(&current) else {
            return current;
        };
        current = match target.strip_prefix("/") {
            Ok(absolute) => root.join(absolute),
            Err(_) => current.parent().expect("a parent").join(target),
        };
    }
    panic!("{path}: too many symlinks in the image");
}

#[tokio::test(flavor = "multi_thread")]
async fn function_image_entrypoint_serves_mtls_on_9443_with_only_the_image_libraries() {
    let image = ImageTarball::read(&xpkg_path("function-hybrid-spoke"));
    let root = TempDir::new("function-image");
    unpack_runtime(&image, root.path());
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).expect("/etc/passwd");
    assert!(passwd.contains(":65532:65532:"), "{passwd}");
    assert!(
        root.path()
            .join("etc/ssl/certs/ca-certificates.crt")
            .is_file(),
        "the CA bundle"
    );
    // The entrypoint's ELF interpreter, taken from the image: nothing of the
    // host's libc is used.
    let ld = resolve_in(root.path(), "lib64/ld-linux-x86-64.so.2");
    assert!(ld.is_file(), "{}", ld.display());
    let libs = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]
        .map(|d| root.path().join(d).display().to_string())
        .join(":");

    // As Crossplane runs it: no arguments, only its environment.
    let pki = Pki::new();
    assert!(
        !listening(9443) && !listening(8080),
        "ports 9443 and 8080 must be free for this test (the image's defaults)"
    );
    let mut command = Command::new(&ld);
    command
        .arg("--inhibit-cache")
        .arg("--library-path")
        .arg(&libs)
        .arg(root.path().join("function-hybrid-spoke"))
        .env_clear()
        .env("TLS_SERVER_CERTS_DIR", pki.server_dir())
        .env("FUNCTION_NAME", "function-hybrid-spoke")
        .current_dir(root.path());
    // The image's user, when this test may switch to it (it reads the
    // unpacked image and the certificates as that user then).
    let as_nonroot = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if as_nonroot {
        for dir in [root.path(), pki.dir()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        command.uid(65532).gid(65532);
    }
    let mut process = Process::spawn(
        "function image entrypoint",
        command,
        root.path().join("entrypoint.log"),
    );
    process.wait_until("listening on 9443", Duration::from_secs(20), || {
        listening(9443)
    });
    // The metrics listener is bound beside the gRPC one, not before it.
    process.wait_until("metrics on 8080", Duration::from_secs(10), || {
        listening(8080)
    });
    if as_nonroot {
        let status = std::fs::read_to_string(format!("/proc/{}/status", process.pid()))
            .expect("/proc/PID/status");
        let uid = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap_or_default();
        assert!(
            uid.contains("\t65532\t"),
            "the entrypoint runs as 65532: {uid}"
        );
    }
    let metrics = peers::http("GET", "http://127.0.0.1:8080/metrics", &[], None);
    assert_eq!(metrics.status, 200);

    use function_sdk_rust::proto::v1::function_runner_service_client::FunctionRunnerServiceClient;
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let read = |f: &str| std::fs::read(pki.client_dir().join(f)).expect("client cert");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.crt")))
        .identity(Identity::from_pem(read("tls.crt"), read("tls.key")))
        .domain_name("localhost");
    let channel = Endpoint::from_static("https://127.0.0.1:9443")
        .tls_config(tls)
        .expect("TLS config")
        .connect()
        .await
        .expect("an mTLS connection");
    let xr = documents(
        &std::fs::read_to_string(peers::repo_root().join("examples/aws/xr.yaml")).expect("XR"),
    )
    .remove(0);
    let input = documents(
        &std::fs::read_to_string(peers::repo_root().join("examples/input.yaml")).expect("input"),
    )
    .remove(0);
    let request = function_hybrid_spoke::render::request(
        xr.as_object().expect("XR object"),
        &BTreeMap::new(),
        &input,
    );
    let response = FunctionRunnerServiceClient::new(channel)
        .run_function(request)
        .await
        .expect("RunFunction over mTLS")
        .into_inner();
    let desired = response.desired.expect("desired state").resources;
    assert!(
        desired.len() > 5,
        "the image's function composed only {} resources",
        desired.len()
    );
    process.assert_running();
}
