//! The built `function-hybrid-spoke` binary over real gRPC on loopback, run
//! the way Crossplane runs a function: mTLS with RSA-2048 PKCS#1
//! certificates like Crossplane's generated ones, gRPC health, reflection,
//! metrics and the message-size limit.
//!
//! Every test starts its own server process on free ports and kills it when
//! the test ends, also when it panics ([`Function`]'s `Drop`).
//!
//! Clients: the TLS, health, metrics and size tests use function-sdk-rust's
//! generated client. `pinned_proto_client_gets_tag_ttl_and_earlier_steps_state`
//! uses a client built from `proto/fn/v1/run_function.proto` alone (compiled
//! with protox, messages encoded from that descriptor with prost-reflect), so
//! the wire format is checked independently of the SDK's types; and
//! `reflection_serves_the_pinned_protocol` requires the descriptor the server
//! serves to equal that pinned file.
//!
//! The assertions hold for any correct composition function (tag echoed, a
//! TTL, earlier steps' desired state and context passed through); none looks
//! at the composed resources.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use function_sdk_rust::proto::v1::function_runner_service_client::FunctionRunnerServiceClient;
use function_sdk_rust::proto::v1::{RequestMeta, Resource, RunFunctionRequest, State};
use function_sdk_rust::resource::json_to_struct;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::{Value, json};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const BINARY: &str = env!("CARGO_BIN_EXE_function-hybrid-spoke");
const SERVICE: &str = "apiextensions.fn.proto.v1.FunctionRunnerService";
const RUN_FUNCTION: &str = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction";
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "function-hybrid-spoke-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    /// Removes the directory, unless `KEEP_TEST_FILES` is set (to inspect
    /// the certificates and server logs of a run).
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_FILES").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A port nothing listens on, never the same twice in this test binary (the
/// kernel may hand a just-released ephemeral port out again, and the tests
/// run in parallel).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind an ephemeral port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// How to start the binary. By default it gets `--address 127.0.0.1:<free>`
/// and `--metrics-address 127.0.0.1:<free>`, and none of the environment
/// variables it reads.
struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    address_flag: bool,
    metrics_flag: bool,
}

impl Launch {
    fn new() -> Self {
        Self {
            args: vec![],
            env: vec![],
            address_flag: true,
            metrics_flag: true,
        }
    }

    fn insecure() -> Self {
        Self::new().arg("--insecure")
    }

    fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Leaves `--address` off the command line: the server takes its
    /// default, `:9443`.
    fn without_address_flag(mut self) -> Self {
        self.address_flag = false;
        self
    }

    /// Leaves `--metrics-address` off the command line.
    fn without_metrics_flag(mut self) -> Self {
        self.metrics_flag = false;
        self
    }

    fn spawn(self) -> Function {
        let port = if self.address_flag { free_port() } else { 9443 };
        let metrics_port = free_port();
        let log_dir = TempDir::new("log");
        let log_path = log_dir.0.join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("create the log file");
        let mut command = Command::new(BINARY);
        command
            .args(&self.args)
            .env_remove("TLS_SERVER_CERTS_DIR")
            .env_remove("METRICS_ADDRESS")
            .env_remove("DEBUG")
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if self.address_flag {
            command.arg("--address").arg(format!("127.0.0.1:{port}"));
        }
        if self.metrics_flag {
            command
                .arg("--metrics-address")
                .arg(format!("127.0.0.1:{metrics_port}"));
        }
        let child = command.spawn().expect("start function-hybrid-spoke");
        Function {
            child,
            port,
            metrics_port,
            log_path,
            _log_dir: log_dir,
        }
    }

    /// Starts the server and waits until it accepts TCP connections.
    async fn start(self) -> Function {
        let mut function = self.spawn();
        function.wait_listening().await;
        function
    }
}

/// A running `function-hybrid-spoke`, killed on drop.
struct Function {
    child: Child,
    port: u16,
    metrics_port: u16,
    log_path: PathBuf,
    _log_dir: TempDir,
}

