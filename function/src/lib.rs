//! The XHybridSpoke composition function: a pure `run` step over typed
//! models, served over gRPC by the `function-hybrid-spoke` binary and run
//! in-process by `hybrid-spoke render`.

pub mod compose;
pub mod edge;
pub mod fleet;
pub mod health;
pub mod input;
pub mod metrics;
pub mod naming;
pub mod network;
pub mod pb;
pub mod render;
pub mod request;
pub mod server;
pub mod sizing;
pub mod spoke;
pub mod status;
pub mod strict;
pub mod tailnet;
pub mod validate;
pub mod view;
pub mod wire;
pub mod xrd;

use std::time::Duration;

use function_sdk_rust::proto::v1::{
    Condition, Ready, RunFunctionRequest, RunFunctionResponse, Status,
};
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
    run_observed(req, &compose::observed::decoded(req))
}

/// [`run`] for a request whose observed resources are read in place from
/// its bytes (the server's path): the same response, byte for byte.
pub fn run_in_place(req: &request::RequestView<'_>) -> RunFunctionResponse {
    run_observed(&req.head, &compose::observed::in_place(req))
}

/// `req`'s own observed resources are not read: `observed` stands for them.
fn run_observed(req: &RunFunctionRequest, observed: &compose::Observed<'_>) -> RunFunctionResponse {
    let mut rsp = response::to(req, response::DEFAULT_TTL);

    let input = validate::input(req.input.as_ref().map(struct_to_json));
    let xr = function_sdk_rust::request::observed_composite(req)
        .and_then(|r| r.resource.as_ref())
        .map(struct_to_json)
        .unwrap_or(serde_json::Value::Null);
    let spoke = input.and_then(|input| {
        let built = !observed.is_empty();
        let allocated = match plan_addresses(req, &xr, &input, built, &mut rsp)? {
            Some(allocated) => allocated,
            None => return Ok(None),
        };
        validate::spoke(&xr, input, allocated).map(Some)
    });
    let spoke = match spoke {
        Ok(Some(spoke)) => spoke,
        // Waiting for the fleet or for an allocation to settle: not ready,
        // though nothing of ours is composed yet.
        Ok(None) => {
            response::desired_composite(&mut rsp).ready = Ready::False as i32;
            return rsp;
        }
        Err(errors) => {
            response::fatal(&mut rsp, fatal_message(&errors));
            return rsp;
        }
    };
    for warning in &spoke.warnings {
        response::warning(&mut rsp, warning.clone()).reason =
            Some(REASON_NETWORK_NEARLY_FULL.to_string());
    }
    if spoke.input.address_plan.is_some() {
        rsp.conditions.push(condition(
            Status::ConditionTrue,
            REASON_ADDRESSES_SETTLED,
            None,
        ));
    }

    let ttl = Duration::from_secs(u64::from(spoke.input.ttl_seconds.max(1)));
    if let Some(meta) = rsp.meta.as_mut() {
        meta.ttl = Some(pbjson_types::Duration {
            seconds: ttl.as_secs() as i64,
            nanos: 0,
        });
    }

    let composition = compose::compose(&spoke, observed);
    if let Err(message) = earlier_steps(&mut rsp, &composition) {
        response::fatal(&mut rsp, message);
        return rsp;
    }
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

    set_status(&mut rsp, &report.status);
    rsp.conditions.extend(report.conditions);
    rsp
}

/// Desired resources an earlier pipeline step composed under a name we also
/// compose: never replaced silently. The same kind is replaced with a
/// Warning naming it; a different kind is a FATAL, since one name would then
/// stand for two different objects.
fn earlier_steps(
    rsp: &mut RunFunctionResponse,
    composition: &compose::Composition<'_>,
) -> Result<(), String> {
    let Some(earlier) = rsp.desired.as_ref().map(|d| &d.resources) else {
        return Ok(());
    };
    // The usual case (first or only step): nothing to compare, per call.
    if earlier.is_empty() {
        return Ok(());
    }
    let mut replaced = Vec::new();
    let mut clashes = Vec::new();
    for (name, ours) in &composition.resources {
        let Some(theirs) = earlier.get(name).and_then(|r| r.resource.as_ref()) else {
            continue;
        };
        let (their_kind, our_kind) = (kind_of(theirs), kind_of(&ours.resource));
        if their_kind == our_kind {
            replaced.push(format!("{name:?} ({our_kind})"));
        } else {
            clashes.push(format!(
                "{name:?} is a {their_kind} from an earlier pipeline step and a {our_kind} here"
            ));
        }
    }
    if !clashes.is_empty() {
        return Err(format!(
            "composed resource names clash with an earlier pipeline step: {}; rename the earlier step's resources",
            clashes.join("; ")
        ));
    }
    for resource in replaced {
        response::warning(
            rsp,
            format!(
                "desired resource {resource} from an earlier pipeline step is replaced by step {}'s resource of the same name and kind",
                render::STEP
            ),
        )
        .reason = Some(REASON_REPLACED_EARLIER_STEP.to_string());
    }
    Ok(())
}

