//! In-process rendering: what Crossplane core v2.4.0's composite reconciler
//! (`crossplane internal render`, one real reconcile) composes for an XR, a
//! one-step pipeline running this function and a set of observed resources,
//! computed with no cluster, no network and no gRPC. tests/engine_parity.rs
//! holds it to that engine and to crank's `crossplane render`.
//!
//! The observed XR and composed resources (keyed by their
//! `crossplane.io/composition-resource-name` annotation) form the request;
//! the response's desired composed resources get the metadata Crossplane
//! adds (generateName, namespace, composite and claim labels, controller
//! reference, and a new resource's deterministic name), sorted by
//! composition resource name; the XR gets the
//! conditions the reconciler sets, in its order: `Responsive` (the watch
//! circuit breaker, closed), the function's own conditions, `Synced`
//! (`ReconcileSuccess`), and `Ready` derived from the composed resources.
//! Condition times are a fixed instant, as crank prints them.

use std::collections::{BTreeMap, HashMap};

use function_sdk_rust::proto::v1::resource_selector::Match;
use function_sdk_rust::proto::v1::{
    Capability, Ready, RequestMeta, Resource, ResourceSelector, Resources, RunFunctionRequest,
    Severity, State, Status,
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
/// Kubernetes' longest object name, and the hash Crossplane appends.
const MAX_NAME_LENGTH: usize = 63;
const CHILD_HASH_LENGTH: usize = 12;
const TYPE_READY: &str = "Ready";
const TYPE_SYNCED: &str = "Synced";
/// Crossplane v2.4's watch circuit breaker condition (apiextensions/v1).
const TYPE_RESPONSIVE: &str = "Responsive";
const REASON_AVAILABLE: &str = "Available";
const REASON_CREATING: &str = "Creating";
const REASON_RECONCILE_SUCCESS: &str = "ReconcileSuccess";
const REASON_WATCH_CIRCUIT_CLOSED: &str = "WatchCircuitClosed";
/// Condition types a function may not set on the XR
/// (`apiextensions/v1.IsSystemConditionType`).
const SYSTEM_CONDITION_TYPES: [&str; 5] = ["Ready", "Synced", "Healthy", "UpToDate", "Responsive"];

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
    render_with_required(xr, observed, input, &[])
}

/// Crossplane's requirements loop runs at most this many further calls.
const MAX_REQUIREMENTS_ITERATIONS: usize = 5;

