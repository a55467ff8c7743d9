//! The server reads observed resources in place from the request's bytes
//! (`view.rs`, `request.rs`) instead of decoding them with prost. Protobuf
//! lets one message be written many ways — fields in any order, unknown
//! fields, a map key given twice (the last wins), a message field given
//! twice (merged), a `oneof` set twice (the last wins) — and Crossplane's
//! Go encoder is free to use any of them. These tests write random valid
//! encodings and check that what the view reads equals what prost decodes:
//! value by value for random objects, and response byte for byte for every
//! example request.

#[path = "support/rng.rs"]
mod rng;

use std::collections::HashMap;
use std::path::Path;

use function_hybrid_spoke::request;
use function_hybrid_spoke::view::{KindView, StructView, ValueView};
use function_sdk_rust::proto::v1::RunFunctionRequest;
use function_sdk_rust::resource::{json_to_struct, pb_to_json, struct_to_json};
use pbjson_types::value::Kind;
use pbjson_types::{ListValue, Struct, Value};
use prost::Message;
use rng::Rng;
use serde_json::json;

// --- A writer of random valid encodings -------------------------------------

struct Writer<'r> {
    rng: &'r mut Rng,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(number: u32, wire_type: u64, out: &mut Vec<u8>) {
    varint((u64::from(number) << 3) | wire_type, out);
}

