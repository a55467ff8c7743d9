//! The server writes RunFunction responses with `wire::Encoding` instead of
//! prost: its bytes must be exactly prost's, for the responses this
//! function returns (every example at every stage) and for arbitrary ones.

#[path = "support/rng.rs"]
mod rng;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use function_hybrid_spoke::render;
use function_hybrid_spoke::wire::Encoding;
use function_sdk_rust::proto::v1::{
    Condition, Resource, ResponseMeta, Result as FnResult, RunFunctionResponse, Severity, State,
};
use pbjson_types::value::Kind;
use pbjson_types::{ListValue, Struct, Value};
use prost::Message as _;
use rng::Rng;

/// Our bytes for `response` are prost's, and their length is announced
/// before they are written.
fn assert_encodes_like_prost(response: &RunFunctionResponse, what: &str) {
    let prost = response.encode_to_vec();
    let encoding = Encoding::new(response.clone());
    assert_eq!(encoding.len(), prost.len(), "{what}: announced length");
    let ours = encoding.to_vec();
    if ours != prost {
        let at = ours.iter().zip(&prost).take_while(|(a, b)| a == b).count();
        panic!(
            "{what}: {} bytes differ from prost's {} from byte {at}",
            ours.len(),
            prost.len()
        );
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Every example XR with no observed resources and with each observed set.
fn example_requests() -> Vec<(String, function_sdk_rust::proto::v1::RunFunctionRequest)> {
    let input = yaml_documents(&root().join("examples/input.yaml")).remove(0);
    let mut requests = Vec::new();
    for cloud in ["aws", "azure"] {
        for (xr_file, observed_dir) in [
            ("xr.yaml", "observed"),
            ("legacy-xr.yaml", "observed-legacy"),
        ] {
            let dir = root().join("examples").join(cloud);
            let xr = yaml_documents(&dir.join(xr_file)).remove(0);
            let xr = xr.as_object().expect("the example XR is a mapping");
            let mut stages = vec![("initial".to_string(), Vec::new())];
            for stage in ["cluster-ready", "all-ready"] {
                let stage_dir = dir.join(observed_dir).join(stage);
                let mut files: Vec<PathBuf> = std::fs::read_dir(&stage_dir)
                    .unwrap_or_else(|e| panic!("{}: {e}", stage_dir.display()))
                    .map(|entry| entry.expect("directory entry").path())
                    .collect();
                files.sort();
                stages.push((
                    stage.to_string(),
                    files.iter().flat_map(|f| yaml_documents(f)).collect(),
                ));
            }
            for (stage, observed) in &stages {
                // As `hybrid-spoke render` builds it: connection details from
                // the connection Secrets beside the resources.
                let (request, _) = render::request_for(
                    xr,
                    &serde_json::Value::Object(xr.clone()),
                    observed,
                    &input,
                )
                .expect("the observed examples are well-formed");
                requests.push((format!("{cloud} {xr_file} {stage}"), request));
            }
        }
    }
    requests
}

#[test]
fn every_example_response_encodes_exactly_as_prost() {
    let requests = example_requests();
    assert_eq!(requests.len(), 12, "2 clouds × 2 flavours × 3 stages");
    for (what, request) in &requests {
        let response = function_hybrid_spoke::run(request);
        let composed = response.desired.as_ref().map_or(0, |d| d.resources.len());
        assert!(
            composed > 0
                && response
                    .results
                    .iter()
                    .all(|r| r.severity != Severity::Fatal as i32),
            "{what}: composed {composed} resources, results {:?}",
            response.results
        );
        assert_encodes_like_prost(&response, what);
    }
}

#[test]
fn a_fatal_response_and_an_empty_one_encode_as_prost() {
    let (_, mut request) = example_requests().remove(0);
    request.input = None;
    let fatal = function_hybrid_spoke::run(&request);
    assert!(!fatal.results.is_empty(), "no input is a fatal result");
    assert_encodes_like_prost(&fatal, "fatal");
    assert_encodes_like_prost(&RunFunctionResponse::default(), "empty");
    assert!(Encoding::new(RunFunctionResponse::default()).is_empty());
}

/// Values that reach every branch of the encoding: kind-less values (left
/// out of a map entry, written empty in a list), empty keys (left out of a
/// map entry), negative null values (ten-byte varints), NaN and infinities,
/// empty and long strings, and Structs and lists nested to `depth`.
fn arbitrary_value(rng: &mut Rng, depth: usize) -> Value {
    let kind = match rng.below(if depth >= 5 { 6 } else { 9 }) {
        0 => None,
        1 => Some(Kind::NullValue([0, 0, 1, -1, i32::MIN][rng.below(5)])),
        2 => Some(Kind::NumberValue(
            [
                0.0,
                -0.0,
                1.5,
                f64::NAN,
                f64::INFINITY,
                -1e300,
                rng.next() as f64,
            ][rng.below(7)],
        )),
        3 => Some(Kind::StringValue("é".repeat(rng.below(3) * rng.below(100)))),
        4 => Some(Kind::BoolValue(rng.below(2) == 0)),
        5 => Some(Kind::StringValue(String::new())),
        6 | 7 => Some(Kind::StructValue(arbitrary_struct(rng, depth + 1))),
        _ => Some(Kind::ListValue(ListValue {
            values: (0..rng.below(5))
                .map(|_| arbitrary_value(rng, depth + 1))
                .collect(),
        })),
    };
    Value { kind }
}

fn arbitrary_struct(rng: &mut Rng, depth: usize) -> Struct {
    let keys = ["", "a", "metadata", "spec", "forProvider", &"k".repeat(200)];
    Struct {
        fields: (0..rng.below(6))
            .map(|_| {
                (
                    keys[rng.below(keys.len())].to_string(),
                    arbitrary_value(rng, depth),
                )
            })
            .collect(),
    }
}

fn arbitrary_resource(rng: &mut Rng) -> Resource {
    Resource {
        resource: (rng.below(4) != 0).then(|| arbitrary_struct(rng, 0)),
        connection_details: (0..rng.below(3))
            .map(|i| {
                (
                    ["", "kubeconfig", "token"][i].to_string(),
                    vec![7; rng.below(300)],
                )
            })
            .collect::<HashMap<_, _>>(),
        ready: rng.below(3) as i32,
    }
}

fn arbitrary_response(rng: &mut Rng) -> RunFunctionResponse {
    RunFunctionResponse {
        meta: (rng.below(2) == 0).then(|| ResponseMeta {
            tag: "t".repeat(rng.below(3)),
            ttl: None,
        }),
        desired: (rng.below(5) != 0).then(|| State {
            composite: (rng.below(2) == 0).then(|| arbitrary_resource(rng)),
            resources: (0..rng.below(12))
                .map(|i| {
                    // An empty name and a default resource are left out of
                    // their map entry.
                    let name = if i == 0 {
                        String::new()
                    } else {
                        format!("r{i}")
                    };
                    let resource = if rng.below(6) == 0 {
                        Resource::default()
                    } else {
                        arbitrary_resource(rng)
                    };
                    (name, resource)
                })
                .collect(),
        }),
        results: (0..rng.below(3))
            .map(|i| FnResult {
                severity: i as i32,
                message: "m".repeat(i),
                ..Default::default()
            })
            .collect(),
        context: (rng.below(2) == 0).then(|| arbitrary_struct(rng, 3)),
        conditions: (0..rng.below(2))
            .map(|_| Condition {
                r#type: "NetworkReady".into(),
                ..Default::default()
            })
            .collect(),
        output: (rng.below(3) == 0).then(|| arbitrary_struct(rng, 4)),
        ..Default::default()
    }
}

#[test]
fn arbitrary_responses_encode_exactly_as_prost() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..2_000 {
        let response = arbitrary_response(&mut rng);
        assert_encodes_like_prost(&response, &format!("round {round}"));
    }
}