impl Function {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                panic!(
                    "the server exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                // Ours, not a stranger on the port while ours failed to bind.
                tokio::time::sleep(Duration::from_millis(25)).await;
                if let Some(status) = self.child.try_wait().expect("poll the server") {
                    panic!("the server exited with {status}:\n{}", self.log());
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server is not listening:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for the process to exit by itself.
    async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn plain_endpoint(&self) -> Endpoint {
        Endpoint::from_shared(format!("http://127.0.0.1:{}", self.port))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
    }

    async fn plain_channel(&self) -> Channel {
        self.plain_endpoint()
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to the insecure server: {e}\n{}", self.log()))
    }

    /// A TLS channel that trusts `ca` and presents `identity` (if any).
    async fn tls_channel(
        &self,
        ca: &str,
        identity: Option<(&str, &str)>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        Endpoint::from_shared(format!("https://127.0.0.1:{}", self.port))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .tls_config(tls)?
            .connect()
            .await
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Certificates like Crossplane's (internal/initializer/cert_generator.go):
// RSA-2048 keys written as PKCS#1 "RSA PRIVATE KEY" PEM.
// ---------------------------------------------------------------------------

const PKCS1_HEADER: &str = "-----BEGIN RSA PRIVATE KEY-----";

/// An RSA-2048 key pair (aws-lc-rs generates it; rcgen signs with it).
fn rsa_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("generate an RSA-2048 key")
}

/// The key as PKCS#1 PEM: the RSAPrivateKey inside rcgen's PKCS#8 DER.
fn pkcs1_pem(key: &rcgen::KeyPair) -> String {
    /// One DER TLV: (tag, contents, rest).
    fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1] as usize);
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | *b as usize);
            (len, 2 + n)
        };
        (tag, &der[header..header + len], &der[header + len..])
    }
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    // PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING privateKey }
    let der = key.serialize_der();
    let (tag, info, _) = tlv(&der);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (tag, _version, rest) = tlv(info);
    assert_eq!(tag, 0x02, "version INTEGER");
    let (tag, algorithm, rest) = tlv(rest);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier SEQUENCE");
    let (tag, oid, _) = tlv(algorithm);
    assert_eq!((tag, oid), (0x06, RSA_ENCRYPTION), "rsaEncryption");
    let (tag, rsa_private_key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    let (tag, _, _) = tlv(rsa_private_key);
    assert_eq!(tag, 0x30, "RSAPrivateKey is a SEQUENCE");
    pem::encode(&pem::Pem::new("RSA PRIVATE KEY", rsa_private_key.to_vec()))
}

struct Ca {
    cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A certificate and its PKCS#1 key, both PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(common_name: &str) -> Self {
        let key = rsa_key();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Crossplane");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        Self {
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    fn issue(
        &self,
        common_name: &str,
        sans: &[&str],
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> Leaf {
        let key = rsa_key();
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(sans).expect("leaf params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Crossplane");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).expect("sign the leaf");
        Leaf {
            cert: cert.pem(),
            key: pkcs1_pem(&key),
        }
    }

