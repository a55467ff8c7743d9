//! A `RunFunctionResponse` in protobuf wire format, with every
//! `google.protobuf.Struct` measured once.
//!
//! prost writes a nested message as its length followed by its fields, and
//! measures that length afresh at every enclosing level. A composed resource
//! is a `Struct` about 18 message levels deep (map entry → `Value` →
//! `Struct` per JSON level), so prost's `encode` walks each leaf of a
//! response about a dozen times: 142 µs for the AWS example's 46 resources,
//! where one full measurement takes 11 µs. [`Encoding`] measures every
//! `Struct` under `desired` once, bottom-up, into a list of lengths that the
//! writer then reads back in the same order.
//!
//! The bytes are exactly prost's: the tests compare them with
//! `Message::encode_to_vec` for every example at every stage. Everything
//! that is not a `Struct` under `desired` (meta, results, context,
//! requirements, conditions, output, connection details, readiness, and
//! whatever fields a later protocol adds) is still encoded by prost.

use function_sdk_rust::proto::v1::{Resource, RunFunctionResponse, State};
use pbjson_types::value::Kind;
use pbjson_types::{ListValue, Struct, Value};
use prost::Message;
use prost::bytes::BufMut;
use prost::encoding::{
    WireType, bool as pb_bool, double, encode_key, encode_varint, encoded_len_varint, int32,
    key_len, message, string,
};

/// A response ready to be written: its size is known before a byte is.
pub struct Encoding {
    /// `meta` (field 1), encoded by prost.
    meta: Option<function_sdk_rust::proto::v1::ResponseMeta>,
    /// `desired` (field 2) with its Structs taken out to be measured once.
    desired: Option<SplitState>,
    /// Fields 3 and up, encoded by prost.
    rest: RunFunctionResponse,
    /// The length of every nested message under `desired`, in writing order.
    lengths: Lengths,
    /// The encoded length of `desired`'s body.
    desired_len: usize,
}

impl Encoding {
    pub fn new(mut response: RunFunctionResponse) -> Self {
        let meta = response.meta.take();
        let desired = response.desired.take().map(SplitState::new);
        let mut lengths = Lengths::default();
        let desired_len = desired.as_ref().map_or(0, |d| d.measure(&mut lengths));
        Encoding {
            meta,
            desired,
            rest: response,
            lengths,
            desired_len,
        }
    }

    /// The number of bytes [`Encoding::write`] writes.
    pub fn len(&self) -> usize {
        self.meta.as_ref().map_or(0, |m| message::encoded_len(1, m))
            + self
                .desired
                .as_ref()
                .map_or(0, |_| key_len(2) + delimited(self.desired_len))
            + self.rest.encoded_len()
    }

    /// Whether the response encodes to no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the response; the bytes equal prost's `encode` of it.
    pub fn write(mut self, buf: &mut impl BufMut) {
        if let Some(meta) = &self.meta {
            message::encode(1, meta, buf);
        }
        if let Some(desired) = &self.desired {
            encode_key(2, WireType::LengthDelimited, buf);
            encode_varint(self.desired_len as u64, buf);
            desired.write(&mut self.lengths, buf);
        }
        self.rest.encode_raw(buf);
    }

    /// The response as bytes.
    pub fn to_vec(self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.len());
        self.write(&mut buf);
        buf
    }
}

/// Lengths of nested messages, pushed in the order they are met (a slot is
/// reserved before the message's children are measured) and read back by
/// the writer in that same order.
#[derive(Default)]
struct Lengths {
    values: Vec<usize>,
    next: usize,
}

impl Lengths {
    /// Measures a length-delimited field `tag` whose body `body` measures,
    /// and returns the field's whole length (key, length prefix and body).
    fn field(&mut self, tag: u32, body: impl FnOnce(&mut Self) -> usize) -> usize {
        let slot = self.values.len();
        self.values.push(0);
        let len = body(self);
        self.values[slot] = len;
        key_len(tag) + delimited(len)
    }

    /// Writes a length-delimited field `tag` whose body `body` writes, with
    /// the length measured for it.
    fn write_field<B: BufMut>(
        &mut self,
        tag: u32,
        buf: &mut B,
        body: impl FnOnce(&mut Self, &mut B),
    ) {
        // The writer walks the same tree in the same order as the measure,
        // so the slot exists.
        let len = self.values[self.next];
        self.next += 1;
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        body(self, buf);
    }
}

/// A length prefix plus the body it prefixes.
fn delimited(len: usize) -> usize {
    encoded_len_varint(len as u64) + len
}

/// `State` with its Resources split; the rest (none today) left to prost.
struct SplitState {
    composite: Option<SplitResource>,
    /// In the map's iteration order, which is the order prost writes.
    resources: Vec<(String, SplitResource)>,
    rest: State,
}

impl SplitState {
    fn new(mut state: State) -> Self {
        SplitState {
            composite: state.composite.take().map(SplitResource::new),
            resources: state
                .resources
                .drain()
                .map(|(name, r)| (name, SplitResource::new(r)))
                .collect(),
            rest: state,
        }
    }