/// `apiVersion/kind` of a desired resource, as messages name it.
fn kind_of(resource: &Struct) -> String {
    let text = |key: &str| match resource.fields.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(s)) => s.as_str(),
        _ => "?",
    };
    format!("{}/{}", text("apiVersion"), text("kind"))
}

/// Writes our status keys on the desired XR, keeping those of earlier steps.
fn set_status(rsp: &mut RunFunctionResponse, ours: &spoke::SpokeStatus) {
    let composite = response::desired_composite(rsp);
    let fields = &mut composite.resource.get_or_insert_default().fields;
    let mut status = match fields.remove("status").and_then(|s| s.kind) {
        Some(Kind::StructValue(status)) => status,
        _ => Struct::default(),
    };
    status
        .fields
        .extend(pb::to_struct(ours).unwrap_or_default().fields);
    fields.insert(
        "status".to_string(),
        pbjson_types::Value {
            kind: Some(Kind::StructValue(status)),
        },
    );
}

/// The condition that tells where the spoke's addressing stands.
pub const CONDITION_ADDRESSES: &str = "NetworkAddressed";
pub const REASON_ADDRESSES_SETTLED: &str = "AddressesSettled";
pub const REASON_WAITING_FOR_FLEET: &str = "WaitingForFleet";
pub const REASON_ALLOCATED: &str = "BlockAllocated";
pub const REASON_NETWORK_NEARLY_FULL: &str = "NetworkNearlyFull";
/// A Warning: an earlier step's desired resource of the same name was replaced.
pub const REASON_REPLACED_EARLIER_STEP: &str = "ReplacedEarlierStep";

fn condition(status: Status, reason: &str, message: Option<String>) -> Condition {
    Condition {
        r#type: CONDITION_ADDRESSES.to_string(),
        status: status as i32,
        reason: reason.to_string(),
        message,
        target: None,
    }
}

/// Runs the address plan (see [`fleet`]): `Some(block)` to compose with,
/// `None` when nothing may be composed yet (the response then says why and
/// carries the allocation to record). Asks Crossplane for the fleet whenever
/// the Input has a plan, so the requirements are the same on every call.
fn plan_addresses(
    req: &RunFunctionRequest,
    xr: &serde_json::Value,
    input: &input::Input,
    built: bool,
    rsp: &mut RunFunctionResponse,
) -> Result<Option<Option<spoke::AllocatedNetwork>>, Vec<validate::Invalid>> {
    let Some(spec) = xr
        .get("spec")
        .and_then(|s| serde_json::from_value::<spoke::SpokeSpec>(s.clone()).ok())
    else {
        // validate::spoke names what is wrong with the spec.
        return Ok(Some(None));
    };
    let status: spoke::SpokeStatus = xr
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let text = |p: &str| xr.pointer(p).and_then(|v| v.as_str()).unwrap_or_default();
    let me = fleet::Me {
        id: match text("/metadata/namespace") {
            "" => text("/metadata/name").to_string(),
            ns => format!("{ns}/{}", text("/metadata/name")),
        },
        uid: text("/metadata/uid"),
        created: text("/metadata/creationTimestamp"),
        spec: &spec,
        status: &status,
        built,
    };
    if input.address_plan.is_some() {
        rsp.requirements
            .get_or_insert_default()
            .resources
            .insert(fleet::REQUIREMENT.to_string(), fleet::selector());
    }
    let supplied: Option<Vec<serde_json::Value>> =
        req.required_resources.get(fleet::REQUIREMENT).map(|r| {
            r.items
                .iter()
                .filter_map(|i| i.resource.as_ref())
                .map(struct_to_json)
                .collect()
        });
    match fleet::decide(&me, input, supplied.as_deref())? {
        fleet::Decision::Unplanned => Ok(Some(None)),
        fleet::Decision::Use { allocated, .. } => Ok(Some(allocated)),
        fleet::Decision::WaitForFleet => {
            rsp.conditions.push(condition(
                Status::ConditionFalse,
                REASON_WAITING_FOR_FLEET,
                Some("waiting for Crossplane to supply the other XHybridSpokes (required resources) before planning addresses".to_string()),
            ));
            Ok(None)
        }
        fleet::Decision::Allocated(allocated) => {
            rsp.conditions.push(condition(
                Status::ConditionFalse,
                REASON_ALLOCATED,
                Some(format!(
                    "allocated {} from pool {}: composed once it is recorded in status and no earlier spoke claims it",
                    allocated.vpc_cidr, allocated.pool
                )),
            ));
            let status = spoke::SpokeStatus {
                network: Some(spoke::NetworkStatus {
                    allocated: Some(allocated),
                    ..Default::default()
                }),
                ..status
            };
            set_status(rsp, &status);
            Ok(None)
        }
    }
}

/// One message for every problem, so a user fixes them all in one go.
pub fn fatal_message(errors: &[Invalid]) -> String {
    let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("invalid XHybridSpoke: {}", problems.join("; "))
}
