//! Render parity, three ways, for every example at every observed stage
//! (discovered from examples/, so new examples and stages are included):
//!
//! - the real engine: Crossplane core's `crossplane internal render` (one
//!   real XR reconcile against an in-memory client; version pinned in
//!   tests/tools/crossplane/go.mod), given the XR, the generated Composition
//!   and XRD and the observed resources as a protobuf `RenderRequest`;
//! - crank's `crossplane render` (tests/tools/crank/go.mod);
//! - `hybrid-spoke render`, in process (function/src/render.rs);
//!
//! the first two calling the function binary running as a real gRPC server.
//! The desired composed resources (by composition-resource-name) and the
//! XR's status must be equal between the engine and `hybrid-spoke render`;
//! crank must equal the engine except for the differences listed in
//! [`CRANK_DIFFERS`], which are printed, each naming the field.
//!
//! Needs `bash tests/tools/peers.sh && . target/peers/env.sh`.

#[path = "support/examples.rs"]
mod examples;

use std::collections::BTreeMap;
use std::process::Command;

use hybrid_spoke_test_peers::{self as peers, CompositeInput, FunctionInput, FunctionServer};
use serde_json::{Value, json};

/// Where crank's `render` (a re-implementation of one pipeline pass) is
/// known to print something other than the real engine, as JSON pointers
/// into the rendering (`/xr/...` or `/composed/<name>/...`), with why.
/// A difference not listed here fails the test.
const CRANK_DIFFERS: &[(&str, &str)] = &[
    (
        "/xr/status/conditions/Synced",
        "the real reconciler sets Synced=True (ReconcileSuccess) on every successful reconcile; crank sets no Synced",
    ),
    (
        "/xr/status/conditions/Responsive",
        "Crossplane v2.4 sets Responsive (its watch circuit breaker, closed); crank v2.2 has no such condition",
    ),
    (
        "/composed/*/metadata/name",
        "Crossplane v2.4 names a new composed resource <generateName><sha256(XR uid + composition resource name)[..12]>; crank v2.2 leaves the name to the API server",
    ),
];

/// One rendering: the XR's status and the desired composed resources by
/// composition-resource-name, each reduced to what Crossplane applies.
#[derive(Debug)]
struct Rendering {
    status: Value,
    composed: BTreeMap<String, Value>,
}

fn read_yaml(path: &std::path::Path) -> Value {
    examples::documents(&std::fs::read_to_string(path).expect("read YAML")).remove(0)
}

/// The name the Compositions' single pipeline step references.
fn function_ref(composition: &Value) -> String {
    composition
        .pointer("/spec/pipeline/0/functionRef/name")
        .and_then(Value::as_str)
        .expect("the Composition's first step names a function")
        .to_string()
}

/// Numbers in protobuf Structs are doubles: whole numbers become integers
/// again so 3 and 3.0 compare equal.
fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        other => other,
    }
}

/// A composed resource as the renderer printed it (numbers normalised); a
/// name must start with the resource's `generateName`.
fn applied(mut object: Value) -> Result<Value, String> {
    let generated = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(prefix), Some(name)) = (
        generated.as_deref(),
        object.pointer("/metadata/name").and_then(Value::as_str),
    ) && !name.starts_with(prefix)
    {
        return Err(format!(
            "name {name:?} does not start with generateName {prefix:?}"
        ));
    }
    Ok(normalize(object.take()))
}

fn composition_resource_name(object: &Value) -> String {
    object
        .pointer("/metadata/annotations/crossplane.io~1composition-resource-name")
        .and_then(Value::as_str)
        .unwrap_or("<no composition-resource-name>")
        .to_string()
}

/// The XR's status with conditions keyed by type and without the times
/// every renderer makes up.
fn status(xr: &Value) -> Value {
    let mut status = normalize(xr.get("status").cloned().unwrap_or(json!({})));
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        let by_type: serde_json::Map<String, Value> = conditions
            .drain(..)
            .map(|mut c| {
                let kind = c["type"].as_str().unwrap_or_default().to_string();
                if let Some(c) = c.as_object_mut() {
                    c.remove("lastTransitionTime");
                    c.remove("observedGeneration");
                    c.remove("type");
                }
                (kind, c)
            })
            .collect();
        status["conditions"] = Value::Object(by_type);
    }
    status
}

