//! Shape checks in the user's terms. The API server validates a claim
//! against its XRD but never the Composition's function Input, and
//! `hybrid-spoke render` sees claims no API server has pruned: both are
//! checked here against the same structural schemas the package ships
//! (`xrd.rs`), so a message names the field path and what it expected
//! ("spec.nodePools[1].maxSize: expected a whole number ≥ 1, got -1"),
//! never a Rust type.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::spoke::SpokeSpec;
use crate::validate::Invalid;

/// What a value breaks: fields the schema does not know, and values of the
/// wrong type, range or enumeration.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub unknown: Vec<Invalid>,
    pub wrong: Vec<Invalid>,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.wrong.is_empty()
    }
}

/// The Input's schema, as its CRD publishes it (built once: the checks run
/// on every RunFunction call).
pub fn input_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(crate::xrd::input_schema)
}

/// The XR's `spec` schema, as the XRDs publish it.
pub fn spec_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(crate::xrd::structural_schema::<SpokeSpec>)
}

/// Checks the function Input: every finding is the platform's error.
pub fn input(value: &Value) -> Findings {
    check(input_schema(), value, "input")
}

/// Checks an XR's `spec` (`xr` is the whole XR).
pub fn spec(xr: &Value) -> Findings {
    match xr.get("spec") {
        Some(spec) => check(spec_schema(), spec, "spec"),
        None => Findings::default(),
    }
}

/// The fields Crossplane adds to every XR's and claim's spec (v1 at the top
/// of `spec`, v2 under `spec.crossplane`): the XRD's schema never lists
/// them, yet they are not the user's mistakes. Their contents are
/// Crossplane's to check.
const CROSSPLANE_SPEC_FIELDS: [&str; 13] = [
    "crossplane",
    "compositionRef",
    "compositionSelector",
    "compositionRevisionRef",
    "compositionRevisionSelector",
    "compositionUpdatePolicy",
    "compositeDeletePolicy",
    "claimRef",
    "resourceRef",
    "resourceRefs",
    "writeConnectionSecretToRef",
    "publishConnectionDetailsTo",
    "environmentConfigRefs",
];

/// Checks a whole XR as the API server would with `--validate=strict`:
/// its top-level fields, and its `spec` (status is the function's own).
pub fn xr(xr: &Value) -> Findings {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let mut spec = spec_schema().clone();
        if let Some(properties) = spec.get_mut("properties").and_then(Value::as_object_mut) {
            for field in CROSSPLANE_SPEC_FIELDS {
                properties.insert(field.to_string(), serde_json::json!({"type": "object"}));
            }
        }
        serde_json::json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": spec,
                "status": {"type": "object"},
            },
        })
    });
    check(schema, xr, "")
}

/// Checks `value` against a structural schema; `path` names its root.
pub fn check(schema: &Value, value: &Value, path: &str) -> Findings {
    let mut findings = Findings::default();
    walk(schema, value, &Path::Root(path), &mut findings);
    findings
}

/// Where a value is, written out only when there is something to say: a
/// valid Input (every call) costs no allocation.
enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    /// A map entry: `labels[key]`.
    Entry(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Field(parent, key) => match parent {
                Path::Root("") => f.write_str(key),
                _ => write!(f, "{parent}.{key}"),
            },
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Entry(parent, key) => write!(f, "{parent}[{key}]"),
        }
    }
}

fn walk(schema: &Value, value: &Value, path: &Path<'_>, findings: &mut Findings) {
    // An absent optional field: serde reads null as "not set".
    if value.is_null() {
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(describe).collect();
        findings.wrong.push(wrong(
            path,
            &format!(
                "expected one of {}, got {}",
                names.join(", "),
                describe(value)
            ),
        ));
        return;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => match value.as_object() {
            Some(map) => object(schema, map, path, findings),
            None => findings
                .wrong
                .push(expected(path, "an object of fields", value)),
        },
        Some("array") => match value.as_array() {
            Some(items) => {
                let item_schema = schema.get("items").unwrap_or(&Value::Null);
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &Path::Index(path, i), findings);
                }
            }
            None => findings.wrong.push(expected(path, "a list", value)),
        },
        Some("string") if !value.is_string() => {
            findings.wrong.push(expected(path, "a string", value));
        }
        Some("boolean") if !value.is_boolean() => {
            findings.wrong.push(expected(path, "true or false", value));
        }
        Some("number") if !value.is_number() => {
            findings.wrong.push(expected(path, "a number", value));
        }
        Some("integer") => integer(schema, value, path, findings),
        _ => {}
    }
}

fn object(schema: &Value, map: &Map<String, Value>, path: &Path<'_>, findings: &mut Findings) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in map {
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            walk(child_schema, child, &Path::Field(path, key), findings);
        } else if let Some(child_schema) = additional {
            walk(child_schema, child, &Path::Entry(path, key), findings);
        } else if properties.is_some() {
            let known: Vec<&str> = properties
                .into_iter()
                .flat_map(|p| p.keys())
                .map(String::as_str)
                .collect();
            findings
                .unknown
                .push(unknown(&Path::Field(path, key), key, &known));
        }
    }
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(required) {
            findings.wrong.push(Invalid::new(
                Path::Field(path, required).to_string(),
                "",
                "is required",
            ));
        }
    }
}

fn integer(schema: &Value, value: &Value, path: &Path<'_>, findings: &mut Findings) {
    let min = schema.get("minimum").and_then(Value::as_i64);
    let max = schema.get("maximum").and_then(Value::as_i64);
    let fits = match value.as_i64() {
        Some(n) => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
        // Larger than i64: no field of ours takes that.
        None => false,
    };
    if fits {
        return;
    }
    let what = match (min, max) {
        (Some(min), Some(max)) => format!("a whole number between {min} and {max}"),
        (Some(min), None) => format!("a whole number ≥ {min}"),
        (None, Some(max)) => format!("a whole number ≤ {max}"),
        (None, None) => "a whole number".to_string(),
    };
    findings.wrong.push(expected(path, &what, value));
}

/// A finding rendered `<field>: <message>` (see `Invalid`'s Display).
fn wrong(path: &Path<'_>, message: &str) -> Invalid {
    Invalid::new(path.to_string(), "", format!(": {message}"))
}

fn expected(path: &Path<'_>, what: &str, got: &Value) -> Invalid {
    wrong(path, &format!("expected {what}, got {}", describe(got)))
}

fn unknown(path: &Path<'_>, key: &str, known: &[&str]) -> Invalid {
    match nearest(key, known) {
        Some(near) => wrong(path, &format!("unknown field; did you mean {near:?}?")),
        None => wrong(
            path,
            &format!("unknown field; the fields here are {}", known.join(", ")),
        ),
    }
}

/// The value as a user wrote it (JSON), short.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 40 {
                format!("{}…", text.chars().take(40).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// The known field closest to a misspelled one, if any is close enough to
/// be what the user meant.
pub fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}
