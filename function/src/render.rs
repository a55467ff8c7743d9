//! In-process rendering: what `crossplane render` (crank v2.2.4) prints for an
//! XR, a one-step pipeline running this function and a set of observed
//! resources, computed with no cluster, no network and no gRPC.
//!
//! It follows crank's `render.Render`: the observed XR and composed resources
//! (keyed by their `crossplane.io/composition-resource-name` annotation) form
//! the request; the response's desired composed resources get the metadata
//! Crossplane would add (generateName, namespace, composite and claim labels,
//! controller reference), sorted by composition resource name; the XR gets
//! the `Ready` condition Crossplane derives plus the function's conditions.

use std::collections::BTreeMap;

use function_sdk_rust::proto::v1::{
    Capability, Ready, RequestMeta, Resource, RunFunctionRequest, Severity, State, Status,
};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use serde_json::{Map, Value, json};

/// The name of the pipeline step in the generated Compositions.
pub const STEP: &str = "compose-spoke";
pub const COMPOSITION_RESOURCE_NAME: &str = "crossplane.io/composition-resource-name";
const LABEL_COMPOSITE: &str = "crossplane.io/composite";
const LABEL_CLAIM_NAME: &str = "crossplane.io/claim-name";
const LABEL_CLAIM_NAMESPACE: &str = "crossplane.io/claim-namespace";
/// crank writes this fixed time into every condition, so output is stable.
const CONDITION_TIME: &str = "2024-01-01T00:00:00Z";
/// How many unready resources the XR's `Ready` message names.
const FIRST_N: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("composite resource must be a YAML object with apiVersion, kind and metadata.name")]
    NotAComposite,
    #[error("observed resource {index} has no {COMPOSITION_RESOURCE_NAME} annotation")]
    UnnamedObserved { index: usize },
    #[error(
        "cannot render composite resource: pipeline step \"{STEP}\" returned a fatal result: {0}"
    )]
    Fatal(String),
}