fn rendering(xr: &Value, composed: Vec<Value>) -> Result<Rendering, String> {
    let mut by_name = BTreeMap::new();
    for object in composed {
        let name = composition_resource_name(&object);
        let object = applied(object).map_err(|e| format!("composed {name}: {e}"))?;
        if by_name.insert(name.clone(), object).is_some() {
            return Err(format!("composed {name} twice"));
        }
    }
    Ok(Rendering {
        status: status(xr),
        composed: by_name,
    })
}

fn is_secret(object: &Value) -> bool {
    object["apiVersion"] == "v1" && object["kind"] == "Secret"
}

/// The real engine: `crossplane internal render` with the function at
/// `address`.
fn engine(
    case: &examples::Case,
    address: &str,
    connection_secrets: bool,
    required: &[Value],
) -> Rendering {
    let observed: Vec<Value> = examples::observed(case)
        .into_iter()
        .filter(|o| connection_secrets || !is_secret(o))
        .collect();
    let xr = read_yaml(&case.xr);
    let composition = read_yaml(&examples::composition(case));
    let input = CompositeInput {
        composite_resource: Some(peers::to_struct(&xr)),
        composition: Some(peers::to_struct(&composition)),
        functions: vec![FunctionInput {
            name: function_ref(&composition),
            address: address.to_string(),
        }],
        observed_resources: observed
            .iter()
            .filter(|o| !is_secret(o))
            .map(peers::to_struct)
            .collect(),
        // The connection Secrets beside them: the engine's client holds
        // `credentials`, and its connection-details fetcher reads them from
        // there as the real one reads them from the API server.
        credentials: observed
            .iter()
            .filter(|o| is_secret(o))
            .map(peers::to_struct)
            .collect(),
        required_resources: required.iter().map(peers::to_struct).collect(),
        composite_resource_definition: Some(peers::to_struct(&read_yaml(&examples::definition(
            case,
        )))),
        ..Default::default()
    };
    let render = peers::internal_render(input);
    assert_eq!(
        render.exit_code, 0,
        "{}: the engine reported a FATAL result:\n{}",
        case.name, render.stderr
    );
    // Without the connection Secrets (the comparison with crank, which
    // cannot pass them) the parts that need the spoke's kubeconfig are not
    // composed, so the engine would delete them: the same input crank gets.
    assert!(
        !connection_secrets || render.output.deleted_resources.is_empty(),
        "{}: the engine would delete {} observed resources",
        case.name,
        render.output.deleted_resources.len()
    );
    let out = &render.output;
    let xr = out
        .composite_resource
        .as_ref()
        .map(peers::from_struct)
        .unwrap_or_else(|| panic!("{}: the engine returned no XR", case.name));
    let composed = out
        .composed_resources
        .iter()
        .map(peers::from_struct)
        .collect();
    if let Some(dir) = std::env::var_os("ENGINE_PARITY_DUMP") {
        let dump = json!({
            "xr": xr,
            "composed": out.composed_resources.iter().map(peers::from_struct).collect::<Vec<_>>(),
            "events": out.events.iter().map(|e| json!([e.r#type, e.reason, e.message])).collect::<Vec<_>>(),
        });
        let path = std::path::Path::new(&dir).join(format!("{}.engine.yaml", case.name));
        std::fs::write(path, serde_yaml::to_string(&dump).unwrap_or_default())
            .expect("write the dump");
    }
    rendering(&xr, composed).unwrap_or_else(|e| panic!("{}: engine: {e}", case.name))
}

/// Splits a rendered YAML stream (crank's or ours) into XR and composed
/// resources; results are dropped.
fn split_stream(case: &examples::Case, who: &str, text: &str) -> Rendering {
    let mut documents = examples::documents(text).into_iter();
    let xr = documents
        .next()
        .unwrap_or_else(|| panic!("{}: {who} printed nothing", case.name));
    let composed = documents
        .filter(|d| d["apiVersion"] != "render.crossplane.io/v1beta1")
        .collect();
    rendering(&xr, composed).unwrap_or_else(|e| panic!("{}: {who}: {e}", case.name))
}

fn crank(case: &examples::Case, functions: &std::path::Path, flags: &[&str]) -> Rendering {
    let mut command = Command::new(peers::crank());
    command
        .arg("render")
        .arg(&case.xr)
        .arg(examples::composition(case))
        .arg(functions)
        .args(flags)
        .arg("--timeout=60s");
    // crank v2.2 takes no connection Secrets: the composed resources alone.
    if let Some(observed) = &case.observed {
        command
            .arg("--observed-resources")
            .arg(observed.join("resources.yaml"));
    }
    let text = peers::run(&format!("crossplane render ({})", case.name), &mut command);
    split_stream(case, "crank", &text)
}

fn ours(case: &examples::Case) -> Rendering {
    split_stream(
        case,
        "hybrid-spoke render",
        &examples::hybrid_spoke_render(case),
    )
}

/// Every leaf where `a` and `b` differ, as `pointer: a → b`.
fn differences(pointer: &str, a: &Value, b: &Value, out: &mut Vec<(String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let path = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                differences(
                    &path,
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (a, b)) in x.iter().zip(y).enumerate() {
                differences(&format!("{pointer}/{i}"), a, b, out);
            }
        }
        _ if a == b => {}
        _ => out.push((pointer.to_string(), format!("{} → {}", short(a), short(b)))),
    }
}

fn short(value: &Value) -> String {
    let text = if value.is_null() {
        "(absent)".to_string()
    } else {
        value.to_string()
    };
    if text.len() > 160 {
        let cut = (0..=160)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}…", &text[..cut])
    } else {
        text
    }
}

/// Differences between two renderings: the set of composed resources, then
/// each one's fields, then the XR's status.
fn compare(a: &Rendering, b: &Rendering) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let as_value = |r: &Rendering| {
        json!({
            "xr": {"status": r.status},
            "composed": r.composed,
        })
    };
    differences("", &as_value(a), &as_value(b), &mut out);
    out
}

