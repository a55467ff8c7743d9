//! What the function reads from the observed composed resources: their
//! `status.atProvider` values, conditions and connection details, through
//! typed accessors. A missing value means "not yet": every accessor returns
//! an `Option`, and composition waits instead of composing half an object.

use std::collections::{BTreeMap, HashMap};

use pbjson_types::Struct;

use crate::pb;

/// One observed composed resource: the object, and the connection details
/// Crossplane read from its connection Secret.
#[derive(Clone, Copy, Debug)]
pub struct ObservedResource<'a> {
    pub resource: &'a Struct,
    pub connection_details: &'a HashMap<String, Vec<u8>>,
}

/// Observed composed resources by composition resource name, read in place
/// from the request.
pub type Observed<'a> = BTreeMap<&'a str, ObservedResource<'a>>;

impl<'a> ObservedResource<'a> {
    /// A non-empty string at `pointer` (RFC 6901).
    pub fn str(&self, pointer: &str) -> Option<&'a str> {
        pb::pointer(self.resource, pointer)
            .and_then(pb::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The strings of a list at `pointer`; empty when there is none.
    pub fn strings(&self, pointer: &str) -> Vec<String> {
        pb::pointer(self.resource, pointer)
            .and_then(pb::as_list)
            .map(|items| {
                items
                    .iter()
                    .filter_map(pb::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the condition of this type is `True`.
    pub fn condition(&self, condition_type: &str) -> bool {
        pb::pointer(self.resource, "/status/conditions")
            .and_then(pb::as_list)
            .is_some_and(|conditions| {
                conditions.iter().any(|c| {
                    let field = |key| match c.kind.as_ref() {
                        Some(pbjson_types::value::Kind::StructValue(s)) => {
                            s.fields.get(key).and_then(pb::as_str)
                        }
                        _ => None,
                    };
                    field("type") == Some(condition_type) && field("status") == Some("True")
                })
            })
    }

    /// Whether the provider published this connection detail (non-empty).
    pub fn has_connection_detail(&self, key: &str) -> bool {
        self.connection_details
            .get(key)
            .is_some_and(|v| !v.is_empty())
    }
}
