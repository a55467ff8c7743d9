//! Serializes typed models straight into protobuf `Struct`s, the form
//! resources take on the wire, and reads observed `Struct`s in place. Going
//! through `serde_json::Value` first would build every resource twice.

use std::collections::HashMap;
use std::fmt;

use pbjson_types::value::Kind;
use pbjson_types::{ListValue, Struct, Value};
use serde::ser::{self, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Serializes a value that must be a map or struct into a `Struct`.
pub fn to_struct<T: Serialize + ?Sized>(value: &T) -> Result<Struct, Error> {
    match value.serialize(Serializer)?.kind {
        Some(Kind::StructValue(s)) => Ok(s),
        _ => Err(Error("not an object".to_string())),
    }
}

/// Serializes any value into a protobuf `Value`.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value.serialize(Serializer)
}

/// The value at an RFC 6901 pointer (`/status/atProvider/fqdn`; no escapes
/// needed for the keys this project reads) in a `Struct`.
pub fn pointer<'a>(root: &'a Struct, pointer: &str) -> Option<&'a Value> {
    let mut parts = pointer.strip_prefix('/')?.split('/');
    let mut current = root.fields.get(parts.next()?)?;
    for part in parts {
        current = match current.kind.as_ref()? {
            Kind::StructValue(s) => s.fields.get(part)?,
            Kind::ListValue(l) => l.values.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

pub fn as_str(value: &Value) -> Option<&str> {
    match value.kind.as_ref()? {
        Kind::StringValue(s) => Some(s),
        _ => None,
    }
}

pub fn as_list(value: &Value) -> Option<&[Value]> {
    match value.kind.as_ref()? {
        Kind::ListValue(l) => Some(&l.values),
        _ => None,
    }
}

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn null() -> Value {
    value(Kind::NullValue(0))
}

struct Serializer;

impl ser::Serializer for Serializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = ser::Impossible<Value, Error>;
    type SerializeMap = MapSerializer;
    type SerializeStruct = MapSerializer;
    type SerializeStructVariant = ser::Impossible<Value, Error>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(value(Kind::BoolValue(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        // Struct numbers are f64 on the wire, as in structpb.
        self.serialize_f64(v as f64)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(value(Kind::NumberValue(v)))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(value(Kind::StringValue(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(value(Kind::StringValue(v.to_string())))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Value, Error> {
        Err(Error("bytes have no Struct form".to_string()))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        let fields = HashMap::from([(variant.to_string(), v.serialize(Serializer)?)]);
        Ok(value(Kind::StructValue(Struct { fields })))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, Error> {
        Ok(SeqSerializer(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSerializer, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error("tuple variants have no Struct form".to_string()))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer, Error> {
        Ok(MapSerializer {
            fields: HashMap::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSerializer, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error("struct variants have no Struct form".to_string()))
    }
}

struct SeqSerializer(Vec<Value>);

impl ser::SerializeSeq for SeqSerializer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.0.push(v.serialize(Serializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(value(Kind::ListValue(ListValue { values: self.0 })))
    }
}

impl ser::SerializeTuple for SeqSerializer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqSerializer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

struct MapSerializer {
    fields: HashMap<String, Value>,
    key: Option<String>,
}

impl ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match key.serialize(Serializer)?.kind {
            Some(Kind::StringValue(k)) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(Error("map keys must be strings".to_string())),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error("map value without a key".to_string()))?;
        self.fields.insert(key, v.serialize(Serializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(value(Kind::StructValue(Struct {
            fields: self.fields,
        })))
    }
}

impl ser::SerializeStruct for MapSerializer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.fields
            .insert(key.to_string(), v.serialize(Serializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(value(Kind::StructValue(Struct {
            fields: self.fields,
        })))
    }
}

#[cfg(test)]
mod tests {
    use function_sdk_rust::resource::{json_to_struct, struct_to_json};
    use serde::Serialize;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_struct_serializes_as_the_json_detour_would() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Resource {
            api_version: &'static str,
            count: u32,
            enabled: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            absent: Option<String>,
            tags: std::collections::BTreeMap<String, String>,
            list: Vec<serde_json::Value>,
        }
        let resource = Resource {
            api_version: "v1",
            count: 3,
            enabled: true,
            absent: None,
            tags: [("a/b".to_string(), "c".to_string())].into(),
            list: vec![json!({"x": [1, "y", null]})],
        };
        let direct = to_struct(&resource).expect("serializes");
        let json = serde_json::to_value(&resource).expect("serializes");
        let detour = json_to_struct(json.as_object().expect("object"));
        assert_eq!(direct, detour);
        assert_eq!(struct_to_json(&direct), json);
    }

    #[test]
    fn pointers_walk_objects_and_lists() {
        let s = json_to_struct(
            json!({"status": {"conditions": [{"type": "Ready"}], "fqdn": "x"}})
                .as_object()
                .expect("object"),
        );
        assert_eq!(pointer(&s, "/status/fqdn").and_then(as_str), Some("x"));
        assert_eq!(
            pointer(&s, "/status/conditions/0/type").and_then(as_str),
            Some("Ready")
        );
        assert!(pointer(&s, "/status/conditions/1").is_none());
        assert!(pointer(&s, "/status/fqdn/deeper").is_none());
        assert!(pointer(&s, "status").is_none());
    }
}