/// Whether `pointer` lies under a listed crank difference (`*` matches
/// one segment).
fn known_crank_difference(pointer: &str) -> Option<&'static str> {
    let segments: Vec<&str> = pointer.split('/').collect();
    CRANK_DIFFERS
        .iter()
        .find(|(pattern, _)| {
            let pattern: Vec<&str> = pattern.split('/').collect();
            segments.len() >= pattern.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| *p == "*" || p == s)
        })
        .map(|(_, why)| *why)
}

#[test]
fn every_example_stage_renders_the_same_through_the_real_engine_crank_and_hybrid_spoke_render() {
    let mut function = FunctionServer::start_insecure();
    let scratch = peers::TempDir::new("engine-parity");
    let cases = examples::cases();
    assert!(cases.len() >= 12, "the examples have stages: {cases:#?}");
    let name = function_ref(&read_yaml(&examples::composition(&cases[0])));
    let functions = scratch.path().join("functions.yaml");
    std::fs::write(&functions, function.render_functions_yaml(&name))
        .expect("write functions.yaml");

    let mut failures = Vec::new();
    let mut crank_notes = BTreeMap::<&str, Vec<String>>::new();
    for case in &cases {
        let full = engine(case, &function.address(), true, &[]);
        // Sanity: the engine composed something and reported its status.
        assert!(
            full.composed.len() >= 5,
            "{}: the engine composed only {:?}",
            case.name,
            full.composed.keys()
        );
        assert!(
            full.status.pointer("/conditions/Ready").is_some(),
            "{}: the engine's XR has no Ready condition: {}",
            case.name,
            full.status
        );

        for (pointer, change) in compare(&full, &ours(case)) {
            failures.push(format!(
                "{}: engine → hybrid-spoke render differ at {pointer}: {change}",
                case.name
            ));
        }
        // crank v2.2 cannot take observed connection details: it is compared
        // with the engine given the composed resources alone.
        let has_secrets = examples::observed(case).iter().any(is_secret);
        let plain = if has_secrets {
            engine(case, &function.address(), false, &[])
        } else {
            full
        };
        for (pointer, change) in compare(&plain, &crank(case, &functions, &[])) {
            match known_crank_difference(&pointer) {
                Some(why) => crank_notes
                    .entry(why)
                    .or_default()
                    .push(format!("{}: {pointer}: {change}", case.name)),
                None => failures.push(format!(
                    "{}: engine → crank render differ at {pointer}: {change}",
                    case.name
                )),
            }
        }
        eprintln!(
            "{}: engine, crank and hybrid-spoke render compared ({} composed resources)",
            case.name,
            plain.composed.len()
        );
    }
    for (why, where_) in &crank_notes {
        eprintln!(
            "known crank difference ({why}), {} cases, e.g. {}",
            where_.len(),
            where_[0]
        );
    }
    assert!(
        failures.is_empty(),
        "the renderers disagree (Crossplane core {} is the reference):\n{}",
        peers::crossplane_version(),
        failures.join("\n")
    );
    // Every case went through the function process, which is still up.
    function.assert_running();
}