fn bytes_field(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    key(number, 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

impl Writer<'_> {
    fn chance(&mut self, in_ten: usize) -> bool {
        self.rng.below(10) < in_ten
    }

    /// An unknown field of a number the message does not define.
    fn unknown(&mut self, out: &mut Vec<u8>) {
        let number = 7 + self.rng.below(40) as u32;
        match self.rng.below(5) {
            0 => {
                key(number, 0, out);
                varint(self.rng.next(), out);
            }
            1 => {
                key(number, 1, out);
                out.extend_from_slice(&self.rng.next().to_le_bytes());
            }
            2 => bytes_field(number, b"\x0a\x03abc", out),
            3 => {
                key(number, 5, out);
                out.extend_from_slice(&(self.rng.next() as u32).to_le_bytes());
            }
            _ => {
                // A group holding a varint, as proto2 writers may send.
                key(number, 3, out);
                key(1, 0, out);
                varint(5, out);
                key(number, 4, out);
            }
        }
    }

    fn maybe_unknown(&mut self, out: &mut Vec<u8>) {
        if self.chance(2) {
            self.unknown(out);
        }
    }

    /// Fields written in a random order (each a whole encoded field).
    fn shuffled(&mut self, mut fields: Vec<Vec<u8>>) -> Vec<u8> {
        for i in (1..fields.len()).rev() {
            fields.swap(i, self.rng.below(i + 1));
        }
        let mut out = Vec::new();
        for field in fields {
            self.maybe_unknown(&mut out);
            out.extend(field);
        }
        out
    }

    /// A `Struct`'s fields: its entries in random order, now and then after
    /// a decoy entry of the same key that the real one replaces.
    fn struct_body(&mut self, s: &Struct) -> Vec<u8> {
        let mut entries = Vec::new();
        let mut decoys = Vec::new();
        for (k, v) in &s.fields {
            let mut entry = Vec::new();
            let mut parts = vec![
                {
                    let mut f = Vec::new();
                    bytes_field(1, k.as_bytes(), &mut f);
                    f
                },
                self.value_fields(2, v),
            ];
            if self.chance(3) {
                parts.reverse();
            }
            for p in parts {
                entry.extend(p);
            }
            if self.chance(1) {
                let mut decoy = Vec::new();
                bytes_field(1, k.as_bytes(), &mut decoy);
                bytes_field(2, &self.value_body(&decoy_value()), &mut decoy);
                decoys.push(decoy);
            }
            entries.push(entry);
        }
        let mut out = Vec::new();
        for decoy in decoys {
            bytes_field(1, &decoy, &mut out);
        }
        let mut fields = Vec::new();
        for entry in entries {
            let mut f = Vec::new();
            bytes_field(1, &entry, &mut f);
            fields.push(f);
        }
        out.extend(self.shuffled(fields));
        out
    }

    /// A message-typed field holding `v`, once, or split in two parts that
    /// prost merges back.
    fn value_fields(&mut self, number: u32, v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        match (&v.kind, self.chance(3)) {
            (Some(Kind::StructValue(s)), true) if s.fields.len() > 1 => {
                let (a, b) = split_struct(s, self.rng);
                bytes_field(number, &self.value_body(&struct_value(a)), &mut out);
                bytes_field(
                    number,
                    &self.value_body_with(&struct_value(b), false),
                    &mut out,
                );
            }
            (Some(Kind::ListValue(l)), true) if l.values.len() > 1 => {
                let at = 1 + self.rng.below(l.values.len() - 1);
                let (a, b) = l.values.split_at(at);
                bytes_field(number, &self.value_body(&list_value(a)), &mut out);
                bytes_field(
                    number,
                    &self.value_body_with(&list_value(b), false),
                    &mut out,
                );
            }
            _ => bytes_field(number, &self.value_body(v), &mut out),
        }
        out
    }

    /// A `Value`'s fields: now and then a scalar member first, which the
    /// real member replaces (a oneof keeps its last member).
    fn value_body(&mut self, v: &Value) -> Vec<u8> {
        self.value_body_with(v, true)
    }

    /// `decoy`: whether a scalar member may come first. Not in the second
    /// part of a split value: merged into the first part, it would replace
    /// that part's member instead of being replaced.
    fn value_body_with(&mut self, v: &Value, decoy: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.maybe_unknown(&mut out);
        let is_scalar_string = matches!(v.kind, Some(Kind::StringValue(_)));
        if decoy && self.chance(2) && v.kind.is_some() && !is_scalar_string {
            bytes_field(3, b"decoy", &mut out);
        }
        match &v.kind {
            None => {}
            Some(Kind::NullValue(n)) => {
                key(1, 0, &mut out);
                varint(*n as u64, &mut out);
            }
            Some(Kind::NumberValue(n)) => {
                key(2, 1, &mut out);
                out.extend_from_slice(&n.to_bits().to_le_bytes());
            }
            Some(Kind::StringValue(s)) => bytes_field(3, s.as_bytes(), &mut out),
            Some(Kind::BoolValue(b)) => {
                key(4, 0, &mut out);
                varint(u64::from(*b), &mut out);
            }
            Some(Kind::StructValue(s)) => {
                let body = self.struct_body(s);
                bytes_field(5, &body, &mut out);
            }
            Some(Kind::ListValue(l)) => {
                let mut body = Vec::new();
                for item in &l.values {
                    self.maybe_unknown(&mut body);
                    let item = self.value_body(item);
                    bytes_field(1, &item, &mut body);
                }
                bytes_field(6, &body, &mut out);
            }
        }
        self.maybe_unknown(&mut out);
        out
    }

    /// A `Resource`: the object (possibly split in two `resource` fields),
    /// the connection details, `ready`, in random order.
    fn resource_body(&mut self, object: &Struct, details: &HashMap<String, Vec<u8>>) -> Vec<u8> {
        let mut fields = Vec::new();
        if object.fields.len() > 1 && self.chance(3) {
            let (a, b) = split_struct(object, self.rng);
            for part in [a, b] {
                let mut f = Vec::new();
                bytes_field(1, &self.struct_body(&part), &mut f);
                fields.push(f);
            }
            // The two parts merge in order, so keep them in order.
            let second = fields.pop().unwrap_or_default();
            let first = fields.pop().unwrap_or_default();
            fields.push([first, second].concat());
        } else {
            let mut f = Vec::new();
            bytes_field(1, &self.struct_body(object), &mut f);
            fields.push(f);
        }
        for (k, v) in details {
            let mut entry = Vec::new();
            bytes_field(1, k.as_bytes(), &mut entry);
            bytes_field(2, v, &mut entry);
            let mut f = Vec::new();
            bytes_field(2, &entry, &mut f);
            fields.push(f);
        }
        let mut ready = Vec::new();
        key(3, 0, &mut ready);
        varint(1, &mut ready);
        fields.push(ready);
        self.shuffled(fields)
    }
}

fn decoy_value() -> Value {
    Value {
        kind: Some(Kind::StringValue("decoy".into())),
    }
}

fn struct_value(s: Struct) -> Value {
    Value {
        kind: Some(Kind::StructValue(s)),
    }
}

fn list_value(items: &[Value]) -> Value {
    Value {
        kind: Some(Kind::ListValue(ListValue {
            values: items.to_vec(),
        })),
    }
}

/// Two structs whose merge is `s` (disjoint keys).
fn split_struct(s: &Struct, rng: &mut Rng) -> (Struct, Struct) {
    let (mut a, mut b) = (Struct::default(), Struct::default());
    for (k, v) in &s.fields {
        if rng.below(2) == 0 {
            a.fields.insert(k.clone(), v.clone());
        } else {
            b.fields.insert(k.clone(), v.clone());
        }
    }
    (a, b)
}

// --- Reading a view back as JSON ---------------------------------------------

fn view_json(value: &ValueView<'_>) -> serde_json::Value {
    match value.kind() {
        None | Some(KindView::Null) => serde_json::Value::Null,
        // As the SDK turns numbers into JSON (whole numbers as integers).
        Some(KindView::Number(n)) => pb_to_json(&Value {
            kind: Some(Kind::NumberValue(n)),
        }),
        Some(KindView::String(s)) => json!(s),
        Some(KindView::Bool(b)) => json!(b),
        Some(KindView::Struct(s)) => struct_view_json(&s),
        Some(KindView::List(l)) => {
            serde_json::Value::Array(l.iter().map(|v| view_json(&v)).collect())
        }
    }
}

fn struct_view_json(s: &StructView<'_>) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in s.entries() {
        map.insert(k.to_string(), view_json(&v));
    }
    serde_json::Value::Object(map)
}

