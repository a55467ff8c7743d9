//! An independent client: function-sdk-python's generated stubs (its own copy
//! of `run_function.proto`, grpcio's HTTP/2 and TLS) call the running
//! function binary over mTLS with certificates shaped like Crossplane's
//! (RSA-2048, PKCS#1 keys, client certificate from the same CA), and get the
//! same response the Rust path computes in-process for the same request.
//!
//! Needs `bash tests/tools/peers.sh && . target/peers/env.sh`
//! (`HYBRID_SPOKE_PYTHON`).

#[path = "support/examples.rs"]
mod examples;

use std::process::Command;

use function_sdk_rust::proto::v1::{RunFunctionRequest, RunFunctionResponse};
use hybrid_spoke_test_peers::{self as peers, FunctionServer, TempDir};
use serde_json::{Value, json};

/// Reads one protojson RunFunctionRequest per line from stdin, sends each
/// with the SDK's v1 stub and prints each response as protojson, one a line.
const CLIENT: &str = r#"
import json, sys
import grpc
from google.protobuf import json_format
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

target, certs, mode = sys.argv[1], sys.argv[2], sys.argv[3]
read = lambda name: open(f"{certs}/{name}", "rb").read()
if mode == "mtls":
    creds = grpc.ssl_channel_credentials(
        root_certificates=read("ca.crt"),
        private_key=read("tls.key"),
        certificate_chain=read("tls.crt"),
    )
elif mode == "no-client-cert":
    creds = grpc.ssl_channel_credentials(root_certificates=read("ca.crt"))
else:
    raise SystemExit(f"unknown mode {mode}")
with grpc.secure_channel(target, creds) as channel:
    stub = grpcv1.FunctionRunnerServiceStub(channel)
    for line in sys.stdin:
        request = json_format.Parse(line, fnv1.RunFunctionRequest())
        try:
            response = stub.RunFunction(request, timeout=30)
        except grpc.RpcError as e:
            print(json.dumps({"grpcError": e.code().name, "details": e.details()}))
            continue
        print(json.dumps(json_format.MessageToDict(response)))
"#;

fn read_documents(path: &std::path::Path) -> Vec<Value> {
    examples::documents(&std::fs::read_to_string(path).expect("read YAML"))
}

/// The request Crossplane sends for a case: observed XR and composed
/// resources (keyed by composition-resource-name), the Composition's input.
fn request(case: &examples::Case, tag: &str) -> Value {
    let xr = read_documents(&case.xr).remove(0);
    let input = read_documents(&examples::root().join("examples/input.yaml")).remove(0);
    let mut resources = serde_json::Map::new();
    if let Some(dir) = &case.observed {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("read the observed dir")
            .map(|e| e.expect("a dir entry").path())
            .collect();
        files.sort();
        // The composed resources; their connection Secrets are not sent here.
        for file in files.iter().filter(|f| f.ends_with("resources.yaml")) {
            for resource in read_documents(file) {
                let name = resource
                    .pointer("/metadata/annotations/crossplane.io~1composition-resource-name")
                    .and_then(Value::as_str)
                    .expect("observed resources carry their composition resource name")
                    .to_string();
                resources.insert(name, json!({ "resource": resource }));
            }
        }
    }
    json!({
        "meta": {"tag": tag, "capabilities": ["CAPABILITY_CAPABILITIES", "CAPABILITY_CONDITIONS"]},
        "observed": {"composite": {"resource": xr}, "resources": resources},
        "desired": {},
        "input": input,
        "context": {},
    })
}

/// Numbers in protobuf Structs are doubles: compare them as f64 so 3 and
/// 3.0 are equal.
fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().expect("a finite number")),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        other => other,
    }
}

fn python_client(function: &FunctionServer, mode: &str, requests: &[Value]) -> Vec<Value> {
    let scratch = TempDir::new("python-client");
    let script = scratch.path().join("client.py");
    std::fs::write(&script, CLIENT).expect("write client.py");
    let pki = function.pki().expect("an mTLS server");
    let stdin = requests
        .iter()
        .map(|r| format!("{r}\n"))
        .collect::<String>();
    let mut child = Command::new(peers::python())
        .arg(&script)
        .arg(function.address())
        .arg(pki.client_dir())
        .arg(mode)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the python client");
    // Feed stdin from another thread: the client answers as it reads, and
    // its answers fill the stdout pipe long before all requests are sent.
    let mut input = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        use std::io::Write as _;
        input.write_all(stdin.as_bytes())
    });
    let output = child.wait_with_output().expect("the python client ends");
    feeder
        .join()
        .expect("the stdin feeder does not panic")
        .expect("send the requests");
    assert!(
        output.status.success(),
        "the python client failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("the client prints JSON"))
        .collect()
}

#[test]
fn python_sdk_stubs_over_mtls_get_what_the_rust_path_computes() {
    let function = FunctionServer::start_mtls();
    let pki = function.pki().expect("mTLS");
    assert!(
        pki.client
            .key
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );

    let cases = examples::cases();
    let requests: Vec<Value> = cases
        .iter()
        .map(|case| request(case, &format!("python-{}", case.name)))
        .collect();
    let responses = python_client(&function, "mtls", &requests);
    assert_eq!(responses.len(), requests.len(), "one response per request");

    for ((case, request), python) in cases.iter().zip(&requests).zip(responses) {
        assert!(
            python.get("grpcError").is_none(),
            "{}: the function refused the python client: {python}",
            case.name
        );
        // The Rust path: the same protojson request, decoded by the SDK's
        // pbjson types, run in-process.
        let request: RunFunctionRequest =
            serde_json::from_value(request.clone()).expect("the request is valid protojson");
        let rust: RunFunctionResponse = function_hybrid_spoke::run(&request);
        let rust = serde_json::to_value(&rust).expect("the response serializes");

        assert_eq!(
            python["meta"]["tag"],
            json!(format!("python-{}", case.name)),
            "tag echoed"
        );
        let desired = &python["desired"]["resources"];
        let count = desired.as_object().map_or(0, |m| m.len());
        // 6 for the smallest example (an AKS spoke with one extra pool).
        assert!(
            count >= 6,
            "{}: {count} desired resources over the wire",
            case.name
        );
        assert_eq!(
            normalize(python["desired"].clone()),
            normalize(rust["desired"].clone()),
            "{}: the desired state over gRPC (python) differs from the in-process Rust path",
            case.name
        );
        assert_eq!(
            normalize(python.clone()),
            normalize(rust),
            "{}: the whole response (results, conditions, TTL) differs",
            case.name
        );
    }
}

#[test]
fn python_sdk_client_without_a_client_certificate_is_refused() {
    let function = FunctionServer::start_mtls();
    let cases = examples::cases();
    let responses = python_client(
        &function,
        "no-client-cert",
        &[request(&cases[0], "no-cert")],
    );
    assert_eq!(responses.len(), 1);
    assert_eq!(
        responses[0]["grpcError"], "UNAVAILABLE",
        "a client without Crossplane's client certificate gets no response: {}",
        responses[0]
    );
}
