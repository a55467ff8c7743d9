//! What the function reads from the observed composed resources: their
//! `status.atProvider` values, conditions and connection details, through
//! typed accessors. A missing value means "not yet": every accessor returns
//! an `Option`, and composition waits instead of composing half an object.
//!
//! The object is either a decoded `Struct` (`hybrid-spoke render`, the
//! SDK's types) or a view of the request's bytes (the server, `view.rs`);
//! both are read through [`Node`], so every rule reads both the same way.

use std::collections::{BTreeMap, HashMap};

use pbjson_types::value::Kind;
use pbjson_types::{Struct, Value};

use crate::view::{StructView, ValueView};

/// One observed composed resource: the object, and the connection details
/// Crossplane read from its connection Secret.
#[derive(Clone, Debug)]
pub struct ObservedResource<'a> {
    pub resource: Document<'a>,
    pub connection_details: &'a HashMap<String, Vec<u8>>,
}

/// An observed object, decoded or read in place.
#[derive(Clone, Debug)]
pub enum Document<'a> {
    Decoded(&'a Struct),
    InPlace(StructView<'a>),
}

/// Observed composed resources by composition resource name, read in place
/// from the request.
pub type Observed<'a> = BTreeMap<&'a str, ObservedResource<'a>>;

/// One value of an observed object.
#[derive(Clone, Debug)]
pub enum Node<'a> {
    Decoded(&'a Value),
    InPlace(ValueView<'a>),
}

impl<'a> Node<'a> {
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Node::Decoded(value) => crate::pb::as_str(value),
            Node::InPlace(value) => value.as_str(),
        }
    }

    /// The value of `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        match self {
            Node::Decoded(value) => match value.kind.as_ref()? {
                Kind::StructValue(s) => s.fields.get(key).map(Node::Decoded),
                _ => None,
            },
            Node::InPlace(value) => value.as_struct()?.get(key).map(Node::InPlace),
        }
    }

    /// The items when this is a list.
    pub fn items(&self) -> Option<Vec<Node<'a>>> {
        match self {
            Node::Decoded(value) => {
                crate::pb::as_list(value).map(|items| items.iter().map(Node::Decoded).collect())
            }
            Node::InPlace(value) => value
                .as_list()
                .map(|list| list.iter().map(Node::InPlace).collect()),
        }
    }

    /// The strings of this list; empty when it is none.
    pub fn strings(&self) -> Vec<String> {
        self.items()
            .unwrap_or_default()
            .iter()
            .filter_map(Node::as_str)
            .map(String::from)
            .collect()
    }
}

impl<'a> Document<'a> {
    /// The value at `pointer` (`/status/atProvider/arn`).
    pub fn at(&self, pointer: &str) -> Option<Node<'a>> {
        match self {
            Document::Decoded(root) => crate::pb::pointer(root, pointer).map(Node::Decoded),
            Document::InPlace(root) => root.pointer(pointer).map(Node::InPlace),
        }
    }
}

impl<'a> ObservedResource<'a> {
    /// The value at `pointer` (RFC 6901, no escapes).
    pub fn at(&self, pointer: &str) -> Option<Node<'a>> {
        self.resource.at(pointer)
    }

    /// A non-empty string at `pointer`.
    pub fn str(&self, pointer: &str) -> Option<&'a str> {
        self.at(pointer)?.as_str().filter(|s| !s.is_empty())
    }

    /// The strings of a list at `pointer`; empty when there is none.
    pub fn strings(&self, pointer: &str) -> Vec<String> {
        self.at(pointer).map(|n| n.strings()).unwrap_or_default()
    }

    /// Whether the condition of this type is `True`.
    pub fn condition(&self, condition_type: &str) -> bool {
        let conditions = self
            .at("/status/conditions")
            .and_then(|c| c.items())
            .unwrap_or_default();
        conditions.iter().any(|c| {
            let field = |key| c.get(key).and_then(|v| v.as_str());
            field("type") == Some(condition_type) && field("status") == Some("True")
        })
    }

    /// Whether the provider published this connection detail (non-empty).
    pub fn has_connection_detail(&self, key: &str) -> bool {
        self.connection_details
            .get(key)
            .is_some_and(|v| !v.is_empty())
    }
}

/// The observed resources of a decoded request.
pub fn decoded(req: &function_sdk_rust::proto::v1::RunFunctionRequest) -> Observed<'_> {
    req.observed
        .as_ref()
        .map(|o| {
            o.resources
                .iter()
                .filter_map(|(name, r)| {
                    Some((
                        name.as_str(),
                        ObservedResource {
                            resource: Document::Decoded(r.resource.as_ref()?),
                            connection_details: &r.connection_details,
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The observed resources of a request read in place.
pub fn in_place<'a>(req: &'a crate::request::RequestView<'a>) -> Observed<'a> {
    req.observed
        .iter()
        .filter_map(|(name, parts)| {
            Some((
                *name,
                ObservedResource {
                    resource: Document::InPlace(parts.resource.clone()?),
                    connection_details: &parts.connection_details,
                },
            ))
        })
        .collect()
}