/// As [`render`], with the objects `crossplane render --required-resources`
/// would offer: each requirement the function returns is answered with the
/// objects of its apiVersion and kind (all of them, or the one named, or
/// those in the namespace), and the function is called again until its
/// requirements stop changing, as Crossplane does.
pub fn render_with_required(
    xr: &Value,
    observed: &[Value],
    input: &Value,
    required: &[Value],
) -> Result<Vec<Value>, RenderError> {
    let Some(xr_object) = xr.as_object().filter(|o| {
        o.get("apiVersion").is_some_and(Value::is_string)
            && o.get("kind").is_some_and(Value::is_string)
            && xr.pointer("/metadata/name").is_some_and(Value::is_string)
    }) else {
        return Err(RenderError::NotAComposite);
    };

    let (mut request, observed_by_name) = request_for(xr_object, xr, observed, input)?;
    let mut response = crate::run(&request);
    for _ in 0..MAX_REQUIREMENTS_ITERATIONS {
        let wanted = response.requirements.clone().unwrap_or_default().resources;
        let supplied: HashMap<String, Resources> = wanted
            .iter()
            .map(|(key, selector)| (key.clone(), select(selector, required)))
            .collect();
        if wanted.is_empty() || supplied == request.required_resources {
            break;
        }
        request.required_resources = supplied;
        response = crate::run(&request);
    }
    if let Some(fatal) = response
        .results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
    {
        return Err(RenderError::Fatal(fatal.message.clone()));
    }

    let desired = response.desired.unwrap_or_default();
    // A function may hold the XR unready (READY_FALSE on the desired
    // composite), which overrides what Crossplane derives.
    let held = desired
        .composite
        .as_ref()
        .is_some_and(|c| c.ready == Ready::False as i32);
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

    // Crossplane v2.4 `composite.Reconciler.Reconcile`: Responsive first,
    // then the function's conditions (system types are Crossplane's own),
    // then Synced and Ready.
    set_condition(
        &mut out,
        condition(TYPE_RESPONSIVE, "True", REASON_WATCH_CIRCUIT_CLOSED, None),
    );
    for c in &response.conditions {
        if SYSTEM_CONDITION_TYPES.contains(&c.r#type.as_str()) {
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
    // Nothing is applied here, so no composed resource can be unsynced.
    set_condition(
        &mut out,
        condition(TYPE_SYNCED, "True", REASON_RECONCILE_SUCCESS, None),
    );
    // An XR held while its address allocation settles reports no
    // unready resource but is not ready either.
    let ready = if held {
        condition(TYPE_READY, "False", REASON_CREATING, None)
    } else if unready.is_empty() {
        condition(TYPE_READY, "True", REASON_AVAILABLE, None)
    } else {
        unready.sort();
        condition(
            TYPE_READY,
            "False",
            REASON_CREATING,
            Some(format!("Unready resources: {}", first_n_and_more(&unready))),
        )
    };
    set_condition(&mut out, ready);

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

/// The objects of `required` a requirement selects, sorted by namespace and
/// name as Crossplane sends them.
fn select(selector: &ResourceSelector, required: &[Value]) -> Resources {
    let text = |o: &Value, p: &str| o.pointer(p).and_then(Value::as_str).map(String::from);
    let mut items: Vec<&Value> = required
        .iter()
        .filter(|o| {
            o["apiVersion"] == selector.api_version.as_str()
                && o["kind"] == selector.kind.as_str()
                && selector
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| text(o, "/metadata/namespace").as_ref() == Some(ns))
                && match &selector.r#match {
                    Some(Match::MatchName(name)) => {
                        text(o, "/metadata/name").as_ref() == Some(name)
                    }
                    Some(Match::MatchLabels(labels)) => labels.labels.iter().all(|(k, v)| {
                        o.pointer("/metadata/labels")
                            .and_then(|l| l.get(k))
                            .and_then(Value::as_str)
                            == Some(v.as_str())
                    }),
                    None => true,
                }
        })
        .collect();
    items.sort_by_key(|o| {
        (
            text(o, "/metadata/namespace").unwrap_or_default(),
            text(o, "/metadata/name").unwrap_or_default(),
        )
    });
    Resources {
        items: items
            .into_iter()
            .filter_map(Value::as_object)
            .map(|o| Resource {
                resource: Some(json_to_struct(o)),
                ..Default::default()
            })
            .collect(),
    }
}

/// The request Crossplane sends for `xr` with the observed documents of a
/// directory (composed resources, and the connection Secrets beside them),
/// and the observed composed resources by composition resource name.
pub fn request_for<'a>(
    xr_object: &serde_json::Map<String, Value>,
    xr: &Value,
    observed: &'a [Value],
    input: &Value,
) -> Result<(RunFunctionRequest, BTreeMap<String, &'a Value>), RenderError> {
    // Connection Secrets stand beside the resources that publish them, as
    // Crossplane reads them for the request's connection details.
    let (secrets, observed): (Vec<&Value>, Vec<&Value>) =
        observed.iter().partition(|r| is_connection_secret(r));
    let mut observed_by_name = BTreeMap::new();
    for (index, resource) in observed.into_iter().enumerate() {
        let name = resource
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
            .and_then(Value::as_str)
            .ok_or(RenderError::UnnamedObserved { index })?;
        observed_by_name.insert(name.to_string(), resource);
    }
    let connection_details = connection_details(xr, &observed_by_name, &secrets);
    let request = request_with(xr_object, &observed_by_name, &connection_details, input);
    Ok((request, observed_by_name))
}

/// The RunFunctionRequest Crossplane sends for `xr` when the composed
/// resources in `observed` (by composition-resource-name) exist, with the
/// Composition's `input`: what `crossplane render` sends the function.
pub fn request(
    xr: &serde_json::Map<String, Value>,
    observed: &BTreeMap<String, &Value>,
    input: &Value,
) -> RunFunctionRequest {
    request_with(xr, observed, &BTreeMap::new(), input)
}

/// The same, with the connection details Crossplane read from the observed
/// resources' connection Secrets.
pub fn request_with(
    xr: &serde_json::Map<String, Value>,
    observed: &BTreeMap<String, &Value>,
    connection_details: &BTreeMap<String, HashMap<String, Vec<u8>>>,
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
                            connection_details: connection_details
                                .get(name)
                                .cloned()
                                .unwrap_or_default(),
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

/// A core `v1` Secret that is not a composed resource: the connection
/// Secret of one.
fn is_connection_secret(document: &Value) -> bool {
    document["apiVersion"] == "v1"
        && document["kind"] == "Secret"
        && document
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(COMPOSITION_RESOURCE_NAME))
            .is_none()
}