// --- Random objects ------------------------------------------------------------

fn random_json(rng: &mut Rng, depth: usize) -> serde_json::Value {
    let pick = if depth > 3 {
        rng.below(4)
    } else {
        rng.below(6)
    };
    match pick {
        0 => serde_json::Value::Null,
        1 => json!((rng.next() % 100_000) as f64 / 8.0 - 1000.0),
        2 => json!(
            [
                "",
                "ready",
                "arn:aws:eks:eu-west-1:1:cluster/x",
                "ünïcödé ✓"
            ][rng.below(4)]
        ),
        3 => json!(rng.below(2) == 0),
        4 => serde_json::Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for i in 0..rng.below(6) {
                let name =
                    ["status", "atProvider", "conditions", "type", "a/b", "ключ"][rng.below(6)];
                map.insert(format!("{name}{i}"), random_json(rng, depth + 1));
            }
            serde_json::Value::Object(map)
        }
    }
}

#[test]
fn random_objects_read_in_place_equal_prost_decoding() {
    let mut rng = Rng(0x005e_ed0f_b1e5);
    for case in 0..2_000 {
        let serde_json::Value::Object(map) = random_json(&mut rng, 0) else {
            continue;
        };
        let object = json_to_struct(&map);
        let encoded = Writer { rng: &mut rng }.struct_body(&object);
        let prost = Struct::decode(encoded.as_slice())
            .unwrap_or_else(|e| panic!("case {case}: the writer wrote an invalid encoding: {e}"));
        assert_eq!(prost, object, "case {case}: the writer changed the object");
        let view = StructView::new([encoded.as_slice()].into_iter().collect());
        assert_eq!(
            struct_view_json(&view),
            struct_to_json(&prost),
            "case {case}: the view reads another object than prost"
        );
        for (key, value) in &prost.fields {
            let got = view.get(key).map(|v| view_json(&v));
            assert_eq!(got, Some(pb_to_json(value)), "case {case}: get({key:?})");
        }
    }
}