    fn server(&self) -> Leaf {
        self.issue(
            "function-hybrid-spoke",
            &[
                "localhost",
                "127.0.0.1",
                "function-hybrid-spoke.crossplane-system",
            ],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client(&self) -> Leaf {
        self.issue(
            "crossplane",
            &["crossplane"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }
}

/// A CA, the function's server certificate in a TLS_SERVER_CERTS_DIR-style
/// directory (`tls.crt`, `tls.key`, `ca.crt`) and a client certificate.
struct Pki {
    ca: Ca,
    client: Leaf,
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        let ca = Ca::new("Crossplane CA");
        let server = ca.server();
        let client = ca.client();
        let dir = TempDir::new("tls");
        for (name, contents) in [
            ("tls.crt", &server.cert),
            ("tls.key", &server.key),
            ("ca.crt", &ca.cert_pem),
        ] {
            std::fs::write(dir.0.join(name), contents).expect("write a certificate file");
        }
        Self { ca, client, dir }
    }

    fn server_dir(&self) -> &Path {
        &self.dir.0
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The observed XR and the Input: the AWS example when the repository has
/// it, else a small inline XHybridSpoke. Either way the function's answer
/// must satisfy the pipeline rules checked here.
fn xr_and_input() -> (Value, Value) {
    let load = |path: &str| -> Option<Value> {
        let text = std::fs::read_to_string(repo_file(path)).ok()?;
        serde_yaml::from_str(&text).ok()
    };
    match (load("examples/aws/xr.yaml"), load("examples/input.yaml")) {
        (Some(xr), Some(input)) => (xr, input),
        _ => (
            json!({
                "apiVersion": "platform.hybridspoke.io/v1alpha1",
                "kind": "XHybridSpoke",
                "metadata": {"name": "inline", "namespace": "default"},
                "spec": {"cloud": "aws", "region": "eu-west-1"}
            }),
            json!({"apiVersion": "hybridspoke.fn.crossplane.io/v1alpha1", "kind": "Input"}),
        ),
    }
}

/// What an earlier pipeline step desired: a composed resource, a status
/// field of the XR, and context. No integers (Struct numbers are doubles),
/// so JSON compares exactly after a protobuf round trip.
fn earlier_step_resource() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"annotations": {"example.org/step": "earlier"}},
        "data": {"kept": "verbatim", "nested": "yes"}
    })
}

fn earlier_step_context() -> Value {
    json!({
        "apiextensions.crossplane.io/environment": {"region": "eu-west-1", "flags": ["a", "b"]},
        "example.org/earlier-step": {"done": true}
    })
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A request in the SDK's types, with the earlier step's state.
fn sdk_request(tag: &str) -> RunFunctionRequest {
    let (xr, input) = xr_and_input();
    let mut composite_desired = object(json!({"apiVersion": xr["apiVersion"], "kind": xr["kind"]}));
    composite_desired.insert("status".into(), json!({"earlierStep": {"kept": "yes"}}));
    RunFunctionRequest {
        meta: Some(RequestMeta {
            tag: tag.to_string(),
            capabilities: vec![1, 2, 3, 4, 5],
        }),
        observed: Some(State {
            composite: Some(Resource {
                resource: Some(json_to_struct(&object(xr))),
                ..Default::default()
            }),
            ..Default::default()
        }),
        desired: Some(State {
            composite: Some(Resource {
                resource: Some(json_to_struct(&composite_desired)),
                ..Default::default()
            }),
            resources: [(
                "from-earlier-step".to_string(),
                Resource {
                    resource: Some(json_to_struct(&object(earlier_step_resource()))),
                    ready: 1,
                    ..Default::default()
                },
            )]
            .into(),
        }),
        input: Some(json_to_struct(&object(input))),
        context: Some(json_to_struct(&object(earlier_step_context()))),
        ..Default::default()
    }
}

fn sdk_client(channel: Channel) -> FunctionRunnerServiceClient<Channel> {
    FunctionRunnerServiceClient::new(channel).max_decoding_message_size(64 * MIB)
}

/// Runs one request and checks the rules every correct function keeps.
async fn run_and_check(channel: Channel, tag: &str) {
    let req = sdk_request(tag);
    let rsp = sdk_client(channel)
        .run_function(req.clone())
        .await
        .expect("RunFunction")
        .into_inner();
    let meta = rsp.meta.as_ref().expect("response meta");
    assert_eq!(meta.tag, tag, "the tag is echoed");
    let ttl = meta.ttl.as_ref().expect("a TTL");
    assert!(ttl.seconds > 0 || ttl.nanos > 0, "a positive TTL: {ttl:?}");
    let desired = rsp.desired.as_ref().expect("desired state");
    assert_eq!(
        desired.resources.get("from-earlier-step"),
        req.desired
            .as_ref()
            .unwrap()
            .resources
            .get("from-earlier-step"),
        "the earlier step's composed resource is passed through unchanged"
    );
}

// ---------------------------------------------------------------------------
// A client built from the pinned proto alone
// ---------------------------------------------------------------------------

/// `proto/fn/v1/run_function.proto` compiled by protox.
fn pinned() -> protox::Compiler {
    let mut compiler = protox::Compiler::new([repo_file("proto")]).expect("protox includes");
    compiler.include_source_info(false).include_imports(true);
    compiler
        .open_file("fn/v1/run_function.proto")
        .expect("compile the pinned proto");
    compiler
}

/// Encodes and decodes [`DynamicMessage`]s of the pinned descriptors.
#[derive(Clone)]
struct DynamicCodec(MessageDescriptor);

struct DynamicEncoder;
struct DynamicDecoder(MessageDescriptor);

impl tonic::codec::Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

impl tonic::codec::Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: DynamicMessage,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        item.encode(buf)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<DynamicMessage>, tonic::Status> {
        DynamicMessage::decode(self.0.clone(), buf)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// Calls RunFunction with a protojson request, returns the protojson response.
async fn pinned_run_function(
    pool: &DescriptorPool,
    channel: Channel,
    request: &Value,
) -> (Value, Value) {
    let request_type = pool
        .get_message_by_name("apiextensions.fn.proto.v1.RunFunctionRequest")
        .expect("RunFunctionRequest in the pinned proto");
    let response_type = pool
        .get_message_by_name("apiextensions.fn.proto.v1.RunFunctionResponse")
        .expect("RunFunctionResponse in the pinned proto");
    let method = pool
        .get_service_by_name(SERVICE)
        .and_then(|s| s.methods().find(|m| m.name() == "RunFunction"))
        .expect("RunFunction in the pinned proto");
    assert_eq!(method.input().full_name(), request_type.full_name());
    assert_eq!(method.output().full_name(), response_type.full_name());

    let message = DynamicMessage::deserialize(request_type, request).expect("protojson request");
    let sent = serde_json::to_value(&message).expect("request as protojson");
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(64 * MIB);
    grpc.ready().await.expect("channel ready");
    let response = grpc
        .unary(
            tonic::Request::new(message),
            tonic::codegen::http::uri::PathAndQuery::from_static(RUN_FUNCTION),
            DynamicCodec(response_type),
        )
        .await
        .expect("RunFunction with the pinned-proto client")
        .into_inner();
    (
        sent,
        serde_json::to_value(&response).expect("response as protojson"),
    )
}

/// Every key of `want` is in `got` with an equal value (recursively for objects).
fn assert_contains(got: &Value, want: &Value, path: &str) {
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => {
            for (key, value) in want {
                let sub = format!("{path}.{key}");
                let found = got.get(key).unwrap_or_else(|| panic!("{sub} is missing"));
                assert_contains(found, value, &sub);
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mtls_client_with_a_certificate_from_the_ca_is_served() {
    let pki = Pki::new();
    let key = std::fs::read_to_string(pki.server_dir().join("tls.key")).unwrap();
    assert!(
        key.starts_with(PKCS1_HEADER),
        "the server key is PKCS#1 like Crossplane's"
    );
    assert!(pki.client.key.starts_with(PKCS1_HEADER));

    let function = Launch::new()
        .arg("--tls-certs-dir")
        .arg(pki.server_dir().to_str().unwrap())
        .start()
        .await;
    let channel = function
        .tls_channel(&pki.ca.cert_pem, Some((&pki.client.cert, &pki.client.key)))
        .await
        .unwrap_or_else(|e| panic!("mTLS connect: {e:?}\n{}", function.log()));
    run_and_check(channel.clone(), "mtls").await;
    assert_serving(channel).await;
}

#[tokio::test]
async fn mtls_client_without_a_certificate_is_refused() {
    let pki = Pki::new();
    let function = Launch::new()
        .arg("--tls-certs-dir")
        .arg(pki.server_dir().to_str().unwrap())
        .start()
        .await;
    // The same server serves a client that has a certificate...
    let good = function
        .tls_channel(&pki.ca.cert_pem, Some((&pki.client.cert, &pki.client.key)))
        .await
        .expect("mTLS connect");
    run_and_check(good, "with-cert").await;
    // ...but not one without: TLS 1.3 may finish the client's side of the
    // handshake, so the refusal shows at the connect or at the first call.
    let refused = match function.tls_channel(&pki.ca.cert_pem, None).await {
        Err(_) => true,
        Ok(channel) => sdk_client(channel)
            .run_function(sdk_request("no-cert"))
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate must be refused");
    let plain = sdk_client(function.plain_endpoint().connect_lazy())
        .run_function(sdk_request("plaintext"))
        .await;
    assert!(
        plain.is_err(),
        "plaintext must be refused when serving mTLS"
    );
}

#[tokio::test]
async fn mtls_client_with_a_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let rogue = Ca::new("Rogue CA").client();
    let function = Launch::new()
        .arg("--tls-certs-dir")
        .arg(pki.server_dir().to_str().unwrap())
        .start()
        .await;
    let refused = match function
        .tls_channel(&pki.ca.cert_pem, Some((&rogue.cert, &rogue.key)))
        .await
    {
        Err(_) => true,
        Ok(channel) => sdk_client(channel)
            .run_function(sdk_request("rogue"))
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client certificate from another CA must be refused"
    );
    // The server is still fine for the real CA's client.
    let good = function
        .tls_channel(&pki.ca.cert_pem, Some((&pki.client.cert, &pki.client.key)))
        .await
        .expect("mTLS connect");
    run_and_check(good, "after-rogue").await;
}

#[tokio::test]
async fn tls_server_certs_dir_from_the_environment() {
    // As Crossplane's Deployment runs it: certificates from the environment,
    // no flags (but a free port instead of 9443, and metrics through their
    // environment variable rather than :8080).
    let pki = Pki::new();
    let function = Launch::new()
        .without_metrics_flag()
        .env("TLS_SERVER_CERTS_DIR", pki.server_dir().to_str().unwrap())
        .env("METRICS_ADDRESS", format!("127.0.0.1:{}", free_port()))
        .start()
        .await;
    let channel = function
        .tls_channel(&pki.ca.cert_pem, Some((&pki.client.cert, &pki.client.key)))
        .await
        .unwrap_or_else(|e| panic!("mTLS connect: {e:?}\n{}", function.log()));
    run_and_check(channel, "from-env").await;
}

#[tokio::test]
async fn no_arguments_serves_mtls_on_9443() {
    // Exactly Crossplane's invocation: no arguments, certificates from
    // TLS_SERVER_CERTS_DIR, port 9443 on every interface. Skipped (with a
    // note) when something else holds 9443; metrics go to a free port
    // through their environment variable instead of :8080.
    if std::net::TcpListener::bind("0.0.0.0:9443").is_err() {
        eprintln!("SKIPPED no_arguments_serves_mtls_on_9443: port 9443 is in use");
        return;
    }
    let pki = Pki::new();
    let mut function = Launch::new()
        .without_address_flag()
        .without_metrics_flag()
        .env("TLS_SERVER_CERTS_DIR", pki.server_dir().to_str().unwrap())
        .env("METRICS_ADDRESS", format!("127.0.0.1:{}", free_port()))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = function.child.try_wait().expect("poll the server") {
            let log = function.log();
            if log.contains("in use") {
                eprintln!(
                    "SKIPPED no_arguments_serves_mtls_on_9443: port 9443 was taken meanwhile"
                );
                return;
            }
            panic!("the server exited with {status}:\n{log}");
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", 9443))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if function
                .child
                .try_wait()
                .expect("poll the server")
                .is_none()
            {
                break;
            }
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "not listening on 9443:\n{}",
            function.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        function.log().contains("0.0.0.0:9443"),
        "listens on every interface:\n{}",
        function.log()
    );
    let channel = function
        .tls_channel(&pki.ca.cert_pem, Some((&pki.client.cert, &pki.client.key)))
        .await
        .unwrap_or_else(|e| panic!("mTLS connect: {e:?}\n{}", function.log()));
    run_and_check(channel, "no-arguments").await;
}

#[tokio::test]
async fn refuses_to_start_without_credentials() {
    let mut function = Launch::new().spawn();
    let status = function.wait_exit().await;
    assert!(
        !status.success(),
        "no --tls-certs-dir and no --insecure must fail"
    );
    assert!(
        function.log().contains("--insecure"),
        "says why:\n{}",
        function.log()
    );
}

#[tokio::test]
async fn insecure_mode_serves_plaintext() {
    let function = Launch::insecure().start().await;
    run_and_check(function.plain_channel().await, "insecure").await;
}

#[tokio::test]
async fn debug_logs_one_line_per_request() {
    let function = Launch::insecure().arg("--debug").start().await;
    run_and_check(function.plain_channel().await, "debug-tag").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = strip_ansi(&function.log());
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("RunFunction") && l.contains("debug-tag"))
            .collect();
        if lines.len() == 1 {
            assert!(lines[0].contains("DEBUG"), "{}", lines[0]);
            assert!(
                lines[0].contains("desired_in=") && lines[0].contains("results="),
                "{}",
                lines[0]
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "one debug line per request:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The log without terminal colour codes (the SDK's `--debug` format has them).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn health_reports_serving() {
    let function = Launch::insecure().start().await;
    assert_serving(function.plain_channel().await).await;
}

/// SIGTERM: health turns NOT_SERVING at once, an open health Watch gets it
/// and ends, and the process exits by itself well within the grace period
/// (before this, an open Watch kept the process alive).
#[tokio::test]
async fn sigterm_turns_health_not_serving_ends_watches_and_exits() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut function = Launch::insecure()
        .arg("--grace-period-seconds")
        .arg("5")
        .start()
        .await;
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(function.plain_channel().await);
    let mut watches = Vec::new();
    for service in ["", SERVICE] {
        let mut stream = health
            .watch(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .expect("health Watch")
            .into_inner();
        let first = stream
            .message()
            .await
            .expect("a first status")
            .expect("a status");
        assert_eq!(first.status, ServingStatus::Serving as i32, "{service:?}");
        watches.push((service, stream));
    }
    let started = Instant::now();
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(function.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(killed.success());
    for (service, mut stream) in watches {
        let next = tokio::time::timeout(Duration::from_secs(3), stream.message())
            .await
            .unwrap_or_else(|_| panic!("{service:?}: no status within 3 s of SIGTERM"))
            .expect("the status")
            .expect("a status before the end");
        assert_eq!(next.status, ServingStatus::NotServing as i32, "{service:?}");
        let end = tokio::time::timeout(Duration::from_secs(3), stream.message())
            .await
            .unwrap_or_else(|_| panic!("{service:?}: the Watch stayed open after NOT_SERVING"));
        assert!(matches!(end, Ok(None)), "{service:?}: {end:?}");
    }
    let status = function.wait_exit().await;
    assert!(status.success(), "{status}:\n{}", function.log());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "exit took {:?} with nothing in flight",
        started.elapsed()
    );
}

async fn assert_serving(channel: Channel) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", SERVICE] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .unwrap_or_else(|e| panic!("health Check({service:?}): {e}"))
            .into_inner()
            .status;
        assert_eq!(
            status,
            ServingStatus::Serving as i32,
            "health of {service:?}"
        );
    }
}

#[tokio::test]
async fn pinned_proto_client_gets_tag_ttl_and_earlier_steps_state() {
    let function = Launch::insecure().start().await;
    let pool = pinned().descriptor_pool();
    let (xr, input) = xr_and_input();
    let composite_desired = json!({
        "apiVersion": xr["apiVersion"],
        "kind": xr["kind"],
        "status": {"earlierStep": {"kept": "yes", "list": ["x", "y"]}}
    });
    let request = json!({
        "meta": {
            "tag": "pinned-proto-tag",
            "capabilities": [
                "CAPABILITY_CAPABILITIES", "CAPABILITY_REQUIRED_RESOURCES", "CAPABILITY_CREDENTIALS",
                "CAPABILITY_CONDITIONS", "CAPABILITY_REQUIRED_SCHEMAS"
            ]
        },
        "observed": {"composite": {"resource": xr}},
        "desired": {
            "composite": {"resource": composite_desired},
            "resources": {
                "from-earlier-step": {
                    "resource": earlier_step_resource(),
                    "connectionDetails": {"password": "c2VjcmV0"},
                    "ready": "READY_TRUE"
                }
            }
        },
        "input": input,
        "context": earlier_step_context()
    });
    let (sent, got) = pinned_run_function(&pool, function.plain_channel().await, &request).await;

    assert_eq!(
        got["meta"]["tag"], "pinned-proto-tag",
        "tag echoed: {got:#}"
    );
    let ttl = got["meta"]["ttl"]
        .as_str()
        .expect("a TTL (protojson Duration)");
    let seconds: f64 = ttl.trim_end_matches('s').parse().expect("a Duration");
    assert!(seconds > 0.0, "positive TTL: {ttl}");
    assert_eq!(
        got["desired"]["resources"]["from-earlier-step"],
        sent["desired"]["resources"]["from-earlier-step"],
        "the earlier step's composed resource is passed through unchanged"
    );
    assert_contains(
        &got["desired"]["composite"],
        &sent["desired"]["composite"],
        "desired.composite",
    );
    assert_contains(&got["context"], &sent["context"], "context");
}

#[tokio::test]
async fn metrics_count_calls_as_the_go_sdk_does() {
    use tonic_health::pb::HealthCheckRequest;
    let function = Launch::insecure().start().await;
    let channel = function.plain_channel().await;
    run_and_check(channel.clone(), "metrics").await;
    // Two health checks that answer SERVING, one for a service not served.
    assert_serving(channel.clone()).await;
    let unknown = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "no.such.Service".to_string(),
        })
        .await;
    assert_eq!(
        unknown.map_err(|e| e.code()).err(),
        Some(tonic::Code::NotFound)
    );

    let run = format!("grpc_type=\"unary\",grpc_service=\"{SERVICE}\",grpc_method=\"RunFunction\"");
    let check = "grpc_type=\"unary\",grpc_service=\"grpc.health.v1.Health\",grpc_method=\"Check\"";
    let want = [
        format!("grpc_server_started_total{{{run}}} 1"),
        format!("grpc_server_msg_received_total{{{run}}} 1"),
        format!("grpc_server_handled_total{{{run},grpc_code=\"OK\"}} 1"),
        format!("grpc_server_msg_sent_total{{{run}}} 1"),
        format!("grpc_server_started_total{{{check}}} 3"),
        format!("grpc_server_handled_total{{{check},grpc_code=\"OK\"}} 2"),
        format!("grpc_server_handled_total{{{check},grpc_code=\"NotFound\"}} 1"),
        format!("grpc_server_msg_sent_total{{{check}}} 2"),
        // Streaming methods are not counted, but exist from the start.
        "grpc_server_started_total{grpc_type=\"server_stream\",grpc_service=\"grpc.health.v1.Health\",grpc_method=\"Watch\"} 0".to_string(),
    ];
    let mut body = String::new();
    for _ in 0..100 {
        body = http_get(function.metrics_port, "/metrics")
            .await
            .unwrap_or_default();
        if want.iter().all(|w| body.contains(w)) {
            assert!(
                body.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
                "{body}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<_> = want.iter().filter(|w| !body.contains(w.as_str())).collect();
    panic!(
        "missing {missing:#?} in /metrics:\n{body}\n{}",
        function.log()
    );
}

async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A request of more than 4 MiB: the earlier step's resource carries 5 MiB.
fn big_request(tag: &str) -> RunFunctionRequest {
    let mut req = sdk_request(tag);
    let big = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "data": {"blob": "x".repeat(5 * MIB)}
    });
    req.desired.as_mut().unwrap().resources.insert(
        "big".into(),
        Resource {
            resource: Some(json_to_struct(&object(big))),
            ..Default::default()
        },
    );
    assert!(req.encoded_len() > 4 * MIB);
    req
}

#[tokio::test]
async fn messages_over_4_mib_are_refused_by_default() {
    let function = Launch::insecure().start().await;
    let status = sdk_client(function.plain_channel().await)
        .run_function(big_request("big-default"))
        .await
        .expect_err("a 5 MiB request must be refused by default");
    // As grpc-go answers (tonic's own answer, OUT_OF_RANGE, is rewritten).
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("4194304"),
        "names the limit: {status:?}"
    );
}

#[tokio::test]
async fn max_recv_message_size_raises_the_limit() {
    // function-template-go's unit (MiB) and the SDK's (bytes) both work.
    for size in ["8", &(8 * MIB).to_string()] {
        let function = Launch::insecure()
            .arg("--max-recv-message-size")
            .arg(size)
            .start()
            .await;
        let req = big_request("big-allowed");
        let rsp = sdk_client(function.plain_channel().await)
            .run_function(req.clone())
            .await
            .unwrap_or_else(|e| panic!("--max-recv-message-size {size}: {e:?}\n{}", function.log()))
            .into_inner();
        assert_eq!(rsp.meta.unwrap().tag, "big-allowed");
        assert_eq!(
            rsp.desired.unwrap().resources.get("big"),
            req.desired.unwrap().resources.get("big"),
            "the big resource is passed through"
        );
    }
}

#[tokio::test]
async fn reflection_serves_the_pinned_protocol() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let function = Launch::insecure().start().await;
    let mut reflection = ServerReflectionClient::new(function.plain_channel().await);
    let request = |message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };

    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([
            request(MessageRequest::ListServices(String::new())),
            request(MessageRequest::FileContainingSymbol(SERVICE.to_string())),
        ]))
        .await
        .expect("reflection stream")
        .into_inner();

