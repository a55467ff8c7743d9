//! Crossplane core (`cmd/crossplane`, pinned in tests/tools/crossplane/go.mod)
//! and its real composition engine, `crossplane internal render`: one real
//! XR reconcile against an in-memory client, calling functions over gRPC.
//!
//! The protocol is `proto/render/v1alpha1/render.proto` of the module. Only
//! the composite variant is written out here; a proto3 `oneof` member is an
//! ordinary field on the wire, so `composite` is a plain optional field.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use pbjson_types::Struct;
use prost::Message;

use crate::peer_binary;

/// `crossplane` (core) built by tests/tools/peers.sh.
pub fn crossplane() -> PathBuf {
    peer_binary("HYBRID_SPOKE_CROSSPLANE")
}

/// The version tests/tools/peers.sh built (`HYBRID_SPOKE_CROSSPLANE_VERSION`).
pub fn crossplane_version() -> String {
    std::env::var("HYBRID_SPOKE_CROSSPLANE_VERSION").unwrap_or_else(|_| "unknown".into())
}

/// The exit code of `crossplane internal render` on a FATAL pipeline result.
pub const EXIT_PIPELINE_FATAL: i32 = 3;

/// `crossplane.render.v1alpha1.RenderRequest` (composite variant).
#[derive(Clone, PartialEq, Message)]
pub struct RenderRequest {
    #[prost(message, optional, tag = "1")]
    pub meta: Option<RequestMeta>,
    #[prost(message, optional, tag = "2")]
    pub composite: Option<CompositeInput>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RequestMeta {}

/// `crossplane.render.v1alpha1.RenderResponse` (composite variant).
#[derive(Clone, PartialEq, Message)]
pub struct RenderResponse {
    #[prost(message, optional, tag = "2")]
    pub composite: Option<CompositeOutput>,
}

/// A function by name (the pipeline step's `functionRef.name`) and its
/// plain-gRPC address.
#[derive(Clone, PartialEq, Message)]
pub struct FunctionInput {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub address: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(string, tag = "2")]
    pub reason: String,
    #[prost(string, tag = "3")]
    pub message: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CompositeInput {
    #[prost(message, optional, tag = "1")]
    pub composite_resource: Option<Struct>,
    #[prost(message, optional, tag = "2")]
    pub composition: Option<Struct>,
    #[prost(message, repeated, tag = "3")]
    pub functions: Vec<FunctionInput>,
    #[prost(message, repeated, tag = "4")]
    pub observed_resources: Vec<Struct>,
    #[prost(message, repeated, tag = "5")]
    pub required_resources: Vec<Struct>,
    #[prost(message, repeated, tag = "6")]
    pub credentials: Vec<Struct>,
    #[prost(message, repeated, tag = "7")]
    pub required_schemas: Vec<Struct>,
    #[prost(message, optional, tag = "8")]
    pub composite_resource_definition: Option<Struct>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CompositeOutput {
    #[prost(message, optional, tag = "1")]
    pub composite_resource: Option<Struct>,
    #[prost(message, repeated, tag = "2")]
    pub composed_resources: Vec<Struct>,
    #[prost(message, repeated, tag = "3")]
    pub deleted_resources: Vec<Struct>,
    #[prost(message, repeated, tag = "4")]
    pub events: Vec<Event>,
}

/// What `crossplane internal render` returned for a composite.
#[derive(Debug)]
pub struct EngineRender {
    /// 0, or [`EXIT_PIPELINE_FATAL`] (then `output` is the partial output).
    pub exit_code: i32,
    pub output: CompositeOutput,
    pub stderr: String,
}

/// A JSON object as a protobuf `Struct` (pbjson's serde mapping).
pub fn to_struct(value: &serde_json::Value) -> Struct {
    serde_json::from_value(value.clone()).expect("a JSON object converts to a protobuf Struct")
}

/// A protobuf `Struct` as JSON.
pub fn from_struct(value: &Struct) -> serde_json::Value {
    serde_json::to_value(value).expect("a protobuf Struct is JSON")
}

/// Runs `crossplane internal render` with `input` on stdin. Panics (with
/// stderr) on any failure but a pipeline FATAL, which comes back as
/// `exit_code` 3 with the partial output.
pub fn internal_render(input: CompositeInput) -> EngineRender {
    let request = RenderRequest {
        meta: Some(RequestMeta {}),
        composite: Some(input),
    };
    let mut child = Command::new(crossplane())
        .args(["internal", "render", "--timeout=60s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crossplane internal render");
    // Write on another thread: a large response must not block on a full
    // stdout pipe while we are still writing stdin.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = request.encode_to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child
        .wait_with_output()
        .expect("wait for crossplane internal render");
    writer
        .join()
        .expect("the stdin writer")
        .expect("write the RenderRequest");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let exit_code = output.status.code().unwrap_or(-1);
    assert!(
        exit_code == 0 || exit_code == EXIT_PIPELINE_FATAL,
        "crossplane internal render failed ({}):\n{stderr}",
        output.status
    );
    let response = RenderResponse::decode(output.stdout.as_slice())
        .unwrap_or_else(|e| panic!("the RenderResponse does not decode: {e}\nstderr:\n{stderr}"));
    let output = response
        .composite
        .unwrap_or_else(|| panic!("the RenderResponse has no composite output\nstderr:\n{stderr}"));
    EngineRender {
        exit_code,
        output,
        stderr,
    }
}