// --- Whole requests -----------------------------------------------------------

fn documents(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

/// The request Crossplane sends for an example stage.
fn example_request(xr: &str, input: &str, observed_dir: &str) -> RunFunctionRequest {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let xr = documents(&root.join(xr)).remove(0);
    let input = documents(&root.join(input)).remove(0);
    let observed: Vec<_> = documents(&root.join(observed_dir).join("resources.yaml"))
        .into_iter()
        .chain(documents(
            &root.join(observed_dir).join("connection-secrets.yaml"),
        ))
        .collect();
    assert!(
        !observed.is_empty(),
        "{observed_dir} has no observed resources"
    );
    let xr_object = xr.as_object().expect("the example XR is a mapping");
    function_hybrid_spoke::render::request_for(xr_object, &xr, &observed, &input)
        .unwrap_or_else(|e| panic!("{observed_dir}: {e}"))
        .0
}

/// `req` written with its observed resources encoded at random: the other
/// fields in random order around them, the observed state split in two
/// occurrences (prost merges them), and decoy resources replaced later.
fn scrambled(req: &RunFunctionRequest, rng: &mut Rng) -> Vec<u8> {
    let mut head = req.clone();
    let observed = head.observed.take().unwrap_or_default();
    let mut fields: Vec<Vec<u8>> = Vec::new();
    // Every other field, one by one, as prost writes them.
    for number in [1u32, 3, 4, 5, 6, 7, 8, 9] {
        let mut only = RunFunctionRequest::default();
        match number {
            1 => only.meta = head.meta.clone(),
            3 => only.desired = head.desired.clone(),
            4 => only.input = head.input.clone(),
            5 => only.context = head.context.clone(),
            6 => only.extra_resources = head.extra_resources.clone(),
            7 => only.credentials = head.credentials.clone(),
            8 => only.required_resources = head.required_resources.clone(),
            _ => only.required_schemas = head.required_schemas.clone(),
        }
        let bytes = only.encode_to_vec();
        if !bytes.is_empty() {
            fields.push(bytes);
        }
    }
    let mut writer = Writer { rng };
    let mut states = [Vec::new(), Vec::new()];
    if let Some(composite) = &observed.composite {
        let mut f = Vec::new();
        bytes_field(1, &composite.encode_to_vec(), &mut f);
        states[writer.rng.below(2)].extend(f);
    }
    for (name, resource) in &observed.resources {
        let object = resource.resource.clone().unwrap_or_default();
        let state = writer.rng.below(2);
        if writer.chance(1) {
            // A decoy entry of the same name, in an earlier state.
            let mut entry = Vec::new();
            bytes_field(1, name.as_bytes(), &mut entry);
            bytes_field(
                2,
                &writer.resource_body(&Struct::default(), &HashMap::new()),
                &mut entry,
            );
            bytes_field(2, &entry, &mut states[0]);
        }
        let mut entry = Vec::new();
        bytes_field(1, name.as_bytes(), &mut entry);
        bytes_field(
            2,
            &writer.resource_body(&object, &resource.connection_details),
            &mut entry,
        );
        bytes_field(2, &entry, &mut states[state]);
    }
    // The observed state anywhere among the other fields, in two parts.
    let mut observed_fields = Vec::new();
    for state in &states {
        bytes_field(2, state, &mut observed_fields);
    }
    let at = writer.rng.below(fields.len() + 1);
    fields.insert(at, observed_fields);
    fields.concat()
}

#[test]
fn example_requests_read_in_place_compose_what_prost_decoded_ones_do() {
    let stages = [
        ("aws/xr.yaml", "input.yaml", "aws/observed/cluster-ready"),
        ("aws/xr.yaml", "input.yaml", "aws/observed/all-ready"),
        (
            "aws/legacy-xr.yaml",
            "input.yaml",
            "aws/observed-legacy/all-ready",
        ),
        ("azure/xr.yaml", "input.yaml", "azure/observed/all-ready"),
        (
            "aws/legacy-xr.yaml",
            "input-headscale.yaml",
            "aws/observed-legacy-headscale/all-ready",
        ),
        (
            "azure/xr.yaml",
            "input-headscale.yaml",
            "azure/observed-headscale/all-ready",
        ),
    ];
    let mut rng = Rng(0xc0ff_ee00_1234);
    for (xr, input, observed) in stages {
        if !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(xr)
            .exists()
        {
            continue;
        }
        let req = example_request(xr, input, observed);
        // Messages compared, not bytes: prost writes maps in hash order.
        let expected = function_hybrid_spoke::run(&req);
        assert!(
            expected
                .desired
                .as_ref()
                .is_some_and(|d| d.resources.len() > 10),
            "{observed}: the example composes a spoke"
        );
        for round in 0..20 {
            let bytes = scrambled(&req, &mut rng);
            let decoded = RunFunctionRequest::decode(bytes.as_slice())
                .unwrap_or_else(|e| panic!("{observed} round {round}: invalid encoding: {e}"));
            assert!(
                function_hybrid_spoke::run(&decoded) == expected,
                "{observed} round {round}: the scrambled request means another request"
            );
            let view =
                request::parse(&bytes).unwrap_or_else(|e| panic!("{observed} round {round}: {e}"));
            let got = function_hybrid_spoke::run_in_place(&view);
            assert!(
                got == expected,
                "{observed} round {round}: read in place, the request composes something else: {}",
                difference(&got, &expected)
            );
        }
    }
}

/// The first thing that differs, short enough to read.
fn difference(
    got: &function_sdk_rust::proto::v1::RunFunctionResponse,
    want: &function_sdk_rust::proto::v1::RunFunctionResponse,
) -> String {
    let resources = |r: &function_sdk_rust::proto::v1::RunFunctionResponse| {
        r.desired.clone().unwrap_or_default().resources
    };
    let (g, w) = (resources(got), resources(want));
    for (name, want) in &w {
        if g.get(name) != Some(want) {
            return format!(
                "desired resource {name} differs (ready {:?} vs {:?})",
                g.get(name).map(|r| r.ready),
                want.ready
            );
        }
    }
    if g.len() != w.len() {
        return format!("{} desired resources, want {}", g.len(), w.len());
    }
    if got.conditions != want.conditions {
        return format!(
            "conditions {:?}, want {:?}",
            got.conditions, want.conditions
        );
    }
    if got.desired.as_ref().and_then(|d| d.composite.clone())
        != want.desired.as_ref().and_then(|d| d.composite.clone())
    {
        return "the desired XR (status) differs".into();
    }
    "results or context differ".into()
}

#[test]
fn what_prost_refuses_is_refused_and_nothing_panics() {
    let req = example_request("aws/xr.yaml", "input.yaml", "aws/observed/cluster-ready");
    let bytes = req.encode_to_vec();
    // Every truncation: prost refuses it or reads a shorter request; parse
    // must never panic, and must refuse what breaks the framing.
    let mut rng = Rng(77);
    for _ in 0..300 {
        let cut = rng.below(bytes.len());
        let truncated = &bytes[..cut];
        if let Ok(view) = request::parse(truncated) {
            let _ = function_hybrid_spoke::run_in_place(&view);
        }
        let mut flipped = bytes.clone();
        let at = rng.below(flipped.len());
        flipped[at] ^= 1 << rng.below(8);
        if let Ok(view) = request::parse(&flipped) {
            let _ = function_hybrid_spoke::run_in_place(&view);
        }
    }
    assert!(request::parse(&bytes[..bytes.len() - 1]).is_err());
    assert!(
        request::parse(b"\x12\xff\x01").is_err(),
        "a length past the end"
    );
}