    let services = match stream
        .message()
        .await
        .expect("list services")
        .and_then(|r| r.message_response)
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
        other => panic!("unexpected reflection answer: {other:?}"),
    };
    assert!(services.iter().any(|s| s == SERVICE), "{services:?}");

    let files = match stream
        .message()
        .await
        .expect("file containing symbol")
        .and_then(|r| r.message_response)
    {
        Some(MessageResponse::FileDescriptorResponse(files)) => files.file_descriptor_proto,
        other => panic!("unexpected reflection answer: {other:?}"),
    };
    let served: Vec<prost_types::FileDescriptorProto> = files
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice())
                .expect("a FileDescriptorProto")
        })
        .collect();
    let mut served = served
        .into_iter()
        .find(|f| {
            f.service
                .iter()
                .any(|s| s.name() == "FunctionRunnerService")
        })
        .expect("the served file defining FunctionRunnerService");

    let mut pinned = pinned()
        .file_descriptor_set()
        .file
        .into_iter()
        .find(|f| f.name() == "fn/v1/run_function.proto")
        .expect("the pinned file");

    // Only the file's path (the SDK vendors it as v1/run_function.proto,
    // Crossplane as proto/fn/v1/...) and comments/positions may differ.
    assert_eq!(pinned.package(), "apiextensions.fn.proto.v1");
    // protoc (which generated the SDK's descriptor) records the empty body
    // of `rpc RunFunction(...) returns (...) {}` as empty MethodOptions,
    // protox as none: the same thing.
    for file in [&mut served, &mut pinned] {
        file.name = None;
        file.source_code_info = None;
        for method in file.service.iter_mut().flat_map(|s| s.method.iter_mut()) {
            if method.options == Some(Default::default()) {
                method.options = None;
            }
        }
    }
    // Sanity: the comparison covers the whole contract.
    assert_eq!(
        pinned.message_type.len(),
        16,
        "messages in the pinned proto"
    );
    assert_eq!(pinned.enum_type.len(), 5, "enums in the pinned proto");
    if served != pinned {
        let (served, pinned) = (format!("{served:#?}"), format!("{pinned:#?}"));
        let dir = std::env::temp_dir();
        let (served_path, pinned_path) = (
            dir.join("served-run_function.txt"),
            dir.join("pinned-run_function.txt"),
        );
        let _ = std::fs::write(&served_path, &served);
        let _ = std::fs::write(&pinned_path, &pinned);
        let first = served
            .lines()
            .zip(pinned.lines())
            .enumerate()
            .find(|(_, (s, p))| s != p)
            .map(|(i, (s, p))| {
                let context: Vec<&str> = pinned
                    .lines()
                    .skip(i.saturating_sub(12))
                    .take(12)
                    .map(str::trim)
                    .collect();
                format!(
                    "line {i}: served `{}` vs pinned `{}`, after:\n{}",
                    s.trim(),
                    p.trim(),
                    context.join(" ")
                )
            })
            .unwrap_or_else(|| "one descriptor is a prefix of the other".into());
        panic!(
            "the server's protocol differs from proto/fn/v1/run_function.proto (diff {} {}); first difference at {first}",
            served_path.display(),
            pinned_path.display()
        );
    }
}