/// The address plan through all three: a new spoke beside the example fleet
/// (`examples/fleet/spokes` as required resources, answering the function's
/// requirements loop) gets the same block from the real engine, crank
/// (`--required-resources`) and `hybrid-spoke render --required-resources`:
/// first unsettled with no network composed, then, with that block in its
/// status, settled and composed from it.
#[test]
fn a_new_spoke_beside_the_fleet_gets_the_same_block_from_the_engine_crank_and_hybrid_spoke_render()
{
    let mut function = FunctionServer::start_insecure();
    let scratch = peers::TempDir::new("engine-fleet");
    let root = examples::root();
    let input = root.join("examples/fleet/input.yaml");
    let fleet_dir = root.join("examples/fleet/spokes");
    let mut fleet = Vec::new();
    for entry in std::fs::read_dir(&fleet_dir).expect("read examples/fleet/spokes") {
        let path = entry.expect("an entry").path();
        fleet.extend(examples::documents(
            &std::fs::read_to_string(&path).expect("read a fleet spoke"),
        ));
    }
    assert!(fleet.len() >= 4, "the example fleet has its spokes");
    let new_spoke = examples::Case {
        name: "fleet-new-spoke".to_string(),
        xr: root.join("examples/fleet/new-spoke.yaml"),
        observed: None,
        input: Some(input.clone()),
    };
    let name = function_ref(&read_yaml(&examples::composition(&new_spoke)));
    let functions = scratch.path().join("functions.yaml");
    std::fs::write(&functions, function.render_functions_yaml(&name))
        .expect("write functions.yaml");
    let required_flag = format!("--required-resources={}", fleet_dir.display());
    let ours = |case: &examples::Case| {
        let output = Command::new(env!("CARGO_BIN_EXE_hybrid-spoke"))
            .arg("render")
            .arg(&case.xr)
            .arg("--input")
            .arg(&input)
            .arg("--required-resources")
            .arg(&fleet_dir)
            .output()
            .expect("hybrid-spoke runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        split_stream(
            case,
            "hybrid-spoke render",
            &String::from_utf8_lossy(&output.stdout),
        )
    };
    // Every difference, engine → ours and engine → crank (less the listed
    // crank differences).
    let disagreements = |case: &examples::Case, engine: &Rendering| {
        let mut failures: Vec<String> = compare(engine, &ours(case))
            .into_iter()
            .map(|(p, c)| format!("{}: engine → hybrid-spoke render at {p}: {c}", case.name))
            .collect();
        let crank = crank(case, &functions, &[&required_flag]);
        failures.extend(
            compare(engine, &crank)
                .into_iter()
                .filter(|(p, _)| known_crank_difference(p).is_none())
                .map(|(p, c)| format!("{}: engine → crank at {p}: {c}", case.name)),
        );
        failures
    };

    let first = engine(&new_spoke, &function.address(), true, &fleet);
    assert_eq!(
        first.status.pointer("/network/allocated/vpcCidr"),
        Some(&Value::from("10.66.0.0/16")),
        "the lowest free block of pool aws-prod: {}",
        first.status
    );
    assert!(
        !first.composed.values().any(|d| d["kind"] == "VPC"),
        "no VPC before the allocation is settled: {:?}",
        first.composed.keys()
    );
    let failures = disagreements(&new_spoke, &first);
    assert!(
        failures.is_empty(),
        "first reconcile:\n{}",
        failures.join("\n")
    );

    // The next reconcile sees the block in its status: it settles and composes.
    let mut xr = read_yaml(&new_spoke.xr);
    xr["status"]["network"] = first.status["network"].clone();
    let settled = examples::Case {
        name: "fleet-new-spoke-settled".to_string(),
        xr: scratch.path().join("settled.yaml"),
        ..new_spoke.clone()
    };
    std::fs::write(&settled.xr, serde_yaml::to_string(&xr).expect("YAML")).expect("write");
    let second = engine(&settled, &function.address(), true, &fleet);
    assert_eq!(
        second.status.pointer("/network/allocated/settled"),
        Some(&Value::Bool(true)),
        "{}",
        second.status
    );
    assert!(
        second
            .composed
            .values()
            .any(|d| d["kind"] == "VPC" && d["spec"]["forProvider"]["cidrBlock"] == "10.66.0.0/16"),
        "the VPC is composed from the allocated block"
    );
    let failures = disagreements(&settled, &second);
    assert!(
        failures.is_empty(),
        "second reconcile:\n{}",
        failures.join("\n")
    );
    function.assert_running();
}
