//! A `RunFunctionRequest` read from its bytes with the observed composed
//! resources left in place: everything else is decoded by prost (it is
//! small, and the SDK's helpers read it), the observed resources are
//! [`StructView`]s read on demand (see `view.rs` for why).

use std::collections::{BTreeMap, HashMap};

use function_sdk_rust::proto::v1::{RunFunctionRequest, State};
use prost::Message;

use crate::view::{ENTRY_KEY, ENTRY_VALUE, Field, Fields, Segments, StructView};

// Field numbers of run_function.proto.
const REQUEST_OBSERVED: u32 = 2;
const STATE_COMPOSITE: u32 = 1;
const STATE_RESOURCES: u32 = 2;
const RESOURCE_RESOURCE: u32 = 1;
const RESOURCE_CONNECTION_DETAILS: u32 = 2;

/// A request whose observed composed resources are read in place.
#[derive(Debug)]
pub struct RequestView<'a> {
    /// Every field but `observed.resources` (empty here; see `observed`).
    pub head: RunFunctionRequest,
    /// The observed composed resources by name, as prost's map keeps them.
    pub observed: BTreeMap<&'a str, ObservedParts<'a>>,
}

/// One observed composed resource.
#[derive(Debug, Default)]
pub struct ObservedParts<'a> {
    /// The object; `None` when the request has none (prost's `None`).
    pub resource: Option<StructView<'a>>,
    pub connection_details: HashMap<String, Vec<u8>>,
}

/// Why the bytes are not a `RunFunctionRequest`; what prost would refuse.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("failed to decode Protobuf message: {0}")]
    Prost(#[from] prost::DecodeError),
    #[error("failed to decode Protobuf message: {0} is malformed")]
    Malformed(&'static str),
    #[error("failed to decode Protobuf message: {0} is not valid UTF-8")]
    NotUtf8(&'static str),
}

/// Reads a request. The bytes prost would decode into `observed.resources`
/// stay where they are; all other fields are decoded by prost.
pub fn parse(bytes: &[u8]) -> Result<RequestView<'_>, DecodeError> {
    let mut others = Vec::new();
    let mut composite = Vec::new();
    let mut has_observed = false;
    let mut observed = BTreeMap::new();
    let mut fields = Fields::new(bytes);
    while let Some((field, encoded)) = fields.next_encoded() {
        match field {
            Field::Bytes(REQUEST_OBSERVED, state) => {
                has_observed = true;
                read_state(state, &mut composite, &mut observed)?;
            }
            // Copied as they are, then decoded by prost in one go.
            _ => others.extend_from_slice(encoded),
        }
    }
    if fields.malformed() {
        return Err(DecodeError::Malformed("RunFunctionRequest"));
    }
    let mut head = RunFunctionRequest::decode(others.as_slice())?;
    if has_observed {
        head.observed = Some(State::decode(composite.as_slice())?);
    }
    Ok(RequestView { head, observed })
}

/// One `State` occurrence: the composite's fields are kept for prost, the
/// resources read into `observed` (a later entry of a name replaces it).
fn read_state<'a>(
    state: &'a [u8],
    composite: &mut Vec<u8>,
    observed: &mut BTreeMap<&'a str, ObservedParts<'a>>,
) -> Result<(), DecodeError> {
    let mut fields = Fields::new(state);
    while let Some((field, encoded)) = fields.next_encoded() {
        match field {
            Field::Bytes(STATE_COMPOSITE, _) => composite.extend_from_slice(encoded),
            Field::Bytes(STATE_RESOURCES, entry) => {
                let (name, parts) = read_resource_entry(entry)?;
                observed.insert(name, parts);
            }
            _ => {}
        }
    }
    if fields.malformed() {
        return Err(DecodeError::Malformed("State"));
    }
    Ok(())
}

/// A `resources` map entry: its key (last given) and its `Resource` (every
/// occurrence merged).
fn read_resource_entry(entry: &[u8]) -> Result<(&str, ObservedParts<'_>), DecodeError> {
    let mut name: &[u8] = &[];
    let mut segments: Segments<'_> = Segments::new();
    let mut fields = Fields::new(entry);
    for field in fields.by_ref() {
        match field {
            Field::Bytes(ENTRY_KEY, key) => name = key,
            Field::Bytes(ENTRY_VALUE, resource) => segments.push(resource),
            _ => {}
        }
    }
    if fields.malformed() {
        return Err(DecodeError::Malformed("State.resources"));
    }
    let name =
        std::str::from_utf8(name).map_err(|_| DecodeError::NotUtf8("State.resources key"))?;
    Ok((name, read_resource(&segments)?))
}

fn read_resource<'a>(segments: &Segments<'a>) -> Result<ObservedParts<'a>, DecodeError> {
    let mut parts = ObservedParts::default();
    let mut object: Segments<'a> = Segments::new();
    let mut has_object = false;
    for segment in segments.iter() {
        let mut fields = Fields::new(segment);
        for field in fields.by_ref() {
            match field {
                Field::Bytes(RESOURCE_RESOURCE, bytes) => {
                    has_object = true;
                    object.push(bytes);
                }
                Field::Bytes(RESOURCE_CONNECTION_DETAILS, entry) => {
                    let (key, value) = read_detail(entry)?;
                    parts.connection_details.insert(key, value);
                }
                _ => {}
            }
        }
        if fields.malformed() {
            return Err(DecodeError::Malformed("Resource"));
        }
    }
    if has_object {
        parts.resource = Some(StructView::new(object));
    }
    Ok(parts)
}

/// A `connection_details` entry (`map<string, bytes>`).
fn read_detail(entry: &[u8]) -> Result<(String, Vec<u8>), DecodeError> {
    let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
    let mut fields = Fields::new(entry);
    for field in fields.by_ref() {
        match field {
            Field::Bytes(ENTRY_KEY, bytes) => key = bytes,
            Field::Bytes(ENTRY_VALUE, bytes) => value = bytes,
            _ => {}
        }
    }
    if fields.malformed() {
        return Err(DecodeError::Malformed("Resource.connection_details"));
    }
    let key = std::str::from_utf8(key)
        .map_err(|_| DecodeError::NotUtf8("Resource.connection_details key"))?;
    Ok((key.to_string(), value.to_vec()))
}