/// Renders `xr` and returns the documents crank prints with
/// `--include-function-results`: the XR, the composed resources, the results.
pub fn render(xr: &Value, observed: &[Value], input: &Value) -> Result<Vec<Value>, RenderError> {
    let Some(xr_object) = xr.as_object().filter(|o| {
        o.get("apiVersion").is_some_and(Value::is_string)
            && o.get("kind").is_some_and(Value::is_string)
            && xr.pointer("/metadata/name").is_some_and(Value::is_string)
    }) else {
        return Err(RenderError::NotAComposite);
    };

    let mut observed_by_name = BTreeMap::new();
    for (index, resource) in observed.iter().enumerate() {
        let name = resource
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
            .and_then(Value::as_str)
            .ok_or(RenderError::UnnamedObserved { index })?;
        observed_by_name.insert(name.to_string(), resource);
    }

    let request = request(xr_object, &observed_by_name, input);
    let response = crate::run(&request);
    if let Some(fatal) = response
        .results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
    {
        return Err(RenderError::Fatal(fatal.message.clone()));
    }

    let desired = response.desired.unwrap_or_default();
    let mut unready = Vec::new();
    let mut composed = Vec::new();
    for (name, resource) in &desired.resources {
        if resource.ready != Ready::True as i32 {
            unready.push(name.clone());
        }
        let mut object = resource
            .resource
            .as_ref()
            .map(struct_to_json)
            .unwrap_or_else(|| json!({}));
        if let Some(existing) = observed_by_name.get(name) {
            for field in ["namespace", "name", "generateName"] {
                set_meta(
                    &mut object,
                    field,
                    existing.pointer(&format!("/metadata/{field}")).cloned(),
                );
            }
        }
        set_composed_metadata(&mut object, xr, name);
        composed.push(object);
    }
    composed.sort_by(|a, b| resource_name(a).cmp(resource_name(b)));

    let mut out = desired
        .composite
        .and_then(|c| c.resource)
        .map(|s| struct_to_json(&s))
        .unwrap_or_else(|| json!({}));
    out["apiVersion"] = xr["apiVersion"].clone();
    out["kind"] = xr["kind"].clone();
    set_meta(&mut out, "name", xr.pointer("/metadata/name").cloned());
    set_meta(
        &mut out,
        "namespace",
        xr.pointer("/metadata/namespace").cloned(),
    );

    let ready = if unready.is_empty() {
        condition("Ready", "True", "Available", None)
    } else {
        unready.sort();
        condition(
            "Ready",
            "False",
            "Creating",
            Some(format!("Unready resources: {}", first_n_and_more(&unready))),
        )
    };
    set_condition(&mut out, ready);
    for c in &response.conditions {
        if matches!(
            c.r#type.as_str(),
            "Ready" | "Synced" | "Healthy" | "UpToDate" | "Responsive"
        ) {
            continue;
        }
        let status = match Status::try_from(c.status) {
            Ok(Status::ConditionTrue) => "True",
            Ok(Status::ConditionFalse) => "False",
            _ => "Unknown",
        };
        set_condition(
            &mut out,
            condition(&c.r#type, status, &c.reason, c.message.clone()),
        );
    }

    let results = response.results.iter().map(|r| {
        let severity = Severity::try_from(r.severity).unwrap_or(Severity::Unspecified);
        json!({
            "apiVersion": "render.crossplane.io/v1beta1",
            "kind": "Result",
            "step": STEP,
            "severity": severity.as_str_name(),
            "message": r.message,
        })
    });

    Ok(std::iter::once(out)
        .chain(composed)
        .chain(results)
        .collect())
}

/// The RunFunctionRequest Crossplane sends for `xr` when the composed
/// resources in `observed` (by composition-resource-name) exist, with the
/// Composition's `input`: what `crossplane render` sends the function.
pub fn request(
    xr: &serde_json::Map<String, Value>,
    observed: &BTreeMap<String, &Value>,
    input: &Value,
) -> RunFunctionRequest {
    RunFunctionRequest {
        meta: Some(RequestMeta {
            tag: String::new(),
            capabilities: [
                Capability::Capabilities,
                Capability::RequiredResources,
                Capability::Credentials,
                Capability::Conditions,
                Capability::RequiredSchemas,
            ]
            .map(|c| c as i32)
            .to_vec(),
        }),
        observed: Some(State {
            composite: Some(Resource {
                resource: Some(json_to_struct(xr)),
                ..Default::default()
            }),
            resources: observed
                .iter()
                .filter_map(|(name, r)| {
                    let object = r.as_object()?;
                    Some((
                        name.clone(),
                        Resource {
                            resource: Some(json_to_struct(object)),
                            ..Default::default()
                        },
                    ))
                })
                .collect(),
        }),
        desired: Some(State::default()),
        input: input.as_object().map(json_to_struct),
        context: Some(Default::default()),
        ..Default::default()
    }
}

/// The YAML stream crank prints: each document after a `---` line, keys
/// sorted as Kubernetes' YAML serializer sorts them.
pub fn to_yaml_stream(documents: &[Value]) -> String {
    let mut out = String::new();
    for document in documents {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&sorted(document)).unwrap_or_default());
    }
    out
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn resource_name(object: &Value) -> &str {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// crank's `SetComposedResourceMetadata`.
fn set_composed_metadata(object: &mut Value, xr: &Value, name: &str) {
    let xr_labels = xr.pointer("/metadata/labels").and_then(Value::as_object);
    let xr_label = |key: &str| {
        xr_labels
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let xr_name = xr
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let prefix = match xr_label(LABEL_COMPOSITE) {
        "" => xr_name,
        label => label,
    };

    let has = |o: &Value, f: &str| {
        o.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if !has(object, "name") && !has(object, "generateName") {
        set_meta(object, "generateName", Some(json!(format!("{prefix}-"))));
    }
    if let Some(ns) = xr
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        set_meta(object, "namespace", Some(json!(ns)));
    }
    meta_map(object, "annotations").insert(COMPOSITION_RESOURCE_NAME.to_string(), json!(name));
    let labels = meta_map(object, "labels");
    labels.insert(LABEL_COMPOSITE.to_string(), json!(prefix));
    let (claim_name, claim_namespace) =
        match (xr_label(LABEL_CLAIM_NAME), xr_label(LABEL_CLAIM_NAMESPACE)) {
            ("", _) | (_, "") => (
                xr.pointer("/spec/claimRef/name").and_then(Value::as_str),
                xr.pointer("/spec/claimRef/namespace")
                    .and_then(Value::as_str),
            ),
            (name, namespace) => (Some(name), Some(namespace)),
        };
    if let (Some(claim_name), Some(claim_namespace)) = (claim_name, claim_namespace) {
        labels.insert(LABEL_CLAIM_NAMESPACE.to_string(), json!(claim_namespace));
        labels.insert(LABEL_CLAIM_NAME.to_string(), json!(claim_name));
    }

    let owner = json!({
        "apiVersion": xr["apiVersion"],
        "kind": xr["kind"],
        "name": xr_name,
        "uid": xr.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
        "controller": true,
        "blockOwnerDeletion": true,
    });
    object["metadata"]["ownerReferences"] = json!([owner]);
}

fn set_meta(object: &mut Value, field: &str, value: Option<Value>) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    match value.filter(|v| v.as_str().is_none_or(|s| !s.is_empty())) {
        Some(v) => {
            metadata.insert(field.to_string(), v);
        }
        None => {
            metadata.remove(field);
        }
    }
}

fn meta_map<'a>(object: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    if !object["metadata"][field].is_object() {
        object["metadata"][field] = json!({});
    }
    object["metadata"][field]
        .as_object_mut()
        .expect("just made an object")
}

fn condition(typ: &str, status: &str, reason: &str, message: Option<String>) -> Value {
    let mut c = json!({ "type": typ, "status": status, "reason": reason, "lastTransitionTime": CONDITION_TIME });
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        c["message"] = json!(m);
    }
    c
}

/// Replaces the condition of the same type, or appends it.
fn set_condition(xr: &mut Value, condition: Value) {
    if !xr["status"].is_object() {
        xr["status"] = json!({});
    }
    if !xr["status"]["conditions"].is_array() {
        xr["status"]["conditions"] = json!([]);
    }
    let conditions = xr["status"]["conditions"]
        .as_array_mut()
        .expect("just made an array");
    match conditions
        .iter_mut()
        .find(|c| c["type"] == condition["type"])
    {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// crossplane-runtime's `FirstNAndSomeMore` over sorted names.
fn first_n_and_more(names: &[String]) -> String {
    match names.len() {
        n if n > FIRST_N => format!("{}, and {} more", names[..FIRST_N].join(", "), n - FIRST_N),
        n if n == FIRST_N => format!("{}, and {}", names[..n - 1].join(", "), names[n - 1]),
        _ => names.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unready_names_read_like_crossplanes() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(first_n_and_more(&names(&["a", "b"])), "a, b");
        assert_eq!(first_n_and_more(&names(&["a", "b", "c"])), "a, b, and c");
        assert_eq!(
            first_n_and_more(&names(&["a", "b", "c", "d", "e"])),
            "a, b, c, and 2 more"
        );
    }

    #[test]
    fn an_object_without_kind_is_not_a_composite() {
        assert_eq!(
            render(&json!({"apiVersion": "x/v1"}), &[], &json!({})),
            Err(RenderError::NotAComposite)
        );
    }
}