    fn measure(&self, lengths: &mut Lengths) -> usize {
        let composite = self
            .composite
            .as_ref()
            .map_or(0, |c| lengths.field(1, |l| c.measure(l)));
        let resources: usize = self
            .resources
            .iter()
            .map(|(name, resource)| lengths.field(2, |l| map_entry_len(name, resource, l)))
            .sum();
        composite + resources + self.rest.encoded_len()
    }

    fn write(&self, lengths: &mut Lengths, buf: &mut impl BufMut) {
        if let Some(composite) = &self.composite {
            lengths.write_field(1, buf, |l, buf| composite.write(l, buf));
        }
        for (name, resource) in &self.resources {
            lengths.write_field(2, buf, |l, buf| {
                if !name.is_empty() {
                    string::encode(1, name, buf);
                }
                if !resource.is_default() {
                    l.write_field(2, buf, |l, buf| resource.write(l, buf));
                }
            });
        }
        self.rest.encode_raw(buf);
    }
}

/// A map entry `{1: name, 2: resource}`, leaving out default fields as
/// prost does.
fn map_entry_len(name: &str, resource: &SplitResource, lengths: &mut Lengths) -> usize {
    let key = if name.is_empty() {
        0
    } else {
        key_len(1) + delimited(name.len())
    };
    let value = if resource.is_default() {
        0
    } else {
        lengths.field(2, |l| resource.measure(l))
    };
    key + value
}

/// `Resource` with its Struct taken out; connection details and readiness
/// left to prost.
struct SplitResource {
    resource: Option<Struct>,
    rest: Resource,
}

impl SplitResource {
    fn new(mut resource: Resource) -> Self {
        SplitResource {
            resource: resource.resource.take(),
            rest: resource,
        }
    }

    fn is_default(&self) -> bool {
        self.resource.is_none() && self.rest == Resource::default()
    }

    fn measure(&self, lengths: &mut Lengths) -> usize {
        let resource = self
            .resource
            .as_ref()
            .map_or(0, |s| lengths.field(1, |l| struct_len(s, l)));
        resource + self.rest.encoded_len()
    }

    fn write(&self, lengths: &mut Lengths, buf: &mut impl BufMut) {
        if let Some(s) = &self.resource {
            lengths.write_field(1, buf, |l, buf| write_struct(s, l, buf));
        }
        self.rest.encode_raw(buf);
    }
}

/// `Struct { map<string, Value> fields = 1 }`: one entry message per field,
/// with an empty key or a kind-less value left out as prost does.
fn struct_len(s: &Struct, lengths: &mut Lengths) -> usize {
    s.fields
        .iter()
        .map(|(key, value)| {
            lengths.field(1, |l| {
                let key = if key.is_empty() {
                    0
                } else {
                    key_len(1) + delimited(key.len())
                };
                let value = if value.kind.is_none() {
                    0
                } else {
                    l.field(2, |l| value_len(value, l))
                };
                key + value
            })
        })
        .sum()
}

fn write_struct(s: &Struct, lengths: &mut Lengths, buf: &mut impl BufMut) {
    for (key, value) in &s.fields {
        lengths.write_field(1, buf, |l, buf| {
            if !key.is_empty() {
                string::encode(1, key, buf);
            }
            if value.kind.is_some() {
                l.write_field(2, buf, |l, buf| write_value(value, l, buf));
            }
        });
    }
}

/// `Value { oneof kind }`: a oneof member is written even when it holds its
/// type's default.
fn value_len(value: &Value, lengths: &mut Lengths) -> usize {
    match &value.kind {
        None => 0,
        Some(Kind::NullValue(n)) => int32::encoded_len(1, n),
        Some(Kind::NumberValue(n)) => double::encoded_len(2, n),
        Some(Kind::StringValue(s)) => string::encoded_len(3, s),
        Some(Kind::BoolValue(b)) => pb_bool::encoded_len(4, b),
        Some(Kind::StructValue(s)) => lengths.field(5, |l| struct_len(s, l)),
        Some(Kind::ListValue(list)) => lengths.field(6, |l| list_len(list, l)),
    }
}

fn write_value(value: &Value, lengths: &mut Lengths, buf: &mut impl BufMut) {
    match &value.kind {
        None => {}
        Some(Kind::NullValue(n)) => int32::encode(1, n, buf),
        Some(Kind::NumberValue(n)) => double::encode(2, n, buf),
        Some(Kind::StringValue(s)) => string::encode(3, s, buf),
        Some(Kind::BoolValue(b)) => pb_bool::encode(4, b, buf),
        Some(Kind::StructValue(s)) => lengths.write_field(5, buf, |l, buf| write_struct(s, l, buf)),
        Some(Kind::ListValue(list)) => {
            lengths.write_field(6, buf, |l, buf| write_list(list, l, buf))
        }
    }
}

/// `ListValue { repeated Value values = 1 }`: every element is written,
/// kind-less ones as empty messages.
fn list_len(list: &ListValue, lengths: &mut Lengths) -> usize {
    list.values
        .iter()
        .map(|v| lengths.field(1, |l| value_len(v, l)))
        .sum()
}

fn write_list(list: &ListValue, lengths: &mut Lengths, buf: &mut impl BufMut) {
    for v in &list.values {
        lengths.write_field(1, buf, |l, buf| write_value(v, l, buf));
    }
}
