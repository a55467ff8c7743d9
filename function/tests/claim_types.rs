//! Every field of a claim given a value of the wrong type gets a FATAL that
//! names its path and what it expected, in the user's terms: never serde's
//! Rust types ("expected u32") or Rust type names.

use function_hybrid_spoke::run;
use function_sdk_rust::proto::v1::{Resource, RunFunctionRequest, Severity, State};
use function_sdk_rust::resource::json_to_struct;
use serde_json::{Value, json};

const EXAMPLES: [&str; 2] = [
    include_str!("../../examples/aws/xr.yaml"),
    include_str!("../../examples/azure/xr.yaml"),
];
const INPUT: &str = include_str!("../../examples/input.yaml");

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

fn fatals(xr: &Value, input: &Value) -> Vec<String> {
    let rsp = run(&RunFunctionRequest {
        observed: Some(State {
            composite: xr.as_object().map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        input: input.as_object().map(json_to_struct),
        ..Default::default()
    });
    rsp.results
        .iter()
        .filter(|r| r.severity == Severity::Fatal as i32)
        .map(|r| r.message.clone())
        .collect()
}

/// Every scalar of `spec`: its JSON pointer, and its path as messages name
/// it (`a.b` for a field, `a[b]` for a map entry such as a label).
struct Leaf {
    pointer: String,
    field: String,
    entry: String,
}

fn leaves(value: &Value, pointer: String, leaf: (String, String), out: &mut Vec<Leaf>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                let paths = (format!("{}.{k}", leaf.0), format!("{}[{k}]", leaf.0));
                leaves(v, format!("{pointer}/{escaped}"), paths, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let path = format!("{}[{i}]", leaf.0);
                leaves(v, format!("{pointer}/{i}"), (path.clone(), path), out);
            }
        }
        _ => out.push(Leaf {
            pointer,
            field: leaf.0,
            entry: leaf.1,
        }),
    }
}

/// A value of a type the field does not take.
fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!({"not": "a string"}),
        Value::Number(_) => json!("forty-two"),
        Value::Bool(_) => json!([1]),
        _ => json!(7),
    }
}

#[test]
fn every_spec_field_of_the_wrong_type_is_named_in_user_terms() {
    let input = yaml(INPUT);
    let mut checked = 0;
    for example in EXAMPLES {
        let xr = yaml(example);
        let mut fields = Vec::new();
        let root = ("spec".to_string(), "spec".to_string());
        leaves(&xr["spec"], "/spec".into(), root, &mut fields);
        for leaf in fields {
            let mut broken = xr.clone();
            if let Some(slot) = broken.pointer_mut(&leaf.pointer) {
                *slot = wrong_type(slot);
            }
            let messages = fatals(&broken, &input);
            assert_eq!(messages.len(), 1, "{}: {messages:?}", leaf.field);
            let message = &messages[0];
            let named = format!("{}: expected ", leaf.field);
            let entry = format!("{}: expected ", leaf.entry);
            assert!(
                message.contains(&named) || message.contains(&entry),
                "{named:?} in {message:?}"
            );
            for rust in [
                "u32", "u8", "String", "struct ", "enum ", "`", "::", "variant",
            ] {
                assert!(!message.contains(rust), "{rust:?} in {message:?}");
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} fields checked");
}

#[test]
fn unknown_variants_list_the_allowed_values() {
    let mut xr = yaml(EXAMPLES[0]);
    xr["spec"]["cloud"] = json!("gcp");
    xr["spec"]["environment"] = json!("qa");
    let messages = fatals(&xr, &yaml(INPUT));
    let message = &messages[0];
    assert!(
        message.contains(r#"spec.cloud: expected one of "aws", "azure", got "gcp""#),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.environment: expected one of "dev", "staging", "prod", got "qa""#),
        "{message}"
    );
}
