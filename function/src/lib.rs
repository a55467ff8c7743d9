//! The XHybridSpoke composition function: a pure `run` step over typed
//! models, served over gRPC by the `function-hybrid-spoke` binary and run
//! in-process by `hybrid-spoke render`.

pub mod compose;
pub mod input;
pub mod metrics;
pub mod network;
pub mod pb;
pub mod render;
pub mod server;
pub mod spoke;
pub mod status;
pub mod validate;
pub mod wire;
pub mod xrd;

use std::time::Duration;

use function_sdk_rust::proto::v1::{Ready, RunFunctionRequest, RunFunctionResponse};
use function_sdk_rust::resource::struct_to_json;
use function_sdk_rust::response;
use pbjson_types::Struct;
use pbjson_types::value::Kind;

use crate::validate::Invalid;

/// Runs one composition step. Pure: no I/O, never panics on input.
///
/// An invalid claim or input yields a single FATAL result naming every field,
/// value and rule broken, and no composed resources of ours: Crossplane then
/// keeps what exists and reports the message in the XR's `Synced` condition.
pub fn run(req: &RunFunctionRequest) -> RunFunctionResponse {
    let mut rsp = response::to(req, response::DEFAULT_TTL);

    let input = validate::input(req.input.as_ref().map(struct_to_json));
    let xr = function_sdk_rust::request::observed_composite(req)
        .and_then(|r| r.resource.as_ref())
        .map(struct_to_json)
        .unwrap_or(serde_json::Value::Null);
    let spoke = input.and_then(|input| validate::spoke(&xr, input));
    let spoke = match spoke {
        Ok(spoke) => spoke,
        Err(errors) => {
            response::fatal(&mut rsp, fatal_message(&errors));
            return rsp;
        }
    };

    let ttl = Duration::from_secs(u64::from(spoke.input.ttl_seconds.max(1)));
    if let Some(meta) = rsp.meta.as_mut() {
        meta.ttl = Some(pbjson_types::Duration {
            seconds: ttl.as_secs() as i64,
            nanos: 0,
        });
    }

    let observed: compose::Observed<'_> = req
        .observed
        .as_ref()
        .map(|o| {
            o.resources
                .iter()
                .filter_map(|(name, r)| Some((name.as_str(), r.resource.as_ref()?)))
                .collect()
        })
        .unwrap_or_default();

    let composition = compose::compose(&spoke, &observed);
    let report = status::report(&composition);

    for (name, composed) in composition.resources {
        let desired = response::desired_composed(&mut rsp, name);
        desired.resource = Some(composed.resource);
        desired.ready = if composed.ready {
            Ready::True
        } else {
            Ready::False
        } as i32;
    }

    let composite = response::desired_composite(&mut rsp);
    let fields = &mut composite.resource.get_or_insert_default().fields;
    // Keep status fields an earlier step set; ours replace only our own keys.
    let mut status = match fields.remove("status").and_then(|s| s.kind) {
        Some(Kind::StructValue(status)) => status,
        _ => Struct::default(),
    };
    status
        .fields
        .extend(pb::to_struct(&report.status).unwrap_or_default().fields);
    fields.insert(
        "status".to_string(),
        pbjson_types::Value {
            kind: Some(Kind::StructValue(status)),
        },
    );
    rsp.conditions.extend(report.conditions);
    rsp
}

/// One message for every problem, so a user fixes them all in one go.
pub fn fatal_message(errors: &[Invalid]) -> String {
    let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("invalid XHybridSpoke: {}", problems.join("; "))
}