/// The connection details of each observed resource: the data of the
/// Secret its `spec.writeConnectionSecretToRef` names (in the resource's
/// namespace when the reference names none), base64-decoded.
fn connection_details(
    xr: &Value,
    observed: &BTreeMap<String, &Value>,
    secrets: &[&Value],
) -> BTreeMap<String, HashMap<String, Vec<u8>>> {
    use base64::Engine;
    let xr_namespace = xr.pointer("/metadata/namespace").and_then(Value::as_str);
    let mut details = BTreeMap::new();
    for (name, resource) in observed {
        let Some(reference) = resource.pointer("/spec/writeConnectionSecretToRef") else {
            continue;
        };
        let secret_name = reference.get("name").and_then(Value::as_str);
        let namespace = reference
            .get("namespace")
            .and_then(Value::as_str)
            .or_else(|| {
                resource
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
            })
            .or(xr_namespace);
        let Some(secret) = secrets.iter().find(|s| {
            s.pointer("/metadata/name").and_then(Value::as_str) == secret_name
                && s.pointer("/metadata/namespace").and_then(Value::as_str) == namespace
        }) else {
            continue;
        };
        let data = secret
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value.as_str()?)
                    .ok()?;
                Some((key.clone(), bytes))
            });
        details.insert(name.clone(), data.collect());
    }
    details
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

/// Crossplane's `RenderComposedResourceMetadata`, then its name generator.
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

    // Crossplane v2.4 `names.nameGenerator`: a new resource with a
    // composition resource name and a controller UID gets a deterministic
    // name instead of a random one (crank v2.2 leaves it to the API server).
    let uid = xr
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let generate_name = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !has(object, "name") && !generate_name.is_empty() && !uid.is_empty() {
        set_meta(
            object,
            "name",
            Some(json!(child_name(&generate_name, uid, name))),
        );
    }
}

/// Crossplane's `names.ChildName`: `<parent>-<first 12 hex of
/// sha256(parent UID + child name)>`, the parent cut to fit 63 characters.
fn child_name(parent: &str, parent_uid: &str, child: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let hash = Sha256::digest(format!("{parent_uid}{child}").as_bytes());
    let suffix: String = hash
        .iter()
        .take(CHILD_HASH_LENGTH / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut parent = parent.to_string();
    if !parent.is_empty() && !parent.ends_with('-') {
        parent.push('-');
    }
    if parent.len() + CHILD_HASH_LENGTH <= MAX_NAME_LENGTH {
        return parent + &suffix;
    }
    let keep = MAX_NAME_LENGTH - CHILD_HASH_LENGTH;
    let head = parent.get(..keep).unwrap_or(&parent);
    match head.ends_with('-') {
        true => format!("{head}{suffix}"),
        false => format!("{}-{suffix}", head.get(..keep - 1).unwrap_or(head)),
    }
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
    fn the_xr_carries_the_reconcilers_conditions_in_its_order() {
        let parse = |text: &str| serde_yaml::from_str::<Value>(text).unwrap();
        let xr = parse(include_str!("../../examples/aws/xr.yaml"));
        let input = parse(include_str!("../../examples/input.yaml"));
        let documents = render(&xr, &[], &input).unwrap();
        let conditions = documents[0]["status"]["conditions"].as_array().unwrap();
        let types: Vec<&str> = conditions
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types.first(), Some(&"Responsive"), "{types:?}");
        assert_eq!(&types[types.len() - 2..], ["Synced", "Ready"], "{types:?}");
        assert_eq!(conditions[0]["reason"], "WatchCircuitClosed");
        let synced = &conditions[types.len() - 2];
        assert_eq!(
            (&synced["status"], &synced["reason"]),
            (&json!("True"), &json!("ReconcileSuccess"))
        );
        // Nothing exists yet: not ready, naming the first unready resources.
        let ready = &conditions[types.len() - 1];
        assert_eq!(ready["status"], "False");
        assert!(
            ready["message"]
                .as_str()
                .unwrap()
                .starts_with("Unready resources: ")
        );
    }

    #[test]
    fn child_names_are_crossplanes() {
        // From `crossplane internal render` v2.4.0 for examples/aws/xr.yaml.
        assert_eq!(
            child_name(
                "eu-payments-",
                "4f9c2a1e-6d3b-4c8e-9a7f-1b2c3d4e5f60",
                "vpc"
            ),
            "eu-payments-a975297bd45d"
        );
        let long = "a".repeat(70);
        let name = child_name(&long, "uid", "child");
        assert_eq!(name.len(), 63);
        assert_eq!(&name[50..51], "-", "{name}");
        assert!(child_name("x", "u", "c").starts_with("x-"));
    }

    #[test]
    fn an_object_without_kind_is_not_a_composite() {
        assert_eq!(
            render(&json!({"apiVersion": "x/v1"}), &[], &json!({})),
            Err(RenderError::NotAComposite)
        );
    }
}
